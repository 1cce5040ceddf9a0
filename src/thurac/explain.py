"""Read-only views of the store for the operator's "why?" (Decree 91/2020 art. 10.6): the
verdict stored for one message (`thurac explain`) and the stored header blocks (`thurac
headers`). Values only: the commands print them.

Postfix reuses queue ids over long times, and one Message-ID can arrive more than once: the
newest event answers, and says how many older ones share its key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select

from thurac.history import as_utc
from thurac.message import normalize_address
from thurac.store.engine import store_errors
from thurac.store.schema import events, header_log, releases

HEADER_ROWS_PER_FETCH = 500  # header blocks are streamed: a sender can have 100,000 of them


@dataclass(frozen=True, slots=True)
class StoredSymbol:
    name: str
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class Release:
    """An operator let the held message go (`thurac quarantine release`)."""

    released_at: datetime
    released_by: str


@dataclass(frozen=True, slots=True)
class Explanation:
    """One stored verdict, with what the message looked like when it was given."""

    queue_id: str
    received_at: datetime  # aware, UTC
    direction: str  # inbound | outbound
    client_ip: str
    client_name: str | None
    helo: str
    tls_version: str | None
    auth_user: str | None
    sender: str  # envelope sender ('' for the null sender)
    recipients: tuple[str, ...]
    header_from: str
    message_id: str | None  # without angle brackets, lower case
    score: float | None  # None: outbound mail, learned from and not scored
    action: str  # what the MTA was told: accept, add_header, quarantine, reject, tempfail
    policy: str | None  # the per-recipient policy applied; None: the default one
    overrides: tuple[str, ...]  # why a policy imposed the action, in plain words
    symbols: tuple[StoredSymbol, ...]  # highest score first
    releases: tuple[Release, ...]  # oldest first
    older_events: int  # older events with the same queue id (or Message-ID)


@dataclass(frozen=True, slots=True)
class HeaderBlock:
    """One message's header section as the header log keeps it: `Name: value` lines, CRLF."""

    queue_id: str
    received_at: datetime  # aware, UTC
    sender: str
    message_id: str | None
    headers: str


def queue_key(text: str) -> str:
    """A queue id as typed or pasted from the mail log ('4Y2Kq70Zf1z9vB:' included)."""
    return text.strip().rstrip(":")


def message_key(text: str) -> str:
    """A Message-ID as the store keeps it: without angle brackets, lower case."""
    return text.strip().strip("<>").strip().lower()


def by_queue_id(engine: Engine, queue_id: str) -> Explanation | None:
    """The newest event with this Postfix queue id, or None."""
    return _newest(engine, events.c.queue_id == queue_key(queue_id))


def by_message_id(engine: Engine, message_id: str) -> Explanation | None:
    """The newest event with this Message-ID (angle brackets optional), or None."""
    return _newest(engine, events.c.message_id == message_key(message_id))


def header_blocks(engine: Engine, *, queue_id: str | None = None,
                  message_id: str | None = None, sender: str | None = None,
                  since: datetime | None = None) -> Iterator[HeaderBlock]:
    """The stored header blocks of the messages with this queue id, Message-ID or envelope
    sender (exactly one), received at `since` or later, oldest first; streamed."""
    chosen = [key for key in (queue_id, message_id, sender) if key is not None]
    if len(chosen) != 1:
        raise ValueError("give exactly one of queue_id, message_id, sender")
    where: ColumnElement[bool]
    if queue_id is not None:
        where = header_log.c.queue_id == queue_key(queue_id)
    elif message_id is not None:
        where = events.c.message_id == message_key(message_id)
    else:
        where = events.c.sender == normalize_address(sender or "")
    if since is not None:
        where = and_(where, header_log.c.received_at >= since.astimezone(UTC))
    query = (select(header_log.c.queue_id, header_log.c.received_at, header_log.c.headers,
                    events.c.sender, events.c.message_id)
             .join(events, events.c.id == header_log.c.event_id).where(where)
             .order_by(header_log.c.received_at, header_log.c.id))
    with store_errors(engine), engine.connect() as conn:
        rows = conn.execution_options(yield_per=HEADER_ROWS_PER_FETCH).execute(query)
        for row in rows:
            yield HeaderBlock(row.queue_id, as_utc(row.received_at), row.sender, row.message_id,
                              row.headers)


def _newest(engine: Engine, where: ColumnElement[bool]) -> Explanation | None:
    with store_errors(engine), engine.connect() as conn:
        row = conn.execute(select(events).where(where)
                           .order_by(events.c.received_at.desc(), events.c.id.desc())
                           .limit(1)).first()
        if row is None:
            return None
        sharing = conn.execute(select(func.count()).select_from(events).where(where)).scalar_one()
        # A release written before its event was found has no event_id: matched by queue id,
        # and only if it came after this message (an older one may have had the same id).
        released = conn.execute(
            select(releases.c.released_at, releases.c.released_by)
            .where(or_(releases.c.event_id == row.id,
                       and_(releases.c.event_id.is_(None), releases.c.queue_id == row.queue_id,
                            releases.c.released_at >= row.received_at)))
            .order_by(releases.c.released_at, releases.c.id)).all()
    symbols = sorted((StoredSymbol(s["name"], float(s["score"]), s["reason"])
                      for s in _json_list(row.symbols)), key=lambda s: (-s.score, s.name))
    return Explanation(
        queue_id=row.queue_id, received_at=as_utc(row.received_at), direction=row.direction,
        client_ip=row.client_ip, client_name=row.client_name, helo=row.helo,
        tls_version=row.tls_version, auth_user=row.auth_user, sender=row.sender,
        recipients=tuple(_json_list(row.recipients)), header_from=row.header_from,
        message_id=row.message_id, score=row.score, action=row.action, policy=row.policy,
        overrides=tuple(_json_list(row.overrides)), symbols=tuple(symbols),
        releases=tuple(Release(as_utc(r.released_at), r.released_by) for r in released),
        older_events=int(sharing) - 1,
    )


def _json_list(text: str | None) -> list[Any]:
    found = json.loads(text) if text else []
    return found if isinstance(found, list) else []

