"""What every command shares: the --config option and loading the file it names."""

from __future__ import annotations

import argparse

from thurac import config as config_mod
from thurac.config import Settings


def config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", metavar="PATH",
                        help="YAML file (default: $THURAC_CONFIG, config/thurac.yaml, "
                             "/etc/thurac/thurac.yaml)")


def load(path: str | None) -> tuple[Settings, str]:
    where = config_mod.resolve_path(path)
    return config_mod.load(where), str(where)
