"""What a re-score needs about one message, kept with its event (`events.facts`): what
each check found, with the factor its weight was scaled by, and the structured
authentication results. Neither DNS nor the body is needed again: `thurac replay` weighs
these under another configuration and runs only the checks that read history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thurac.auth import OUTCOMES, ArcResult, AuthResults, DkimResult, DmarcResult, SpfResult
from thurac.symbols import Symbol

VERSION = 1


@dataclass(frozen=True, slots=True)
class Facts:
    checks: tuple[Symbol, ...]  # what the checks found (the policies' list hits are not here)
    auth: AuthResults = field(default_factory=AuthResults)
    history: bool = True  # False: the store was unreadable, the history checks stood aside
    advert: str = ""  # why the message was advertising (adverts.py), "" when it was not


def _flat(result: SpfResult | DkimResult | DmarcResult | ArcResult) -> dict[str, Any]:
    """A result's fields (all plain values): dataclasses.asdict's deep copy costs more than
    the rest of the event's row, once per message."""
    return {name: getattr(result, name) for name in result.__slots__}


def to_json(facts: Facts) -> dict[str, Any]:
    auth = facts.auth
    return {
        "v": VERSION,
        "checks": [[s.name, s.factor, s.reason] for s in facts.checks],
        "auth": {
            "spf": None if auth.spf is None else _flat(auth.spf),
            "dkim": [_flat(d) for d in auth.dkim],
            "dmarc": None if auth.dmarc is None else _flat(auth.dmarc),
            "arc": None if auth.arc is None else _flat(auth.arc),
        },
        "history": facts.history,
        "advert": facts.advert,
    }


def _result(method: str, data: Any, kind: Any) -> Any:
    """One stored result, or None when absent or not a result this version knows."""
    if not isinstance(data, dict) or data.get("result") not in OUTCOMES[method]:
        return None
    try:
        return kind(**data)
    except TypeError:
        return None


def from_json(data: Any) -> Facts | None:
    """Facts as stored; None when there are none or they are not in a form we know (the
    replay then falls back to the rendered symbols, as for events stored before facts)."""
    if not isinstance(data, dict) or data.get("v") != VERSION:
        return None
    try:
        checks = tuple(Symbol(str(n), 0.0, str(r), factor=float(f)) for n, f, r in data["checks"])
        auth_data = data.get("auth") or {}
        dkim = [_result("dkim", d, DkimResult) for d in auth_data.get("dkim") or ()]
        auth = AuthResults(
            spf=_result("spf", auth_data.get("spf"), SpfResult),
            dkim=[d for d in dkim if d is not None],
            dmarc=_result("dmarc", auth_data.get("dmarc"), DmarcResult),
            arc=_result("arc", auth_data.get("arc"), ArcResult),
        )
    except (KeyError, TypeError, ValueError):
        return None
    return Facts(checks, auth, bool(data.get("history", True)), str(data.get("advert") or ""))
