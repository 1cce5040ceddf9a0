"""Faults to inject under a running thurac: a state directory on a small tmpfs that can be
filled up, and a SQLite lock held by another process. Needs root (mount)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

FILLER = "filler.bin"


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30,
                          check=False)


@contextlib.contextmanager
def tmpfs(path: Path, size_mb: int = 16) -> Iterator[Path]:
    """A tmpfs of `size_mb` at `path` for the test's duration (skips if mount is refused)."""
    path.mkdir(parents=True, exist_ok=True)
    done = _mount("-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(path))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30,
                       check=False)


def fill(path: Path) -> int:
    """Fill the file system of `path` to the last byte; returns the bytes written."""
    written = 0
    block = b"\0" * (1 << 16)
    with contextlib.suppress(OSError), (path / FILLER).open("wb") as out:
        while True:
            out.write(block)
            out.flush()
            written += len(block)
    with contextlib.suppress(OSError), (path / FILLER).open("ab") as out:  # the last bytes
        while True:
            out.write(b"\0")
            out.flush()
            written += 1
    return written


def free(path: Path) -> None:
    (path / FILLER).unlink(missing_ok=True)


LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


@contextlib.contextmanager
def sqlite_locked(database: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process takes SQLite's exclusive lock on `database` for `seconds`."""
    proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(database), str(seconds)],
                            stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.wait(seconds + 30)
