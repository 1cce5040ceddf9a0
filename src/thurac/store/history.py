"""History snapshot: everything the checks may know about the past, read in one go per message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, bindparam, exists, select

from thurac.config import Settings
from thurac.message import Message
from thurac.store.schema import correspondents, rate_buckets, senders, sent_messages
from thurac.text import printable_text

KEY_KINDS = ("sender", "domain", "ip")


@dataclass(frozen=True, slots=True)
class WindowCount:
    messages: int = 0
    recipients: int = 0
    unrelated: int = 0


@dataclass(frozen=True, slots=True)
class History:
    """What the store knew before this message; `available` is False when it could not be read."""

    available: bool = True
    # (key kind, window seconds) -> counts before this message; kinds: sender, domain, ip
    windows: Mapping[tuple[str, int], WindowCount] = field(default_factory=dict)
    sender_messages: int = 0  # inbound messages seen from the envelope sender, ever
    sender_written_to: bool = False  # a local user has written to the envelope sender
    related_recipients: frozenset[str] = frozenset()  # recipients with a prior exchange

    @classmethod
    def unknown(cls) -> History:
        """History when the store is away: no penalties that need the past."""
        return cls(available=False)

    def window(self, kind: str, seconds: int) -> WindowCount:
        return self.windows.get((kind, seconds), WindowCount())


def epoch_minute(when: datetime) -> int:
    return int(when.timestamp() // 60)


def stored_text(value: str, limit: int) -> str:
    """Text as the store keeps it: valid UTF-8, no NUL (PostgreSQL refuses it), bounded.

    Keys are written and looked up in this form, so a sender's 8-bit junk matches its own rows.
    """
    return printable_text(value).replace("\x00", "\ufffd")[:limit]


def keys_of(message: Message) -> dict[str, str]:
    """The rate keys of a message; null senders (bounces) count by client IP only."""
    keys = {"ip": stored_text(message.connection.client_ip, 320)}
    if message.sender:
        keys["sender"] = stored_text(message.sender, 320)
        keys["domain"] = stored_text(message.sender_domain, 320)
    return keys


def window_lengths(settings: Settings) -> list[int]:
    lengths = {w.seconds for w in settings.frequency.windows}
    lengths.add(settings.unrelated_recipients.window)
    return sorted(lengths)


# Built once with bound parameters: SQLAlchemy caches the compiled SQL, a read costs values.
_BUCKETS = (
    select(rate_buckets.c.kind, rate_buckets.c.key, rate_buckets.c.minute,
           rate_buckets.c.messages, rate_buckets.c.recipients, rate_buckets.c.unrelated)
    .where(rate_buckets.c.key.in_(bindparam("keys", expanding=True)),
           rate_buckets.c.minute >= bindparam("oldest"))
)
_SENDER = select(
    select(senders.c.messages).where(senders.c.address == bindparam("sender"))
    .scalar_subquery(),
    exists().where(correspondents.c.remote == bindparam("sender"), correspondents.c.sent > 0),
)
_RELATED = (
    select(correspondents.c.local)
    .where(correspondents.c.remote == bindparam("sender"), correspondents.c.sent > 0,
           correspondents.c.local.in_(bindparam("rcpts", expanding=True)))
)
_REPLIED_TO = (
    select(sent_messages.c.local)
    .where(sent_messages.c.message_id.in_(bindparam("ids", expanding=True)))
)
MAX_REFERENCES = 50  # Message-IDs of In-Reply-To/References looked up per message


def read_history(conn: Connection, message: Message, settings: Settings) -> History:
    """One read of everything the checks need, in one connection."""
    now_minute = epoch_minute(message.received_at)
    lengths = window_lengths(settings)
    keys = keys_of(message)
    oldest = now_minute - (max(lengths) // 60) + 1

    sums: dict[tuple[str, int], list[int]] = {(k, s): [0, 0, 0] for k in keys for s in lengths}
    rows = conn.execute(_BUCKETS, {"keys": sorted(set(keys.values())), "oldest": oldest})
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
    return History(
        available=True,
        windows=windows,
        sender_messages=sender_messages,
        sender_written_to=written_to,
        related_recipients=frozenset(stored_rcpts[r] for r in related if r in stored_rcpts),
    )
