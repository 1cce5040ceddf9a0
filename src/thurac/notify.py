"""systemd's service notifications (sd_notify(3)) without libsystemd: one datagram to the
socket named by $NOTIFY_SOCKET. Without it (not a Type=notify service) every call is a no-op."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

log = logging.getLogger("thurac.notify")
_ready = threading.Event()  # READY=1 was sent once


def notify(*fields: str) -> bool:
    """Send `fields` (KEY=VALUE) to systemd; False when there is no one to tell or it failed
    (a lost notification must not stop the milter)."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if address.startswith("@"):  # the abstract namespace
        address = "\0" + address[1:]
    elif not address.startswith("/"):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode())
    except OSError as exc:
        log.warning("cannot notify systemd on %s: %s", os.environ["NOTIFY_SOCKET"], exc)
        return False
    return True


def ready(status: str) -> bool:
    """The milter socket listens: start-up is over."""
    _ready.set()
    return notify("READY=1", f"STATUS={status}")


def reloading() -> bool:
    """A reload begins (none is announced before READY=1: systemd would take it for one)."""
    if not _ready.is_set():
        return False
    # MONOTONIC_USEC lets systemd 253 and later tell this reload from an earlier one.
    return notify("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")


def reloaded() -> bool:
    """The reload is over, applied or refused: serving again."""
    return notify("READY=1") if _ready.is_set() else False


def stopping() -> bool:
    return notify("STOPPING=1")
