"""`thurac report`: the statistics report (Decree 91/2020 art. 10.7) as text, JSON, CSV or a
self-contained HTML page, over `--since 30d [--until DATE]` or a calendar `--period 2026-11`."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from thurac.cli.common import config_arg, duration, load

NAME = "report"


def _moment(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a date or time such as 2026-12-01 or 2026-12-01T08:00"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(NAME, help="statistics report (Decree 91/2020 art. 10.7)")
    span = cmd.add_mutually_exclusive_group()
    span.add_argument("--since", type=duration, metavar="30d", help="period ending now/--until")
    span.add_argument("--period", metavar="YYYY-MM", help="a calendar month (UTC)")
    cmd.add_argument("--until", type=_moment, metavar="DATE", help="end (default: now)")
    cmd.add_argument("--format", choices=("text", "json", "csv", "html"), default="text")
    cmd.add_argument("--output", metavar="FILE", help="write there instead of standard output")
    config_arg(cmd)


def run(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from thurac.reports.query import build, month
    from thurac.reports.render import RENDERERS
    from thurac.store.engine import open_existing, store_errors

    settings, _ = load(args.config)
    if args.period:
        try:
            since, until = month(args.period)
        except ValueError as exc:
            print(f"thurac report: {exc}", file=sys.stderr)
            return 2
    else:
        until = args.until or datetime.now(UTC)
        since = until - (args.since or timedelta(days=30))
    engine = open_existing(settings.database.url)
    try:
        with store_errors(engine), engine.connect() as conn:
            report = build(conn, since, until)
    finally:
        engine.dispose()
    text = RENDERERS[args.format](report)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"report written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
