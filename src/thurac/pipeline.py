"""Runs every check on one message under a deadline. A failing check becomes a zero-score symbol."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from thurac.checks import CHECKS, Check, CheckContext
from thurac.history import History
from thurac.message import Message
from thurac.symbols import Symbol
from thurac.text import sanitize

log = logging.getLogger("thurac.pipeline")
MAX_REASON = 200  # bytes of a failed check's exception text in its symbol's reason


def run_checks(
    message: Message,
    history: History,
    ctx: CheckContext,
    checks: Sequence[Check] = CHECKS,
) -> list[Symbol]:
    """All symbols for `message`. Never raises: mail must not suffer for thurac's faults."""
    found: list[Symbol] = []
    if not history.available:
        found.append(ctx.symbol("THURAC_HISTORY_UNAVAILABLE", "history store unreadable"))
    started = time.monotonic()
    deadline = ctx.settings.milter.deadline
    for index, check in enumerate(checks):
        if time.monotonic() - started > deadline:
            skipped = ",".join(c.name for c in checks[index:])
            found.append(ctx.symbol("THURAC_DEADLINE", f"{deadline}s passed; skipped {skipped}"))
            break
        try:
            found.extend(check.check(message, history, ctx))
        except Exception as exc:  # one broken check must not cost the message
            log.exception("%s: check %s failed", message.queue_id, check.name)
            reason = sanitize(f"{check.name} skipped: {type(exc).__name__}: {exc}", MAX_REASON)
            found.append(ctx.symbol("THURAC_CHECK_ERROR", reason))
    return found
