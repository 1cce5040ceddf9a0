"""Circular 22/2021 art. 5: users' spam reports and ARF feedback (the complaints table) as
evidence against a source: its envelope sender, its domain and its client IP."""

from __future__ import annotations

from thurac.checks.base import CheckContext, span_text
from thurac.history import History
from thurac.message import Message
from thurac.symbols import Measure, Symbol

_WHO = {"sender": "sender", "domain": "domain", "ip": "client IP"}


class Complaints:
    name = "complaints"
    symbols = ("C22_COMPLAINTS",)
    history_symbols = symbols

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        settings = ctx.settings.complaints
        if not settings.enabled or not history.available or not history.complaints:
            return []
        # The source most complained about decides; reporters are counted once each.
        kind, reporters = max(history.complaints.items(), key=lambda item: item[1])
        if reporters <= 0:
            return []
        factor = min(settings.max_factor, reporters)
        key = {"sender": message.sender, "domain": message.sender_domain,
               "ip": message.connection.client_ip}[kind]
        window = span_text(settings.window)
        return [ctx.symbol(
            "C22_COMPLAINTS",
            f"{_WHO[kind]} {key}: {reporters:g} reporter(s) complained in {window}",
            factor, Measure(round(reporters, 2), 0, "reporters", window),
        )]
