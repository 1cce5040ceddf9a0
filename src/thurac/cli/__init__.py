"""The operator's commands, one file each: parse arguments, call into the package, print.
Exit 2 on a bad configuration. A new command is a new file here plus one line in COMMANDS."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Protocol

from thurac import log as log_mod
from thurac.cli import check, config, db, explain, headers, quarantine, reload, run, symbols
from thurac.cli import list as list_  # the module's name is the command's
from thurac.errors import ConfigError, StoreError

EXIT_CONFIG = 2


class Command(Protocol):
    """A command module: its name, its arguments, and what it does (an exit code)."""

    NAME: str

    def add_parser(self, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


COMMANDS: tuple[Command, ...] = (run, reload, check, config, db, list_, explain, headers,
                                 quarantine, symbols)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thurac", description="A mail filter (milter) that scores mail on Circular "
        "22/2021/TT-BTTTT's spam criteria, SPF, DKIM, DMARC and ARC.")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_mod.setup(args.log_level)
    by_name = {command.NAME: command for command in COMMANDS}
    try:
        return by_name[args.command].run(args)
    except ConfigError as exc:
        print(f"thurac: configuration error:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StoreError as exc:
        logging.getLogger("thurac").error("%s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
