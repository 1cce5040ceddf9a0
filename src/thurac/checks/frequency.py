"""Circular 22 art. 4.3a: how often one sender, sender domain or client IP sends, per window."""

from __future__ import annotations

from thurac.checks.base import CheckContext, span_text
from thurac.history import History, keys_of
from thurac.message import Message
from thurac.symbols import Measure, Symbol

_SYMBOL = {"sender": "C22_FREQ_SENDER", "domain": "C22_FREQ_DOMAIN", "ip": "C22_FREQ_IP"}


class Frequency:
    name = "frequency"
    symbols = tuple(_SYMBOL.values())
    history_symbols = symbols

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        settings = ctx.settings.frequency
        if not settings.enabled or not history.available:
            return []
        if message.recipients and set(message.recipients) <= history.related_recipients:
            return []  # a correspondent who writes often is not a spammer
        keys = keys_of(message)
        if keys.get("domain") in {d.rstrip(".").lower() for d in settings.ignore_domains}:
            del keys["domain"]
        found: list[Symbol] = []
        for kind, key in keys.items():
            worst: tuple[float, str, Measure] | None = None
            for window in settings.windows:
                seen = history.window(kind, window.seconds)
                # This message counts too: the limit is on what the window holds with it.
                for what, unit, count, limit in (
                    ("msgs", "messages", seen.messages + 1, getattr(window.messages, kind)),
                    ("rcpts", "recipients", seen.recipients + len(message.recipients),
                     getattr(window.recipients, kind)),
                ):
                    if limit is None or count <= limit:
                        continue
                    ratio = count / limit
                    if worst is None or ratio > worst[0]:
                        span = span_text(window.seconds)
                        worst = (ratio, f"{kind} {key}: {count} {what}/{span} > {limit}",
                                 Measure(count, limit, unit, span))
            if worst is not None:
                factor = min(settings.max_factor, worst[0])
                found.append(ctx.symbol(_SYMBOL[kind], worst[1], factor, worst[2]))
        return found
