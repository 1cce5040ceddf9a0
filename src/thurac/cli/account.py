"""`thurac account suspend|release|show|list`: outbound accounts suspended for sending spam
(docs/outbound.md). A running thurac applies a change within outbound.refresh_seconds, on
every host that shares the store."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from thurac.cli.common import config_arg, duration, load, who
from thurac.outbound.account import parse_account
from thurac.store.accounts import AccountState
from thurac.text import sanitize

NAME = "account"
EXIT_BAD_ACCOUNT = 2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(NAME, help="outbound accounts suspended for sending spam "
                                    "(Decree 91/2020 art. 10.4)")
    cmd_sub = cmd.add_subparsers(dest="account_command", required=True)
    suspend = cmd_sub.add_parser("suspend", help="suspend an account: its mail gets "
                                                 "outbound.suspend_answer")
    _account_arg(suspend)
    suspend.add_argument("--reason", required=True, help="why (shown in show and the log)")
    suspend.add_argument("--for", dest="for_", metavar="DURATION", type=duration,
                         help="lift it by itself after this long (30m, 12h, 7d)")
    _by_arg(suspend)
    release = cmd_sub.add_parser("release", help="lift a suspension (the account's windows "
                                                 "start afresh)")
    _account_arg(release)
    release.add_argument("--reason", default="", help="why (shown in show and the log)")
    _by_arg(release)
    show = cmd_sub.add_parser("show", help="`suspended` or `active` first, then the last "
                                           "suspension and release")
    _account_arg(show)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    config_arg(show)
    listing = cmd_sub.add_parser("list", help="the accounts suspended now")
    listing.add_argument("--all", action="store_true", help="released ones too")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    config_arg(listing)


def _account_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("account", metavar="ACCOUNT",
                        help="the SASL login, else the envelope sender, else the client IP")


def _by_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", metavar="NAME", help="who does it (default: your login name)")
    config_arg(parser)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat(timespec="seconds") if when else None


def as_dict(account: str, state: AccountState | None, now: datetime) -> dict[str, Any]:
    if state is None:
        return {"account": account, "suspended": False}
    return {"account": state.account, "suspended": state.active(now),
            "suspended_at": _iso(state.suspended_at), "suspended_by": state.suspended_by,
            "reason": state.reason, "queue_id": state.queue_id, "until": _iso(state.until),
            "released_at": _iso(state.released_at), "released_by": state.released_by,
            "release_reason": state.release_reason}


def describe(account: str, state: AccountState | None, now: datetime) -> list[str]:
    """`show`'s lines: the state word first, alone, for scripts that read one line."""
    if state is None:
        return ["active", f"account {_safe(account)}: never suspended"]
    lines = ["suspended" if state.active(now) else "active", f"account {_safe(state.account)}"]
    lines.append(f"suspended {_iso(state.suspended_at)} by {_safe(state.suspended_by)}: "
                 f"{_safe(state.reason)}"
                 + (f" (queue id {_safe(state.queue_id)})" if state.queue_id else ""))
    if state.until:
        lines.append(f"until {_iso(state.until)}"
                     + (" (passed)" if now >= state.until else ""))
    if state.released_at:
        lines.append(f"released {_iso(state.released_at)} by {_safe(state.released_by)}"
                     + (f": {_safe(state.release_reason)}" if state.release_reason else ""))
    return lines


def _safe(value: str | None) -> str:
    """Stored text for a terminal: one line, no control characters."""
    return sanitize(value or "", 500)


def run(args: argparse.Namespace) -> int:
    from thurac.store.accounts import account_state, read_accounts, release, suspend
    from thurac.store.engine import make_engine, upgrade

    settings, _where = load(args.config)
    account = ""
    if args.account_command != "list":
        try:
            account = parse_account(args.account)
        except ValueError as exc:
            print(f"thurac account {args.account_command}: {exc}", file=sys.stderr)
            return EXIT_BAD_ACCOUNT
    engine = make_engine(settings.database.url)
    now = datetime.now(UTC)
    try:
        upgrade(engine)  # a store that thurac run has not created yet
        if args.account_command == "suspend":
            until = now + args.for_ if args.for_ else None
            if not suspend(engine, account, who(args.by), args.reason, until=until, now=now):
                print(f"thurac account suspend: {account} is suspended already",
                      file=sys.stderr)
                return 1
            print(f"suspended: {account}" + (f" until {_iso(until)}" if until else ""))
            return 0
        if args.account_command == "release":
            if not release(engine, account, who(args.by), args.reason, now=now):
                print(f"thurac account release: {account} is not suspended", file=sys.stderr)
                return 1
            print(f"released: {account}")
            return 0
        if args.account_command == "show":
            state = account_state(engine, account)
            if args.json:
                print(json.dumps(as_dict(account, state, now), indent=2))
            else:
                print("\n".join(describe(account, state, now)))
            return 0
        with engine.connect() as conn:
            states = [s for s in read_accounts(conn) if args.all or s.active(now)]
        if args.json:
            print(json.dumps([as_dict(s.account, s, now) for s in states], indent=2))
            return 0
        if not states:
            print("no suspended accounts" if not args.all else "no accounts ever suspended")
        for s in states:
            print(f"{'suspended' if s.active(now) else 'active':9} {_safe(s.account):40} "
                  f"{_iso(s.suspended_at)} by {_safe(s.suspended_by)}: {_safe(s.reason)}")
        return 0
    finally:
        engine.dispose()
