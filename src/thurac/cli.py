"""The operator's commands: parse arguments, call into the package, print. Exit 2 on bad config."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from thurac import config as config_mod
from thurac import log as log_mod
from thurac.auth import AuthResults
from thurac.authresults import resinfos
from thurac.config import Settings
from thurac.errors import ConfigError, StoreError
from thurac.message import (
    Connection,
    Message,
    classify_direction,
    normalize_address,
    parse_rfc822,
)
from thurac.verdict import Verdict

EXIT_CONFIG = 2


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", metavar="PATH",
                        help="YAML file (default: $THURAC_CONFIG, config/thurac.yaml, "
                             "/etc/thurac/thurac.yaml)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="thurac", description=__doc__)
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the milter")
    _config_arg(run)

    check = sub.add_parser("check", help="score a stored message without Postfix")
    _config_arg(check)
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

    cfg = sub.add_parser("config", help="configuration commands")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True)
    cfg_check = cfg_sub.add_parser("check", help="validate a configuration file")
    cfg_check.add_argument("path", nargs="?", help="file to check (default as --config)")
    _config_arg(cfg_check)

    sub.add_parser("symbols", help="print the symbol reference (docs/symbols.md)")

    db = sub.add_parser("db", help="history store commands")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    _config_arg(db_sub.add_parser("upgrade", help="create or migrate the schema"))
    purge = db_sub.add_parser("purge", help="delete header-log entries past retention")
    _config_arg(purge)
    return parser


def _load(path: str | None) -> tuple[Settings, str]:
    where = config_mod.resolve_path(path)
    return config_mod.load(where), str(where)


def cmd_run(args: argparse.Namespace) -> int:
    from thurac.server import run

    settings, where = _load(args.config)
    return run(settings, where)


def message_from_file(args: argparse.Namespace, settings: Settings) -> Message:
    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    headers, body = parse_rfc822(data, exact=True)
    draft = Message(Connection(args.ip), "", (), headers, body)
    sender = normalize_address(args.sender) if args.sender is not None else draft.header_from
    rcpts = [normalize_address(r) for r in args.rcpt] or list(draft.visible_recipients)
    connection = Connection(client_ip=args.ip, helo=args.helo, tls_version=args.tls,
                            auth_user=args.auth)
    direction = classify_direction(connection, settings.local.internal_networks)
    return Message(connection, sender, tuple(dict.fromkeys(rcpts)), headers,
                   body[: settings.milter.max_body_bytes],
                   len(body) > settings.milter.max_body_bytes,
                   queue_id="CHECK", direction=direction, exact_header_values=True)


def _print_verdict(message: Message, verdict: Verdict | None, as_json: bool,
                   auth: AuthResults | None = None) -> None:
    if verdict is None:
        out: dict[str, object] = {"score": None, "action": "learn",
                                  "direction": message.direction, "symbols": []}
        print(json.dumps(out) if as_json else
              "outbound message (authenticated or internal client): not scored, learned from")
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


def cmd_check(args: argparse.Namespace) -> int:
    from thurac.scanner import open_scanner

    settings, _ = _load(args.config)
    try:
        message = message_from_file(args, settings)
    except OSError as exc:
        print(f"thurac check: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    scanner = open_scanner(settings, recording=args.record)
    try:
        outcome = scanner.scan(message)
        if args.record:
            scanner.record_now(message, outcome)
    finally:
        scanner.close()
    _print_verdict(message, outcome.verdict, args.json, outcome.auth)
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    where = config_mod.resolve_path(args.path or args.config)
    config_mod.load(where)
    print(f"{where}: OK")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from sqlalchemy import delete

    from thurac.store.engine import current_revision, make_engine, upgrade
    from thurac.store.schema import events, header_log

    settings, _ = _load(args.config)
    engine = make_engine(settings.database.url)
    url = engine.url.render_as_string(hide_password=True)
    try:
        if args.db_command == "upgrade":
            upgrade(engine)
            print(f"{url}: schema at revision {current_revision(engine)}")
            return 0
        cutoff = datetime.now(UTC) - timedelta(days=settings.database.header_log_days)
        with engine.begin() as conn:
            deleted = conn.execute(delete(header_log).where(header_log.c.received_at < cutoff))
            conn.execute(delete(events).where(events.c.received_at < cutoff))
        print(f"{url}: purged {deleted.rowcount} header-log entries older than "
              f"{settings.database.header_log_days} days")
        return 0
    finally:
        engine.dispose()


def cmd_symbols(_args: argparse.Namespace) -> int:
    from thurac.symbols import markdown_reference

    sys.stdout.write(markdown_reference())
    return 0


COMMANDS = {"run": cmd_run, "check": cmd_check, "config": cmd_config, "db": cmd_db,
            "symbols": cmd_symbols}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_mod.setup(args.log_level)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"thurac: configuration error:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StoreError as exc:
        logging.getLogger("thurac").error("%s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
