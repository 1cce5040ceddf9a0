"""Store outages told once: one line when reads (or writes) start failing, one when they work
again, and nothing per message in between (each message's own line carries
THURAC_HISTORY_UNAVAILABLE). An outage that floods the log hides everything else in it."""

from __future__ import annotations

import logging
import threading
import time

from thurac import metrics

log = logging.getLogger("thurac.store")


class Outage:
    """The state of one kind of store access (`what`: "reads" or "writes") to the store at
    `where` (its URL, password hidden); `operation` labels its failures in
    thurac_store_errors_total (read, write or lists)."""

    def __init__(self, what: str, where: str, consequence: str, operation: str) -> None:
        self.what = what
        self.operation = operation
        self.where = where
        self.consequence = consequence
        self.since: float | None = None
        self.failures = 0
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, error: object) -> None:
        """`error`: an exception (the driver's own words are shown, without SQLAlchemy's
        statement dump) or a sentence."""
        error = getattr(error, "orig", None) or error
        metrics.store_error(self.operation)
        where = self.where
        with self._lock:
            self.failures += 1
            if self.since is not None:
                log.debug("store %s still failing (%s): %s", self.what, where, error)
                return
            self.since = time.monotonic()
            self.failures = 1
        log.error("store %s failing (%s): %s; %s until it answers", self.what, where, error,
                  self.consequence)

    def ok(self) -> None:
        if self.since is None:  # the common case, without the lock
            return
        with self._lock:
            if self.since is None:
                return
            lasted, failures = time.monotonic() - self.since, self.failures
            self.since = None
        log.warning("store %s work again after %.0fs (%d failure(s) meanwhile)", self.what,
                    lasted, failures)
