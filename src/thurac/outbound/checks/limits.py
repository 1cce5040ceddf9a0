"""The hard limits (`outbound.suspend_limits`): an account past one is suspended
(outbound/decision.py acts on OUT_LIMIT)."""

from __future__ import annotations

from thurac.checks.base import CheckContext
from thurac.history import History
from thurac.message import Message
from thurac.outbound.windows import WHAT, excesses, worst
from thurac.symbols import Symbol


class SuspendLimits:
    name = "outbound_limits"
    symbols = ("OUT_LIMIT",)

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        excess = worst(excesses(message, history, ctx.settings.outbound.suspend_limits), *WHAT)
        if excess is None:
            return []
        return [ctx.symbol("OUT_LIMIT", excess.reason, measure=excess.measure)]
