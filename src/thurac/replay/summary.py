"""What a replay changed: old action → new action counts (unchanged pairs too), how scores
shifted, and each message whose action flipped with the symbols that made the difference;
as text for a terminal and as one JSON object."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from thurac.replay.run import Replayed
from thurac.text import sanitize

# Score shift (new − old) bins, as people read them: big drops, small ones, none, rises.
SHIFT_EDGES: tuple[tuple[str, float, float], ...] = (
    ("<= -10", float("-inf"), -10.0), ("-10..-5", -10.0, -5.0), ("-5..-1", -5.0, -1.0),
    ("-1..0", -1.0, 0.0), ("0", 0.0, 0.0), ("0..1", 0.0, 1.0), ("1..5", 1.0, 5.0),
    ("5..10", 5.0, 10.0), (">= 10", 10.0, float("inf")),
)
SHOWN = 80  # characters of a sender in the text table


def shift_bin(shift: float) -> str:
    """The SHIFT_EDGES label of a score shift."""
    if shift == 0:
        return "0"
    if shift < 0:
        return next(label for label, low, high in SHIFT_EDGES[:4] if low < shift <= high)
    return next(label for label, low, high in SHIFT_EDGES[5:] if low <= shift < high)


@dataclass(frozen=True, slots=True)
class Flip:
    queue_id: str
    sender: str
    received_at: datetime
    old_score: float | None
    new_score: float
    old_action: str
    new_action: str
    difference: tuple[tuple[str, float, float], ...]  # (symbol, old score, new score)
    from_symbols: bool  # stored before facts were kept: re-weighed from its rendered symbols


@dataclass(slots=True)
class Summary:
    since: datetime
    until: datetime
    messages: int = 0
    from_symbols: int = 0
    changes: Counter[tuple[str, str]] = field(default_factory=Counter)
    shifts: Counter[str] = field(default_factory=Counter)
    flips: list[Flip] = field(default_factory=list)


def _difference(replayed: Replayed) -> tuple[tuple[str, float, float], ...]:
    old: dict[str, float] = {}
    for s in replayed.event.symbols:
        old[s.name] = old.get(s.name, 0.0) + s.score
    new: dict[str, float] = {}
    for s in replayed.verdict.symbols:
        new[s.name] = new.get(s.name, 0.0) + s.score
    changed = [(name, round(old.get(name, 0.0), 2), round(new.get(name, 0.0), 2))
               for name in dict.fromkeys([*old, *new])
               if round(old.get(name, 0.0) - new.get(name, 0.0), 2) != 0]
    return tuple(sorted(changed, key=lambda c: -abs(c[2] - c[1])))


def summarise(replayed: Iterable[Replayed], since: datetime, until: datetime) -> Summary:
    summary = Summary(since, until)
    for item in replayed:
        event, verdict = item.event, item.verdict
        summary.messages += 1
        summary.from_symbols += event.facts is None
        summary.changes[(event.action, verdict.action)] += 1
        summary.shifts[shift_bin(round(verdict.score - (event.score or 0.0), 1))] += 1
        if verdict.action != event.action:
            summary.flips.append(Flip(
                event.message.queue_id, event.message.sender, event.message.received_at,
                event.score, verdict.score, event.action, verdict.action, _difference(item),
                event.facts is None))
    return summary


def as_json(summary: Summary) -> str:
    data: dict[str, Any] = {
        "since": summary.since.isoformat(), "until": summary.until.isoformat(),
        "messages": summary.messages,
        "replayed_from_symbols": summary.from_symbols,
        "changes": [{"from": old, "to": new, "count": n}
                    for (old, new), n in sorted(summary.changes.items())],
        "score_shift": [{"range": label, "count": summary.shifts.get(label, 0)}
                        for label, _, _ in SHIFT_EDGES],
        "flips": [{
            "queue_id": f.queue_id, "sender": f.sender, "received_at": f.received_at.isoformat(),
            "old_score": f.old_score, "new_score": f.new_score,
            "old_action": f.old_action, "new_action": f.new_action,
            "symbols": [{"name": n, "old": o, "new": w} for n, o, w in f.difference],
            "from_symbols": f.from_symbols,
        } for f in summary.flips],
    }
    return json.dumps(data, indent=2) + "\n"


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def as_text(summary: Summary, limit: int) -> str:
    lines = [f"replayed {summary.messages} inbound message(s) received "
             f"{summary.since:%Y-%m-%d %H:%M} to {summary.until:%Y-%m-%d %H:%M} UTC"]
    if summary.from_symbols:
        lines.append(f"  {summary.from_symbols} stored before facts were kept: re-weighed from "
                     "their rendered symbols (approximate: marked * below)")
    lines += ["", "old action -> new action"]
    for (old, new), count in sorted(summary.changes.items(), key=lambda kv: -kv[1]):
        mark = "" if old == new else "   changed"
        lines.append(f"  {old:>10} -> {new:<10} {count:>8}{mark}")
    lines += ["", "score shift (new - old)"]
    for label, _, _ in SHIFT_EDGES:
        lines.append(f"  {label:>8} {summary.shifts.get(label, 0):>8}")
    flips = summary.flips
    lines += ["", f"flips: {len(flips)}" + (f" (first {limit} shown; --limit, --json for all)"
                                            if len(flips) > limit else "")]
    for f in flips[:limit]:
        why = ", ".join(f"{n} {o:g}->{w:g}" for n, o, w in f.difference[:4]) or "policy"
        lines.append(
            f"  {'*' if f.from_symbols else ' '}{sanitize(f.queue_id, 20):<14} "
            f"{sanitize(f.sender or '<>', SHOWN)}  {_score(f.old_score)} {f.old_action} -> "
            f"{_score(f.new_score)} {f.new_action}  [{sanitize(why, 200)}]")
    return "\n".join(lines) + "\n"
