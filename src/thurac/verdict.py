"""Σ symbol scores, thresholds and mode from YAML → one Verdict value."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from thurac.config import ActionSettings
from thurac.symbols import Symbol

Action = Literal["accept", "add_header", "tempfail", "quarantine", "reject"]
_SEVERITY: dict[Action, int] = {
    "accept": 0, "add_header": 1, "tempfail": 2, "quarantine": 3, "reject": 4,
}


@dataclass(frozen=True, slots=True)
class Override:
    """An action imposed by policy `source` whatever the score, and why, in plain words."""

    action: Action
    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class Verdict:
    score: float
    required: float  # the add_header threshold, shown in X-Spam-Status
    action: Action  # what the MTA is told
    intended: Action  # what enforce mode would have done (differs in tag-only mode)
    symbols: tuple[Symbol, ...]
    policy: str | None = None  # the per-recipient policy used (policies:), None: the default
    overrides: tuple[Override, ...] = ()  # those that imposed the action

    @property
    def is_spam(self) -> bool:
        return self.score >= self.required

    def top_symbols(self, count: int = 3) -> list[Symbol]:
        """The highest-scoring positive symbols, for a short reject reason."""
        positive = [s for s in self.symbols if s.score > 0]
        return sorted(positive, key=lambda s: -s.score)[:count]


def decide(symbols: Iterable[Symbol], actions: ActionSettings,
           overrides: Iterable[Override] = (), policy: str | None = None) -> Verdict:
    """The action of the highest threshold the score reaches, or the most severe override
    if more severe (policy/: e.g. a DMARC p=reject failure with dmarc.honor_reject on);
    tag-only never blocks."""
    found = tuple(symbols)
    # Rounded as shown in X-Spam-Score, so the flag never disagrees with the printed score;
    # fsum is exact, so the order the symbols came in (a replay's differs) cannot change it.
    score = round(math.fsum(s.score for s in found), 1)
    thresholds: list[tuple[Action, float | None]] = [
        ("add_header", actions.add_header),
        ("tempfail", actions.tempfail),
        ("quarantine", actions.quarantine),
        ("reject", actions.reject),
    ]
    intended: Action = "accept"
    for action, threshold in thresholds:
        if threshold is not None and score >= threshold and (
            _SEVERITY[action] > _SEVERITY[intended]
        ):
            intended = action
    imposed: list[Override] = []
    for override in overrides:
        if _SEVERITY[override.action] > _SEVERITY[intended]:
            intended = override.action
            imposed.append(override)
    action = intended
    if actions.mode == "tag-only" and _SEVERITY[intended] > _SEVERITY["add_header"]:
        action = "add_header"
    return Verdict(score, actions.add_header, action, intended, found, policy, tuple(imposed))
