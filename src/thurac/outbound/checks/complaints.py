"""Circular 22 art. 5 for our own accounts: recipients (ARF feedback loops, local users)
complained about the account's mail within complaints.window."""

from __future__ import annotations

from thurac.checks.base import CheckContext, span_text
from thurac.history import ACCOUNT, History
from thurac.message import Message
from thurac.symbols import Measure, Symbol


class OutboundComplaints:
    name = "outbound_complaints"
    symbols = ("OUT_COMPLAINTS",)

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        settings = ctx.settings
        weight = history.complaints.get(ACCOUNT, 0.0)
        if not settings.outbound.complaints or weight <= 0:
            return []
        span = span_text(settings.complaints.window)
        return [ctx.symbol(
            "OUT_COMPLAINTS", f"{weight:g} reporter(s) complained about {message.sender} in "
            f"{span}", min(settings.complaints.max_factor, weight),
            Measure(weight, 0, "reporters", span))]
