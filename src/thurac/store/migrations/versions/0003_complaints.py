"""Complaints (users' spam reports and ARF feedback), advertising deliveries per advertiser
and recipient, and list entries scoped to one recipient (an opt-out).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("reporter", sa.String(320), nullable=False),
        sa.Column("trusted", sa.Boolean, nullable=False),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("sender_domain", sa.String(255), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(500)),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id", ondelete="SET NULL")),
        sa.Column("report_queue_id", sa.String(64), nullable=False),
        sa.Column("forwarded_at", TZ),
        sa.Column("evidence", sa.Text, nullable=False),
    )
    op.create_index("ix_complaints_received_at", "complaints", ["received_at"])
    op.create_index("ix_complaints_sender", "complaints", ["sender"])
    op.create_index("ix_complaints_sender_domain", "complaints", ["sender_domain"])
    op.create_index("ix_complaints_client_ip", "complaints", ["client_ip"])
    op.create_table(
        "ad_counts",
        sa.Column("advertiser", sa.String(255), primary_key=True),
        sa.Column("recipient", sa.String(320), primary_key=True),
        sa.Column("minute", sa.BigInteger, primary_key=True),
        sa.Column("messages", sa.Integer, nullable=False),
    )
    op.create_index("ix_ad_counts_minute", "ad_counts", ["minute"])
    with op.batch_alter_table("lists") as batch:
        batch.add_column(sa.Column("recipient", sa.String(320), nullable=False,
                                   server_default=""))
        batch.drop_constraint("uq_lists_entry", type_="unique")
        batch.create_unique_constraint("uq_lists_entry",
                                       ["list", "kind", "value", "recipient"])


def downgrade() -> None:
    with op.batch_alter_table("lists") as batch:
        batch.drop_constraint("uq_lists_entry", type_="unique")
        batch.drop_column("recipient")
        batch.create_unique_constraint("uq_lists_entry", ["list", "kind", "value"])
    op.drop_table("ad_counts")
    op.drop_table("complaints")
