"""The one read of history per message: the History value (thurac.history) filled from the store."""

from __future__ import annotations

from datetime import UTC, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Connection,
    Select,
    bindparam,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)

from thurac.config import Settings
from thurac.history import (
    ACCOUNT,
    KEY_KINDS,
    History,
    WindowCount,
    epoch_minute,
    keys_of,
    rate_keys,
    stored_text,
    window_lengths,
)
from thurac.message import Message
from thurac.store import raw
from thurac.store.complaints import reporter_key
from thurac.store.schema import (
    ad_counts,
    complaints,
    correspondents,
    rate_buckets,
    senders,
    sent_messages,
)
from thurac.store.window_cache import WindowCache

# A pair is related once the local user wrote to the remote, or released its held mail.
_WROTE_OR_RELEASED = (correspondents.c.sent > 0) | (correspondents.c.released > 0)


# Built once with bound parameters: SQLAlchemy caches the compiled SQL, a read costs values.
@lru_cache(maxsize=32)
def _window_sums(kinds: tuple[str, ...], windows: int) -> CompoundSelect[Any]:
    """Sums of the buckets (messages, recipients, unrelated) per key kind and per segment i
    of the windows: minutes since{i} up to since{i-1} (the shortest window: since0 onwards),
    so window i is segments 0..i. The database adds the buckets up: a sender sending every
    minute has 3 x 1,440 buckets in a day, which cost 13 ms a read fetched into Python
    (bench/store_bench.py); plain sums over key ranges (no CASE per row) cost the least.

    Each sum is one range search of the primary key (kind, key, minute): asked by key alone,
    the planner walks the minute index through every sender's buckets of the longest window."""
    b = rate_buckets.c

    def segment(kind: str, i: int) -> Select[str, int, Any, Any, Any]:
        start: BindParameter[int] = bindparam(f"since{i}")
        where = [b.kind == kind, b.key == bindparam(kind), b.minute >= start]
        if i:
            where.append(b.minute < bindparam(f"since{i - 1}"))
        # HAVING: an empty segment returns no row (most keys are new or quiet)
        return (select(literal_column(f"'{kind}'").label("kind"),
                       literal_column(str(i)).label("segment"),
                      func.sum(b.messages), func.sum(b.recipients),
                      func.sum(b.unrelated)).where(*where).having(func.count() > 0))

    return union_all(*(segment(kind, i) for kind in kinds for i in range(windows)))


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


def _windows(conn: Connection, message: Message, settings: Settings,
             counts_from: int | None, cache: WindowCache | None = None,
             ) -> dict[tuple[str, int], WindowCount]:
    """Sums of the message's rate buckets per (kind, window); buckets before minute
    `counts_from` (an outbound account's release) do not count. `cache`: sums of keys read
    moments ago (store/window_cache.py); only the keys it does not hold are read."""
    now_minute = epoch_minute(message.received_at)
    lengths = window_lengths(settings)
    keys = rate_keys(message)
    # Inbound mail is counted by sender, domain and IP; outbound mail by its account.
    kinds = (ACCOUNT,) if ACCOUNT in keys else KEY_KINDS
    # A bucket counts in a window of L minutes when now - minute < L (at least 1 minute);
    # window_lengths is ascending, so the starts go back in time.
    starts = [now_minute - max(1, seconds // 60) + 1 for seconds in lengths]
    if counts_from is not None:
        starts = [max(start, counts_from) for start in starts]
    segments: dict[str, list[tuple[int, int, int]]] = {}
    asked: list[str] = []
    starts_key = tuple(starts)
    for kind in kinds:
        if kind in keys:  # a null sender has no sender or domain key
            cached = None if cache is None else cache.get(kind, keys[kind], now_minute,
                                                          starts_key)
            segments[kind] = cached or [(0, 0, 0)] * len(lengths)
            if cached is None:
                asked.append(kind)
    if asked:
        for kind, i, msgs, rcpts, unrel in raw.rows(conn, _window_sums(tuple(asked),
                                                                       len(lengths)), {
                **{k: keys[k] for k in asked},
                **{f"since{i}": minute for i, minute in enumerate(starts)}}):
            segments[kind][int(i)] = (int(msgs or 0), int(rcpts or 0), int(unrel or 0))
        if cache is not None:
            for kind in asked:
                cache.put(kind, keys[kind], now_minute, starts_key, segments[kind])
    windows: dict[tuple[str, int], WindowCount] = {}
    for kind, parts in segments.items():
        msgs = rcpts = unrel = 0
        for (m, r, u), seconds in zip(parts, lengths, strict=True):  # window i: segments 0..i
            msgs, rcpts, unrel = msgs + m, rcpts + r, unrel + u
            windows[(kind, seconds)] = WindowCount(msgs, rcpts, unrel)
    return windows


def read_history(conn: Connection, message: Message, settings: Settings,
                 advertiser: str = "", counts_from: int | None = None,
                 cache: WindowCache | None = None) -> History:
    """One read of everything the checks need, in one connection. `advertiser`: the
    message is advertising from it (adverts.py), so its deliveries are counted.
    `counts_from`: for outbound mail, the minute its account's windows start from.
    `cache`: the window sums of inbound keys read moments ago (the daemon's)."""
    if message.direction == "outbound":
        return _read_outbound(conn, message, settings, counts_from)
    now_minute = epoch_minute(message.received_at)
    keys = keys_of(message)
    windows = _windows(conn, message, settings, None, cache)

    sender_messages = 0
    written_to = False
    related: set[str] = set()
    stored_rcpts = {stored_text(r, 320): r for r in message.recipients}
    if message.sender:
        sender = stored_text(message.sender, 320)
        ((count, written),) = raw.rows(conn, _SENDER, {"sender": sender})
        sender_messages, written_to = int(count or 0), bool(written)
        if written_to and stored_rcpts:
            related.update(r for r, in raw.rows(
                conn, _RELATED, {"sender": sender, "rcpts": sorted(stored_rcpts)}))
    if message.referenced_ids:
        # A reply to a message one of our users sent relates that user to this sender.
        ids = sorted({stored_text(i, 500) for i in message.referenced_ids[:MAX_REFERENCES]})
        related.update(r for r, in raw.rows(conn, _REPLIED_TO, {"ids": ids}))
    complained: dict[str, float] = {}
    if settings.complaints.enabled:
        domain = keys.get("domain", "")
        if domain in settings.complaints.ignore_domains:
            domain = ""  # a free-mail provider: complaints about one user say nothing of it
        since = message.received_at - timedelta(seconds=settings.complaints.window)
        for kind, _reporter, weight in raw.rows(conn, _COMPLAINTS, {
            "sender": keys.get("sender", ""), "domain": domain, "ip": keys["ip"],
            "since": since,
        }):
            complained[kind] = complained.get(kind, 0.0) + float(weight)
    ads: dict[str, int] = {}
    if advertiser and stored_rcpts:
        ad_rows = raw.rows(conn, _ADS, {"advertiser": stored_text(advertiser, 255),
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


# Outbound: the account's pairs (sender, recipient) with mail either way, and what recipients
# reported about its mail (one indexed read per message: complaints.sender).
_OUT_RELATED = (
    select(correspondents.c.remote)
    .where(correspondents.c.local == bindparam("sender"),
           or_(correspondents.c.sent > 0, correspondents.c.received > 0,
               correspondents.c.released > 0),
           correspondents.c.remote.in_(bindparam("rcpts", expanding=True)))
)
MAX_ACCOUNT_COMPLAINTS = 1000  # newest complaints about one account read per message
_AGAINST_ACCOUNT = (
    select(complaints.c.reporter, complaints.c.weight, complaints.c.kind,
           complaints.c.trusted, complaints.c.received_at)
    .where(complaints.c.sender == bindparam("sender"))
    .order_by(complaints.c.received_at.desc()).limit(MAX_ACCOUNT_COMPLAINTS)
)
# What a recipient's complaint suppresses: its own report, or a feedback loop's abuse or
# opt-out report about mail to it.
SUPPRESSING_KINDS = frozenset({"user", "arf:abuse", "arf:opt-out", "arf:unsubscribe",
                               "arf:fraud"})


def _read_outbound(conn: Connection, message: Message, settings: Settings,
                   counts_from: int | None) -> History:
    windows = _windows(conn, message, settings, counts_from)
    related: set[str] = set()
    complained: dict[str, float] = {}
    suppressed: set[str] = set()
    stored_rcpts = {stored_text(r, 320): r for r in message.recipients}
    if message.sender and stored_rcpts:
        sender = stored_text(message.sender, 320)
        related.update(r for r, in raw.rows(
            conn, _OUT_RELATED, {"sender": sender, "rcpts": sorted(stored_rcpts)}))
        since = message.received_at - timedelta(seconds=settings.complaints.window)
        hashed = settings.complaints.hash_reporters
        keys = {reporter_key(r, hashed): r for r in stored_rcpts}
        reporters: dict[str, float] = {}
        for reporter, weight, kind, trusted, received_at in conn.execute(
                _AGAINST_ACCOUNT, {"sender": sender}):
            when = received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)
            if weight > 0 and when >= since:
                reporters[reporter] = max(reporters.get(reporter, 0.0), float(weight))
            if trusted and kind in SUPPRESSING_KINDS:
                # A feedback loop's reporter is "loop:recipient" (complaints.py).
                rcpt = keys.get(reporter) or keys.get(reporter.rpartition(":")[2])
                if rcpt is not None:
                    suppressed.add(stored_rcpts[rcpt])
        if reporters:
            complained[ACCOUNT] = sum(reporters.values())
    return History(
        available=True,
        windows=windows,
        complaints=complained,
        related_recipients=frozenset(stored_rcpts[r] for r in related if r in stored_rcpts),
        suppressed=frozenset(suppressed),
    )
