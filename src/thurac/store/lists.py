"""The store's allow/block entries (`thurac list`): read, add, remove, and the cache the
scanner reads them through, refreshed at most `lists.refresh_seconds` after a change."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, and_, bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from thurac.lists import ListEntry
from thurac.store.outage import Outage
from thurac.store.schema import lists

_ALL = (
    select(lists.c.list, lists.c.kind, lists.c.value, lists.c.reason, lists.c.added_by,
           lists.c.added_at, lists.c.expires_at, lists.c.recipient)
    .order_by(lists.c.list, lists.c.kind, lists.c.value)
)
_LIVE = _ALL.where(or_(lists.c.expires_at.is_(None), lists.c.expires_at > bindparam("now")))


def _utc(when: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; every time thurac compares is in UTC."""
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=UTC)


def read_entries(engine: Engine, now: datetime | None = None,
                 include_expired: bool = False) -> list[ListEntry]:
    """The entries in force at `now` (or every entry, expired ones included)."""
    with engine.connect() as conn:
        rows = conn.execute(_ALL if include_expired else _LIVE,
                            {"now": now or datetime.now(UTC)})
        return [ListEntry(r.list, r.kind, r.value, r.reason, r.added_by, _utc(r.added_at),
                          _utc(r.expires_at), "store", r.recipient) for r in rows]


def add_entry(engine: Engine, entry: ListEntry) -> bool:
    """Write `entry`; an entry already there (same list, kind, value) takes the new reason,
    author and expiry. True when it is new."""
    values = {"reason": entry.reason, "added_by": entry.added_by,
              "added_at": entry.added_at or datetime.now(UTC), "expires_at": entry.expires_at}
    key = and_(lists.c.list == entry.list, lists.c.kind == entry.kind,
               lists.c.value == entry.value, lists.c.recipient == entry.recipient)
    with engine.begin() as conn:
        if conn.execute(update(lists).where(key).values(**values)).rowcount:
            return False
    try:
        with engine.begin() as conn:
            conn.execute(lists.insert().values(list=entry.list, kind=entry.kind,
                                               value=entry.value, recipient=entry.recipient,
                                               **values))
        return True
    except IntegrityError:  # another `thurac list add` of the same entry won the race
        with engine.begin() as conn:
            conn.execute(update(lists).where(key).values(**values))
        return False


def remove_entry(engine: Engine, list_name: str, kind: str, value: str,
                 recipient: str = "") -> bool:
    with engine.begin() as conn:
        result = conn.execute(delete(lists).where(
            lists.c.list == list_name, lists.c.kind == kind, lists.c.value == value,
            lists.c.recipient == recipient))
    return bool(result.rowcount)


class StoreLists:
    """The store's live entries as the scanner sees them: re-read when older than `refresh`
    seconds, by the first verdict that finds them stale (the others use the copy they have,
    so a slow store never queues messages behind the read). A failed read keeps the last
    entries and is logged once per outage."""

    def __init__(self, engine: Engine, refresh: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.refresh = refresh
        self._clock = clock
        self._entries: Sequence[ListEntry] = ()
        self._read_at: float | None = None
        self._lock = threading.Lock()
        self.generation = 0  # bumped whenever the entries change
        self.outage = Outage("list reads", engine.url.render_as_string(hide_password=True),
                             "the allow/block entries of the last good read stay in force",
                             "lists")

    def entries(self) -> Sequence[ListEntry]:
        now = self._clock()
        if self._read_at is not None and now - self._read_at < self.refresh:
            return self._entries
        if not self._lock.acquire(blocking=self._read_at is None):
            return self._entries
        try:
            self._read_at = now
            try:
                fresh = read_entries(self.engine)
            except Exception as exc:
                self.outage.failed(exc)
                return self._entries
            self.outage.ok()
            if fresh != list(self._entries):
                self._entries = tuple(fresh)
                self.generation += 1
            return self._entries
        finally:
            self._lock.release()
