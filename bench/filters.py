"""The filters the bench puts in front of Postfix, each started once and kept for every round:
none (A), the no-op pymilter (B), thurac (X, one per DNS variant) and rspamd (D,
bench/rspamd.py). Each says which processes are its cost and what it answered."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from tests.support.dns_server import TestDnsServer
from tests.support.net import free_port, wait_listening
from tests.support.thurac import Thurac, deep_merge

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CONFIG = ROOT / "config" / "thurac.yaml"
START_TIMEOUT = 30.0
_LOG_TIME = re.compile(rb" direction=\S+ .* time=(\d+)ms")
_BUCKET = re.compile(r'^thurac_verdict_seconds_bucket\{le="([^"]+)"\} (\S+)$', re.M)


@dataclass(frozen=True)
class Answered:
    """What a filter says it did during one measurement."""

    messages: int  # verdicts it logged
    latency_ms: list[float]  # one per message (thurac's log line, 1 ms resolution)
    histogram_count: int | None = None  # thurac_verdict_seconds_count, for cross-checking
    histogram_p99_ms: float | None = None  # upper bound of the bucket holding the p99

    def percentile(self, q: float) -> float | None:
        if not self.latency_ms:
            return None
        if len(self.latency_ms) == 1:
            return self.latency_ms[0]
        return statistics.quantiles(self.latency_ms, n=100, method="inclusive")[int(q) - 1]


class Filter:
    """No milter at all (A): Postfix alone."""

    key = "A"
    label = "Postfix, no milter"
    milter: str | None = None

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def pids(self) -> list[int]:
        return []

    def alive(self) -> bool:
        return True

    def mark(self) -> None:
        """Start counting what it answers (before a measurement)."""

    def answered(self) -> Answered | None:
        """What it answered since mark(); None when it cannot say."""
        return None


class NoopFilter(Filter):
    """bench/noop_milter.py (B): every callback asked for and answered, no verdict."""

    key = "B"
    label = "no-op pymilter"

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.milter = f"inet:127.0.0.1:{self.port}"
        self.log_path = folder / "noop.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "noop_milter.py"),
             f"inet:{self.port}@127.0.0.1"],
            stdout=self.log_path.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)
        wait_listening("127.0.0.1", self.port, timeout=START_TIMEOUT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)

    def pids(self) -> list[int]:
        return [self.process.pid] if self.process is not None else []

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def thurac_config(folder: Path, port: int, metrics_port: int,
                  dns: TestDnsServer, shipped_file: Path = SHIPPED_CONFIG) -> dict[str, Any]:
    """The shipped config/thurac.yaml, all checks as shipped, tag-only; only what must point
    at this machine's private parts changes: sockets, files, nameserver, internal networks
    (the shipped 127.0.0.1 would make every bench message outbound, i.e. not scored)."""
    shipped = yaml.safe_load(shipped_file.read_text())
    return deep_merge(shipped, {
        "milter": {"socket": f"inet:{port}@127.0.0.1", "pid_file": f"{folder}/thurac.pid"},
        "database": {"url": f"sqlite:///{folder}/thurac.db",
                     "spool_path": f"{folder}/spool.jsonl"},
        "dns": {"nameservers": [dns.address]},
        "local": {"internal_networks": ["127.0.0.2/32"]},
        "actions": {"mode": "tag-only"},
        "metrics": {"listen": f"127.0.0.1:{metrics_port}"},
    })


class ThuracFilter(Filter):
    """thurac run (X): the shipped configuration, tag-only, SQLite, DNS from `dns`."""

    def __init__(self, folder: Path, dns: TestDnsServer, key: str, label: str,
                 overrides: dict[str, Any] | None = None, source: Path | None = None) -> None:
        """`source`: another tree's top folder (its src/ and config/), run instead of this
        one: the same bench, side by side, on an earlier commit (bench/run.py --baseline)."""
        self.key, self.label = key, label
        folder.mkdir(parents=True, exist_ok=True)
        port, self.metrics_port = free_port(), free_port()
        shipped = SHIPPED_CONFIG if source is None else source / "config" / "thurac.yaml"
        config = deep_merge(thurac_config(folder, port, self.metrics_port, dns, shipped),
                            overrides or {})
        config_path = folder / "thurac.yaml"
        config_path.write_text(yaml.safe_dump(config))
        env = None if source is None else {**os.environ, "PYTHONPATH": str(source / "src")}
        self.thurac = Thurac(config_path, folder / "thurac.log", config["milter"]["socket"],
                             env=env)
        self.milter = self.thurac.postfix_address
        self._log_offset = 0
        self._buckets: dict[str, float] = {}

    def start(self) -> None:
        self.thurac.start()

    def stop(self) -> None:
        code = self.thurac.stop()
        if code != 0:
            raise RuntimeError(f"{self.label}: exit code {code} after SIGTERM (None: killed)")

    def pids(self) -> list[int]:
        process = self.thurac.process
        return [process.pid] if process is not None else []

    def alive(self) -> bool:
        process = self.thurac.process
        return process is not None and process.poll() is None

    def _histogram(self) -> dict[str, float]:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as reply:
            text = reply.read().decode()
        return {le: float(count) for le, count in _BUCKET.findall(text)}

    def mark(self) -> None:
        self._log_offset = self.thurac.log_path.stat().st_size
        self._buckets = self._histogram()

    def answered(self) -> Answered:
        with self.thurac.log_path.open("rb") as log:
            log.seek(self._log_offset)
            lines = log.read()
        latency = [float(ms) for ms in _LOG_TIME.findall(lines)]
        now = self._histogram()
        delta = {le: now[le] - self._buckets.get(le, 0.0) for le in now}
        count = int(delta.get("+Inf", 0))
        p99 = None
        for le, cumulative in sorted(((le, c) for le, c in delta.items() if le != "+Inf"),
                                     key=lambda item: float(item[0])):
            if count and cumulative >= 0.99 * count:
                p99 = float(le) * 1000
                break
        return Answered(len(latency), latency, count, p99)

    def log_text(self) -> str:
        return self.thurac.log()
