"""The database's own guard of the append-only tables (audit log, destruction records).

PostgreSQL: one trigger function refuses UPDATE and DELETE (per row) and TRUNCATE (per statement). The
application's role owns none of these tables (``manage.py grant_app_role``), so it can neither disable the
triggers nor drop them. SQLite (the embedded shape): BEFORE UPDATE / BEFORE DELETE triggers; SQLite has no
TRUNCATE. Used by the migrations; SQL only, no models.
"""

from __future__ import annotations

TABLES = ("privacy_auditevent", "privacy_destructionrecord")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION mimic_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def create_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        statements = [PG_FUNCTION]
        for table in TABLES:
            statements += [
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
                f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION mimic_append_only()",
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION mimic_append_only()",
            ]
        return statements
    if vendor == "sqlite":
        statements = []
        for table in TABLES:
            for op in ("UPDATE", "DELETE"):
                name = f"{table}_no_{op.lower()}"
                statements += [
                    f"DROP TRIGGER IF EXISTS {name}",
                    f"CREATE TRIGGER {name} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: {op} refused'); END",
                ]
        return statements
    return []


def drop_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        statements = []
        for table in TABLES:
            statements += [
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
                f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            ]
        return statements
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_{op}" for table in TABLES for op in ("update", "delete")]
    return []
