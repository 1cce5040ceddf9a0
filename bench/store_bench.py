"""History cost against the store's size: the per-message history read (read_history) and
record (write_records, batches of 1 and of 50) with the store holding 0, 1M and 10M events,
on SQLite and on a PostgreSQL the bench starts itself (bench/store_fill.py says what a store
of N events holds). Each store is filled once, in stages, and measured at every stage; reads
of hot and of new senders alternate, so both see the same machine load. Prints a Markdown
table, the read's 10M/empty ratio and the plan of each statement the read runs, and writes
bench/results/store.json and store.md.

    make bench-store
    .venv/bin/python bench/store_bench.py --sizes 0,100000 --backends sqlite   # a quick look
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import Engine, event  # noqa: E402
from store_fill import (  # noqa: E402
    DOMAINS,
    HOT,
    NOW,
    SENDERS,
    FillReport,
    grow,
    hot_key,
    hot_related,
    local,
    sender_key,
    sent_id,
)
from tests.builders import make_message, make_settings  # noqa: E402
from tests.support.postgres import TemporaryPostgres, unavailable_reason  # noqa: E402

from thurac.config import Settings  # noqa: E402
from thurac.message import Message  # noqa: E402
from thurac.store.engine import make_engine, upgrade  # noqa: E402
from thurac.store.history import read_history  # noqa: E402
from thurac.store.record import Record  # noqa: E402
from thurac.store.recorder import write_records  # noqa: E402
from thurac.symbols import Symbol  # noqa: E402
from thurac.verdict import Verdict  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DEFAULT_SIZES = (0, 1_000_000, 10_000_000)
WARM_UP = 200  # reads before timing, per stage: caches filled as in a running daemon
# PostgreSQL as a small production server would run it (the test helper's 16 MB
# shared_buffers suits tests, not a 10M store); fsync stays off as in the tests.
POSTGRES_SETTINGS = {"shared_buffers": "'256MB'", "maintenance_work_mem": "'512MB'",
                     "max_wal_size": "'8GB'", "checkpoint_timeout": "'30min'",
                     "effective_cache_size": "'4GB'"}
MAX_RATIO = 2.0  # the bound on the read's 10M/empty time


# -- the messages measured -----------------------------------------------------------------
def hot_message(i: int, queue_id: str = "4TQ1D2") -> tuple[Message, str]:
    """From a hot sender (a bucket every minute of the last day on its sender, domain and IP,
    correspondents, complaints, advertising counts), replying to mail our users sent."""
    h = i % HOT
    address, domain, ip = hot_key(h)
    rcpts = [*hot_related(h)[:2], local(h + 7_000)]
    message = make_message(address, rcpts, client_ip=ip, helo=f"mx.{domain}", queue_id=queue_id,
                           without=("Message-ID",), extra_headers=(
                               ("Message-ID", f"<r{i}.{queue_id}@{domain}>"),
                               ("In-Reply-To", f"<{sent_id(h * 13)}>"),
                               ("References", f"<{sent_id(h * 13 + 1)}> <{sent_id(h * 13)}>")))
    return replace(message, received_at=NOW), domain


def new_message(stage: int, i: int, queue_id: str = "4TQ1D2") -> tuple[Message, str]:
    """From a sender the store has never seen (nor its domain or IP)."""
    domain = f"fresh{stage}x{i % 97}.example"
    ip = f"100.{64 + stage}.{(i >> 8) & 255}.{i & 255}"
    message = make_message(f"new{stage}x{i}@{domain}", [local(i), local(i + 1)], client_ip=ip,
                           helo=f"mx.{domain}", queue_id=queue_id, without=("Message-ID",),
                           extra_headers=(("Message-ID", f"<n{i}.{queue_id}@{domain}>"),
                                          ("In-Reply-To", f"<nosuch{i}@example.org>")))
    return replace(message, received_at=NOW), domain


def record_message(stage: int, serial: int, stored: bool) -> tuple[Message, str]:
    """A message to record: from a sender the store holds (`stored`) or a new one. Its
    recipients are users the fill never writes about, so no later stage's bulk rows collide
    with what the recorder wrote."""
    if stored:
        address, domain, ip = sender_key((serial * 7) % SENDERS)
    else:
        domain = f"rec{stage}x{serial % 97}.example"
        address = f"rec{stage}x{serial}@{domain}"
        ip = f"100.{128 + stage}.{serial >> 8 & 255}.{serial & 255}"
    queue_id = f"B{stage}x{serial:07d}"
    rcpts = [f"bench{serial}@example.com", f"bench{serial + 1}@example.com"]
    message = make_message(address, rcpts, client_ip=ip, helo=f"mx.{domain}", queue_id=queue_id,
                           without=("Message-ID",),
                           extra_headers=(("Message-ID", f"<{queue_id}@{domain}>"),))
    return replace(message, received_at=NOW), domain


def _record(message: Message, advertiser: str, settings: Settings) -> Record:
    symbols = (Symbol("C22_FREQ_SENDER", 1.5, "sender: 25 msgs/1h > 20"),)
    verdict = Verdict(1.5, 5.0, "accept", "accept", symbols)
    return Record(message, verdict, message.recipients[2:], settings.local.is_local_address,
                  advertiser)


# -- timing ----------------------------------------------------------------------------------
def _summary(samples: list[float]) -> dict[str, float]:
    """Median and p99 in milliseconds."""
    ordered = sorted(samples)
    return {"median_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000,
            "samples": len(ordered)}


def time_reads(engine: Engine, settings: Settings, stage: int, reads: int,
               ) -> dict[str, dict[str, float]]:
    """Hot and new senders' reads, alternating, each as the scanner does it: a connection
    from the pool, read_history, back to the pool."""
    def one(message: Message, advertiser: str) -> float:
        began = time.perf_counter()
        with engine.connect() as conn:
            read_history(conn, message, settings, advertiser)
        return time.perf_counter() - began

    for i in range(WARM_UP):
        one(*hot_message(i))
        one(*new_message(stage, 10**6 + i))
    hot: list[float] = []
    new: list[float] = []
    for i in range(reads):
        hot.append(one(*hot_message(i)))
        new.append(one(*new_message(stage, i)))
    return {"hot": _summary(hot), "new": _summary(new)}


def time_records(engine: Engine, settings: Settings, stage: int, records: int, stored: bool,
                 ) -> dict[str, dict[str, float]]:
    """Per record, as the recorder writes: one transaction per batch (of 1, then of 50), half
    the records from senders the store holds (when it holds any) and half from new ones; the
    events stay in the store."""
    results: dict[str, dict[str, float]] = {}
    serial = 0
    for size in (1, 50):
        per_record: list[float] = []
        for _ in range(max(1, records // size)):
            batch = []
            for _ in range(size):
                serial += 1
                message, advertiser = record_message(stage, serial, stored and serial % 2 == 1)
                batch.append(_record(message, advertiser, settings))
            began = time.perf_counter()
            with engine.begin() as conn:
                write_records(conn, batch)
            per_record.append((time.perf_counter() - began) / size)
        results[f"batch_{size}"] = _summary(per_record)
    return results


# -- plans -----------------------------------------------------------------------------------
@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and parameters) the engine's cursors run inside the block."""
    seen: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
               _executemany: bool) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


_SQLITE_INDEX = re.compile(r"USING (?:COVERING )?INDEX (\w+)|USING ((?:INTEGER )?PRIMARY KEY)")
_PG_INDEX = re.compile(r"(?:Index Only Scan|Index Scan|Bitmap Index Scan) (?:using |on )(\w+)")
_SQLITE_FULL_SCAN = re.compile(r"^SCAN (\w+)(?! USING (?:COVERING )?INDEX \w+ \()")
_PG_FULL_SCAN = re.compile(r"Seq Scan on (\w+)")
_TABLES = re.compile(r"\bFROM (\w+)")


def explain(engine: Engine, settings: Settings, stage: int) -> list[dict[str, Any]]:
    """The plan of every statement one read runs, for a hot and a new sender, with the
    parameters the read bound (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN (ANALYZE,
    BUFFERS)); each says the indexes it uses and any full scan of a table."""
    statements: dict[str, tuple[str, Any]] = {}
    for who, (message, advertiser) in (("hot", hot_message(1)),
                                       ("new", new_message(stage, 1))):
        with captured(engine) as seen, engine.connect() as conn:
            read_history(conn, message, settings, advertiser)
        for statement, parameters in seen:
            statements.setdefault(statement, (who, parameters))
    plans = []
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        for statement, (who, parameters) in statements.items():
            cursor = raw.cursor()
            if postgres:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                lines = [row[0] for row in cursor.fetchall()]
                indexes = sorted({m for line in lines for m in _PG_INDEX.findall(line)})
                full = sorted({m for line in lines for m in _PG_FULL_SCAN.findall(line)})
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                lines = [row[3] for row in cursor.fetchall()]
                indexes = sorted({a or b for line in lines
                                  for a, b in _SQLITE_INDEX.findall(line)})
                full = sorted({m for line in lines if (m := _full_scan(line))})
            cursor.close()
            raw.rollback()
            plans.append({"tables": sorted(set(_TABLES.findall(statement))), "sender": who,
                          "statement": " ".join(statement.split()), "plan": lines,
                          "indexes": indexes, "full_scans": full})
    return plans


def _full_scan(line: str) -> str | None:
    """The table a SQLite plan line scans whole (a scan of a subquery's result is not)."""
    found = _SQLITE_FULL_SCAN.match(line.strip())
    return found.group(1) if found and found.group(1) not in {"CONSTANT"} else None


# -- one backend -----------------------------------------------------------------------------
def run_backend(url: str, sizes: list[int], reads: int, records: int,
                log: Callable[[str], None], done: Callable[[dict[str, Any]], None],
                ) -> dict[str, Any]:
    """Measure one backend at each size, growing its store in between; `done` gets the run
    so far after each stage (a long run that is stopped keeps what it measured)."""
    engine = make_engine(url)
    upgrade(engine)
    settings = make_settings()
    stages: list[dict[str, Any]] = []
    run = {"backend": engine.dialect.name, "stages": stages}
    held = 0
    try:
        for stage, size in enumerate(sizes):
            fill: FillReport | None = None
            if size > held:
                log(f"{engine.dialect.name}: filling {held:,} → {size:,} events")
                fill = grow(engine, held, size, log)
                log(f"  {fill.rows:,} rows in {fill.seconds:.0f} s "
                    f"({fill.rows_per_second:,.0f} rows/s)")
                held = size
            log(f"{engine.dialect.name}: measuring at {size:,} events")
            plans = explain(engine, settings, stage)
            result: dict[str, Any] = {
                      "events": size, "reads": time_reads(engine, settings, stage, reads),
                      "records": time_records(engine, settings, stage, records, held > 0),
                      "plans": plans,
                      "fill": None if fill is None else {
                          "rows": fill.rows, "seconds": round(fill.seconds, 1),
                          "rows_per_second": round(fill.rows_per_second),
                          "tables": fill.per_table}}
            stages.append(result)
            done(run)
            r = result["reads"]
            log(f"  read hot {r['hot']['median_ms']:.3f} ms, new {r['new']['median_ms']:.3f} ms"
                f"; full scans: {[p['full_scans'] for p in plans if p['full_scans']]}")
    finally:
        engine.dispose()
    return run


# -- report ----------------------------------------------------------------------------------
def _ratio(stages: list[dict[str, Any]], path: tuple[str, ...]) -> float:
    def value(stage: dict[str, Any]) -> float:
        v: Any = stage
        for key in path:
            v = v[key]
        return float(v["median_ms"])
    return value(stages[-1]) / value(stages[0])


def markdown(runs: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    out = [f"History cost against the store's size ({meta['date']}, {meta['machine']}; "
           f"`{meta['command']}`). Milliseconds per message: median (p99) of "
           f"{meta['reads']:,} reads per sender kind and of {meta['records']:,} records per "
           "batch size.", "",
           "| backend | events | read, hot sender | read, new sender | record, batch of 1 "
           "| record, batch of 50 |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for run in runs:
        for s in run["stages"]:
            cells = [s["reads"]["hot"], s["reads"]["new"], s["records"]["batch_1"],
                     s["records"]["batch_50"]]
            out.append(f"| {run['backend']} | {s['events']:,} | " + " | ".join(
                f"{c['median_ms']:.3f} ({c['p99_ms']:.2f})" for c in cells) + " |")
    out += ["", f"Ratio of medians, largest store / empty (the read must stay ≤ {MAX_RATIO}×):",
            "", "| backend | events | read, hot | read, new | record ×1 | record ×50 |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for run in runs:
        st = run["stages"]
        if len(st) < 2:
            continue
        ratios = [_ratio(st, ("reads", "hot")), _ratio(st, ("reads", "new")),
                  _ratio(st, ("records", "batch_1")), _ratio(st, ("records", "batch_50"))]
        out.append(f"| {run['backend']} | {st[-1]['events']:,} / {st[0]['events']:,} | "
                   + " | ".join(f"{r:.2f}" for r in ratios) + " |")
    out += ["", "Plans of the read's statements at the largest size (index used; any full scan "
            "of a table is listed):", "", "| backend | tables | indexes | full scans |",
            "| --- | --- | --- | --- |"]
    for run in runs:
        for p in run["stages"][-1]["plans"]:
            out.append(f"| {run['backend']} | {', '.join(p['tables'])} | "
                       f"{', '.join(p['indexes']) or '—'} | {', '.join(p['full_scans']) or '—'} |")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="events held at each measurement, ascending (default %(default)s)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--reads", type=int, default=2000, help="reads per sender kind")
    parser.add_argument("--records", type=int, default=1000, help="records per batch size")
    parser.add_argument("--dir", default=None, help="folder for the SQLite store (a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the stores (debugging)")
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--combine", nargs="+", metavar="STORE_JSON",
                        help="only merge the runs of earlier store.json files into --results")
    args = parser.parse_args()
    # A stopped bench still stops its PostgreSQL and removes its stores (the with blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = Path(args.results)
    if args.combine:
        files = [json.loads(Path(f).read_text()) for f in args.combine]
        merged = [run for f in files for run in f["runs"]]
        return report(merged, {**files[0]["meta"], "command": " + ".join(
            f["meta"]["command"] for f in files)}, results)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    backends = args.backends.split(",")

    def log(line: str) -> None:
        print(f"[{datetime.now(UTC):%H:%M:%S}] {line}", flush=True)

    runs: list[dict[str, Any]] = []
    meta = {"date": f"{datetime.now(UTC):%Y-%m-%d}", "machine": f"{platform.machine()}, "
            f"{_cores()} cores, Python {platform.python_version()}",
            "command": " ".join(["bench/store_bench.py", *sys.argv[1:]]),
            "reads": args.reads, "records": args.records, "hot_senders": HOT,
            "now": NOW.isoformat(), "domains": DOMAINS,
            "window": str(timedelta(days=1))}

    def save(run: dict[str, Any]) -> None:
        results.mkdir(parents=True, exist_ok=True)
        (results / "store.json").write_text(json.dumps(
            {"meta": meta, "runs": [*runs, run]}, indent=1))

    for backend in backends:
        if backend == "sqlite":
            folder = Path(tempfile.mkdtemp(prefix="thurac-store-bench-", dir=args.dir))
            try:
                runs.append(run_backend(f"sqlite:///{folder}/store.db", sizes, args.reads,
                                        args.records, log, save))
            finally:
                if not args.keep:
                    shutil.rmtree(folder, ignore_errors=True)
        elif backend == "postgresql":
            reason = unavailable_reason()
            if reason:
                log(f"postgresql skipped: {reason}")
                continue
            with TemporaryPostgres(settings=POSTGRES_SETTINGS) as pg:
                runs.append(run_backend(pg.url, sizes, args.reads, args.records, log, save))
        else:
            parser.error(f"unknown backend {backend!r}")
    return report(runs, meta, results)


def report(runs: list[dict[str, Any]], meta: dict[str, Any], results: Path) -> int:
    """Print and write the table; 1 when a new sender's read grew more than MAX_RATIO."""
    table = markdown(runs, meta)
    print(table)
    results.mkdir(parents=True, exist_ok=True)
    (results / "store.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=1))
    (results / "store.md").write_text(table)
    worst = max((_ratio(r["stages"], ("reads", "new")) for r in runs if len(r["stages"]) > 1),
                default=0.0)
    return 0 if worst <= MAX_RATIO else 1


def _cores() -> int:
    import os
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
