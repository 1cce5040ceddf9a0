"""`thurac headers --queue-id ID | --message-id ID | --sender ADDR [--since 7d]`: the header
blocks the header log keeps (Decree 91/2020 art. 10.6), for a complaint or an authority's
request. Printed as stored, oldest first, a blank line between messages. Read-only."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

from thurac.cli.common import config_arg, duration, load
from thurac.explain import header_blocks, message_key, queue_key
from thurac.message import normalize_address
from thurac.text import sanitize, terminal_block

NAME = "headers"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    headers = sub.add_parser(
        NAME, help="print the stored header blocks of messages, by queue id, Message-ID or "
                   "envelope sender, oldest first")
    config_arg(headers)
    which = headers.add_mutually_exclusive_group(required=True)
    which.add_argument("--queue-id", metavar="ID", help="Postfix queue id, as in the mail log")
    which.add_argument("--message-id", metavar="ID",
                       help="the Message-ID header's value (angle brackets optional)")
    which.add_argument("--sender", metavar="ADDR", help="envelope sender address")
    headers.add_argument("--since", type=duration, metavar="AGE",
                         help="only messages received in the last AGE: 30m, 12h, 7d, 2w")


def run(args: argparse.Namespace) -> int:
    from thurac.store.engine import open_existing

    settings, _ = load(args.config)
    since = None if args.since is None else datetime.now(UTC) - args.since
    engine = open_existing(settings.database.url)
    printed = 0
    try:
        for block in header_blocks(engine, queue_id=args.queue_id, message_id=args.message_id,
                                   sender=args.sender, since=since):
            if printed:
                sys.stdout.write("\n")
            sys.stdout.write(terminal_block(block.headers))
            printed += 1
        where = engine.url.render_as_string(hide_password=True)
    except BrokenPipeError:  # `thurac headers … | head` has read what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        engine.dispose()
    if not printed:
        what = (f"queue id {queue_key(args.queue_id)}" if args.queue_id is not None
                else f"Message-ID <{message_key(args.message_id)}>"
                if args.message_id is not None
                else f"sender <{normalize_address(args.sender)}>")
        when = "" if since is None else f" since {since.astimezone():%Y-%m-%d %H:%M:%S %z}"
        print(f"thurac headers: no stored headers for {sanitize(what, 600)}{when} in the store "
              f"{where} (header blocks are kept {settings.database.header_log_days} days: "
              "database.header_log_days)", file=sys.stderr)
        return 1
    return 0
