"""Circular 22 art. 4.3c for our own accounts: a bulk mailer, BCC bulk, an open list (the
inbound check's tests under `technology:`, named OUT_TECH_*; HELO, PTR and TLS say nothing
about a user's own client)."""

from __future__ import annotations

from thurac.checks.base import CheckContext
from thurac.checks.technology import Technology
from thurac.history import History
from thurac.message import Message
from thurac.symbols import Symbol


class OutboundTechnology:
    name = "outbound_technology"
    symbols = ("OUT_TECH_MAILER", "OUT_TECH_BCC_BULK", "OUT_TECH_OPEN_LIST")

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        if not ctx.settings.outbound.technology:
            return []
        inbound = [*Technology.mailer(message, ctx), *Technology.bulk_recipients(message, ctx)]
        return [ctx.symbol(s.name.replace("C22_", "OUT_", 1), s.reason, measure=s.measure)
                for s in inbound]
