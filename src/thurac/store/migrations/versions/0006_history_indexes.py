"""SQLite keeps rate_buckets in its primary key's order (WITHOUT ROWID): a window read sums
one key's buckets of the last day, and in a rowid table each of them is a lookup on another
page, because the recorder writes every key's bucket of a minute side by side. 1,440 buckets
of one sender among 60,000 others: 9.5 ms to sum, 0.17 ms clustered (bench/store_bench.py,
docs/performance.md). PostgreSQL has no clustered tables to keep: nothing changes there.

The table is copied once, in key order (a store with a year of buckets takes minutes).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COLUMNS = 'kind, "key", minute, messages, recipients, unrelated'


def _rebuild(with_rowid: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_table(
        "rate_buckets_new",
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("minute", sa.BigInteger, primary_key=True),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.Column("recipients", sa.Integer, nullable=False),
        sa.Column("unrelated", sa.Integer, nullable=False),
        sqlite_with_rowid=with_rowid,
    )
    op.execute(f'INSERT INTO rate_buckets_new ({_COLUMNS}) SELECT {_COLUMNS} FROM rate_buckets '
               'ORDER BY kind, "key", minute')
    op.drop_index("ix_rate_buckets_minute", "rate_buckets")
    op.drop_table("rate_buckets")
    op.rename_table("rate_buckets_new", "rate_buckets")
    op.create_index("ix_rate_buckets_minute", "rate_buckets", ["minute"])


def upgrade() -> None:
    _rebuild(with_rowid=False)


def downgrade() -> None:
    _rebuild(with_rowid=True)
