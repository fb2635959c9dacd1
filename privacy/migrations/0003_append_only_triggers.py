"""PostgreSQL triggers that make the audit log and destruction records append-only in the database.

The ORM already refuses updates and deletes (privacy.models.AppendOnlyQuerySet); the trigger also
stops raw SQL and anyone connected with the application's role. TRUNCATE is left to the DBA (and to
the test runner's flush). Other databases (SQLite, embedded mode) rely on the ORM guard only.
"""

from django.db import migrations

TABLES = ("privacy_auditevent", "privacy_destructionrecord")

FUNCTION = """
CREATE OR REPLACE FUNCTION mimic_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def create_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION mimic_append_only()"
        )


def drop_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS mimic_append_only()")


class Migration(migrations.Migration):
    dependencies = [("privacy", "0002_destruction_records_login_failures")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
