"""The audit log becomes a hash chain (seq, prev_hash, hash), and the append-only triggers cover TRUNCATE on
PostgreSQL and exist on SQLite too (privacy.appendonly).

Existing events are chained in the order they were written (at, then id). The triggers are dropped for that
one backfill (this runs as the tables' owner) and created again after it.
"""

from django.db import migrations, models

from privacy import appendonly
from privacy.chain import GENESIS, event_hash


def _execute(schema_editor, statements) -> None:
    for sql in statements:
        schema_editor.execute(sql, params=None)


def drop_triggers(apps, schema_editor) -> None:
    _execute(schema_editor, appendonly.drop_sql(schema_editor.connection.vendor))


def create_triggers(apps, schema_editor) -> None:
    _execute(schema_editor, appendonly.create_sql(schema_editor.connection.vendor))


def chain_existing(apps, schema_editor) -> None:
    AuditEvent = apps.get_model("privacy", "AuditEvent")
    previous = GENESIS
    for seq, event in enumerate(AuditEvent.objects.order_by("at", "id"), start=1):
        fields = {
            "id": str(event.id),
            "seq": seq,
            "at": event.at,
            "actor_id": event.actor_id,
            "actor_label": event.actor_label,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "details": event.details,
        }
        digest = event_hash(previous, fields)
        AuditEvent.objects.filter(pk=event.pk).update(seq=seq, prev_hash=previous, hash=digest)
        previous = digest


def old_triggers(apps, schema_editor) -> None:
    """Backwards: the triggers of 0003 (PostgreSQL only, rows only)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    _execute(schema_editor, [appendonly.PG_FUNCTION])
    for table in appendonly.TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION mimic_append_only()"
        )


class Migration(migrations.Migration):
    dependencies = [("privacy", "0004_delete_loginfailure")]

    operations = [
        migrations.RunPython(drop_triggers, old_triggers),
        migrations.AddField("auditevent", "seq", models.BigIntegerField(editable=False, null=True)),
        migrations.AddField("auditevent", "prev_hash", models.CharField(editable=False, max_length=64, default="")),
        migrations.AddField("auditevent", "hash", models.CharField(editable=False, max_length=64, default="")),
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
        migrations.AlterField("auditevent", "seq", models.BigIntegerField(editable=False, unique=True)),
        migrations.AlterField("auditevent", "prev_hash", models.CharField(editable=False, max_length=64)),
        migrations.AlterField("auditevent", "hash", models.CharField(editable=False, max_length=64)),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
