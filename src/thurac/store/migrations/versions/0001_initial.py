"""Initial schema: events, header log, correspondents, senders, rate buckets, sent message ids.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("queue_id", sa.String(64), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False),
        sa.Column("client_name", sa.String(255)),
        sa.Column("helo", sa.String(255), nullable=False),
        sa.Column("tls_version", sa.String(32)),
        sa.Column("auth_user", sa.String(255)),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("sender_domain", sa.String(255), nullable=False),
        sa.Column("header_from", sa.String(320), nullable=False),
        sa.Column("message_id", sa.String(500)),
        sa.Column("recipients", sa.Text, nullable=False),
        sa.Column("recipient_count", sa.Integer, nullable=False),
        sa.Column("unrelated_count", sa.Integer, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("symbols", sa.Text, nullable=False),
    )
    op.create_index("ix_events_received_at", "events", ["received_at"])
    op.create_index("ix_events_queue_id", "events", ["queue_id"])
    op.create_index("ix_events_sender", "events", ["sender"])

    op.create_table(
        "header_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("queue_id", sa.String(64), nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
    )
    op.create_index("ix_header_log_event_id", "header_log", ["event_id"])
    op.create_index("ix_header_log_received_at", "header_log", ["received_at"])
    op.create_index("ix_header_log_queue_id", "header_log", ["queue_id"])

    op.create_table(
        "correspondents",
        sa.Column("local", sa.String(320), primary_key=True),
        sa.Column("remote", sa.String(320), primary_key=True),
        sa.Column("first_seen", TZ, nullable=False),
        sa.Column("last_seen", TZ, nullable=False),
        sa.Column("sent", sa.Integer, nullable=False),
        sa.Column("received", sa.Integer, nullable=False),
    )
    op.create_index("ix_correspondents_remote", "correspondents", ["remote"])

    op.create_table(
        "senders",
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("first_seen", TZ, nullable=False),
        sa.Column("last_seen", TZ, nullable=False),
        sa.Column("messages", sa.Integer, nullable=False),
    )

    op.create_table(
        "rate_buckets",
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("minute", sa.BigInteger, primary_key=True),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.Column("recipients", sa.Integer, nullable=False),
        sa.Column("unrelated", sa.Integer, nullable=False),
    )
    op.create_index("ix_rate_buckets_minute", "rate_buckets", ["minute"])

    op.create_table(
        "sent_messages",
        sa.Column("message_id", sa.String(500), primary_key=True),
        sa.Column("local", sa.String(320), nullable=False),
        sa.Column("sent_at", TZ, nullable=False),
    )
    op.create_index("ix_sent_messages_sent_at", "sent_messages", ["sent_at"])


def downgrade() -> None:
    for table in ("sent_messages", "rate_buckets", "senders", "correspondents",
                  "header_log", "events"):
        op.drop_table(table)
