"""Grant the application's PostgreSQL role what it needs and nothing more (run as the owner, after migrate).

The role owns nothing, so it cannot ALTER, DROP or disable a trigger. It may read and write every table of
the schema, except the append-only ones (privacy.appendonly.TABLES): SELECT and INSERT only.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from psycopg import sql

from privacy.appendonly import TABLES


class Command(BaseCommand):
    help = "Grant the app's database role DML on the schema, append-only tables SELECT/INSERT only (PostgreSQL)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("role", help="the role the application connects as (DATABASE_URL's user)")
        parser.add_argument("--schema", default="public")

    def handle(self, *args, role: str, schema: str, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("grant_app_role is for PostgreSQL; SQLite has no roles")
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
            found = cursor.fetchone()
            if found is None:
                raise CommandError(f"no role {role!r}: create it first (docs/deploy.md)")
            if found[0]:
                raise CommandError(f"{role!r} is a superuser: the app must connect as a role that owns nothing")
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s AND tableowner = %s", [schema, role])
            owned = [row[0] for row in cursor.fetchall()]
            if owned:
                raise CommandError(f"{role!r} owns {', '.join(owned)}: migrate as the owner role, not as the app")
            r, s = sql.Identifier(role), sql.Identifier(schema)
            statements = [
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, r),
                sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(s, r),
                sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}").format(s, r),
                sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(s, r),
            ]
            for table in TABLES:
                statements.append(
                    sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {}.{} FROM {}, PUBLIC").format(
                        s, sql.Identifier(table), r
                    )
                )
            for statement in statements:
                cursor.execute(statement)
        self.stdout.write(f"granted {role}: DML on schema {schema}; {', '.join(TABLES)} SELECT and INSERT only")
