"""`thurac complaints ingest|list|remove|forward`: spam reports as complaints (docs/reports.md).
`ingest` reads .eml files or an mbox as if each had been mailed to a report address by a
local user (the operator vouches for them)."""

from __future__ import annotations

import argparse
import json
import mailbox
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thurac.cli.common import config_arg, duration, load

NAME = "complaints"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(NAME, help="spam reports and ARF feedback recorded as complaints")
    cmd_sub = cmd.add_subparsers(dest="complaints_command", required=True)
    ingest = cmd_sub.add_parser("ingest", help="read reports from .eml files or an mbox")
    ingest.add_argument("files", nargs="+", metavar="FILE")
    ingest.add_argument("--reporter", default="", metavar="ADDR",
                        help="who reported (default: each report's From)")
    config_arg(ingest)
    listing = cmd_sub.add_parser("list", help="complaints, newest first")
    listing.add_argument("--source", default="", metavar="ADDR|DOMAIN|IP")
    listing.add_argument("--since", type=duration, metavar="30d")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    config_arg(listing)
    remove = cmd_sub.add_parser("remove", help="remove a complaint made by mistake")
    remove.add_argument("id", type=int)
    config_arg(remove)
    forward = cmd_sub.add_parser("forward", help="send one to reports.forward_to now")
    forward.add_argument("id", type=int)
    config_arg(forward)


def _reports(paths: list[str]) -> list[tuple[str, bytes]]:
    """(where, raw bytes) of each report: a file, or each message of an mbox."""
    found: list[tuple[str, bytes]] = []
    for name in paths:
        path = Path(name)
        data = path.read_bytes()
        if data.startswith(b"From ") and b"\nFrom " in data:
            for index, item in enumerate(mailbox.mbox(path)):
                found.append((f"{name}#{index + 1}", item.as_bytes()))
        else:
            found.append((name, data))
    return found


def _as_dict(c: Any) -> dict[str, Any]:
    return {"id": c.id, "received_at": c.received_at.isoformat(), "reporter": c.reporter,
            "trusted": c.trusted, "weight": c.weight, "kind": c.kind, "method": c.method,
            "sender": c.sender, "sender_domain": c.sender_domain, "client_ip": c.client_ip,
            "message_id": c.message_id, "event_id": c.event_id,
            "report_queue_id": c.report_queue_id,
            "forwarded_at": c.forwarded_at.isoformat() if c.forwarded_at else None}


def run(args: argparse.Namespace) -> int:
    from thurac.store.engine import make_engine, open_existing, store_errors, upgrade

    settings, _ = load(args.config)
    command = args.complaints_command
    if command == "ingest":
        engine = make_engine(settings.database.url, readers=1)
        upgrade(engine)
    else:
        engine = open_existing(settings.database.url)
    try:
        with store_errors(engine):
            return _run(args, settings, engine)
    finally:
        engine.dispose()


def _run(args: argparse.Namespace, settings: Any, engine: Any) -> int:
    from thurac.auth import AuthResults
    from thurac.complaints import ComplaintDesk
    from thurac.feedback.forwarder import Forwarder
    from thurac.message import Connection, Message, normalize_address, parse_rfc822
    from thurac.store.complaints import (
        ComplaintFilter,
        list_complaints,
        mark_forwarded,
        remove_complaint,
    )

    command = args.complaints_command
    if command == "ingest":
        desk = ComplaintDesk(engine)
        failed = 0
        try:
            reports = _reports(args.files)
        except OSError as exc:
            print(f"thurac complaints ingest: {exc.filename}: {exc.strerror}", file=sys.stderr)
            return 1
        for where, raw in reports:
            headers, body = parse_rfc822(raw)
            draft = Message(Connection("127.0.0.1"), "", (), headers, body)
            reporter = normalize_address(args.reporter) if args.reporter else draft.header_from
            message = Message(Connection("127.0.0.1", helo="thurac-cli"), reporter,
                              tuple(settings.reports.addresses[:1]) or ("report@localhost",),
                              headers, body, queue_id="INGEST",
                              received_at=datetime.now(UTC), direction="outbound")
            intake = desk.take(message, AuthResults(), settings)
            print(f"{where}: {intake.result}")
            failed += intake.complaint is None
        return 1 if failed else 0
    if command == "list":
        since = datetime.now(UTC) - args.since if args.since else None
        found = list_complaints(engine, ComplaintFilter(args.source, since))
        if args.json:
            print(json.dumps([_as_dict(c) for c in found], indent=2))
            return 0
        for c in found:
            print(f"{c.id:6}  {c.received_at:%Y-%m-%d %H:%M}  {c.kind:14} "
                  f"{'trusted' if c.trusted else 'weight ' + format(c.weight, 'g'):10} "
                  f"sender=<{c.sender}> ip={c.client_ip or '-'} by {c.reporter} ({c.method})")
        if not found:
            print("no complaints" + (f" about {args.source}" if args.source else ""))
        return 0
    if command == "remove":
        if not remove_complaint(engine, args.id):
            print(f"thurac complaints remove: no complaint {args.id}", file=sys.stderr)
            return 1
        print(f"removed complaint {args.id}")
        return 0
    # forward
    if not settings.reports.forward_to:
        print("thurac complaints forward: reports.forward_to is not set", file=sys.stderr)
        return 1
    found = list_complaints(engine, ComplaintFilter(ids=(args.id,)))
    if not found:
        print(f"thurac complaints forward: no complaint {args.id}", file=sys.stderr)
        return 1
    job = ComplaintDesk(engine).forward_job(args.id, found[0], None, settings)
    assert job is not None
    # A queue of its own (the daemon's is the daemon's): send_now does not queue anyway.
    with tempfile.TemporaryDirectory() as queue, \
            Forwarder(settings.reports.smtp_relay, queue, start=False) as forwarder:
        error = forwarder.send_now(job)
    if error is not None:
        print(f"thurac complaints forward: {args.id}: {error}", file=sys.stderr)
        return 1
    mark_forwarded(engine, args.id)
    print(f"complaint {args.id} forwarded to {settings.reports.forward_to}")
    return 0
