"""The one read of history per message: the History value (thurac.history) filled from the store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Select, bindparam, exists, func, literal, select, union_all

from thurac.config import Settings
from thurac.history import (
    KEY_KINDS,
    History,
    WindowCount,
    epoch_minute,
    keys_of,
    stored_text,
    window_lengths,
)
from thurac.message import Message
from thurac.store.schema import (
    ad_counts,
    complaints,
    correspondents,
    rate_buckets,
    senders,
    sent_messages,
)

# A pair is related once the local user wrote to the remote, or released its held mail.
_WROTE_OR_RELEASED = (correspondents.c.sent > 0) | (correspondents.c.released > 0)
# Built once with bound parameters: SQLAlchemy caches the compiled SQL, a read costs values.
def _buckets_of(kind: str) -> Select[Any]:
    b = rate_buckets.c
    return (select(b.kind, b.key, b.minute, b.messages, b.recipients, b.unrelated)
            .where(b.kind == kind, b.key == bindparam(kind), b.minute >= bindparam("oldest")))


# One range search of the primary key (kind, key, minute) per kind: asked by key alone, the
# planner walks the minute index through every sender's buckets of the longest window.
_BUCKETS = union_all(*(_buckets_of(kind) for kind in KEY_KINDS))
_SENDER = select(
    select(senders.c.messages).where(senders.c.address == bindparam("sender"))
    .scalar_subquery(),
    exists().where(correspondents.c.remote == bindparam("sender"), _WROTE_OR_RELEASED),
)
_RELATED = (
    select(correspondents.c.local)
    .where(correspondents.c.remote == bindparam("sender"), _WROTE_OR_RELEASED,
           correspondents.c.local.in_(bindparam("rcpts", expanding=True)))
)
_REPLIED_TO = (
    select(sent_messages.c.local)
    .where(sent_messages.c.message_id.in_(bindparam("ids", expanding=True)))
)
MAX_REFERENCES = 50  # Message-IDs of In-Reply-To/References looked up per message
AD_WINDOW_MINUTES = 24 * 60


def _reporters(kind: str, column: str) -> Select[str, str, float]:
    c = complaints.c
    return (select(literal(kind).label("kind"), c.reporter, func.max(c.weight).label("weight"))
            .where(c[column] == bindparam(kind), c.received_at >= bindparam("since"),
                   c.weight > 0)
            .group_by(c.reporter))


# Distinct reporters per key kind; a kind whose key is absent is asked for '' (no rows).
_COMPLAINTS = union_all(_reporters("sender", "sender"), _reporters("domain", "sender_domain"),
                        _reporters("ip", "client_ip"))
_ADS = (
    select(ad_counts.c.recipient, func.sum(ad_counts.c.messages))
    .where(ad_counts.c.advertiser == bindparam("advertiser"),
           ad_counts.c.recipient.in_(bindparam("rcpts", expanding=True)),
           ad_counts.c.minute >= bindparam("oldest"))
    .group_by(ad_counts.c.recipient)
)


def read_history(conn: Connection, message: Message, settings: Settings,
                 advertiser: str = "") -> History:
    """One read of everything the checks need, in one connection. `advertiser`: the
    message is advertising from it (adverts.py), so its deliveries are counted."""
    now_minute = epoch_minute(message.received_at)
    lengths = window_lengths(settings)
    keys = keys_of(message)
    oldest = now_minute - (max(lengths) // 60) + 1

    sums: dict[tuple[str, int], list[int]] = {(k, s): [0, 0, 0] for k in keys for s in lengths}
    rows = conn.execute(_BUCKETS, {**{k: keys.get(k, "") for k in KEY_KINDS}, "oldest": oldest})
    for kind, key, minute, msgs, rcpts, unrel in rows:
        if keys.get(kind) != key:
            continue  # another kind's key that happens to be spelt the same
        age = now_minute - minute
        for seconds in lengths:
            if age < max(1, seconds // 60):
                acc = sums[(kind, seconds)]
                acc[0] += msgs
                acc[1] += rcpts
                acc[2] += unrel
    windows = {key: WindowCount(*acc) for key, acc in sums.items()}

    sender_messages = 0
    written_to = False
    related: set[str] = set()
    stored_rcpts = {stored_text(r, 320): r for r in message.recipients}
    if message.sender:
        sender = stored_text(message.sender, 320)
        count, written = conn.execute(_SENDER, {"sender": sender}).one()
        sender_messages, written_to = int(count or 0), bool(written)
        if written_to and stored_rcpts:
            related.update(conn.execute(
                _RELATED, {"sender": sender, "rcpts": sorted(stored_rcpts)}).scalars())
    if message.referenced_ids:
        # A reply to a message one of our users sent relates that user to this sender.
        ids = sorted({stored_text(i, 500) for i in message.referenced_ids[:MAX_REFERENCES]})
        related.update(conn.execute(_REPLIED_TO, {"ids": ids}).scalars())
    complained: dict[str, float] = {}
    if settings.complaints.enabled:
        domain = keys.get("domain", "")
        if domain in settings.complaints.ignore_domains:
            domain = ""  # a free-mail provider: complaints about one user say nothing of it
        since = message.received_at - timedelta(seconds=settings.complaints.window)
        for kind, _reporter, weight in conn.execute(_COMPLAINTS, {
            "sender": keys.get("sender", ""), "domain": domain, "ip": keys["ip"],
            "since": since,
        }):
            complained[kind] = complained.get(kind, 0.0) + float(weight)
    ads: dict[str, int] = {}
    if advertiser and stored_rcpts:
        ad_rows = conn.execute(_ADS, {"advertiser": stored_text(advertiser, 255),
                                      "rcpts": sorted(stored_rcpts),
                                      "oldest": now_minute - AD_WINDOW_MINUTES + 1})
        ads = {stored_rcpts[r]: int(n or 0) for r, n in ad_rows if r in stored_rcpts}
    return History(
        available=True,
        complaints=complained,
        ad_counts=ads,
        windows=windows,
        sender_messages=sender_messages,
        sender_written_to=written_to,
        related_recipients=frozenset(stored_rcpts[r] for r in related if r in stored_rcpts),
    )
