"""A tiny threaded SMTP server that records everything delivered to it.

End-to-end tests point a private Postfix at this sink so they can read exactly
what came out of Postfix (and therefore out of the milter under test). It is
hand-written on top of :mod:`socketserver` so the harness needs no extra
package. It speaks just enough ESMTP for Postfix's smtp(8) client: EHLO/HELO,
MAIL, RCPT, DATA, RSET, NOOP, QUIT, with PIPELINING, 8BITMIME and SMTPUTF8
advertised (so Postfix never rewrites 8-bit bodies before handing them over).
"""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

_MAX_LINE = 64 * 1024
_MAX_MESSAGE = 100 * 1024 * 1024
_ADDR_RE = re.compile(rb"^\s*<([^>]*)>\s*(.*)$")


@dataclass(frozen=True)
class SinkMessage:
    """One message as received by the sink (one SMTP transaction)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: email.message.Message
    peer: tuple[str, int]
    helo: str
    mail_options: tuple[str, ...] = ()
    received_at: float = field(default_factory=time.time)

    @property
    def subject(self) -> str | None:
        """Return the Subject header (undecoded) or None."""
        value = self.message.get("Subject")
        return None if value is None else str(value)

    def headers(self, name: str) -> list[str]:
        """Return every value of header ``name`` in order (empty list if absent)."""
        return [str(v) for v in self.message.get_all(name, [])]


def _parse_path(arg: bytes) -> tuple[str, tuple[str, ...]] | None:
    """Split ``<addr> PARAM=...`` into the address and its ESMTP parameters."""
    match = _ADDR_RE.match(arg)
    if match is None:
        return None
    addr = match.group(1).decode("utf-8", "surrogateescape")
    params = tuple(p.decode("utf-8", "surrogateescape") for p in match.group(2).split())
    return addr, params


class _Handler(socketserver.StreamRequestHandler):
    """Per-connection SMTP state machine."""

    server: _Server
    timeout = 60.0

    def setup(self) -> None:
        """Register the connection so ``SmtpSink.stop`` can close it."""
        super().setup()
        self.server.track(self.request, add=True)

    def finish(self) -> None:
        """Unregister the connection."""
        try:
            super().finish()
        finally:
            self.server.track(self.request, add=False)

    def _reply(self, text: str) -> None:
        self.wfile.write(text.encode("utf-8") + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        """Run the SMTP dialogue until QUIT, EOF or a socket error."""
        sink = self.server.sink
        peer = self.client_address
        helo = ""
        mail_from: str | None = None
        mail_options: tuple[str, ...] = ()
        rcpts: list[str] = []
        try:
            self._reply(f"220 {sink.hostname} ESMTP test sink")
            while True:
                line = self.rfile.readline(_MAX_LINE)
                if not line:
                    return
                cmd_line = line.rstrip(b"\r\n")
                verb, _, arg = cmd_line.partition(b" ")
                verb_u = verb.upper()
                if verb_u == b"EHLO":
                    helo = arg.decode("utf-8", "replace").strip()
                    self._reply(
                        f"250-{sink.hostname}\r\n250-PIPELINING\r\n250-SIZE {_MAX_MESSAGE}\r\n"
                        "250-8BITMIME\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES"
                    )
                elif verb_u == b"HELO":
                    helo = arg.decode("utf-8", "replace").strip()
                    self._reply(f"250 {sink.hostname}")
                elif verb_u == b"MAIL" and arg[:5].upper() == b"FROM:":
                    parsed = _parse_path(arg[5:])
                    if parsed is None:
                        self._reply("501 5.1.7 Bad sender address syntax")
                        continue
                    mail_from, mail_options = parsed
                    rcpts = []
                    self._reply("250 2.1.0 Ok")
                elif verb_u == b"RCPT" and arg[:3].upper() == b"TO:":
                    parsed = _parse_path(arg[3:])
                    if mail_from is None:
                        self._reply("503 5.5.1 Error: need MAIL command")
                    elif parsed is None:
                        self._reply("501 5.1.3 Bad recipient address syntax")
                    else:
                        rcpts.append(parsed[0])
                        self._reply("250 2.1.5 Ok")
                elif verb_u == b"DATA":
                    if mail_from is None or not rcpts:
                        self._reply("503 5.5.1 Error: need RCPT command")
                        continue
                    self._reply("354 End data with <CR><LF>.<CR><LF>")
                    raw = self._read_data()
                    if raw is None:
                        return
                    number = sink.record(
                        SinkMessage(
                            mail_from=mail_from,
                            rcpt_tos=tuple(rcpts),
                            raw=raw,
                            message=email.message_from_bytes(raw, policy=email.policy.compat32),
                            peer=(str(peer[0]), int(peer[1])),
                            helo=helo,
                            mail_options=mail_options,
                        )
                    )
                    mail_from, mail_options, rcpts = None, (), []
                    self._reply(f"250 2.0.0 Ok: queued as SINK{number}")
                elif verb_u == b"RSET":
                    mail_from, mail_options, rcpts = None, (), []
                    self._reply("250 2.0.0 Ok")
                elif verb_u == b"NOOP":
                    self._reply("250 2.0.0 Ok")
                elif verb_u == b"VRFY":
                    self._reply("252 2.0.0 Cannot VRFY")
                elif verb_u == b"QUIT":
                    self._reply("221 2.0.0 Bye")
                    return
                else:
                    self._reply("502 5.5.2 Error: command not recognized")
        except (OSError, ValueError):
            return

    def _read_data(self) -> bytes | None:
        """Read a DATA body up to the lone dot, undoing dot-stuffing."""
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(_MAX_LINE)
            if not line:
                return None
            if line in (b".\r\n", b".\n"):
                return b"".join(chunks)
            if line.startswith(b"."):
                line = line[1:]
            size += len(line)
            if size > _MAX_MESSAGE:
                return None
            chunks.append(line)


class _Server(socketserver.ThreadingTCPServer):
    """Threading TCP server that knows its owning sink and open connections."""

    allow_reuse_address = True
    daemon_threads = True
    # socketserver's default backlog is 5: a burst of Postfix deliveries (a released hold
    # queue) then waits on connections the sink never completes, until smtp_helo_timeout.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sink: SmtpSink) -> None:
        self.sink = sink
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, *, add: bool) -> None:
        """Add or remove a live client socket."""
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def close_all(self) -> None:
        """Shut down every live client socket (used on stop)."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class SmtpSink:
    """Threaded SMTP server on loopback that stores every delivered message.

    Use as a context manager; ``port`` is chosen by the kernel unless given.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, hostname: str = "sink.example.test"
    ) -> None:
        """Prepare (but do not start) a sink; ``hostname`` is used in the 220/EHLO replies.

        ``hostname`` must differ from Postfix's ``myhostname`` or Postfix
        bounces with "mail loops back to myself".
        """
        self.hostname = hostname
        self._requested = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._messages: list[SinkMessage] = []
        self._cond = threading.Condition()

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> SmtpSink:
        """Bind the listening socket and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._server = _Server(self._requested, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"smtp-sink-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close all client connections (bounded wait)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_all()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addressing ----------------------------------------------------------

    @property
    def host(self) -> str:
        """Address the sink listens on."""
        if self._server is None:
            return self._requested[0]
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """TCP port the sink listens on (only meaningful once started)."""
        if self._server is None:
            return self._requested[1]
        return int(self._server.server_address[1])

    @property
    def nexthop(self) -> str:
        """Postfix nexthop syntax for this sink, e.g. ``[127.0.0.1]:2525``."""
        return f"[{self.host}]:{self.port}"

    # -- storage -------------------------------------------------------------

    def record(self, msg: SinkMessage) -> int:
        """Store ``msg`` and wake waiters; returns its 1-based sequence number."""
        with self._cond:
            self._messages.append(msg)
            self._cond.notify_all()
            return len(self._messages)

    @property
    def messages(self) -> list[SinkMessage]:
        """Snapshot copy of everything received so far, in arrival order."""
        with self._cond:
            return list(self._messages)

    def clear(self) -> None:
        """Forget all received messages."""
        with self._cond:
            self._messages.clear()

    def wait_for(
        self, predicate: Callable[[SinkMessage], bool], timeout: float = 15.0
    ) -> SinkMessage:
        """Return the first stored message matching ``predicate``, waiting up to ``timeout``.

        Raises ``TimeoutError`` (listing what did arrive) when nothing matches.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self._messages:
                    if predicate(msg):
                        return msg
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(timeout=min(remaining, 0.25))
            seen = [(m.mail_from, m.rcpt_tos, m.subject) for m in self._messages]
        raise TimeoutError(f"no matching message within {timeout}s; received: {seen}")

    def wait_count(self, n: int, timeout: float = 15.0) -> list[SinkMessage]:
        """Wait until at least ``n`` messages arrived; return a snapshot of all of them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._messages) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"expected {n} messages within {timeout}s, got {len(self._messages)}"
                    )
                self._cond.wait(timeout=min(remaining, 0.25))
            return list(self._messages)
