"""`thurac check FILE`: the milter's pipeline on a stored message, without Postfix. It reads
the store and writes only with --record."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from thurac.auth import AuthResults
from thurac.authresults import resinfos
from thurac.cli.common import config_arg, load
from thurac.config import Settings
from thurac.message import (
    Connection,
    Message,
    MessageBuilder,
    classify_direction,
    normalize_address,
    parse_rfc822,
)
from thurac.verdict import Verdict

NAME = "check"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = sub.add_parser(NAME, help="score a stored message without Postfix")
    config_arg(check)
    check.add_argument("file", help="RFC 5322 message file (.eml), or - for standard input")
    check.add_argument("--sender", help="envelope sender (default: the From address)")
    check.add_argument("--rcpt", action="append", default=[], help="envelope recipient (repeat)")
    check.add_argument("--ip", default="192.0.2.1", help="client IP (default 192.0.2.1)")
    check.add_argument("--helo", default="", help="HELO name (default: none)")
    check.add_argument("--tls", default=None, help="TLS version the client used, e.g. TLSv1.3")
    check.add_argument("--auth", default=None, help="SASL user (makes the message outbound)")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument("--record", action="store_true",
                       help="also write the message into the history store")


def message_from_file(args: argparse.Namespace, settings: Settings) -> Message:
    """The message as the milter would have built it (the same builder and bounds)."""
    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    headers, body = parse_rfc822(data, exact=True)
    draft = Message(Connection(args.ip), "", (), headers, body)
    builder = MessageBuilder(max_headers=settings.milter.max_headers,
                             max_body_bytes=settings.milter.max_body_bytes,
                             client_ip=args.ip, helo=args.helo, tls_version=args.tls,
                             auth_user=args.auth, exact_header_values=True)
    builder.sender = normalize_address(args.sender) if args.sender is not None \
        else draft.header_from
    builder.add_recipients(args.rcpt or draft.visible_recipients)
    for name, value in headers:
        builder.add_header(name, value)
    builder.add_body(body)
    direction = classify_direction(builder.connection(), settings.local.internal_networks)
    return builder.build("CHECK", direction, datetime.now(UTC))


def print_verdict(message: Message, verdict: Verdict | None, as_json: bool,
                  auth: AuthResults | None = None) -> None:
    if verdict is None:
        out: dict[str, object] = {"score": None, "action": "learn",
                                  "direction": message.direction, "symbols": []}
        print(json.dumps(out) if as_json else
              "outbound message (authenticated or internal client), outbound.enabled off: "
              "not scored, learned from")
        return
    if as_json:
        print(json.dumps({
            "score": verdict.score, "required": verdict.required, "action": verdict.action,
            "intended": verdict.intended, "direction": message.direction,
            "auth": resinfos(auth) if auth is not None else [],
            "symbols": [{"name": s.name, "score": s.score, "reason": s.reason}
                        for s in verdict.symbols],
        }, indent=2))
        return
    print(f"score:  {verdict.score:.1f} (required {verdict.required:.1f})")
    action = verdict.action + (f" (enforce would: {verdict.intended})"
                               if verdict.intended != verdict.action else "")
    print(f"action: {action}")
    print(f"from:   <{message.sender}> via {message.connection.client_ip}, "
          f"{len(message.recipients)} recipient(s)")
    for clause in resinfos(auth) if auth is not None else []:
        print(f"auth:   {clause}")
    for symbol in sorted(verdict.symbols, key=lambda s: (-s.score, s.name)):
        print(f"  {symbol.score:6.2f}  {symbol.name}: {symbol.reason}")


def run(args: argparse.Namespace) -> int:
    from thurac.scanner import open_scanner
    from thurac.store.engine import missing_store

    settings, _ = load(args.config)
    try:
        message = message_from_file(args, settings)
    except OSError as exc:
        print(f"thurac check: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    problem = None if args.record else missing_store(settings.database.url)
    if problem is not None:
        print(f"thurac check: {problem}; scoring without history", file=sys.stderr)
    scanner = open_scanner(settings, recording=args.record, history=problem is None)
    try:
        outcome = scanner.scan(message)
        if args.record:
            scanner.record_now(message, outcome)
    finally:
        scanner.close()
    print_verdict(message, outcome.verdict, args.json, outcome.auth)
    return 0
