"""`thurac reload`: SIGHUP to the running milter, found by its pid file (milter.pid_file).

The file is validated first: a configuration that does not load is not sent (exit 2), since
the daemon would refuse it anyway and say so only in its log."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from thurac import pidfile
from thurac.cli.common import config_arg, load
from thurac.errors import PidFileError

NAME = "reload"
UNDER_SYSTEMD = "under systemd: systemctl reload thurac"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(NAME, help="re-read the running milter's configuration (SIGHUP)")
    config_arg(parser)
    parser.add_argument("--pid-file", metavar="PATH",
                        help="default: milter.pid_file, else /run/thurac/thurac.pid")


def _fail(text: str) -> int:
    print(f"thurac reload: {text}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    settings, where = load(args.config)
    path = Path(args.pid_file) if args.pid_file else pidfile.path_for(settings.milter)
    if path is None:
        return _fail(f"no pid file to read: milter.pid_file is empty in {where} and "
                     f"{pidfile.RUN_DIR} does not exist ({UNDER_SYSTEMD}; otherwise set "
                     "milter.pid_file)")
    try:
        pid = pidfile.read(path)
    except PidFileError as exc:
        return _fail(str(exc))
    if pid is None:
        return _fail(f"no pid file at {path}: is thurac running? ({UNDER_SYSTEMD})")
    if not pidfile.is_thurac(pid):
        return _fail(f"stale pid file {path}: process {pid} is not a running thurac (it "
                     "exited without removing the file); start thurac again")
    try:
        os.kill(pid, signal.SIGHUP)
    except PermissionError:
        return _fail(f"not allowed to signal thurac (pid {pid}): run this as root or as "
                     "thurac's user")
    except ProcessLookupError:
        return _fail(f"stale pid file {path}: process {pid} just exited")
    print(f"sent SIGHUP to thurac (pid {pid}); its log says whether {where} was applied "
          "(`configuration reloaded`) or refused")
    return 0
