"""Suspended accounts as every verdict sees them: read from the store at most every
`outbound.refresh_seconds` (so every host sharing it sees a change within that), plus those
this process suspended and has not read back yet. A suspension made here is written behind
the reply, logged in one line, counted, and told to `outbound.notify`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from thurac import metrics
from thurac.config import Settings
from thurac.feedback.forwarder import Forwarder
from thurac.outbound.notice import suspension_notice
from thurac.store.accounts import AccountState, read_accounts, suspend
from thurac.store.outage import Outage
from thurac.text import sanitize

log = logging.getLogger("thurac.outbound")
LIMIT_AUTHOR = "thurac"  # suspended_by of a suspension a hard limit made


def state_words(state: AccountState) -> str:
    """`suspended 2026-12-02T03:40:00+00:00 by ops: reason`, as log lines and `show` say it."""
    when = state.suspended_at.isoformat(timespec="seconds")
    until = f" until {state.until.isoformat(timespec='seconds')}" if state.until else ""
    return (f"suspended {when} by {sanitize(state.suspended_by, 100)}{until}: "
            f"{sanitize(state.reason, 500)}")


def _ends(after: AccountState, known: AccountState, now: datetime) -> bool:
    """The store's `after` ends the suspension `known` this host held in force (not an
    older row of the account, read before this host's own suspension was written)."""
    if after.active(now):
        return False
    if after.suspended:  # past its `until`
        return after.suspended_at >= known.suspended_at
    return after.released_at is not None and after.released_at >= known.suspended_at


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


class Suspensions:
    """The suspensions one process reads and makes (one per scanner)."""

    def __init__(self, engine: Engine, refresh: float,
                 forwarder: Callable[[Settings], Forwarder] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`forwarder`: makes the queue notices go through, when the first is sent."""
        self.engine = engine
        self.refresh = refresh
        self._make_forwarder = forwarder
        self.forwarder: Forwarder | None = None
        self._clock = clock
        self._read: dict[str, AccountState] = {}
        self._read_at: float | None = None
        self._local: dict[str, AccountState] = {}  # suspended here, not read back yet
        # Suspensions the store refused (it was away): written again after a good read.
        self._unwritten: dict[str, tuple[AccountState, Settings]] = {}
        self._lock = threading.Lock()  # one refresh at a time
        self._local_lock = threading.Lock()  # one suspension per account per burst
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thurac-suspend")
        self.outage = Outage("account reads", engine.url.render_as_string(hide_password=True),
                             "the suspensions of the last good read stay in force", "accounts")

    def state(self, account: str, now: datetime | None = None) -> AccountState | None:
        """The account's suspension in force, or None."""
        now = now or datetime.now(UTC)
        self._maybe_refresh(now)
        found = self._local.get(account) or self._read.get(account)
        return found if found is not None and found.active(now) else None

    def counts_from(self, account: str, now: datetime | None = None) -> int | None:
        """The minute the account's windows start at (its last release), or None."""
        now = now or datetime.now(UTC)
        found = self._read.get(account)
        start = found.counts_from(now) if found is not None else None
        return None if start is None else int(start.timestamp() // 60) + 1

    def _maybe_refresh(self, now: datetime) -> None:
        clock = self._clock()
        if self._read_at is not None and clock - self._read_at < self.refresh:
            return
        if not self._lock.acquire(blocking=self._read_at is None):
            return  # another verdict is reading; this one uses the copy there is
        try:
            first, self._read_at = self._read_at is None, clock
            try:
                with self.engine.connect() as conn:
                    fresh = {s.account: s for s in read_accounts(conn)}
            except Exception as exc:
                self.outage.failed(exc)
                return
            self.outage.ok()
            unwritten, self._unwritten = list(self._unwritten.values()), {}
            for state, settings in unwritten:
                self._submit(state, settings)
            if not first:  # at start, what is in force is not news
                self._notice_changes(fresh, now)
            for account, mine in list(self._local.items()):
                stored = fresh.get(account)
                if stored is not None and (stored.active(now) or _ends(stored, mine, now)
                                           or stored.suspended_at >= mine.suspended_at):
                    del self._local[account]  # the store has it (or what ended it)
            # What this host holds in force: the store's, and its own not read back yet.
            self._read = {**fresh, **self._local}
            metrics.accounts_suspended(sum(1 for s in fresh.values() if s.active(now)))
        finally:
            self._lock.release()

    def _notice_changes(self, fresh: dict[str, AccountState], now: datetime) -> None:
        """One log line and a count for each change made elsewhere: a suspension by
        `thurac account suspend` (or another host's limit), a release by `thurac account
        release` anywhere, or the end of outbound.suspend_for."""
        before = now - timedelta(seconds=self.refresh)
        for account, after in fresh.items():
            known = self._read.get(account)
            shown = sanitize(account, 320)
            if known is not None and known.active(before):
                if not _ends(after, known, now):
                    continue
                if after.suspended:  # still marked, but past its `until`
                    log.info("account=<%s> released: outbound.suspend_for ended at %s", shown,
                             _when(after.until))
                else:
                    log.info("account=<%s> released %s by %s: %s", shown,
                             _when(after.released_at), sanitize(after.released_by or "-", 100),
                             sanitize(after.release_reason or "", 500))
                metrics.account_released()
            elif after.active(now) and account not in self._local:
                log.warning("account=<%s> %s", shown, state_words(after))
                if after.suspended_by != LIMIT_AUTHOR:  # another host counts its own
                    metrics.account_suspended("operator")

    def suspend(self, account: str, reason: str, queue_id: str, settings: Settings,
                now: datetime | None = None) -> None:
        """Suspend `account` now on this host; write it, and tell, behind the reply."""
        now = now or datetime.now(UTC)
        outbound = settings.outbound
        until = now + timedelta(seconds=outbound.suspend_for) if outbound.suspend_for else None
        state = AccountState(account, True, now, LIMIT_AUTHOR, reason, queue_id, until)
        with self._local_lock:
            if self.state_here(account, now):
                return  # another message of the burst got there first
            self._local[account] = state
        log.warning("%s: account=<%s> %s; its mail now gets %s", sanitize(queue_id, 64),
                    sanitize(account, 320), state_words(state), outbound.suspend_answer)
        metrics.account_suspended("limit")
        self._submit(state, settings)

    def _submit(self, state: AccountState, settings: Settings) -> None:
        try:
            self._writer.submit(self._write, state, settings)
        except RuntimeError:  # closed: the process is stopping
            log.error("account=<%s>: suspension not stored: thurac is stopping",
                      sanitize(state.account, 320))

    def state_here(self, account: str, now: datetime) -> bool:
        found = self._local.get(account) or self._read.get(account)
        return found is not None and found.active(now)

    def _write(self, state: AccountState, settings: Settings) -> None:
        try:
            new = suspend(self.engine, state.account, state.suspended_by, state.reason,
                          queue_id=state.queue_id, until=state.until, now=state.suspended_at)
        except Exception as exc:
            log.error("account=<%s>: suspension not stored (%s); in force on this host, "
                      "written when the store answers", sanitize(state.account, 320), exc)
            self._unwritten[state.account] = (state, settings)
            return
        if not (new and settings.outbound.notify and self._make_forwarder is not None):
            return
        try:
            if self.forwarder is None:
                self.forwarder = self._make_forwarder(settings)
            self.forwarder.submit(suspension_notice(state, settings))
        except Exception as exc:
            log.error("account=<%s>: notice to %s not queued: %s",
                      sanitize(state.account, 320), settings.outbound.notify, exc)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        if self.forwarder is not None:
            self.forwarder.close()
