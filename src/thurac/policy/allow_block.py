"""ALLOWLIST and BLOCKLIST from the entries that match (policy/lists.py): scores, like any
symbol, so that tag-only mode and the thresholds treat a list hit as they treat the rest."""

from __future__ import annotations

from thurac.policy.base import Judgement, PolicyInput
from thurac.policy.lists import Match, matches
from thurac.symbols import Symbol
from thurac.text import sanitize

MAX_REASON = 300  # bytes of a list symbol's reason (entries carry an operator's free text)


def _reason(found: list[Match], note: str = "") -> str:
    first = found[0]
    more = f"; and {len(found) - 1} more" if len(found) > 1 else ""
    how = f", {first.how}" if first.how else ""
    return sanitize(f"{first.entry.describe()}{how}{note}{more}", MAX_REASON)


class AllowBlock:
    name = "allow_block"
    symbols: tuple[str, ...] = ("ALLOWLIST", "ALLOWLIST_NOT_AUTHENTICATED", "BLOCKLIST")

    def judge(self, facts: PolicyInput) -> Judgement:
        if facts.lists.size == 0:
            return Judgement()
        found = matches(facts.lists, facts.message, facts.auth)
        allowed = [m for m in found if m.entry.list == "allow" and m.authenticated]
        forged = [m for m in found if m.entry.list == "allow" and not m.authenticated]
        blocked = [m for m in found if m.entry.list == "block"]
        score = facts.settings.score
        symbols: list[Symbol] = []
        if allowed:
            symbols.append(Symbol("ALLOWLIST", score("ALLOWLIST"), _reason(allowed)))
        elif forged:
            symbols.append(Symbol("ALLOWLIST_NOT_AUTHENTICATED",
                                  score("ALLOWLIST_NOT_AUTHENTICATED"),
                                  _reason(forged, ": identity not authenticated, not applied")))
        if blocked:
            symbols.append(Symbol("BLOCKLIST", score("BLOCKLIST"), _reason(blocked)))
        return Judgement(tuple(symbols))
