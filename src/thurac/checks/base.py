"""What a check is: a name, the symbols it may emit, and one pure method."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from thurac.auth import AuthResults
from thurac.config import Settings
from thurac.history import History
from thurac.message import Message
from thurac.symbols import Measure, Symbol

if TYPE_CHECKING:
    from thurac.dns import DnsSession


# Characters of a sender- or DNS-controlled value quoted in a reason: enough to recognise it,
# short enough that a hostile value cannot swell the report header.
SHOWN = 80


def span_text(seconds: int) -> str:
    """A window length as people write it in a reason: 10min, 1h, 1d."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What a check may use besides the message and its history."""

    settings: Settings
    dns: DnsSession
    # SPF/DKIM/ARC write their results here; DMARC and Authentication-Results read them.
    auth: AuthResults = field(default_factory=AuthResults)
    # Why the message is advertising (adverts.py), "" when it is not: the scanner decides
    # once, for the history read, this check and the recorder.
    advert: str = ""

    def symbol(self, name: str, reason: str, factor: float = 1.0,
               measure: Measure | None = None) -> Symbol:
        """A symbol scored from YAML (`scores:`), scaled by `factor`."""
        return Symbol(name, round(self.settings.score(name) * factor, 2), reason, measure, factor)


class Check(Protocol):
    @property
    def name(self) -> str:
        """Short name, as used in config sections and error symbols."""
        ...

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol the check may emit (each must be in the catalogue)."""
        ...

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        """Judge one message; return the symbols that apply (none is fine)."""
        ...
