"""`thurac config check`: validate a configuration file (exit 2 on errors)."""

from __future__ import annotations

import argparse

from thurac import config as config_mod
from thurac.cli.common import config_arg

NAME = "config"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cfg = sub.add_parser(NAME, help="configuration commands")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True)
    check = cfg_sub.add_parser("check", help="validate a configuration file")
    check.add_argument("path", nargs="?", help="file to check (default as --config)")
    config_arg(check)


def run(args: argparse.Namespace) -> int:
    where = config_mod.resolve_path(args.path or args.config)
    config_mod.load(where)
    print(f"{where}: OK")
    return 0
