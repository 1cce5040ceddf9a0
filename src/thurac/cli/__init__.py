"""The operator's commands, one file each: parse arguments, call into the package, print.
Exit 2 on a bad configuration. A new command is a new file here plus one line in COMMANDS."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Protocol

from thurac import __version__
from thurac import log as log_mod
from thurac.cli import (
    account,
    check,
    complaints,
    config,
    db,
    explain,
    headers,
    quarantine,
    reload,
    replay,
    report,
    run,
    symbols,
)
from thurac.cli import list as list_  # the module's name is the command's
from thurac.errors import ConfigError, StoreError

EXIT_CONFIG = 2
EXIT_BROKEN_PIPE = 141  # what a shell reports for a process ended by SIGPIPE
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class Command(Protocol):
    """A command module: its name, its arguments, and what it does (an exit code)."""

    NAME: str

    def add_parser(self, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


COMMANDS: tuple[Command, ...] = (run, reload, check, config, db, list_, explain, headers,
                                 quarantine, complaints, report, replay, symbols, account)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thurac", description="A mail filter (milter) that scores mail on Circular "
        "22/2021/TT-BTTTT's spam criteria, SPF, DKIM, DMARC and ARC.")
    parser.add_argument("--version", action="version", version=f"thurac {__version__}")
    _common_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    _finish(sub)
    return parser


def _common_options(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    # Given after the command too (`thurac run --log-level DEBUG`); the top level's default
    # holds unless a command's own copy is given.
    parser.add_argument("--log-level", metavar="LEVEL", type=str.upper,
                        choices=LOG_LEVELS, default="INFO" if top else argparse.SUPPRESS,
                        help="DEBUG, INFO, WARNING or ERROR (default INFO)")


def _finish(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Every (sub)command gets the common options, and its help line as the sentence that
    `thurac COMMAND --help` opens with."""
    helps = {action.dest: action.help for action in sub._choices_actions}
    for name, parser in sub.choices.items():
        if parser.description is None and helps.get(name):
            text = helps[name] or ""
            parser.description = f"{text[0].upper()}{text[1:].rstrip('.')}."
        _common_options(parser)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _finish(action)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_mod.setup(args.log_level)
    by_name = {command.NAME: command for command in COMMANDS}
    try:
        code = by_name[args.command].run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        # `thurac headers … | head`: the reader has what it wanted. Quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except ConfigError as exc:
        print(f"thurac: configuration error:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StoreError as exc:
        print(f"thurac: {exc}", file=sys.stderr)  # one line an operator acts on, no log prefix
        return 1
    except KeyboardInterrupt:
        return 130
