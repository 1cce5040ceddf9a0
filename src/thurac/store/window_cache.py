"""Window sums of the keys that send now, kept in memory between reads of the store.

A spam run comes from one sender, domain or IP hundreds of times a minute, and each message
read the same sums of its rate buckets again. Here the sums of a key, as the store gave them,
are kept for the minute in progress and for at most `max_age` seconds; each message this
process records is added to them at once, so the next read counts it even before the
recorder has written it behind the reply.

What a cached sum can miss, for at most `max_age` seconds: buckets that another writer
added to the store (another MX host sharing a PostgreSQL, another `milter.processes`
worker). For that reason `database.window_cache_seconds` defaults to 1 s on SQLite (one
host) and to 0, no cache, on PostgreSQL, where several hosts count one burst together.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy import Engine

from thurac.config import DatabaseSettings

MAX_KEYS = 10000  # keys kept; the least recently read go first

SQLITE_DEFAULT = 1.0  # seconds: one host writes the file (see above)


def window_cache_seconds(database: DatabaseSettings, engine: Engine) -> float:
    """database.window_cache_seconds, or its default for the store in use."""
    if database.window_cache_seconds is not None:
        return database.window_cache_seconds
    return SQLITE_DEFAULT if engine.dialect.name == "sqlite" else 0.0


Segments = list[list[int]]  # per segment of the windows: messages, recipients, unrelated


class WindowCache:
    def __init__(self, max_age: float, max_keys: int = MAX_KEYS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        # (kind, key) -> (minute, window starts, read at, segments)
        self._entries: OrderedDict[tuple[str, str],
                                   tuple[int, tuple[int, ...], float, Segments]] = OrderedDict()

    def get(self, kind: str, key: str, minute: int,
            starts: tuple[int, ...]) -> list[tuple[int, int, int]] | None:
        """The segments of (kind, key) for the windows starting at `starts`, or None."""
        if self.max_age <= 0:
            return None
        with self._lock:
            entry = self._entries.get((kind, key))
            if entry is None:
                return None
            at_minute, at_starts, read_at, segments = entry
            if (at_minute != minute or at_starts != starts
                    or self._clock() - read_at > self.max_age):
                del self._entries[(kind, key)]
                return None
            self._entries.move_to_end((kind, key))
            return [(m, r, u) for m, r, u in segments]

    def put(self, kind: str, key: str, minute: int, starts: tuple[int, ...],
            segments: list[tuple[int, int, int]]) -> None:
        """The segments as the store gave them, just now."""
        if self.max_age <= 0:
            return
        with self._lock:
            self._entries[(kind, key)] = (minute, starts, self._clock(),
                                          [list(s) for s in segments])
            self._entries.move_to_end((kind, key))
            while len(self._entries) > self._max_keys:
                self._entries.popitem(last=False)

    def count(self, kind: str, key: str, minute: int, messages: int, recipients: int,
              unrelated: int) -> None:
        """A message this process records: in the newest segment (the minute in progress
        is in every window) of the key's sums, if they are kept for that minute."""
        with self._lock:
            entry = self._entries.get((kind, key))
            if entry is not None and entry[0] == minute:
                newest = entry[3][0]
                newest[0] += messages
                newest[1] += recipients
                newest[2] += unrelated

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
