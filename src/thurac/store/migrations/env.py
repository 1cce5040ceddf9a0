"""Alembic environment: runs migrations on the engine thurac hands over (no alembic.ini needed)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from thurac.store.schema import metadata

# Several MX hosts sharing one PostgreSQL start (and migrate) at once: without a lock the
# second fails on the tables the first is creating and runs without history until retried.
# A transaction-level lock, so that pgbouncer's transaction mode keeps it too.
MIGRATION_LOCK = 0x7468757261630  # any fixed number: "thurac0"

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    context.run_migrations()
