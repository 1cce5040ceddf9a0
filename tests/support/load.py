"""Load and accounting for fault tests: Postfix's own smtp-source and smtp-sink, and a tally
that proves nothing accepted was lost (``accepted == delivered + held``).

Every number comes from a different witness than thurac: *accepted*, *tempfailed* and
*rejected* from the SMTP client (smtp-source fails on any reply but 250; smtplib results
are counted one by one), *delivered* from smtp-sink's own counter, *held* from Postfix's
hold queue directory. Postfix's log is not used for counting: under load its postlogd
drops lines now and then.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tests.support.net import free_port, wait_listening
from tests.support.postfix import PrivatePostfix, SendResult

SMTP_SOURCE = shutil.which("smtp-source", path="/usr/sbin:/usr/bin") or "/usr/sbin/smtp-source"
SMTP_SINK = shutil.which("smtp-sink", path="/usr/sbin:/usr/bin") or "/usr/sbin/smtp-sink"
SINK_BACKLOG = 256
_SINK_COUNTER = re.compile(rb"mesg=(\d+)")
# What thurac's own 5xx says (replies.py, the shipped templates): any other 5xx was not a verdict.
VERDICT_5XX = "Rejected as spam"


@dataclass
class Tally:
    """What happened to the mail of one test."""

    sent: int = 0  # messages the client tried to send
    accepted: int = 0  # 250 after DATA
    delivered: int = 0  # counted by the sink
    held: int = 0  # in Postfix's hold queue
    tempfailed: int = 0  # 4xx (milter tempfail, or milter_default_action = tempfail)
    rejected: int = 0  # 5xx by verdict
    other_5xx: int = 0  # 5xx that no verdict gave: must stay 0
    failed: int = 0  # the client saw no reply at all (connection dropped)

    def __str__(self) -> str:
        return (f"sent={self.sent} accepted={self.accepted} delivered={self.delivered} "
                f"held={self.held} tempfailed={self.tempfailed} rejected={self.rejected} "
                f"other_5xx={self.other_5xx} no_reply={self.failed}")

    def add(self, result: SendResult) -> None:
        """Count one smtplib-driven transaction."""
        self.sent += 1
        if result.ok:
            self.accepted += 1
        elif result.temporary_failure:
            self.tempfailed += 1
        elif result.permanent_failure and VERDICT_5XX in result.message:
            self.rejected += 1
        elif result.permanent_failure:
            self.other_5xx += 1
        else:
            self.failed += 1

    def assert_nothing_lost(self) -> None:
        """Every accepted message is delivered or held; no 5xx that a verdict did not give;
        every message sent got an answer."""
        print(f"tally: {self}")
        assert self.accepted == self.delivered + self.held, f"mail lost: {self}"
        assert self.other_5xx == 0, f"5xx not given by a verdict: {self}"
        assert self.sent == self.accepted + self.tempfailed + self.rejected + self.failed, (
            f"messages unaccounted for: {self}")


def client_tally(results: Iterable[SendResult]) -> Tally:
    counted = Tally()
    for result in results:
        counted.add(result)
    return counted


class CountingSink:
    """Postfix's smtp-sink on loopback: accepts everything, throws it away, counts it."""

    def __init__(self) -> None:
        self.port = free_port()
        self._counter = 0
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> CountingSink:
        self._proc = subprocess.Popen(
            [SMTP_SINK, "-u", "nobody", "-c", f"127.0.0.1:{self.port}", str(SINK_BACKLOG)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._read, name="smtp-sink-counter",
                                        daemon=True)
        self._reader.start()
        wait_listening("127.0.0.1", self.port, timeout=10)
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while chunk := os.read(self._proc.stdout.fileno(), 65536):
            found = _SINK_COUNTER.findall(chunk)
            if found:
                with self._lock:
                    self._counter = max(self._counter, int(found[-1]))

    @property
    def delivered(self) -> int:
        with self._lock:
            return self._counter

    def transports(self) -> dict[str, str | None]:
        """Postfix main.cf overrides that deliver every message, local or not, here."""
        relay = f"smtp:[127.0.0.1]:{self.port}"
        return {name: relay for name in ("local_transport", "default_transport",
                                          "relay_transport", "virtual_transport")}

    def wait_count(self, n: int, timeout: float) -> int:
        """Wait until `n` messages arrived (or `timeout`); returns the count."""
        deadline = time.monotonic() + timeout
        while self.delivered < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.delivered

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)
        if self._reader is not None:
            self._reader.join(5)

    def __enter__(self) -> CountingSink:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def finish(counted: Tally, postfix: PrivatePostfix, sink: CountingSink,
           drain_timeout: float = 120.0) -> Tally:
    """Let Postfix deliver what it accepted (hold excepted), then fill in delivered and held."""
    postfix.wait_queue_empty(timeout=drain_timeout)
    counted.held = len(postfix.hold_queue())
    counted.delivered = sink.wait_count(counted.accepted - counted.held, timeout=10)
    return counted


class Stream:
    """`sessions` SMTP clients (smtplib, through Postfix) sending `count` messages in all, in
    the background, each result kept; for faults injected while mail flows."""

    def __init__(self, postfix: PrivatePostfix, count: int, sessions: int, *,
                 sender: str = "stream@sender.test", recipient: str = "user@example.test",
                 source_ip: str = "127.0.0.20", helo: str = "mail.sender.test",
                 pause: float = 0.0) -> None:
        self.postfix = postfix
        self.count = count
        self.sender, self.recipient = sender, recipient
        self.source_ip, self.helo = source_ip, helo
        self.pause = pause
        self.results: list[SendResult] = []
        self._next = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._send, name=f"stream-{i}", daemon=True)
                         for i in range(sessions)]

    def data(self, n: int) -> bytes:
        return (f"From: {self.sender}\r\nTo: {self.recipient}\r\nSubject: stream {n}\r\n"
                f"Date: Mon, 23 Nov 2026 10:00:00 +0700\r\n"
                f"Message-ID: <stream.{n}.{time.monotonic_ns()}@sender.test>\r\n\r\n"
                f"message {n}\r\n").encode()

    def _send(self) -> None:
        while True:
            with self._lock:
                n = self._next
                self._next += 1
            if n >= self.count:
                return
            result = self.postfix.send(self.sender, [self.recipient], self.data(n),
                                       source_ip=self.source_ip, helo=self.helo, timeout=60)
            with self._lock:
                self.results.append(result)
            if self.pause:
                time.sleep(self.pause)

    def start(self) -> Stream:
        for thread in self._threads:
            thread.start()
        return self

    def sent(self) -> int:
        with self._lock:
            return len(self.results)

    def wait_sent(self, n: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.sent() < n:
            assert time.monotonic() < deadline, f"only {self.sent()} of {n} sent"
            time.sleep(0.02)

    def join(self, timeout: float = 300.0) -> Tally:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self._threads), "clients still sending"
        return client_tally(self.results)


def smtp_source(postfix: PrivatePostfix, *, messages: int, sessions: int, size: int,
                sender: str = "bulk@sender.test", recipient: str = "user@example.test",
                helo: str = "client.sender.test", message_file: Path | None = None,
                timeout: float = 3600.0) -> float:
    """Drive Postfix with smtp-source, one message per session as a spam run arrives;
    returns the seconds it took. smtp-source stops at the first reply that is not 2xx, so
    a clean return means every message was accepted; raises otherwise. The message is
    smtp-source's own of `size` body bytes, or `message_file` as it is (-F)."""
    content = ["-F", str(message_file)] if message_file else ["-l", str(size)]
    started = time.perf_counter()
    proc = subprocess.run(
        [SMTP_SOURCE, "-s", str(sessions), "-m", str(messages), *content,
         "-f", sender, "-t", recipient, "-M", helo,
         f"{postfix.host}:{postfix.port}"],
        capture_output=True, timeout=timeout, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"smtp-source exited {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace')[-2000:]}")
    return elapsed
