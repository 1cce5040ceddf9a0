"""What every command shares: the --config option and loading the file it names, and the
durations operators type (--since 7d)."""

from __future__ import annotations

import argparse
import getpass
import os
import re
from datetime import timedelta

from thurac import config as config_mod
from thurac.config import Settings

_DURATION_RE = re.compile(r"(\d{1,6})([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", metavar="PATH",
                        help="YAML file (default: $THURAC_CONFIG, config/thurac.yaml, "
                             "/etc/thurac/thurac.yaml)")


def load(path: str | None) -> tuple[Settings, str]:
    where = config_mod.resolve_path(path)
    return config_mod.load(where), str(where)


def who(given: str | None) -> str:
    """Who runs a command that records its author: --by, else the login (sudo's caller)."""
    if given:
        return given
    try:
        return os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def duration(text: str) -> timedelta:
    """An argparse type: '30m', '12h', '7d' (also s and w) as a timedelta; anything else, or
    zero, is a usage error (exit 2)."""
    found = _DURATION_RE.fullmatch(text.strip())
    if found is None or int(found[1]) == 0:
        raise argparse.ArgumentTypeError(
            f"expected a duration such as 30m, 12h or 7d (got {text!r})")
    return timedelta(seconds=int(found[1]) * _UNIT_SECONDS[found[2]])
