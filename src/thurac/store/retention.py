"""Retention: what `thurac db purge` deletes, and only that. Header blocks go after
database.header_log_days (Decree 91/2020 art. 10.6: at least 180), events after the longer
database.event_days (the statistics reports count them). Quarantine releases are kept: their
event_id becomes NULL. Rate buckets and advertising counts go once no window reads them;
correspondents, senders and sent Message-IDs not seen for database.correspondent_days.

Rows go in batches of BATCH, one transaction each: a purge of months of mail never holds
SQLite's single write lock long enough to make the recorder wait (it waits up to 10 s), nor
PostgreSQL row locks that the recorders of every MX host need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, delete, select, true, tuple_

from thurac.history import epoch_minute
from thurac.store.engine import store_errors
from thurac.store.history import AD_WINDOW_MINUTES
from thurac.store.schema import (
    ad_counts,
    correspondents,
    events,
    header_log,
    rate_buckets,
    senders,
    sent_messages,
)

BATCH = 5000  # rows per DELETE statement and transaction


@dataclass(frozen=True, slots=True)
class Purged:
    header_log: int  # header-log rows deleted
    events: int  # events deleted
    header_log_before: datetime  # the cutoffs: rows received before these went
    events_before: datetime


@dataclass(frozen=True, slots=True)
class PurgedCounters:
    buckets: int  # rate buckets and advertising counts no window reads any more
    correspondents: int  # pairs (local, remote) not seen since `seen_before`
    senders: int  # inbound senders not seen since `seen_before`
    sent_messages: int  # Message-IDs our users sent before `seen_before`
    seen_before: datetime


def purge(engine: Engine, header_log_days: int, event_days: int, now: datetime | None = None,
          batch: int = BATCH) -> Purged:
    """Delete header-log rows received more than `header_log_days` ago, then events received
    more than `event_days` ago (which must not be fewer: an event takes its header row)."""
    if event_days < header_log_days:
        raise ValueError("event_days must be at least header_log_days")
    now = _utc(now)
    headers_before = now - timedelta(days=header_log_days)
    events_before = now - timedelta(days=event_days)
    with store_errors(engine):
        headers = _delete_oldest(engine, header_log, (header_log.c.id,),
                                 header_log.c.received_at < headers_before, batch)
        messages = _delete_oldest(engine, events, (events.c.id,),
                                  events.c.received_at < events_before, batch)
    return Purged(headers, messages, headers_before, events_before)


def purge_counters(engine: Engine, bucket_minutes: int, correspondent_days: int,
                   now: datetime | None = None, batch: int = BATCH) -> PurgedCounters:
    """Delete rate buckets older than `bucket_minutes` (history.bucket_minutes: the longest
    window) and advertising counts older than a day, then the relationships and senders last
    seen, and the sent Message-IDs sent, more than `correspondent_days` ago."""
    now = _utc(now)
    minute = epoch_minute(now)
    seen_before = now - timedelta(days=correspondent_days)
    r, a = rate_buckets.c, ad_counts.c
    with store_errors(engine):
        buckets = _delete_oldest(engine, rate_buckets, (r.kind, r.key, r.minute),
                                 r.minute < minute - bucket_minutes, batch)
        buckets += _delete_oldest(engine, ad_counts, (a.advertiser, a.recipient, a.minute),
                                  a.minute < minute - AD_WINDOW_MINUTES - 1, batch)
        # No index on last_seen (the hot path never asks for it): walk the keys instead.
        pairs = _delete_walking(engine, correspondents,
                                (correspondents.c.local, correspondents.c.remote),
                                correspondents.c.last_seen < seen_before, batch)
        gone = _delete_walking(engine, senders, (senders.c.address,),
                               senders.c.last_seen < seen_before, batch)
        ids = _delete_oldest(engine, sent_messages, (sent_messages.c.message_id,),
                             sent_messages.c.sent_at < seen_before, batch)
    return PurgedCounters(buckets, pairs, gone, ids, seen_before)


def _utc(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)  # SQLite compares the UTC wall time


def _delete_oldest(engine: Engine, table: Table, keys: tuple[ColumnElement[Any], ...],
                   expired: ColumnElement[bool], batch: int) -> int:
    """Delete the `expired` rows of `table` (found by an index), `batch` at a time."""
    deleted = 0
    while True:
        oldest = select(*keys).where(expired).limit(batch)
        with engine.begin() as conn:
            result = conn.execute(delete(table).where(tuple_(*keys).in_(oldest)))
        done = int(result.rowcount or 0)
        deleted += done
        if done < batch:
            return deleted


def _delete_walking(engine: Engine, table: Table, keys: tuple[ColumnElement[Any], ...],
                    expired: ColumnElement[bool], batch: int) -> int:
    """Delete the `expired` rows of `table`, walking its primary key `batch` rows at a time:
    each step reads one stretch of the key's index, where searching for the condition would
    read the whole table in every batch."""
    deleted = 0
    key = tuple_(*keys)
    after: ColumnElement[bool] = true()
    while True:
        with engine.begin() as conn:
            found = conn.execute(select(*keys).where(after).order_by(*keys).limit(batch)).all()
            if not found:
                return deleted
            upto = key <= tuple_(*found[-1])
            result = conn.execute(delete(table).where(after, upto, expired))
        deleted += int(result.rowcount or 0)
        if len(found) < batch:
            return deleted
        after = key > tuple_(*found[-1])
