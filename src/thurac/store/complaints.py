"""Complaints in the store: written when a report is read (the milter's report mailboxes,
`thurac complaints ingest`), listed and removed by `thurac complaints`, counted by the
history read (store/history.py) for C22_COMPLAINTS."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Connection, Engine, delete, or_, select, update

from thurac.history import stored_text
from thurac.store.schema import complaints, events

MAX_EVIDENCE = 64 * 1024  # characters of the reported message's header block kept


@dataclass(frozen=True, slots=True)
class Complaint:
    """One report against one source."""

    received_at: datetime
    reporter: str
    trusted: bool
    weight: float
    kind: str  # user | arf:<feedback type>
    method: str  # trace | arf | attachment | inline | none
    sender: str
    sender_domain: str
    client_ip: str
    message_id: str = ""
    event_id: int | None = None
    report_queue_id: str = ""
    evidence: str = ""
    id: int | None = None
    forwarded_at: datetime | None = None

    @property
    def against(self) -> str:
        """What it is against, as a log line says it."""
        parts = [f"sender={self.sender or '-'}", f"ip={self.client_ip or '-'}"]
        return " ".join(parts)


def reporter_key(reporter: str, hashed: bool) -> str:
    """The reporter as stored: as is, or a SHA-256 (complaints.hash_reporters)."""
    text = reporter.strip().lower()
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest() if hashed else text


def add_complaint(conn: Connection, complaint: Complaint) -> int:
    c = complaint
    row = conn.execute(complaints.insert().values(
        received_at=c.received_at, reporter=stored_text(c.reporter, 320), trusted=c.trusted,
        weight=c.weight, kind=stored_text(c.kind, 40), method=stored_text(c.method, 16),
        sender=stored_text(c.sender, 320), sender_domain=stored_text(c.sender_domain, 255),
        client_ip=stored_text(c.client_ip, 64),
        message_id=stored_text(c.message_id, 500) if c.message_id else None,
        event_id=c.event_id, report_queue_id=stored_text(c.report_queue_id, 64),
        evidence=stored_text(c.evidence, MAX_EVIDENCE),
    ))
    return int(row.inserted_primary_key[0])  # type: ignore[index]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """What our own trace in a reported message leads to: the message as we saw it."""

    id: int
    sender: str
    sender_domain: str
    client_ip: str
    message_id: str
    received_at: datetime


def traced_event(conn: Connection, queue_ids: Sequence[str], message_id: str
                 ) -> StoredEvent | None:
    """The stored inbound event a reported message is, by our queue id or its Message-ID
    (newest first: short queue ids are reused)."""
    e = events.c
    conditions: list[ColumnElement[bool]] = []
    if queue_ids:
        conditions.append(e.queue_id.in_([stored_text(q, 64) for q in queue_ids[:10]]))
    if message_id:
        conditions.append(e.message_id == stored_text(message_id.strip("<>").lower(), 500))
    if not conditions:
        return None
    row = conn.execute(
        select(e.id, e.sender, e.sender_domain, e.client_ip, e.message_id, e.received_at)
        .where(or_(*conditions), e.direction == "inbound")
        .order_by(e.received_at.desc()).limit(1)).first()
    if row is None:
        return None
    when = row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=UTC)
    return StoredEvent(int(row.id), row.sender, row.sender_domain, row.client_ip,
                       row.message_id or "", when)


@dataclass(frozen=True, slots=True)
class ComplaintFilter:
    source: str = ""  # an address, a domain or an IP
    since: datetime | None = None
    limit: int = 1000
    ids: tuple[int, ...] = field(default_factory=tuple)


def list_complaints(engine: Engine, wanted: ComplaintFilter) -> list[Complaint]:
    c = complaints.c
    query = select(complaints).order_by(c.received_at.desc()).limit(wanted.limit)
    if wanted.source:
        key = wanted.source.strip().lower()
        query = query.where(or_(c.sender == key, c.sender_domain == key, c.client_ip == key))
    if wanted.since is not None:
        query = query.where(c.received_at >= wanted.since)
    if wanted.ids:
        query = query.where(c.id.in_(wanted.ids))
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    found = []
    for r in rows:
        when = r["received_at"]
        found.append(Complaint(
            when if when.tzinfo else when.replace(tzinfo=UTC), r["reporter"], r["trusted"],
            r["weight"], r["kind"], r["method"], r["sender"], r["sender_domain"],
            r["client_ip"], r["message_id"] or "", r["event_id"], r["report_queue_id"],
            r["evidence"], r["id"], r["forwarded_at"]))
    return found


def remove_complaint(engine: Engine, complaint_id: int) -> bool:
    with engine.begin() as conn:
        return bool(conn.execute(delete(complaints).where(complaints.c.id == complaint_id))
                    .rowcount)


def mark_forwarded(engine: Engine, complaint_id: int, when: datetime | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(update(complaints).where(complaints.c.id == complaint_id)
                     .values(forwarded_at=when or datetime.now(UTC)))
