"""Retention: what `thurac db purge` deletes, and only that. Header blocks go after
database.header_log_days (Decree 91/2020 art. 10.6: at least 180), events after the longer
database.event_days (the statistics reports count them). Quarantine releases are kept: their
event_id becomes NULL.

Rows go in batches of BATCH, one transaction each: a purge of months of mail never holds
SQLite's single write lock long enough to make the recorder wait (it waits up to 10 s)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, Table, delete, select

from thurac.store.engine import store_errors
from thurac.store.schema import events, header_log

BATCH = 5000  # rows per DELETE statement and transaction


@dataclass(frozen=True, slots=True)
class Purged:
    header_log: int  # header-log rows deleted
    events: int  # events deleted
    header_log_before: datetime  # the cutoffs: rows received before these went
    events_before: datetime


def purge(engine: Engine, header_log_days: int, event_days: int, now: datetime | None = None,
          batch: int = BATCH) -> Purged:
    """Delete header-log rows received more than `header_log_days` ago, then events received
    more than `event_days` ago (which must not be fewer: an event takes its header row)."""
    if event_days < header_log_days:
        raise ValueError("event_days must be at least header_log_days")
    now = (now or datetime.now(UTC)).astimezone(UTC)  # SQLite compares the UTC wall time
    headers_before = now - timedelta(days=header_log_days)
    events_before = now - timedelta(days=event_days)
    with store_errors(engine):
        headers = _delete_before(engine, header_log, headers_before, batch)
        messages = _delete_before(engine, events, events_before, batch)
    return Purged(headers, messages, headers_before, events_before)


def _delete_before(engine: Engine, table: Table, cutoff: datetime, batch: int) -> int:
    """Delete the rows of `table` received before `cutoff`, `batch` at a time."""
    deleted = 0
    while True:
        oldest = select(table.c.id).where(table.c.received_at < cutoff).limit(batch)
        with engine.begin() as conn:
            result = conn.execute(delete(table).where(table.c.id.in_(oldest.scalar_subquery())))
        done = int(result.rowcount or 0)
        deleted += done
        if done < batch:
            return deleted
