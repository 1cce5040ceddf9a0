"""Circular 22 art. 4.3a for our own accounts: messages and recipients per outbound window."""

from __future__ import annotations

from thurac.checks.base import CheckContext
from thurac.history import History
from thurac.message import Message
from thurac.outbound.windows import excesses, worst
from thurac.symbols import Symbol

_SYMBOL = {"messages": "OUT_FREQ_MESSAGES", "recipients": "OUT_FREQ_RECIPIENTS"}


class OutboundFrequency:
    name = "outbound_frequency"
    symbols = tuple(_SYMBOL.values())

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        if message.recipients and set(message.recipients) <= history.related_recipients:
            return []  # writing often to one's correspondents is what mail is for
        settings = ctx.settings.outbound
        found = excesses(message, history, settings.windows)
        symbols = []
        for what, name in _SYMBOL.items():
            excess = worst(found, what)
            if excess is not None:
                symbols.append(ctx.symbol(name, excess.reason,
                                          min(settings.max_factor, excess.ratio),
                                          excess.measure))
        return symbols
