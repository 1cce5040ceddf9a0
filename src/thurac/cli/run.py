"""`thurac run`: the milter."""

from __future__ import annotations

import argparse

from thurac import log
from thurac.cli.common import config_arg, load

NAME = "run"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config_arg(sub.add_parser(NAME, help="start the milter"))


def run(args: argparse.Namespace) -> int:
    from thurac.server import run as serve

    settings, where = load(args.config)
    log.apply(settings.log)
    return serve(settings, where)
