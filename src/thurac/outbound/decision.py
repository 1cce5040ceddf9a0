"""Outbound symbols and the account's suspension → one Verdict: tag, hold or tempfail by
`outbound.actions`; a hard limit or a suspension in force imposes `outbound.suspend_answer`,
a suppressed recipient imposes a hold. Pure: the monitor acts on what it says."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from thurac.checks.base import CheckContext
from thurac.config import ActionSettings, Settings
from thurac.store.accounts import AccountState
from thurac.symbols import Symbol
from thurac.verdict import Action, Override, Verdict, decide

# outbound.suspend_answer → the verdict's action
SUSPEND_ACTION: dict[str, Action] = {"reject": "reject", "tempfail": "tempfail",
                                     "hold": "quarantine"}
DECISION_SYMBOLS = ("OUT_SUSPENDED",)  # emitted here, not by a check
SUSPENSION = "suspension"  # Override.source of a suspension
SUPPRESSION = "suppression"


def outbound_actions(settings: Settings) -> ActionSettings:
    """`outbound.actions` as the verdict reads thresholds (never a score-made reject), under
    the global mode: tag-only holds, defers and suspends nothing."""
    actions = settings.outbound.actions
    return ActionSettings(mode=settings.actions.mode, add_header=actions.tag,
                          quarantine=actions.hold, reject=None, tempfail=actions.tempfail)


def suspended_verdict(state: AccountState, ctx: CheckContext) -> Verdict:
    """Mail from an account whose suspension is in force: no check needed."""
    symbol = ctx.symbol("OUT_SUSPENDED", f"account {state.account} suspended "
                        f"{state.suspended_at.isoformat(timespec='seconds')} by "
                        f"{state.suspended_by}: {state.reason}")
    action = SUSPEND_ACTION[ctx.settings.outbound.suspend_answer]
    return decide([symbol], outbound_actions(ctx.settings),
                  [Override(action, SUSPENSION,
                            f"since {state.suspended_at.isoformat(timespec='seconds')}")])


def outbound_verdict(symbols: Sequence[Symbol], settings: Settings) -> Verdict:
    """The verdict on the outbound checks' symbols."""
    overrides = [Override("quarantine", SUPPRESSION, s.reason)
                 for s in symbols if s.name == "OUT_SUPPRESSED"]
    verdict = decide(symbols, outbound_actions(settings), overrides)
    limit = next((s for s in symbols if s.name == "OUT_LIMIT"), None)
    if limit is None:
        return verdict
    # Past a hard limit the suspension's answer is the answer, even a milder one than the
    # score's (a 451 the operator chose over a hold).
    suspended = SUSPEND_ACTION[settings.outbound.suspend_answer]
    return replace(verdict, intended=suspended,
                   action=suspended if settings.actions.mode == "enforce" else "add_header",
                   overrides=(*verdict.overrides, Override(suspended, SUSPENSION, limit.reason)))


def trips_suspension(verdict: Verdict, settings: Settings) -> Symbol | None:
    """The OUT_LIMIT symbol when this verdict suspends its account (enforce mode only)."""
    if settings.actions.mode != "enforce":
        return None
    return next((s for s in verdict.symbols if s.name == "OUT_LIMIT"), None)
