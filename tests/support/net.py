"""Small loopback networking helpers shared by the end-to-end test harness."""

from __future__ import annotations

import socket
import time


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that was free a moment ago.

    The kernel picks an ephemeral port for a throw-away socket; there is an
    inherent race until the real server binds it, which is acceptable in tests.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float = 10.0, banner: bytes = b"") -> bytes:
    """Poll until ``host:port`` accepts a connection (and optionally sends ``banner``).

    Returns the first bytes read from the socket (empty when ``banner`` is
    empty); raises ``TimeoutError`` when the deadline passes. Used to know
    when a freshly started server is really ready.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=2.0) as sock:
                if not banner:
                    return b""
                sock.settimeout(max(0.1, min(5.0, deadline - time.monotonic())))
                data = sock.recv(512)
                if data.startswith(banner):
                    try:
                        sock.sendall(b"QUIT\r\n")
                        sock.recv(512)
                    except OSError:
                        pass
                    return data
                last_error = RuntimeError(f"unexpected banner {data!r}")
        except OSError as exc:
            last_error = exc
        time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} not ready after {timeout}s: {last_error!r}")


def is_listening(host: str, port: int) -> bool:
    """Return True if an IPv4 TCP socket is in LISTEN state on ``host:port``.

    Reads ``/proc/net/tcp`` instead of connecting, so the server (and any milter
    behind it) never sees a probe connection. Linux only.
    """
    packed = socket.inet_aton(host)
    want = f"{int.from_bytes(packed, 'little'):08X}:{port:04X}"
    wildcard = f"00000000:{port:04X}"
    try:
        with open("/proc/net/tcp") as fh:
            next(fh, None)
            for line in fh:
                fields = line.split()
                if len(fields) > 3 and fields[3] == "0A" and fields[1] in (want, wildcard):
                    return True
    except OSError:
        return False
    return False


def wait_listening(host: str, port: int, timeout: float = 10.0) -> None:
    """Poll :func:`is_listening` until true; raises ``TimeoutError`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not is_listening(host, port):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")
        time.sleep(0.05)
