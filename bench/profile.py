"""`make profile`: where thurac's CPU goes under the bench's load. thurac (the shipped config,
tag-only, SQLite, the NXDOMAIN DNS server: X in make bench) is warmed up, then py-spy records it
while smtp-source sends through a private Postfix: once for a flame graph
(bench/results/profile.svg), once as raw stacks that are grouped by concern
(bench/results/profile.txt and profile.json). Samples are of the thread that holds the GIL
(SPY_FLAGS says why), with native frames.

    make profile
    .venv/bin/python bench/profile.py --messages 3000 --size 20000
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import traffic  # noqa: E402
from bench.filters import ThuracFilter  # noqa: E402
from bench.measure import Measurement, measure  # noqa: E402
from tests.support.dns_server import TestDnsServer  # noqa: E402

PY_SPY = ROOT / ".venv" / "bin" / "py-spy"
RATE = 200  # samples a second
# Native frames show C under Python (SQLite, libmilter); only the thread holding the GIL is
# sampled: py-spy's idle detection does not see threads blocked in futexes as idle here, and
# thurac's Python runs one thread at a time anyway. C that runs with the GIL released
# (sqlite3_step, libmilter's own threads) is the gap between these samples and the CPU time.
SPY_FLAGS = ["--native", "--gil", "--rate", str(RATE)]
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^:()]+)(?::(?P<line>\d+))?\)$")
_CHECK = re.compile(r"thurac/checks/(\w+)\.py$")
# Concerns in the order they claim a sample: the first that any frame of the stack matches
# (a DNS lookup made by the SPF check counts as DNS; a log call inside the recorder as logging).
CONCERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("logging", re.compile(r"(^|/)logging/|thurac/log\.py$")),
    ("DNS: resolver and dnspython objects", re.compile(r"thurac/(dns|nameservers)\.py$|(^|/)dns/")),
    ("metrics", re.compile(r"thurac/metrics\.py$|prometheus_client/")),
    ("recorder (write behind)", re.compile(r"thurac/store/(recorder|record|spool)\.py$")),
    ("history read", re.compile(r"thurac/store/history\.py$|thurac/history\.py$")),
    ("lists refresh", re.compile(r"thurac/store/lists\.py$")),
    ("checks", re.compile(r"thurac/checks/|thurac/(adverts|complaints)\.py$|(^|/)(spf|dkim)")),
    ("Message build, header parsing", re.compile(r"thurac/message\.py$|(^|/)email/")),
    ("verdict, policy, headers", re.compile(
        r"thurac/(verdict|headers|authresults|replies|lists|auth)\.py$|thurac/policy/")),
    ("scanner and pipeline glue", re.compile(r"thurac/(scanner|pipeline)\.py$")),
    ("milter adapter, pymilter callbacks", re.compile(r"thurac/milter\.py$|(^|/)Milter/")),
    ("thread hand-offs", re.compile(r"thurac/workers\.py$|concurrent/futures|(^|/)threading\.py$")),
)
_SQLITE_NATIVE = re.compile(r"sqlite3|_sqlite")
_SQLALCHEMY = re.compile(r"(^|/)sqlalchemy/")


def frames(stack: str) -> list[tuple[str, str]]:
    """(function, file) from root to leaf of one raw py-spy stack."""
    found = []
    for frame in stack.split(";"):
        match = _FRAME.match(frame.strip())
        found.append((match["function"], match["file"]) if match else (frame, ""))
    return found


def concern(stack: list[tuple[str, str]]) -> str:
    files = [file for _, file in stack]
    for name, pattern in CONCERNS:
        if any(pattern.search(file) for file in files):
            if name == "checks":
                checks = [m[1] for f in files if (m := _CHECK.search(f))
                          and m[1] not in ("base", "__init__")]
                return f"check: {checks[-1]}" if checks else "checks: shared helpers (adverts.py)"
            if name in ("history read", "recorder (write behind)", "lists refresh"):
                leaf = files[-1] + stack[-1][0]
                if _SQLITE_NATIVE.search(leaf):
                    return f"{name}: SQLite (C)"
                if any(_SQLALCHEMY.search(f) for f in files):
                    return f"{name}: SQLAlchemy"
                return f"{name}: thurac's own code"
            return name
    return "other: " + (files[-1].rsplit("/", 1)[-1] or stack[-1][0])


def read_raw(path: Path) -> Counter[tuple[tuple[str, str], ...]]:
    stacks: Counter[tuple[tuple[str, str], ...]] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            # py-spy puts the thread first when asked; drop a "process ..." root too.
            parts = [f for f in frames(stack) if not f[0].startswith(("process ", "thread "))]
            stacks[tuple(parts)] += int(count)
    return stacks


def breakdown(stacks: Counter[tuple[tuple[str, str], ...]]) -> dict[str, object]:
    total = sum(stacks.values())
    groups: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for stack, count in stacks.items():
        groups[concern(list(stack))] += count
        function, file = stack[-1] if stack else ("?", "")
        leaves[f"{function} ({file.rsplit('/', 2)[-1] if file else '?'})"] += count
    def shares(counter: Counter[str], top: int | None = None) -> list[tuple[str, int, float]]:
        return [(name, count, 100 * count / total) for name, count in counter.most_common(top)]

    return {"samples": total, "groups": shares(groups), "leaves": shares(leaves, 25)}


def record(thurac: ThuracFilter, kind: traffic.Traffic, output: Path, fmt: str,
           args: argparse.Namespace) -> Measurement:
    pid = thurac.pids()[0]
    spy = subprocess.Popen([str(PY_SPY), "record", "--pid", str(pid), *SPY_FLAGS,
                            "--format", fmt, "--output", str(output)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(2)  # py-spy attaches
    try:
        return measure(thurac, kind, args.size, args.messages, args.sessions, 1)
    finally:
        spy.send_signal(signal.SIGINT)
        _, err = spy.communicate(timeout=120)
        if not output.exists():
            raise SystemExit(f"py-spy wrote nothing: {err.decode(errors='replace')[-2000:]}")


def text_report(result: dict[str, object], meta: dict[str, object]) -> str:
    lines = [f"{meta['messages']} messages, {meta['size']} B body, {meta['sessions']} sessions, "
             f"{meta['rate']:.0f} msg/s under py-spy, {result['samples']} samples", "",
             "by concern:"]
    lines += [f"  {share:5.1f}%  {name}" for name, _, share in result["groups"]]  # type: ignore[attr-defined]
    lines += ["", "top leaf functions:"]
    lines += [f"  {share:5.1f}%  {name}" for name, _, share in result["leaves"]]  # type: ignore[attr-defined]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--raw", type=Path, help="only group an existing raw py-spy file")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    if args.raw:
        print(text_report(breakdown(read_raw(args.raw)),
                          {"messages": "?", "size": "?", "sessions": "?", "rate": 0.0}))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="thurac-profile-"))
    with TestDnsServer(negative_ttl=traffic.NEGATIVE_TTL) as dns:
        kind = traffic.nxdomain()
        thurac = ThuracFilter(tmp / "thurac", dns, "X", "thurac, NXDOMAIN DNS")
        thurac.start()
        try:
            warm = measure(thurac, kind, args.size, 300, args.sessions, 0)
            svg = record(thurac, kind, args.output / "profile.svg", "flamegraph", args)
            raw = record(thurac, kind, tmp / "profile.raw", "raw", args)
        finally:
            thurac.stop()
    problems = warm.problems + svg.problems + raw.problems
    if problems:
        print("profile: REFUSED:", *problems, sep="\n  ")
        return 1
    result = breakdown(read_raw(tmp / "profile.raw"))
    meta = {"messages": args.messages, "size": args.size, "sessions": args.sessions,
            "rate": raw.rate, "cpu_ms_per_message": raw.cpu_ms_per_message}
    report = text_report(result, meta)
    (args.output / "profile.txt").write_text(report)
    (args.output / "profile.json").write_text(json.dumps({"meta": meta, **result}, indent=2))
    print(report)
    print(f"written: {args.output}/profile.svg, profile.txt, profile.json; raw stacks "
          f"(bench/profile.py --raw FILE groups them again): {tmp / 'profile.raw'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
