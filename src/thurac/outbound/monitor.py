"""Outbound mail in, a verdict out: the account's suspension, its one history read, the
outbound checks, the decision, and a suspension when a hard limit is passed. The scanner's
one entry for outbound mail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from thurac.checks.base import CheckContext
from thurac.config import Settings
from thurac.dns import Resolver
from thurac.feedback.forwarder import Forwarder
from thurac.history import History
from thurac.message import Message
from thurac.outbound.account import account_of
from thurac.outbound.checks import OUTBOUND_CHECKS
from thurac.outbound.decision import outbound_verdict, suspended_verdict, trips_suspension
from thurac.outbound.suspensions import Suspensions
from thurac.pipeline import run_checks
from thurac.store.spool import spool_path_for
from thurac.verdict import Verdict

NOTICE_QUEUE = "notify-queue"  # beside the spool: the notices to the postmaster


def _notice_forwarder(settings: Settings) -> Forwarder:
    queue = Path(spool_path_for(settings.database)).parent / NOTICE_QUEUE
    return Forwarder(settings.outbound.smtp_relay, queue)


class OutboundMonitor:
    def __init__(self, engine: Engine, settings: Settings, *, history: bool = True) -> None:
        self.has_history = history
        self.suspensions = Suspensions(engine, settings.outbound.refresh_seconds,
                                       _notice_forwarder)

    def judge(self, message: Message, settings: Settings, resolver: Resolver,
              read: Callable[[int | None], History]) -> tuple[Verdict | None, History]:
        """`read(counts_from)`: the scanner's history read (it degrades, never raises)."""
        if not settings.outbound.enabled:
            return None, History.unknown()
        self.suspensions.refresh = settings.outbound.refresh_seconds
        account = account_of(message)
        ctx = CheckContext(settings, resolver.session(settings.dns.budget))
        now = datetime.now(UTC)
        state = self.suspensions.state(account, now) if self.has_history else None
        if state is not None:
            return suspended_verdict(state, ctx), History.unknown()
        counts_from = self.suspensions.counts_from(account, now) if self.has_history else None
        history = read(counts_from)
        verdict = outbound_verdict(run_checks(message, history, ctx, OUTBOUND_CHECKS), settings)
        limit = trips_suspension(verdict, settings)
        if limit is not None and self.has_history:
            self.suspensions.suspend(account, limit.reason, message.queue_id, settings, now)
        return verdict, history

    def close(self) -> None:
        self.suspensions.close()
