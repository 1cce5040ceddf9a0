"""The store's side of the quarantine: the verdict stored for a held message, and a release
recorded as the false positive it is. A release makes each (local recipient, sender) pair
related (correspondents.released), so that sender's next message to that user is not
"unrelated" (store/history.py reads released > 0 as an exchange)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, insert, select

from thurac.history import as_utc, stored_text
from thurac.store.recorder import _Counter, _Upserts
from thurac.store.schema import correspondents, events, releases
from thurac.symbols import Symbol

# Postfix reuses short queue ids: an event scored well before the held message arrived
# (postqueue's arrival_time) was another message's. The margin covers clocks of two hosts
# sharing one store.
ARRIVAL_SLACK = timedelta(minutes=10)

RELEASED_PAIRS = _Counter(correspondents, ("local", "remote"), add=("released",),
                          latest=("last_seen",))
_EVENTS = (
    select(events.c.id, events.c.queue_id, events.c.received_at, events.c.sender,
           events.c.recipients, events.c.score, events.c.action, events.c.symbols)
    .where(events.c.queue_id.in_(bindparam("ids", expanding=True)))
    .order_by(events.c.id)
)
INSERT_RELEASE = insert(releases)


@dataclass(frozen=True, slots=True)
class StoredVerdict:
    """What thurac recorded about a message: its envelope as the milter saw it, and the verdict."""

    event_id: int
    received_at: datetime
    sender: str
    recipients: tuple[str, ...]
    score: float | None
    action: str
    symbols: tuple[Symbol, ...]  # highest score first

    @property
    def symbol_names(self) -> list[str]:
        return [s.name for s in self.symbols]


@dataclass(frozen=True, slots=True)
class Release:
    """A held message an operator let through. `sender` and `recipients` are the envelope the
    pairs are learned from: the stored event's when there is one (the milter's spelling, the
    one the next history read looks up)."""

    queue_id: str
    released_by: str
    released_at: datetime
    sender: str
    recipients: tuple[str, ...]
    event_id: int | None = None



def stored_verdicts(conn: Connection, arrivals: Mapping[str, datetime]) -> dict[str, StoredVerdict]:
    """For each queue id (→ when the message arrived in Postfix's queue), the newest event
    with that id that is not older than the message; ids with none are left out."""
    if not arrivals:
        return {}
    found: dict[str, StoredVerdict] = {}
    rows = conn.execute(_EVENTS, {"ids": sorted({stored_text(q, 64) for q in arrivals})})
    wanted = {stored_text(q, 64): q for q in arrivals}
    for row in rows:  # oldest first: a newer event replaces an older one
        queue_id = wanted[row.queue_id]
        received_at = as_utc(row.received_at)
        if received_at < arrivals[queue_id] - ARRIVAL_SLACK:
            continue
        symbols = sorted((Symbol(s["name"], float(s["score"]), s["reason"])
                          for s in json.loads(row.symbols)), key=lambda s: (-s.score, s.name))
        found[queue_id] = StoredVerdict(
            event_id=row.id, received_at=received_at, sender=row.sender,
            recipients=tuple(json.loads(row.recipients)), score=row.score, action=row.action,
            symbols=tuple(symbols))
    return found


def record_release(engine: Engine, release: Release, is_local: Callable[[str], bool]) -> int:
    """In one transaction: the `releases` row, and released + 1 for each (local recipient,
    sender) pair, keyed as the recorder keys them. Returns the id of the releases row."""
    when = release.released_at
    upserts = _Upserts()
    if release.sender:
        sender = stored_text(release.sender, 320)
        for rcpt in dict.fromkeys(release.recipients):  # one release per pair
            if is_local(rcpt) and rcpt != release.sender:
                upserts.add(RELEASED_PAIRS, {
                    "local": stored_text(rcpt, 320), "remote": sender, "first_seen": when,
                    "last_seen": when, "sent": 0, "received": 0, "released": 1})
    with engine.begin() as conn:
        release_id = conn.execute(INSERT_RELEASE, dict(
            queue_id=stored_text(release.queue_id, 64), event_id=release.event_id,
            released_at=when, released_by=stored_text(release.released_by, 100),
            sender=stored_text(release.sender, 320),
            recipients=json.dumps(list(release.recipients)),
        )).inserted_primary_key[0]  # type: ignore[index]
        upserts.run(conn)
    return int(release_id)
