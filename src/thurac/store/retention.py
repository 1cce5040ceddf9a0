"""Retention (Decree 91/2020 art. 10.6: headers kept at least 180 days): what `thurac db
purge` deletes, and only that."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete

from thurac.store.schema import events, header_log


@dataclass(frozen=True, slots=True)
class Purged:
    header_log: int
    events: int
    cutoff: datetime


def purge(engine: Engine, keep_days: int, now: datetime | None = None) -> Purged:
    """Delete header-log entries and events received more than `keep_days` ago, in one
    transaction (an event's headers and the event go together)."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    with engine.begin() as conn:
        headers = conn.execute(delete(header_log).where(header_log.c.received_at < cutoff))
        messages = conn.execute(delete(events).where(events.c.received_at < cutoff))
    return Purged(int(headers.rowcount or 0), int(messages.rowcount or 0), cutoff)
