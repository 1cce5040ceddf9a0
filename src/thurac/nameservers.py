"""Nameserver health: a server that stops answering is marked down, skipped, and probed again.

Without this, a dead nameserver costs every message its whole DNS budget (8 s by default),
and 20 SMTP sessions fall from about 120 to 2 messages a second. As resolvers and rspamd's
upstreams do, `down_after` queries in a row without an answer make a server suspect, and
if it does not answer a check of its own either (the root's NS, which any resolver has in
cache), it is marked down: lookups then skip it, and fail at once with TEMPERROR when every
server is down. The check is what keeps one hostile domain whose servers never answer
(so every lookup of its names times out) from taking DNS away from all other mail. After
`retry_after` seconds one query is let through as a probe: an answer brings the server
back, silence keeps it down for another period. The outage is logged once when it starts
and once when it ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger("thurac.dns")

Server = tuple[str, int]


@dataclass
class _State:
    failures: int = 0  # queries in a row without an answer
    down_since: float | None = None
    next_probe: float = 0.0
    checking: bool = False  # a check of the server itself is under way


class NameserverHealth:
    """Which nameservers answer; shared by every thread, so its state is locked."""

    def __init__(self, servers: Sequence[Server], names: Sequence[str], *, down_after: int,
                 retry_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.down_after = down_after
        self.retry_after = retry_after
        self._clock = clock
        self._names = dict(zip(servers, names, strict=True))
        self._states = {server: _State() for server in servers}
        self._lock = threading.Lock()

    def usable(self, servers: Sequence[Server]) -> list[Server]:
        """The servers a query may ask now: those up, and a down one whose probe is due."""
        now = self._clock()
        chosen: list[Server] = []
        with self._lock:
            for server in servers:
                state = self._states[server]
                if state.down_since is None:
                    chosen.append(server)
                elif now >= state.next_probe:
                    # One probe a period: the other queries meanwhile fail fast.
                    state.next_probe = now + self.retry_after
                    chosen.append(server)
        return chosen

    def is_down(self, server: Server) -> bool:
        with self._lock:
            return self._states[server].down_since is not None

    def down(self) -> list[str]:
        """Names of the servers marked down now."""
        with self._lock:
            return [self._names[s] for s, st in self._states.items() if st.down_since is not None]

    def answered(self, server: Server) -> None:
        """Any reply, even SERVFAIL or REFUSED: the server is alive."""
        with self._lock:
            state = self._states[server]
            state.failures = 0
            if state.down_since is not None:
                log.warning("nameserver %s answers again, after %.0fs down",
                            self._names[server], self._clock() - state.down_since)
                state.down_since = None

    def no_answer(self, server: Server, why: str) -> bool:
        """A timeout, or nothing listening: one more strike. True when the caller should now
        check the server itself and report with `checked` (one caller at a time)."""
        now = self._clock()
        with self._lock:
            state = self._states[server]
            state.failures += 1
            if state.down_since is not None:
                state.next_probe = now + self.retry_after
                return False
            if state.failures < self.down_after or state.checking:
                return False
            state.checking = True
            return True

    def checked(self, server: Server, answered: bool, why: str) -> None:
        """The result of the check `no_answer` asked for."""
        now = self._clock()
        with self._lock:
            state = self._states[server]
            state.checking = False
            if answered:  # the server is fine; the names asked were not
                state.failures = 0
                return
            if state.down_since is not None:
                return
            state.down_since = now
            state.next_probe = now + self.retry_after
            failures = state.failures
        log.error("nameserver %s: no answer to %d queries in a row (%s), nor to a check of "
                  "the server itself: marked down; lookups skip it, and give TEMPERROR at once "
                  "while every nameserver is down; probed every %.0fs", self._names[server],
                  failures, why, self.retry_after)
