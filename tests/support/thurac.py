"""A real `thurac run` process for end-to-end tests, benches and soaks: its own config file,
SQLite store and log."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from tests.support.dns_server import TestDnsServer
from tests.support.net import wait_listening

LOCAL_DOMAIN = "example.test"
INTERNAL_IP = "127.0.0.2"  # plays a workstation on our own network
AUTHSERV_ID = "mx.example.test"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
ROOT = Path(__file__).resolve().parents[2]


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass
class Thurac:
    """A `thurac run` process with its own config, SQLite file and log."""

    config_path: Path
    log_path: Path
    socket: str  # as in milter.socket: inet:PORT@HOST or unix:/PATH
    process: subprocess.Popen[bytes] | None = None
    python: str = sys.executable  # the interpreter that runs it
    wrapper: tuple[str, ...] = ()  # a command it runs under (a sandbox)
    env: Mapping[str, str] | None = None  # None: the test's own environment

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*self.wrapper, self.python, "-m", "thurac", "run", "--config",
             str(self.config_path)],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=self.env,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                self._wait_ready()
                return
            except Exception:
                continue
        self.stop()
        raise AssertionError(f"thurac did not start:\n{self.log()}")

    def _wait_ready(self) -> None:
        if self.socket.startswith("unix:"):
            if not Path(self.socket[5:]).is_socket():
                raise TimeoutError(self.socket)
            return
        port = int(self.socket.removeprefix("inet:").split("@")[0])
        wait_listening("127.0.0.1", port, timeout=0.2)

    @property
    def postfix_address(self) -> str:
        """The same socket in Postfix's spelling (inet:HOST:PORT, unix:/PATH)."""
        if self.socket.startswith("unix:"):
            return self.socket
        port, _, host = self.socket.removeprefix("inet:").partition("@")
        return f"inet:{host}:{port}"

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            return None

    def reload(self, config: Mapping[str, Any] | str, expect: str,
               timeout: float = 10.0) -> None:
        """Rewrite the config file (a mapping, or raw text), send SIGHUP, wait for `expect`."""
        text = config if isinstance(config, str) else yaml.safe_dump(dict(config))
        self.config_path.write_text(text)
        seen = self.log().count(expect)
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while self.log().count(expect) == seen:
            assert time.monotonic() < deadline, f"no {expect!r} after SIGHUP:\n{self.log()}"
            time.sleep(0.05)

    def config(self) -> dict[str, Any]:
        return dict(yaml.safe_load(self.config_path.read_text()))

    def store(self) -> sqlite3.Connection:
        """A connection to its SQLite store, for counting what it recorded."""
        return sqlite3.connect(self.config()["database"]["url"].removeprefix("sqlite:///"),
                               timeout=30)

    def events(self) -> int:
        with self.store() as db:
            return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_line_for(self, queue_id: str, timeout: float = 10.0) -> str:
        """thurac's one line for a message, found by Postfix queue id."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log().splitlines():
                if f" {queue_id}: direction=" in line:
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no thurac log line for {queue_id}:\n{self.log()[-3000:]}")


def base_config(tmp: Path, port: int, dns: TestDnsServer) -> dict[str, Any]:
    return {
        "milter": {"socket": f"inet:{port}@127.0.0.1", "on_error": "accept",
                   "pid_file": f"{tmp}/thurac.pid"},
        "database": {"url": f"sqlite:///{tmp}/thurac.db", "spool_path": f"{tmp}/spool.jsonl"},
        "dns": {"nameservers": [dns.address], "timeout": 0.5, "budget": 3.0},
        "local": {"domains": [LOCAL_DOMAIN], "internal_networks": [f"{INTERNAL_IP}/32"],
                  "authserv_id": AUTHSERV_ID},
    }
