"""systemd hears from thurac: READY=1 once the milter socket listens, RELOADING=1 then READY=1
around a reload, STOPPING=1 at the end; without $NOTIFY_SOCKET nothing is sent."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from tests.support.net import free_port

from thurac import notify

ROOT = Path(__file__).resolve().parents[1]
WAIT = 30.0  # seconds for a start-up on a loaded machine


@pytest.fixture
def systemd() -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket in the abstract namespace, as systemd hands one to a service."""
    name = f"thurac-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(WAIT)
        yield sock, f"@{name}"


def listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port`, read from /proc/net/tcp (no connection:
    a connection to a milter starts a session)."""
    wanted = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and fields[3] == "0A":  # 0A: TCP_LISTEN
            return True
    return False


def test_nothing_is_sent_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify.notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")  # a form systemd 253 may pass
    assert notify.notify("READY=1") is False


def test_a_notification_reaches_a_socket_named_by_path(monkeypatch: pytest.MonkeyPatch) -> None:
    with (tempfile.TemporaryDirectory(dir="/tmp") as folder,  # short: sun_path is 108 bytes
          socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock):
        sock.bind(f"{folder}/notify")
        monkeypatch.setenv("NOTIFY_SOCKET", f"{folder}/notify")
        assert notify.notify("STATUS=hello", "READY=1")
        assert sock.recv(4096) == b"STATUS=hello\nREADY=1"


def test_a_vanished_systemd_socket_does_not_stop_thurac(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", f"@thurac-nobody-listens-{uuid.uuid4().hex}")
    assert notify.notify("READY=1") is False


def test_thurac_run_tells_systemd_when_it_listens_reloads_and_stops(
    tmp_path: Path, systemd: tuple[socket.socket, str]
) -> None:
    sock, address = systemd
    port = free_port()
    config = tmp_path / "thurac.yaml"
    config.write_text(yaml.safe_dump({
        "milter": {"socket": f"inet:{port}@127.0.0.1", "pid_file": f"{tmp_path}/thurac.pid"},
        "database": {"url": f"sqlite:///{tmp_path}/thurac.db"},
        "dns": {"nameservers": ["127.0.0.1:9"]},
    }))
    log = tmp_path / "thurac.log"
    with log.open("wb") as out:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "thurac", "run", "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
            env={**os.environ, "NOTIFY_SOCKET": address})
    try:
        ready = sock.recv(4096)
        # The port listens by the time systemd hears READY=1 (so Postfix may connect).
        assert listening(port), log.read_text()
        assert ready == f"READY=1\nSTATUS=listening on inet:{port}@127.0.0.1".encode()

        daemon.send_signal(signal.SIGHUP)
        reloading = sock.recv(4096).decode()
        assert reloading.startswith("RELOADING=1\nMONOTONIC_USEC=")
        # systemd (253+) matches it against its own CLOCK_MONOTONIC: the value is now-ish.
        sent = int(reloading.rsplit("=", 1)[1])
        assert abs(time.monotonic_ns() // 1000 - sent) < WAIT * 1e6
        assert sock.recv(4096) == b"READY=1"
        assert "configuration reloaded" in log.read_text()

        daemon.send_signal(signal.SIGTERM)
        assert sock.recv(4096) == b"STOPPING=1"
        assert daemon.wait(WAIT) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(5)
