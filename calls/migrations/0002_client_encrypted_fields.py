# Client names and contact details encrypted at rest (privacy.fields.EncryptedTextField).

from django.db import migrations

import privacy.fields


def _rewrite(schema_editor, convert) -> None:
    connection = schema_editor.connection
    table = connection.ops.quote_name("emotions_client")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, display_name FROM {table}")
        rows = cursor.fetchall()
        for pk, value in rows:
            new = convert(value or "")
            if new is not None:
                cursor.execute(f"UPDATE {table} SET display_name = %s WHERE id = %s", [new, pk])


def encrypt_existing(apps, schema_editor) -> None:
    def convert(value: str) -> str | None:
        try:
            privacy.fields.decrypt_str(value)
            return None  # already encrypted
        except privacy.fields.DecryptionError:
            return privacy.fields.encrypt_str(value)

    _rewrite(schema_editor, convert)


def decrypt_existing(apps, schema_editor) -> None:
    _rewrite(schema_editor, lambda value: privacy.fields.decrypt_str(value)[:200] if value else None)


class Migration(migrations.Migration):
    dependencies = [
        ("emotions", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="client",
            name="display_name",
            field=privacy.fields.EncryptedTextField(max_length=200),
        ),
        migrations.AddField(
            model_name="client",
            name="email",
            field=privacy.fields.EncryptedTextField(blank=True, default="", max_length=254),
        ),
        migrations.AddField(
            model_name="client",
            name="phone",
            field=privacy.fields.EncryptedTextField(blank=True, default="", max_length=32),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
    ]
