"""The pid file `thurac reload` reads (milter.pid_file): written just before thurac serves,
removed when it stops. One left behind by a thurac that died (no such process, or the pid
now belongs to another program) is stale and is replaced."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from thurac.config import MilterSettings
from thurac.errors import PidFileError

log = logging.getLogger("thurac.pidfile")

RUN_DIR = Path("/run/thurac")  # the unit's RuntimeDirectory=thurac
DEFAULT_NAME = "thurac.pid"
PID_FILE_MODE = 0o644  # anyone may read a pid; only thurac writes it


def path_for(settings: MilterSettings) -> Path | None:
    """milter.pid_file, or /run/thurac/thurac.pid when that folder exists, or none."""
    if settings.pid_file:
        return Path(settings.pid_file)
    return RUN_DIR / DEFAULT_NAME if RUN_DIR.is_dir() else None


def read(path: Path) -> int | None:
    """The pid in `path`; None when there is no such file. PidFileError when it holds no pid."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PidFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not text.isdigit() or int(text) <= 0:
        raise PidFileError(f"{path} holds no process id (it says {text[:40]!r})")
    return int(text)


def is_thurac(pid: int) -> bool:
    """Whether process `pid` is a `thurac run` (a pid is reused once its process dies)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            args = cmdline.read().split(b"\0")
    except OSError:
        return False
    # /opt/thurac/bin/thurac run …, or python -m thurac run …
    named = any(os.path.basename(arg) == b"thurac" for arg in args)
    return named and b"run" in args


def claim(settings: MilterSettings) -> Path | None:
    """The pid file this daemon writes, checked before it serves. A configured one that another
    running thurac holds, or that cannot be written, stops the start (PidFileError); the
    derived one is then skipped with a warning (two daemons on two sockets are legitimate)."""
    path = path_for(settings)
    if path is None:
        return None
    try:
        pid = read(path)
    except PidFileError as exc:
        log.warning("%s: replacing it", exc)
        pid = None
    problem = ""
    if pid is not None and pid != os.getpid() and is_thurac(pid):
        problem = f"thurac already runs as pid {pid} (pid file {path})"
    elif not _writable_folder(path.parent):
        problem = f"cannot write the pid file {path}: {path.parent} is not writable"
    elif pid is not None:
        log.info("pid file %s was stale (process %d is gone): replacing it", path, pid)
    if not problem:
        return path
    if settings.pid_file:
        raise PidFileError(f"milter.pid_file: {problem}")
    log.warning("%s: this thurac writes no pid file (set milter.pid_file)", problem)
    return None


def _writable_folder(folder: Path) -> bool:
    """Whether we may make files in `folder`, made if missing (as the store makes its own)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def write(path: Path) -> None:
    """Our pid, written whole (a reader never sees half a number); a failure is logged: mail
    does not wait for a pid file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                     PID_FILE_MODE)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            os.fchmod(out.fileno(), PID_FILE_MODE)  # whatever the umask
            out.write(f"{os.getpid()}\n")
        os.replace(partial, path)
    except OSError as exc:
        log.error("cannot write the pid file %s: %s", path, exc.strerror or exc)
        with contextlib.suppress(OSError):
            partial.unlink()


def remove(path: Path) -> None:
    """Remove the pid file if it is still ours."""
    try:
        if read(path) == os.getpid():
            path.unlink()
    except (PidFileError, OSError) as exc:
        log.warning("cannot remove the pid file %s: %s", path, exc)
