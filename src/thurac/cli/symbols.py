"""`thurac symbols`: the symbol reference (docs/symbols.md is this output without a config);
with a configuration, the DNSBL_<name> symbols its lists.dns zones declare are added."""

from __future__ import annotations

import argparse
import sys

from thurac import config as config_mod
from thurac.cli.common import config_arg

NAME = "symbols"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config_arg(sub.add_parser(NAME, help="print the symbol reference (docs/symbols.md)"))


def run(args: argparse.Namespace) -> int:
    from thurac.symbols import markdown_reference

    sys.stdout.write(markdown_reference())
    where = config_mod.resolve_path(args.config)
    if args.config or where.exists():
        zones = config_mod.load(where).lists.dns
        for zone in zones:
            what = "client IP" if zone.kind == "ip" else "domain (" + ", ".join(
                zone.identities) + ")"
            sys.stdout.write(f"| `{zone.symbol}` | {zone.score:g} | lists | {what} listed in "
                             f"{zone.zone} (declared by {where}) |\n")
    return 0
