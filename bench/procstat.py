"""CPU time and peak memory of a process and everything under it, read from Linux /proc.

A filter is measured as a tree: thurac is one process, rspamd a main process with workers
(and the bench counts its private redis too). CPU is utime+stime of every live process in
the tree plus cutime+cstime (children already reaped), so a worker that exits still counts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    """Direct children of `pid` (every thread's list, as Linux keeps them per task)."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            found.extend(int(child) for child in text.split())
    except OSError:
        pass
    return found


def tree(roots: Iterable[int]) -> list[int]:
    """`roots` and all their descendants that are alive now."""
    seen: list[int] = []
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen or not Path(f"/proc/{pid}").exists():
            continue
        seen.append(pid)
        todo.extend(children(pid))
    return seen


def cpu_seconds(roots: Iterable[int]) -> float:
    """User + system CPU seconds used so far by the trees under `roots`, reaped children
    included."""
    ticks = 0
    for pid in tree(roots):
        try:
            fields = _stat_fields(pid)
        except OSError:  # exited between listing and reading
            continue
        # utime, stime, cutime, cstime: fields 14-17 of proc(5), 11-14 after the name.
        ticks += sum(int(value) for value in fields[11:15])
    return ticks / CLOCK_TICKS


def _kib(pid: int, name: str, field: str) -> int | None:
    """The KiB figure of the line starting with `field` in /proc/PID/`name`."""
    try:
        text = Path(f"/proc/{pid}/{name}").read_text()
    except OSError:  # exited
        return None
    for line in text.splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return None


def peak_rss_kib(roots: Iterable[int]) -> int:
    """The largest peak resident set (VmHWM) among the live trees' processes, in KiB.
    Not a sum: rspamd's forked workers share most of their pages with the main process."""
    peaks = (_kib(pid, "status", "VmHWM:") for pid in tree(roots))
    return max((kib for kib in peaks if kib is not None), default=0)


def pss_kib(roots: Iterable[int]) -> int:
    """Proportional set size of the live trees now (shared pages divided among sharers)."""
    shares = (_kib(pid, "smaps_rollup", "Pss:") for pid in tree(roots))
    return sum(kib for kib in shares if kib is not None)
