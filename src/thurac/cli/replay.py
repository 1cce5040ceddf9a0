"""`thurac replay --with NEW.yaml`: how the stored inbound messages' verdicts would change
under another configuration (replay/). The store is the live configuration's; NEW.yaml
only decides the scoring. Read-only; no DNS query, no mail."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from thurac.cli.common import config_arg, duration, load
from thurac.cli.report import _moment

NAME = "replay"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(NAME, help="re-score stored mail under another YAML file (read-only)")
    cmd.add_argument("--with", dest="new", required=True, metavar="NEW.yaml",
                     help="the configuration to judge by (its database.url is not used)")
    cmd.add_argument("--since", type=duration, default=timedelta(days=7), metavar="7d",
                     help="messages received this long before --until (default 7d)")
    cmd.add_argument("--until", type=_moment, metavar="DATE", help="end (default: now)")
    cmd.add_argument("--json", action="store_true", help="one JSON object on standard output")
    cmd.add_argument("--limit", type=_count, default=20, metavar="N",
                     help="flipped messages listed in the text form (default 20)")
    config_arg(cmd)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number (got {text!r})")
    return int(text)


def _progress(total: int, quiet: bool) -> Any:
    """A bar on standard error for a terminal; nothing under --json or into a pipe."""
    if quiet or not sys.stderr.isatty() or total < 1000:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="msg", file=sys.stderr, leave=False)


def run(args: argparse.Namespace) -> int:
    from thurac import config as config_mod
    from thurac.replay.rescore import Rescorer
    from thurac.replay.run import replay
    from thurac.replay.source import count_inbound, read_only
    from thurac.replay.summary import as_json, as_text, summarise
    from thurac.store.engine import open_existing, store_errors
    from thurac.store.lists import read_entries

    live, _ = load(args.config)
    new = config_mod.load(config_mod.resolve_path(args.new))
    until = args.until or datetime.now(UTC)
    since = until - args.since
    engine = read_only(open_existing(live.database.url))
    try:
        with store_errors(engine), engine.connect() as conn:
            total = count_inbound(conn, since, until)
            if total == 0:
                print(f"thurac replay: no inbound messages stored from {since:%Y-%m-%d %H:%M} "
                      f"to {until:%Y-%m-%d %H:%M} UTC: nothing to replay", file=sys.stderr)
                if args.json:
                    print(as_json(summarise((), since, until)), end="")
                return 0
            rescorer = Rescorer(new, live, read_entries(engine, until))
            bar = _progress(total, args.json)
            replayed = replay(conn, rescorer, since, until,
                              (lambda: bar.update(1)) if bar is not None else (lambda: None))
            summary = summarise(replayed, since, until)
            if bar is not None:
                bar.close()
    finally:
        engine.dispose()
    print(as_json(summary) if args.json else as_text(summary, args.limit), end="")
    return 0
