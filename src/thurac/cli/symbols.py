"""`thurac symbols`: the symbol reference (docs/symbols.md is this output)."""

from __future__ import annotations

import argparse
import sys

NAME = "symbols"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser(NAME, help="print the symbol reference (docs/symbols.md)")


def run(_args: argparse.Namespace) -> int:
    from thurac.symbols import markdown_reference

    sys.stdout.write(markdown_reference())
    return 0
