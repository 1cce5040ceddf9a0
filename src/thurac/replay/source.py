"""The live store as a replay reads it: events with their header blocks, complaints and
releases, merged into one stream in time order. Read-only: nothing here writes."""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, event, func, select

from thurac import facts as facts_mod
from thurac.facts import Facts
from thurac.history import as_utc
from thurac.message import Connection as SmtpConnection
from thurac.message import Message, parse_rfc822
from thurac.store.complaints import Complaint
from thurac.store.releases import Release
from thurac.store.schema import complaints, events, header_log, releases
from thurac.symbols import Symbol

BATCH = 2000  # rows fetched at a time: a long store is streamed, never loaded whole


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One message as the live store kept it, and the verdict it had."""

    id: int
    message: Message
    score: float | None
    action: str
    symbols: tuple[Symbol, ...]  # as rendered into the event (names, scores, reasons)
    unrelated_count: int
    facts: Facts | None  # None: stored before events kept facts (replayed from symbols)


def read_only(engine: Engine) -> Engine:
    """`engine`, refusing writes at the database itself: a replay must not change the live
    store even by a bug of ours (SQLite: query_only; PostgreSQL: read-only transactions)."""
    statement = ("PRAGMA query_only = ON" if engine.dialect.name == "sqlite"
                 else "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute(statement)
        cursor.close()
        if engine.dialect.name != "sqlite":
            dbapi_conn.commit()

    return engine


def count_inbound(conn: Connection, since: datetime, until: datetime) -> int:
    query = select(func.count()).select_from(events).where(
        events.c.direction == "inbound", events.c.received_at >= since,
        events.c.received_at < until)
    return int(conn.execute(query).scalar_one())


def _headers(block: str | None) -> tuple[tuple[str, str], ...]:
    if not block:
        return ()
    return parse_rfc822(block.encode("utf-8", "surrogateescape") + b"\r\n")[0]


def _json(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


def _event(row: Any) -> StoredEvent:
    recipients = tuple(str(r) for r in _json(row.recipients, []))
    message = Message(
        SmtpConnection(row.client_ip, row.client_name, row.helo or "", row.tls_version,
                       row.auth_user),
        row.sender, recipients, _headers(row.headers), queue_id=row.queue_id,
        received_at=as_utc(row.received_at), direction=row.direction)
    symbols = tuple(Symbol(str(s.get("name", "")), float(s.get("score", 0.0)),
                           str(s.get("reason", "")))
                    for s in _json(row.symbols, []) if isinstance(s, dict))
    return StoredEvent(row.id, message, row.score, row.action, symbols, row.unrelated_count,
                       facts_mod.from_json(_json(row.facts, None)))


def _events(conn: Connection, until: datetime) -> Iterator[tuple[datetime, int, int, Any]]:
    e = events.c
    query = (select(e.id, e.received_at, e.direction, e.queue_id, e.client_ip, e.client_name,
                    e.helo, e.tls_version, e.auth_user, e.sender, e.recipients,
                    e.unrelated_count, e.score, e.action, e.symbols, e.facts,
                    header_log.c.headers)
             .outerjoin(header_log, header_log.c.event_id == e.id)
             .where(e.received_at < until).order_by(e.received_at, e.id))
    for row in conn.execution_options(yield_per=BATCH).execute(query):
        stored = _event(row)
        yield stored.message.received_at, 1, stored.id, stored


def _complaints(conn: Connection, until: datetime) -> Iterator[tuple[datetime, int, int, Any]]:
    c = complaints.c
    query = select(complaints).where(c.received_at < until).order_by(c.received_at, c.id)
    for row in conn.execution_options(yield_per=BATCH).execute(query):
        when = as_utc(row.received_at)
        yield when, 0, row.id, Complaint(
            when, row.reporter, row.trusted, row.weight, row.kind, row.method, row.sender,
            row.sender_domain, row.client_ip, row.message_id or "",
            report_queue_id=row.report_queue_id)


def _releases(conn: Connection, until: datetime) -> Iterator[tuple[datetime, int, int, Any]]:
    r = releases.c
    query = select(releases).where(r.released_at < until).order_by(r.released_at, r.id)
    for row in conn.execution_options(yield_per=BATCH).execute(query):
        when = as_utc(row.released_at)
        yield when, 0, row.id, Release(
            row.queue_id, row.released_by, when, row.sender,
            tuple(str(x) for x in _json(row.recipients, [])), None)


def stream(conn: Connection, until: datetime) -> Iterator[StoredEvent | Complaint | Release]:
    """Everything before `until` that shaped the history, oldest first; a complaint or a
    release counts before a message of the same instant (it was known by then)."""
    merged = heapq.merge(_complaints(conn, until), _releases(conn, until), _events(conn, until),
                         key=lambda item: (item[0], item[1], item[2]))
    for _when, _order, _id, item in merged:
        yield item
