"""Circular 22 art. 4.3b for our own accounts: recipients the account never exchanged mail
with, per outbound window (what a stolen password is used for)."""

from __future__ import annotations

from thurac.checks.base import CheckContext
from thurac.history import History
from thurac.message import Message
from thurac.outbound.windows import excesses, worst
from thurac.symbols import Symbol


class OutboundUnrelated:
    name = "outbound_unrelated"
    symbols = ("OUT_UNRELATED",)

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        settings = ctx.settings.outbound
        excess = worst(excesses(message, history, settings.windows), "unrelated")
        if excess is None:
            return []
        return [ctx.symbol("OUT_UNRELATED", excess.reason,
                           min(settings.max_factor, excess.ratio), excess.measure)]
