"""Tables of the history store (SQLAlchemy Core); Alembic migrations create them: keep in step."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# One row per message seen: what a re-score or an `explain` needs later.
events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("direction", String(8), nullable=False),
    Column("queue_id", String(64), nullable=False, index=True),
    Column("client_ip", String(64), nullable=False),
    Column("client_name", String(255)),
    Column("helo", String(255), nullable=False),
    Column("tls_version", String(32)),
    Column("auth_user", String(255)),
    Column("sender", String(320), nullable=False, index=True),
    Column("sender_domain", String(255), nullable=False),
    Column("header_from", String(320), nullable=False),
    Column("message_id", String(500)),
    Column("recipients", Text, nullable=False),  # JSON list
    Column("recipient_count", Integer, nullable=False),
    Column("unrelated_count", Integer, nullable=False),
    Column("score", Float),
    Column("action", String(16), nullable=False),
    Column("symbols", Text, nullable=False),  # JSON list of {name, score, reason}
    Column("policy", String(64)),  # the per-recipient policy used (policies:), None: default
    Column("overrides", Text),  # JSON list: why a policy imposed the action (None: none did)
    # JSON: what a re-score needs (store/facts.py); None for events stored before 0004
    Column("facts", Text),
    Index("ix_events_message_id", "message_id"),
)

# Raw header block of every message, kept at least 180 days (Decree 91/2020 art. 10.6).
header_log = Table(
    "header_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Integer, ForeignKey("events.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("queue_id", String(64), nullable=False, index=True),
    Column("headers", Text, nullable=False),
)

# Pairs (local user, remote address) and how much mail went each way.
correspondents = Table(
    "correspondents", metadata,
    Column("local", String(320), primary_key=True),
    Column("remote", String(320), primary_key=True),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("sent", Integer, nullable=False, default=0),  # local -> remote
    Column("received", Integer, nullable=False, default=0),  # remote -> local
    # Held messages from remote to local released by an operator: the user wanted that mail.
    Column("released", Integer, nullable=False, default=0, server_default="0"),
    Index("ix_correspondents_remote", "remote"),
)

# Inbound totals per envelope sender (one-way source detection).
senders = Table(
    "senders", metadata,
    Column("address", String(320), primary_key=True),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("messages", Integer, nullable=False, default=0),
)

# Per-minute counts per key: sliding windows are sums over buckets, not counts of raw events.
# SQLite keeps them in key order (WITHOUT ROWID, migration 0006): a window sums one key's
# buckets, which the recorder writes among every other key's of the same minute.
rate_buckets = Table(
    "rate_buckets", metadata,
    Column("kind", String(8), primary_key=True),  # sender | domain | ip
    Column("key", String(320), primary_key=True),
    Column("minute", BigInteger, primary_key=True),  # Unix time // 60
    Column("messages", Integer, nullable=False, default=0),
    Column("recipients", Integer, nullable=False, default=0),
    Column("unrelated", Integer, nullable=False, default=0),
    Index("ix_rate_buckets_minute", "minute"),
    sqlite_with_rowid=False,
)

# Message-IDs our users sent, so a reply to one of them is recognised.
sent_messages = Table(
    "sent_messages", metadata,
    Column("message_id", String(500), primary_key=True),
    Column("local", String(320), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False, index=True),
)

# Allow/block list entries managed with `thurac list` (the YAML `lists:` entries are not here).
lists = Table(
    "lists", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("list", String(8), nullable=False),  # allow | block
    Column("kind", String(16), nullable=False),  # address | domain | from-domain | ip | helo
    Column("value", String(320), nullable=False),  # normalised (lower case, CIDR in full)
    Column("reason", String(500), nullable=False),
    Column("added_by", String(100), nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    # "" for everyone; else the one local recipient it applies to (an opt-out of a sender)
    Column("recipient", String(320), nullable=False, default="", server_default=""),
    UniqueConstraint("list", "kind", "value", "recipient", name="uq_lists_entry"),
)

# Quarantined messages an operator released: false positives, for explain and the reports.
releases = Table(
    "releases", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("queue_id", String(64), nullable=False, index=True),
    Column("event_id", Integer, ForeignKey("events.id", ondelete="SET NULL")),
    Column("released_at", DateTime(timezone=True), nullable=False, index=True),
    Column("released_by", String(100), nullable=False),
    Column("sender", String(320), nullable=False),
    Column("recipients", Text, nullable=False),  # JSON list
)

# Spam reports (users forwarding spam, ARF feedback loops): evidence against a source.
complaints = Table(
    "complaints", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("reporter", String(320), nullable=False),  # as is, or hashed (complaints.hash)
    Column("trusted", Boolean, nullable=False),  # a local user or a listed feedback source
    Column("weight", Float, nullable=False),  # 1 when trusted, else complaints.untrusted_weight
    Column("kind", String(40), nullable=False),  # user | arf:<feedback type>
    Column("method", String(16), nullable=False),  # trace | arf | attachment | inline | none
    Column("sender", String(320), nullable=False, index=True),
    Column("sender_domain", String(255), nullable=False, index=True),
    Column("client_ip", String(64), nullable=False, index=True),
    Column("message_id", String(500)),
    Column("event_id", Integer, ForeignKey("events.id", ondelete="SET NULL")),
    Column("report_queue_id", String(64), nullable=False),
    Column("forwarded_at", DateTime(timezone=True)),
    Column("evidence", Text, nullable=False),  # the reported message's header block
)

# Advertising mail delivered per (advertiser, recipient) and minute: Decree 91/2020 allows
# at most 3 per advertiser per recipient per day without the recipient's agreement.
ad_counts = Table(
    "ad_counts", metadata,
    Column("advertiser", String(255), primary_key=True),  # header From organisational domain
    Column("recipient", String(320), primary_key=True),
    Column("minute", BigInteger, primary_key=True),
    Column("messages", Integer, nullable=False, default=0),
    Index("ix_ad_counts_minute", "minute"),
)

# Outbound accounts suspended (by a hard limit or `thurac account suspend`) and released: one
# row per account that ever was; every host sharing the store reads it (outbound/).
accounts = Table(
    "accounts", metadata,
    Column("account", String(320), primary_key=True),  # SASL user, sender or client IP
    Column("suspended", Boolean, nullable=False),
    Column("suspended_at", DateTime(timezone=True), nullable=False),
    Column("suspended_by", String(100), nullable=False),  # "thurac" for a hard limit
    Column("reason", String(500), nullable=False),
    Column("queue_id", String(64)),  # the message that tripped the limit, if one did
    Column("until", DateTime(timezone=True)),  # outbound.suspend_for; None: until released
    Column("released_at", DateTime(timezone=True)),  # the account's windows start here
    Column("released_by", String(100)),
    Column("release_reason", String(500)),
)
