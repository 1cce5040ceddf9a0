"""`thurac list add|remove|show`: the allow/block entries kept in the store (docs/lists.md).
A running thurac applies a change within lists.refresh_seconds, without a restart."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from thurac.cli.common import config_arg, load, who
from thurac.lists import KINDS, LIST_NAMES, EntryError, ListEntry, make_entry, normal_value

NAME = "list"
EXIT_BAD_ENTRY = 2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(NAME, help="allow/block list entries (Decree 91/2020 art. 10.3)")
    cmd_sub = cmd.add_subparsers(dest="list_command", required=True)
    add = cmd_sub.add_parser("add", help="add an entry (or update its reason and expiry)")
    _entry_args(add)
    add.add_argument("--reason", default="", help="why (shown in explain and the log)")
    add.add_argument("--expires", metavar="WHEN",
                     help="a duration (30d, 12h, 90m) or a date (2027-01-31)")
    add.add_argument("--by", metavar="NAME", help="who adds it (default: your login name)")
    config_arg(add)
    remove = cmd_sub.add_parser("remove", help="remove an entry")
    _entry_args(remove)
    config_arg(remove)
    show = cmd_sub.add_parser("show", help="every entry in force, YAML and store")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.add_argument("--all", action="store_true", help="expired store entries too")
    config_arg(show)


def _entry_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("list", choices=LIST_NAMES)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("value", help="address, domain (.domain: with subdomains), IP or CIDR")


def _as_dict(entry: ListEntry) -> dict[str, Any]:
    return {"list": entry.list, "kind": entry.kind, "value": entry.value,
            "reason": entry.reason, "added_by": entry.added_by,
            "added_at": entry.added_at.isoformat() if entry.added_at else None,
            "expires_at": entry.expires_at.isoformat() if entry.expires_at else None,
            "source": entry.source}


def run(args: argparse.Namespace) -> int:
    from thurac.store.engine import make_engine, upgrade
    from thurac.store.lists import add_entry, read_entries, remove_entry

    settings, where = load(args.config)
    try:
        if args.list_command == "add":
            entry = make_entry(args.list, args.kind, args.value, reason=args.reason,
                               added_by=who(args.by), expires=args.expires)
        elif args.list_command == "remove":
            value = normal_value(args.kind, args.value)
    except EntryError as exc:
        print(f"thurac list {args.list_command}: {exc}", file=sys.stderr)
        return EXIT_BAD_ENTRY
    engine = make_engine(settings.database.url)
    try:
        upgrade(engine)  # a store that thurac run has not created yet
        if args.list_command == "add":
            new = add_entry(engine, entry)
            until = entry.expires_at
            print(f"{'added' if new else 'updated'}: {entry.describe()}"
                  + (f", expires {until.isoformat(timespec='seconds')}" if until else ""))
            return 0
        if args.list_command == "remove":
            if not remove_entry(engine, args.list, args.kind, value):
                print(f"thurac list remove: no {args.list} {args.kind} entry {value!r} in the "
                      "store (entries in the YAML file are removed there)", file=sys.stderr)
                return 1
            print(f"removed: {args.list} {args.kind} {value}")
            return 0
        entries = [*settings.lists.entries(),
                   *read_entries(engine, include_expired=args.all)]
        if args.json:
            print(json.dumps([_as_dict(e) for e in entries], indent=2))
            return 0
        if not entries:
            print(f"no entries (YAML: {where}; store: "
                  f"{engine.url.render_as_string(hide_password=True)})")
        for e in entries:
            expiry = e.expires_at.isoformat(timespec="seconds") if e.expires_at else "never"
            print(f"{e.list:5} {e.kind:11} {e.value:40} expires {expiry:25} "
                  f"{e.source}{' by ' + e.added_by if e.added_by else ''}"
                  f"{': ' + e.reason if e.reason else ''}")
        return 0
    finally:
        engine.dispose()
