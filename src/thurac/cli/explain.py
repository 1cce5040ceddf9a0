"""`thurac explain QUEUE_ID | --message-id ID [--json]`: why a message got its verdict (Decree
91/2020 art. 10.6), from the store: its envelope, score, action, policy, every symbol with
its reason, and any quarantine release. Read-only."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from thurac.cli.common import config_arg, load
from thurac.explain import Explanation, by_message_id, by_queue_id, message_key, queue_key
from thurac.text import sanitize

NAME = "explain"
# Bounds for values a sender chose, as the log line has them (log.py).
ADDRESS, HOST_LEN, REASON = 320, 255, 500


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    explain = sub.add_parser(
        NAME, help="why a message got its verdict: the stored score, action, policy and "
                   "symbols, by Postfix queue id or Message-ID")
    config_arg(explain)
    which = explain.add_mutually_exclusive_group(required=True)
    which.add_argument("queue_id", nargs="?", metavar="QUEUE_ID",
                       help="the Postfix queue id, as in the mail log")
    which.add_argument("--message-id", metavar="ID",
                       help="the Message-ID header's value (angle brackets optional)")
    explain.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from thurac.store.engine import open_existing

    settings, _ = load(args.config)
    engine = open_existing(settings.database.url)
    try:
        found = (by_queue_id(engine, args.queue_id) if args.queue_id is not None
                 else by_message_id(engine, args.message_id))
        where = engine.url.render_as_string(hide_password=True)
    finally:
        engine.dispose()
    if found is None:
        what = (f"queue id {sanitize(queue_key(args.queue_id), 64)}" if args.queue_id is not None
                else f"Message-ID <{sanitize(message_key(args.message_id), 500)}>")
        print(f"thurac explain: no message with {what} in the store {where} (events are kept "
              f"{settings.database.event_days} days: database.event_days)", file=sys.stderr)
        return 1
    print(json.dumps(as_json(found), indent=2) if args.json else as_text(found))
    return 0


def as_json(found: Explanation) -> dict[str, Any]:
    return {
        "queue_id": found.queue_id, "received_at": found.received_at.isoformat(),
        "direction": found.direction, "client_ip": found.client_ip,
        "client_name": found.client_name, "helo": found.helo, "tls_version": found.tls_version,
        "auth_user": found.auth_user, "sender": found.sender,
        "recipients": list(found.recipients), "header_from": found.header_from,
        "message_id": found.message_id, "score": found.score, "action": found.action,
        "policy": found.policy, "overrides": list(found.overrides),
        "symbols": [{"name": s.name, "score": s.score, "reason": s.reason}
                    for s in found.symbols],
        "releases": [{"released_at": r.released_at.isoformat(), "released_by": r.released_by}
                     for r in found.releases],
        "older_events": found.older_events,
    }


def as_text(found: Explanation) -> str:
    """Label and value, one a line; every value a sender chose is sanitised for the terminal."""
    client = (f"{sanitize(found.client_name or 'unknown', HOST_LEN)}"
              f"[{sanitize(found.client_ip, 64)}]")
    if found.tls_version:
        client += f", {sanitize(found.tls_version, 32)}"
    if found.auth_user:
        client += f", authenticated as {sanitize(found.auth_user, HOST_LEN)}"
    score = ("not scored (outbound: learned from)" if found.score is None
             else f"{found.score:.1f}")
    lines = [
        ("queue id", sanitize(found.queue_id, 64)),
        ("time", _local(found.received_at)),
        ("direction", found.direction),
        ("client", client),
        ("HELO", sanitize(found.helo, HOST_LEN) or "(none)"),
        ("sender", f"<{sanitize(found.sender, ADDRESS)}>"),
        ("recipients", ", ".join(sanitize(r, ADDRESS) for r in found.recipients) or "(none)"),
        ("From", sanitize(found.header_from, ADDRESS) or "(none)"),
        ("Message-ID", f"<{sanitize(found.message_id, 500)}>" if found.message_id
         else "(none)"),
        ("score", score),
        ("action", found.action),
        ("policy", sanitize(found.policy, 64) if found.policy else "default"),
        ("overrides", "; ".join(sanitize(o, REASON) for o in found.overrides) or "none"),
    ]
    if found.older_events:
        lines.insert(1, ("older", f"{found.older_events} older message(s) share this id; "
                                  "this is the newest"))
    out = [f"{label + ':':<12}{value}" for label, value in lines]
    out.append(f"{'symbols:':<12}{'none' if not found.symbols else ''}".rstrip())
    out += [f"  {s.score:7.2f}  {sanitize(s.name, 64)}: {sanitize(s.reason, REASON)}"
            for s in found.symbols]
    out += [f"{'released:':<12}{_local(r.released_at)} by {sanitize(r.released_by, 100)}"
            for r in found.releases]
    return "\n".join(out)


def _local(when: datetime) -> str:
    """The time as the mail log has it: this host's zone (with its offset, to be sure)."""
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S %z")
