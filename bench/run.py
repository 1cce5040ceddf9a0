"""`make bench`: throughput through a private Postfix driven by Postfix's own smtp-source, side
by side in interleaved rounds, reported as ratios.

Configurations (each filter started once, then every round measures each of them in turn,
the order rotated from round to round so that drift in the machine's load hits all alike):
  A  Postfix alone                      B  bench/noop_milter.py (every callback answered)
  X  thurac, config/thurac.yaml, tag-only, SQLite, DNS: a loopback server that knows no name
  XR thurac, the same, DNS: SPF passing, DKIM-signed messages, DMARC, MX, PTR
  D  rspamd 3.4's milter proxy (SPF, DKIM, DMARC, ratelimit; redis) with --peers or
     BENCH_PEERS=1, when Debian's rspamd and redis-server are installed
Postfix delivers to discard:. A run is refused (exit 1, results not written) when any
message was not delivered, a milter failed or left the path, or a filter died.

    make bench                                   # 5,000 messages x 2 sizes x 3 rounds
    make bench-peers                             # the same with rspamd (D)
    .venv/bin/python bench/run.py --messages 1000 --rounds 3 --only A,B,X
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import rspamd, traffic  # noqa: E402
from bench.filters import Filter, NoopFilter, ThuracFilter  # noqa: E402
from bench.measure import Measurement, measure, memory_kib  # noqa: E402
from bench.results import markdown, summarise, write  # noqa: E402
from tests.support.dns_server import TestDnsServer  # noqa: E402

WARMUP_SIZE = 2000
GOALS = (  # issue 12: (filter, reference, size, least ratio)
    ("X", "D", 2000, 1.0), ("X", "D", 20000, 1.3), ("X", "B", 2000, 0.8),
    ("X", "B", 20000, 0.8))


def machine() -> str:
    model = next((line.split(":", 1)[1].strip()
                  for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores ({model}), Linux {platform.release()}"


def git_commit() -> str:
    proc = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip()


def export_tree(revision: str, folder: Path) -> Path:
    """src/ and config/ of `revision`, as files in `folder` (no checkout is touched)."""
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src", "config"],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"bench: --baseline {revision}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def build_filters(args: argparse.Namespace, tmp: Path, nx_dns: TestDnsServer,
                  real_dns: TestDnsServer) -> list[tuple[Filter, traffic.Traffic]]:
    plain = traffic.nxdomain()
    real = traffic.realistic(real_dns, tmp, args.sizes)
    chosen: list[tuple[Filter, traffic.Traffic]] = [
        (Filter(), plain),
        (NoopFilter(tmp), plain),
        (ThuracFilter(tmp / "thurac-nx", nx_dns, "X", "thurac, NXDOMAIN DNS"), plain),
        (ThuracFilter(tmp / "thurac-real", real_dns, "XR",
                      "thurac, SPF pass + DKIM-signed"), real),
    ]
    if args.baseline:
        chosen.append((ThuracFilter(tmp / "thurac-baseline", nx_dns, "X0",
                                    f"thurac at {args.baseline}, NXDOMAIN DNS",
                                    source=export_tree(args.baseline, tmp / "baseline")),
                       plain))
    if args.peers:
        if not rspamd.available():
            raise SystemExit("bench: --peers needs rspamd and redis-server "
                             "(make bench-peers installs them)")
        chosen.append((rspamd.RspamdFilter(tmp / "rspamd", nx_dns), plain))
    return [(f, t) for f, t in chosen if not args.only or f.key in args.only]


def problems_of(measurements: list[Measurement], filters: list[Filter]) -> list[str]:
    found = [f"{m.filter} {m.size} B round {m.round}: {p}"
             for m in measurements for p in m.problems]
    for flt in filters:
        text = getattr(flt, "log_text", lambda: "")()
        for line in text.splitlines():
            if "Traceback" in line or "Fatal Python error" in line or " ERROR " in line:
                found.append(f"{flt.key} log: {line[:300]}")
                break
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")],
                        default=[2000, 20000], help="body bytes, comma separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=300,
                        help="messages each filter gets before the first round")
    parser.add_argument("--peers", action="store_true",
                        default=os.environ.get("BENCH_PEERS") == "1",
                        help="also rspamd's milter proxy (D); or BENCH_PEERS=1")
    parser.add_argument("--only", type=lambda s: s.split(","), default=[],
                        help="configuration keys to run, e.g. A,B,X")
    parser.add_argument("--baseline", metavar="REV", default="",
                        help="also X0: thurac as of git revision REV, beside this tree's X")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="thurac-bench-"))
    started = datetime.now(UTC)
    meta: dict[str, Any] = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
        "commit": git_commit(), "command": " ".join(sys.argv), "messages": args.messages,
        "sessions": args.sessions, "sizes": args.sizes, "rounds": args.rounds,
        "load_average_start": os.getloadavg()}
    measurements: list[Measurement] = []
    with TestDnsServer(negative_ttl=traffic.NEGATIVE_TTL) as nx_dns, \
            TestDnsServer(negative_ttl=traffic.NEGATIVE_TTL) as real_dns:
        chosen = build_filters(args, tmp, nx_dns, real_dns)
        filters = [f for f, _ in chosen]
        labels = {f.key: f.label for f in filters}
        try:
            for flt, kind in chosen:
                flt.start()
                if flt.milter:
                    warm = measure(flt, kind, WARMUP_SIZE, args.warmup, args.sessions, 0)
                    if warm.problems:
                        raise SystemExit(f"bench: warm-up of {flt.label} failed: "
                                         f"{warm.problems}")
            for round_number in range(1, args.rounds + 1):
                shift = (round_number - 1) % len(chosen)
                order = chosen[shift:] + chosen[:shift]
                for size in args.sizes:
                    for flt, kind in order:
                        m = measure(flt, kind, size, args.messages, args.sessions,
                                    round_number)
                        measurements.append(m)
                        cpu = m.cpu_ms_per_message
                        print(f"round {round_number} {size:6d} B {flt.key:2s} "
                              f"{m.rate:7.1f} msg/s"
                              + (f"  CPU {cpu:5.2f} ms/msg" if cpu is not None else "")
                              + (f"  PROBLEM: {m.problems}" if m.problems else ""),
                              flush=True)
            memory = {f.key: memory_kib(f) for f in filters}
        finally:
            stop_errors = []
            for flt in filters:
                try:
                    flt.stop()
                except RuntimeError as exc:
                    stop_errors.append(str(exc))
    meta["load_average_end"] = os.getloadavg()
    problems = problems_of(measurements, filters) + stop_errors
    if problems:
        print("bench: REFUSED, the numbers are not reported:", *problems, sep="\n  ")
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / "refused.json").write_text(
            json.dumps({"meta": meta, "problems": problems}, indent=2) + "\n")
        print(f"bench: files kept in {tmp}")
        return 1
    rows = summarise(measurements, labels, memory)
    write(args.output, rows, measurements, meta)
    shutil.rmtree(tmp, ignore_errors=True)  # kept when the run is refused
    print(markdown(rows, meta))
    ratios = {(r.filter, r.size): r.ratios for r in rows}
    for key, ref, size, least in GOALS:
        got = ratios.get((key, size), {}).get(ref)
        if got is not None:
            print(f"goal {key}/{ref} at {size // 1000} KB >= {least}: {got:.2f} "
                  f"{'met' if got >= least else 'NOT met'}")
    cpu = {(r.filter, r.size): r.cpu_ms_per_message for r in rows}
    for size in args.sizes:
        x, d = cpu.get(("X", size)), cpu.get(("D", size))
        if x is not None and d is not None:
            print(f"goal X CPU/msg < D at {size // 1000} KB: {x:.2f} vs {d:.2f} ms "
                  f"{'met' if x < d else 'NOT met'}")
    print(f"written: {args.output / 'latest.json'}, {args.output / 'latest.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
