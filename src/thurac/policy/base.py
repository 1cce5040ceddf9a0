"""What a policy is, what it may look at, and what it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from thurac.auth import AuthResults
from thurac.config import Settings
from thurac.message import Message
from thurac.policy.lists import ListIndex
from thurac.symbols import Symbol
from thurac.verdict import Override

__all__ = ["SILENT", "Judgement", "Override", "Policy", "PolicyInput"]


@dataclass(frozen=True, slots=True)
class PolicyInput:
    """What a policy may use: the message, the checks' authentication results, the
    settings in force for it, and the allow/block lists as they stand."""

    message: Message
    auth: AuthResults
    settings: Settings
    lists: ListIndex


@dataclass(frozen=True, slots=True)
class Judgement:
    """Symbols that add to the score (a list hit), and an action imposed whatever the score."""

    symbols: tuple[Symbol, ...] = ()
    override: Override | None = None


SILENT = Judgement()


class Policy(Protocol):
    name: str
    symbols: tuple[str, ...]  # every symbol it may add (each in the catalogue)

    def judge(self, facts: PolicyInput) -> Judgement: ...
