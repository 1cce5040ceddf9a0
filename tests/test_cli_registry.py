"""The explicit COMMANDS tuple: every command file in cli/ is registered and named."""

from __future__ import annotations

import argparse
import pkgutil

import thurac.cli
from thurac.cli import COMMANDS, build_parser

NOT_COMMANDS = {"common"}  # what the commands share


def test_every_command_file_is_registered() -> None:
    files = {m.name for m in pkgutil.iter_modules(thurac.cli.__path__)} - NOT_COMMANDS
    assert sorted(c.__name__.rsplit(".", 1)[1] for c in COMMANDS) == sorted(files)


def test_every_command_answers_to_its_own_name() -> None:
    for command in COMMANDS:
        assert command.__name__.rsplit(".", 1)[1] == command.NAME  # type: ignore[attr-defined]
    (commands,) = [action for action in build_parser()._actions
                   if isinstance(action, argparse._SubParsersAction)]
    assert sorted(commands.choices) == sorted(command.NAME for command in COMMANDS)
