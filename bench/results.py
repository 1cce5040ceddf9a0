"""Measurements → one row per filter and message size: rates, ratios measured side by side
(each round's rate over the same round's reference), CPU, latency, memory; written as JSON
and as a Markdown table."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.measure import Measurement

REFERENCES = ("A", "B", "D", "X0")  # X0: thurac at --baseline REV


@dataclass(frozen=True)
class Row:
    filter: str
    label: str
    size: int
    rounds: int
    rate_median: float
    rate_min: float
    rate_max: float
    ratios: dict[str, float]  # reference key → median of per-round rate ratios
    cpu_ms_per_message: float | None  # median over rounds
    latency_p50_ms: float | None  # thurac's verdicts, every message of every round
    latency_p99_ms: float | None
    histogram_p99_ms: float | None  # upper bound of the bucket holding the p99 (worst round)
    peak_rss_mib: float | None  # the largest process of the filter's tree
    tree_pss_mib: float | None  # the whole tree, shared pages divided among sharers


def summarise(measurements: list[Measurement], labels: dict[str, str],
              memory_kib: dict[str, tuple[int, int]]) -> list[Row]:
    by_key: dict[tuple[str, int], list[Measurement]] = {}
    for m in measurements:
        by_key.setdefault((m.filter, m.size), []).append(m)
    rows = []
    for (key, size), runs in by_key.items():
        rates = [m.rate for m in runs]
        ratios = {}
        for ref in REFERENCES:
            if ref == key or (ref, size) not in by_key:
                continue
            base = {m.round: m.rate for m in by_key[(ref, size)]}
            paired = [m.rate / base[m.round] for m in runs if m.round in base]
            if paired:
                ratios[ref] = statistics.median(paired)
        cpus = [m.cpu_ms_per_message for m in runs if m.cpu_ms_per_message is not None]
        latency = [ms for m in runs if m.answered for ms in m.answered.latency_ms]
        p50 = p99 = None
        if len(latency) > 1:
            cuts = statistics.quantiles(latency, n=100, method="inclusive")
            p50, p99 = cuts[49], cuts[98]
        buckets = [m.answered.histogram_p99_ms for m in runs
                   if m.answered and m.answered.histogram_p99_ms is not None]
        rows.append(Row(key, labels[key], size, len(runs), statistics.median(rates),
                        min(rates), max(rates), ratios,
                        statistics.median(cpus) if cpus else None, p50, p99,
                        max(buckets) if buckets else None,
                        *_mib(memory_kib.get(key))))
    return rows


def _mib(memory: tuple[int, int] | None) -> tuple[float | None, float | None]:
    if not memory or not memory[0]:
        return None, None
    return memory[0] / 1024, memory[1] / 1024


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    baseline = any(r.filter == "X0" for r in rows)
    lines = [
        f"smtp-source -s {meta['sessions']}, {meta['messages']} messages per measurement, "
        f"{meta['rounds']} interleaved rounds, {meta['machine']}, {meta['date']}.",
        "",
        "| configuration | body | msgs/s median (min–max) | × A | × B | × D "
        + ("| × X0 " if baseline else "")
        + "| filter CPU ms/msg | verdict p50 / p99 ms | peak RSS / tree PSS MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | " + ("---: | " if baseline else "")
        + "---: | ---: | ---: |",
    ]
    for row in sorted(rows, key=lambda r: (r.size, r.filter)):
        latency = ("—" if row.latency_p50_ms is None
                   else f"{row.latency_p50_ms:.0f} / {row.latency_p99_ms:.0f}")
        lines.append(
            f"| {row.filter}: {row.label} | {row.size // 1000} KB "
            f"| {row.rate_median:.0f} ({row.rate_min:.0f}–{row.rate_max:.0f}) "
            f"| {_fmt(row.ratios.get('A'))} | {_fmt(row.ratios.get('B'))} "
            f"| {_fmt(row.ratios.get('D'))} "
            + (f"| {_fmt(row.ratios.get('X0'))} " if baseline else "")
            + f"| {_fmt(row.cpu_ms_per_message)} | {latency} "
            f"| {_fmt(row.peak_rss_mib, 0)} / {_fmt(row.tree_pss_mib, 0)} |")
    return "\n".join(lines) + "\n"


def write(folder: Path, rows: list[Row], measurements: list[Measurement],
          meta: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    runs = [{"filter": m.filter, "size": m.size, "round": m.round, "messages": m.messages,
             "seconds": m.seconds, "rate": m.rate, "cpu_ms_per_message": m.cpu_ms_per_message,
             "delivered": m.delivered,
             "verdicts": m.answered.messages if m.answered else None} for m in measurements]
    document = {"meta": meta, "rows": [asdict(row) for row in rows], "runs": runs}
    (folder / "latest.json").write_text(json.dumps(document, indent=2) + "\n")
    (folder / "latest.md").write_text(markdown(rows, meta))
