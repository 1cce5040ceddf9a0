"""Outbound account suspensions (Decree 91/2020 art. 10.4): one row per account that was ever
suspended, with who, when, why, and its release (docs/outbound.md).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account", sa.String(320), primary_key=True),
        sa.Column("suspended", sa.Boolean, nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("suspended_by", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("queue_id", sa.String(64)),
        sa.Column("until", sa.DateTime(timezone=True)),
        sa.Column("released_at", sa.DateTime(timezone=True)),
        sa.Column("released_by", sa.String(100)),
        sa.Column("release_reason", sa.String(500)),
    )


def downgrade() -> None:
    op.drop_table("accounts")
