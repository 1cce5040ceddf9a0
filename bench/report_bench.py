"""How long `thurac report` takes on a month of a busy MX: 1,000,000 events over 30 days
(bench/gen_store.py), once in SQLite and once in a private PostgreSQL started here. Each
command runs as an operator runs it (the CLI, a new process), 3 times; the table shows the
median wall-clock time and the median CPU time spent on it: the command's own, plus for
PostgreSQL the server's (its backends and parallel workers, which the postmaster reaps).
Other load on the machine moves CPU time much less than wall-clock time.
bench/results/report.json keeps every run and the load average.

    make bench-report
    .venv/bin/python bench/report_bench.py --events 100000 --runs 1      # a quick look

A new timed command is one line in COMMANDS: a label and the thurac arguments (without
--config); "{dir}" in an argument is the bench's temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gen_store import generate  # noqa: E402
from tests.support.postgres import TemporaryPostgres, unavailable_reason  # noqa: E402

from thurac.store.engine import make_engine  # noqa: E402

COMMANDS: list[tuple[str, list[str]]] = [
    ("report --since 30d", ["report", "--since", "30d"]),
    ("report --since 30d --format json", ["report", "--since", "30d", "--format", "json"]),
    ("report --since 30d --format html", ["report", "--since", "30d", "--format", "html"]),
    # Every event of the store is streamed into the scratch history; the last 7 days' inbound
    # mail (about 230,000 messages) is judged again under a stricter reject threshold.
    ("replay --since 7d --json", ["replay", "--with", "{dir}/stricter.yaml", "--since", "7d",
                                  "--json"]),
]
RESULTS = ROOT / "bench" / "results" / "report.json"
RUN_TIMEOUT = 600  # seconds for one command: far above what a report may take
# A modest production-like server rather than the tests' 16 MB of shared buffers.
PG_SETTINGS = {"shared_buffers": "256MB", "work_mem": "16MB", "max_wal_size": "2GB"}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _reaped_cpu(pid: int | None) -> float:
    """CPU seconds of the exited children of process `pid` (Linux /proc), 0 without one."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def thurac(config: Path, argv: list[str], out: Path,
           server: int | None = None) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one `thurac ARGV --config CONFIG`, output to `out`;
    `server`: the database server's pid, whose reaped children's CPU time counts too."""
    with out.open("wb") as sink:
        cpu = _children_cpu() + _reaped_cpu(server)
        started = time.perf_counter()
        ran = subprocess.run([sys.executable, "-m", "thurac", *argv, "--config", str(config)],
                             stdout=sink, stderr=subprocess.PIPE, cwd=ROOT,
                             timeout=RUN_TIMEOUT, check=False)
        took = time.perf_counter() - started
    if ran.returncode != 0:
        raise RuntimeError(f"thurac {' '.join(argv)} exited {ran.returncode}: "
                           f"{ran.stderr.decode(errors='replace')[-2000:]}")
    return took, _children_cpu() + _reaped_cpu(server) - cpu


def fill(url: str, work: Path, name: str, args: argparse.Namespace,
         until: datetime) -> tuple[Path, float]:
    """Generate the store at `url`; return its config file and the seconds it took."""
    engine = make_engine(url, readers=1)
    started = time.perf_counter()
    try:
        generate(engine, args.events, args.days, args.seed, until)
        if engine.dialect.name == "postgresql":  # as after any bulk load: fresh statistics,
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))  # and no autovacuum during the runs
    finally:
        engine.dispose()
    took = time.perf_counter() - started
    config = work / f"{name}.yaml"
    config.write_text(yaml.safe_dump({"database": {"url": url}}))
    print(f"{name}: {args.events} events over {args.days} days generated in {took:.0f} s",
          flush=True)
    return config, took


Timings = dict[str, list[tuple[float, float]]]  # command → (wall, CPU) seconds per run


def measure(config: Path, work: Path, runs: int, server: int | None = None) -> Timings:
    timings: Timings = {}
    for label, argv in COMMANDS:
        argv = [a.replace("{dir}", str(work)) for a in argv]
        timings[label] = [thurac(config, argv, work / "out", server) for _ in range(runs)]
        print(f"  {label}: " + ", ".join(f"{wall:.2f} s (CPU {cpu:.2f})"
                                          for wall, cpu in timings[label]), flush=True)
    return timings


def same_report(configs: dict[str, Path], work: Path, until: datetime) -> bool:
    """Both stores hold the same events: their JSON reports must be equal."""
    texts = set()
    for name, config in configs.items():
        out = work / f"{name}.json"
        thurac(config, ["report", "--since", "30d", "--until", until.isoformat(),
                        "--format", "json"], out)
        texts.add(out.read_text())
    return len(texts) == 1


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores, {model}"


def median(runs: list[tuple[float, float]], which: int) -> float:
    return statistics.median(run[which] for run in runs)


def table(results: dict[str, Timings]) -> str:
    """Median seconds per command and store: wall clock, CPU."""
    heads = [f"{store} {kind}" for store in results for kind in ("s", "CPU s")]
    lines = ["| command | " + " | ".join(heads) + " |", "| --- |" + " ---: |" * len(heads)]
    for label, _ in COMMANDS:
        cells = [f"{median(runs[label], which):.2f}" for runs in results.values()
                 for which in (0, 1)]
        lines.append(f"| `thurac {label}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    # A stop by SIGTERM still stops the PostgreSQL server and removes the temp folder.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    until = datetime.now(UTC).replace(microsecond=0)
    load = [os.getloadavg()[0]]
    results: dict[str, Timings] = {}
    generation: dict[str, float] = {}
    configs: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="thurac-report-bench-") as tmp:
        work = Path(tmp)
        (work / "stricter.yaml").write_text(yaml.safe_dump({"actions": {"reject": 12.0}}))
        configs["SQLite"], generation["SQLite"] = fill(
            f"sqlite:///{work}/thurac.db", work, "SQLite", args, until)
        results["SQLite"] = measure(configs["SQLite"], work, args.runs)
        reason = "--no-postgres" if args.no_postgres else unavailable_reason()
        if reason:
            print(f"PostgreSQL skipped: {reason}")
        else:
            with TemporaryPostgres(settings=PG_SETTINGS) as server:
                configs["PostgreSQL"], generation["PostgreSQL"] = fill(
                    server.url, work, "PostgreSQL", args, until)
                postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
                results["PostgreSQL"] = measure(configs["PostgreSQL"], work, args.runs,
                                                postmaster)
                agree = same_report(configs, work, until)
                print("SQLite and PostgreSQL reports agree" if agree else
                      "SQLite and PostgreSQL reports DIFFER")
                if not agree:
                    return 1
    load.append(os.getloadavg()[0])
    print(f"\n{args.events:,} events over {args.days} days; {machine()}; "
          f"{datetime.now(UTC):%Y-%m-%d}; load average {load[0]:.1f} at the start, "
          f"{load[1]:.1f} at the end\n")
    print(table(results))
    record: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
        "events": args.events, "days": args.days, "seed": args.seed, "runs": args.runs,
        "load_average": {"start": load[0], "end": load[1]},
        "generation_seconds": {k: round(v, 1) for k, v in generation.items()},
        "commands": [{"label": label, "argv": argv,
                      **{store: {"wall": [round(w, 3) for w, _ in results[store][label]],
                                 "cpu": [round(c, 3) for _, c in results[store][label]],
                                 "median_wall": round(median(results[store][label], 0), 3),
                                 "median_cpu": round(median(results[store][label], 1), 3)}
                         for store in results}} for label, argv in COMMANDS],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
