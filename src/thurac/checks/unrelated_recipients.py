"""Circular 22 art. 4.3b (second dash): mail to addresses with no prior exchange with the sender."""

from __future__ import annotations

from thurac.checks.base import CheckContext, span_text
from thurac.history import History
from thurac.message import Message
from thurac.symbols import Measure, Symbol


class UnrelatedRecipients:
    name = "unrelated_recipients"
    symbols = ("C22_UNRELATED_RATIO", "C22_UNRELATED_RCPT")
    history_symbols = symbols

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        settings = ctx.settings.unrelated_recipients
        if not settings.enabled or not history.available or not message.sender:
            return []
        unrelated = history.unrelated(message.recipients)
        if message.recipients and not unrelated:
            return []  # mail to correspondents only is exchange, as in the frequency check
        found: list[Symbol] = []
        seen = history.window("sender", settings.window)
        total = seen.recipients + len(message.recipients)
        strangers = seen.unrelated + len(unrelated)
        if total >= settings.min_recipients and total > 0:
            ratio = strangers / total
            if ratio >= settings.ratio:
                found.append(ctx.symbol(
                    "C22_UNRELATED_RATIO",
                    f"{strangers}/{total} recipients unrelated ({ratio:.0%} >= "
                    f"{settings.ratio:.0%}) in {span_text(settings.window)}",
                    measure=Measure(round(ratio, 2), settings.ratio, "ratio",
                                    span_text(settings.window), ">="),
                ))
        if message.recipients and len(unrelated) == len(message.recipients):
            found.append(ctx.symbol(
                "C22_UNRELATED_RCPT",
                f"none of {len(message.recipients)} recipient(s) ever exchanged mail with "
                f"{message.sender}",
            ))
        return found
