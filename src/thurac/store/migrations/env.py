"""Alembic environment: runs migrations on the engine thurac hands over (no alembic.ini needed).

One migration at a time per store: the daemon's recorder and `thurac db upgrade` (or two
daemons on one PostgreSQL) may start together, and each would otherwise create the same
tables. PostgreSQL: a transaction-scoped advisory lock; SQLite: a lock file beside the
database (flock, released when the migration's file is closed)."""

from __future__ import annotations

import fcntl
from contextlib import ExitStack
from pathlib import Path

from alembic import context
from sqlalchemy import text

from thurac.store.schema import metadata

# Transaction-scoped on PostgreSQL, so that pgbouncer's transaction mode keeps it too.
MIGRATION_LOCK = 0x7468757261630001  # "thurac" + 1: the advisory lock's key on PostgreSQL

engine = context.config.attributes["engine"]
with ExitStack() as held:
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        lock = held.enter_context(Path(f"{database}.migrate-lock").open("a"))
        fcntl.flock(lock, fcntl.LOCK_EX)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": MIGRATION_LOCK})
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        context.run_migrations()
