"""Operations: allow/block list entries, quarantine releases, the policy a verdict used, and
correspondent pairs made related by a release.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lists",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("list", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(320), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("added_by", sa.String(100), nullable=False),
        sa.Column("added_at", TZ, nullable=False),
        sa.Column("expires_at", TZ),
        sa.UniqueConstraint("list", "kind", "value", name="uq_lists_entry"),
    )
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("queue_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id", ondelete="SET NULL")),
        sa.Column("released_at", TZ, nullable=False),
        sa.Column("released_by", sa.String(100), nullable=False),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("recipients", sa.Text, nullable=False),
    )
    op.create_index("ix_releases_queue_id", "releases", ["queue_id"])
    op.create_index("ix_releases_released_at", "releases", ["released_at"])
    with op.batch_alter_table("correspondents") as batch:
        batch.add_column(sa.Column("released", sa.Integer, nullable=False,
                                   server_default="0"))
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("policy", sa.String(64)))
        batch.add_column(sa.Column("overrides", sa.Text))
    op.create_index("ix_events_message_id", "events", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_events_message_id", "events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("overrides")
        batch.drop_column("policy")
    with op.batch_alter_table("correspondents") as batch:
        batch.drop_column("released")
    op.drop_table("releases")
    op.drop_table("lists")
