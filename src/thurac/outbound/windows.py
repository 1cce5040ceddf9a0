"""An account's outbound counts against the limits of `outbound.windows` and
`outbound.suspend_limits`: what the checks and the hard limit share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from thurac.checks.base import span_text
from thurac.config import OutboundWindow
from thurac.history import ACCOUNT, History
from thurac.message import Message
from thurac.outbound.account import account_of
from thurac.symbols import Measure

WHAT = ("messages", "recipients", "unrelated")
_WORDS = {"messages": "msgs", "recipients": "rcpts", "unrelated": "unrelated rcpts"}


@dataclass(frozen=True, slots=True)
class Excess:
    """One count past one limit: `account a@b: 120 unrelated rcpts/10min > 100`."""

    account: str
    what: str  # messages | recipients | unrelated
    count: int
    limit: int
    seconds: int

    @property
    def ratio(self) -> float:
        return self.count / self.limit

    @property
    def reason(self) -> str:
        span = span_text(self.seconds)
        return f"account {self.account}: {self.count} {_WORDS[self.what]}/{span} > {self.limit}"

    @property
    def measure(self) -> Measure:
        return Measure(self.count, self.limit, self.what, span_text(self.seconds))


def excesses(message: Message, history: History,
             windows: Sequence[OutboundWindow]) -> list[Excess]:
    """Every limit the account passes with this message (which counts too)."""
    if not history.available:
        return []  # no penalties that need the past
    account = account_of(message)
    # A bounce (null sender) goes to whoever wrote: its recipient is never a stranger.
    fresh = len(history.unrelated(message.recipients)) if message.sender else 0
    found: list[Excess] = []
    for window in windows:
        seen = history.window(ACCOUNT, window.seconds)
        for what, count, limit in (
            ("messages", seen.messages + 1, window.messages),
            ("recipients", seen.recipients + len(message.recipients), window.recipients),
            ("unrelated", seen.unrelated + fresh, window.unrelated),
        ):
            if limit is not None and count > limit:
                found.append(Excess(account, what, count, limit, window.seconds))
    return found


def worst(found: Sequence[Excess], *what: str) -> Excess | None:
    """The excess furthest past its limit among those counting `what`."""
    chosen = [e for e in found if e.what in what]
    return max(chosen, key=lambda e: e.ratio) if chosen else None
