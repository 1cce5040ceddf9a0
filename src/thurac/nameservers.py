"""Nameserver health: a server that stops answering is marked down, skipped, and probed again.

Without this, a dead nameserver costs every message its whole DNS budget (8 s by default),
and 20 SMTP sessions fall from about 120 to 2 messages a second. As resolvers and rspamd's
upstreams do, `down_after` queries in a row without an answer mark a server down; lookups
then skip it, and fail at once with TEMPERROR when every server is down. After `retry_after`
seconds one query is let through as a probe: an answer brings the server back, silence keeps
it down for another period. The outage is logged once when it starts and once when it ends.
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

    def no_answer(self, server: Server, why: str) -> None:
        """A timeout, or nothing listening: one more strike."""
        now = self._clock()
        with self._lock:
            state = self._states[server]
            state.failures += 1
            if state.down_since is not None:
                state.next_probe = now + self.retry_after
            elif state.failures >= self.down_after:
                state.down_since = now
                state.next_probe = now + self.retry_after
                log.error("nameserver %s: no answer to %d queries in a row (%s): marked down; "
                          "lookups skip it, and give TEMPERROR at once while every nameserver "
                          "is down; probed every %.0fs", self._names[server], state.failures,
                          why, self.retry_after)
