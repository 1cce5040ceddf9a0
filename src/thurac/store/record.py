"""What the recorder keeps about one message, and its JSON form: the spool writes it, and
later `explain` and `replay` read it (the body is never kept)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from thurac import facts as facts_mod
from thurac.facts import Facts
from thurac.message import Connection, Message
from thurac.symbols import Symbol
from thurac.verdict import Override, Verdict


@dataclass(frozen=True, slots=True)
class Record:
    """What happened to one message, as the recorder needs it."""

    message: Message
    verdict: Verdict | None  # None for outbound mail when outbound.enabled is off
    unrelated: tuple[str, ...]
    is_local: Callable[[str], bool]
    advertiser: str = ""  # advertising mail (adverts.py): deliveries are counted for it
    facts: Facts | None = None  # what a replay re-scores from; None for outbound mail


def record_to_dict(record: Record) -> dict[str, Any]:
    """What the recorder writes about a message, as JSON-able values (the body is never kept)."""
    msg, verdict = record.message, record.verdict
    conn = msg.connection
    return {
        "connection": [conn.client_ip, conn.client_name, conn.helo, conn.tls_version,
                       conn.auth_user],
        "sender": msg.sender,
        "recipients": list(msg.recipients),
        "headers": [list(h) for h in msg.headers],
        "queue_id": msg.queue_id,
        "received_at": msg.received_at.isoformat(),
        "direction": msg.direction,
        "exact": msg.exact_header_values,
        "verdict": None if verdict is None else {
            "score": verdict.score, "required": verdict.required, "action": verdict.action,
            "intended": verdict.intended,
            "symbols": [[s.name, s.score, s.reason] for s in verdict.symbols],
            "policy": verdict.policy,
            "overrides": [[o.action, o.source, o.reason] for o in verdict.overrides],
        },
        "unrelated": list(record.unrelated),
        "advertiser": record.advertiser,
        "facts": None if record.facts is None else facts_mod.to_json(record.facts),
    }


def record_from_dict(data: dict[str, Any], is_local: Callable[[str], bool]) -> Record:
    ip, name, helo, tls, auth = data["connection"]
    message = Message(
        Connection(ip, name, helo, tls, auth), data["sender"], tuple(data["recipients"]),
        tuple((n, v) for n, v in data["headers"]), b"", queue_id=data["queue_id"],
        received_at=datetime.fromisoformat(data["received_at"]), direction=data["direction"],
        exact_header_values=data["exact"],
    )
    v = data["verdict"]
    verdict = None if v is None else Verdict(
        v["score"], v["required"], v["action"], v["intended"],
        tuple(Symbol(n, s, r) for n, s, r in v["symbols"]), v.get("policy"),
        tuple(Override(a, s, r) for a, s, r in v.get("overrides", ())))
    return Record(message, verdict, tuple(data["unrelated"]), is_local,
                  data.get("advertiser", ""), facts_mod.from_json(data.get("facts")))
