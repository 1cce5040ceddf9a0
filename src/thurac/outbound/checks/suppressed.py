"""Suppression: a recipient who complained about the account's mail gets no more of it
without a person looking (outbound/decision.py holds on OUT_SUPPRESSED)."""

from __future__ import annotations

from thurac.checks.base import SHOWN, CheckContext
from thurac.history import History
from thurac.message import Message
from thurac.symbols import Symbol


class Suppression:
    name = "outbound_suppressed"
    symbols = ("OUT_SUPPRESSED",)

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        if not ctx.settings.outbound.suppression:
            return []
        complained = [r for r in message.recipients if r in history.suppressed]
        if not complained:
            return []
        shown = ", ".join(complained)[:SHOWN]
        return [ctx.symbol("OUT_SUPPRESSED", f"{len(complained)} recipient(s) complained "
                           f"about {message.sender}'s mail: {shown}")]
