"""Verdicts are computed on threads Python created, never on libmilter's own threads.

libmilter hands the callbacks of one SMTP connection to whichever of its pool threads is
free, and pymilter gives each connection a PyThreadState made on the first of those threads
and deleted on the last. CPython remembers, per OS thread, the first thread state made there
(the PyGILState pointer) and forgets it only when that state is deleted on the same thread,
so under load a libmilter thread keeps a pointer to a freed or foreign state. Any C code that
calls PyGILState_Ensure there then corrupts memory: sqlite3 does when it closes a connection
that has an SQL function (SQLAlchemy registers one), which is how thurac died under 20
sessions. So the history read, DNS and checks run here; the libmilter thread only translates
callbacks and waits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

log = logging.getLogger("thurac.workers")

T = TypeVar("T")


class VerdictWorkers:
    """A fixed set of threads that run one job at a time each; callers block for the result."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="thurac-verdict")

    def run(self, job: Callable[[], T], timeout: float) -> T:
        """`job()` on a worker thread; TimeoutError if it takes longer than `timeout` seconds
        (the job goes on, its result is dropped)."""
        return self._pool.submit(job).result(timeout=timeout)

    def close(self) -> None:
        """Wait for the jobs under way (each is bounded by the DNS budget and deadline)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
