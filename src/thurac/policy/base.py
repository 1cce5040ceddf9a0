"""What a policy is and what it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from thurac.auth import AuthResults
from thurac.config import Settings
from thurac.verdict import Action


@dataclass(frozen=True, slots=True)
class Override:
    """An action imposed by policy `source`, and why, in plain words."""

    action: Action
    source: str
    reason: str


class Policy(Protocol):
    name: str

    def override(self, auth: AuthResults, settings: Settings) -> Override | None: ...
