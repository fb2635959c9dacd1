"""Let the test runner's flush empty the append-only tables between transactional tests.

The database refuses TRUNCATE and DELETE on the audit log and destruction records (privacy.appendonly) to
everyone, their owner included; only the test runner, which throws the whole database away, gets past them:
on PostgreSQL as a superuser in replica mode (ordinary triggers do not fire), on SQLite by dropping the
triggers for the flush and creating them again in the same transaction.
"""

from __future__ import annotations

from django.db.backends.base.operations import BaseDatabaseOperations

from privacy import appendonly

_original = BaseDatabaseOperations.execute_sql_flush


def _flush_past_triggers(self, sql_list):
    vendor = self.connection.vendor
    if vendor == "postgresql":
        sql_list = ["SET LOCAL session_replication_role = replica", *sql_list]
    elif vendor == "sqlite":
        sql_list = [*appendonly.drop_sql(vendor), *sql_list, *appendonly.create_sql(vendor)]
    return _original(self, sql_list)


def allow_test_flush() -> None:
    BaseDatabaseOperations.execute_sql_flush = _flush_past_triggers
