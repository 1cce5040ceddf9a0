"""Running thurac as an unprivileged user in tests: pytest's folders are root's alone (0700),
so the way down to a test's folder is opened for the others (o+x, nothing listed or read)
for the test's duration; and an interpreter that user can run (root's own may sit in /root)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SYSTEM_PYTHON = Path("/usr/bin/python3")


@contextmanager
def reachable(folder: Path) -> Iterator[None]:
    """Let every user pass through `folder` and the folders above it, then restore them."""
    changed: list[tuple[Path, int]] = []
    try:
        for path in (folder, *folder.parents):
            mode = stat.S_IMODE(path.stat().st_mode)
            if not mode & stat.S_IXOTH:
                path.chmod(mode | stat.S_IXOTH)
                changed.append((path, mode))
        yield
    finally:
        for path, mode in changed:
            path.chmod(mode)


def may_run(uid: int, gids: set[int], path: Path) -> bool:
    """Whether the user could read `path` (and pass through the folders above it)."""
    def allows(info: os.stat_result, bits: int) -> bool:
        shift = 6 if info.st_uid == uid else 3 if info.st_gid in gids else 0
        return (info.st_mode >> shift) & bits == bits

    try:
        return (all(allows(parent.stat(), 0o1) for parent in path.parents)
                and allows(path.stat(), 0o4))
    except OSError:
        return False


def python_for(uid: int, gids: set[int]) -> tuple[str, dict[str, str]] | None:
    """An interpreter that user can run with this test's packages and thurac's sources, and
    its environment: this one, or the system's of the same version (its site-packages on
    PYTHONPATH); None if there is none."""
    sources = Path(__file__).resolve().parents[2] / "src"
    site = [p for p in sys.path if p.endswith("site-packages")]
    needed = [Path(p) for p in (*site, str(sources))]
    if not all(may_run(uid, gids, p) for p in needed):
        return None
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(sources), *site])}
    if may_run(uid, gids, Path(sys.executable).resolve()) and may_run(
            uid, gids, Path(sys.base_prefix) / "lib"):
        return sys.executable, env
    if not SYSTEM_PYTHON.exists():
        return None
    version = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, check=False).stdout.strip()
    return (str(SYSTEM_PYTHON), env) if version == str(sys.version_info[:2]) else None
