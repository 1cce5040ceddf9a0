"""thurac's lines in the mail log: with `log.syslog` on, every record goes to syslog too, facility
mail, written as Postfix writes its own (`thurac[PID]: LEVEL …`)."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from collections.abc import Iterator
from logging.handlers import SysLogHandler
from pathlib import Path

import pytest

from thurac import log
from thurac.config import LogSettings, parse_settings
from thurac.errors import ConfigError

RECEIVE_TIMEOUT = 10.0  # seconds: a datagram on loopback arrives at once, or never


@pytest.fixture
def syslog_socket() -> Iterator[tuple[Path, socket.socket]]:
    """A unix datagram socket standing in for /dev/log (a short path: sun_path is 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="thurac-log-") as folder:
        path = Path(folder) / "log"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
            server.bind(str(path))
            server.settimeout(RECEIVE_TIMEOUT)
            yield path, server
            log.apply(LogSettings())


def _syslog_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, SysLogHandler)]


def test_records_go_to_syslog_with_the_mail_facility_and_postfix_style_ident(
    syslog_socket: tuple[Path, socket.socket], caplog: pytest.LogCaptureFixture,
) -> None:
    path, server = syslog_socket
    caplog.set_level(logging.INFO, logger="thurac")
    log.apply(LogSettings(syslog=True, syslog_socket=str(path)))
    assert server.recv(4096).startswith(b"<22>thurac[")  # "logging to syslog at …"

    logging.getLogger("thurac.message").info("%s", "4XQID123: direction=inbound action=accept")
    assert server.recv(4096).rstrip(b"\0") == (
        f"<22>thurac[{os.getpid()}]: INFO 4XQID123: direction=inbound action=accept".encode())
    logging.getLogger("thurac.store").error("store reads failing")
    assert server.recv(4096).startswith(b"<19>thurac[")  # mail.err: 2*8 + 3
    logging.getLogger("thurac.dns").warning("nameserver answers again")
    assert server.recv(4096).startswith(b"<20>thurac[")  # mail.warning


def test_applying_the_same_settings_again_keeps_one_handler_and_off_removes_it(
    syslog_socket: tuple[Path, socket.socket],
) -> None:
    path, _ = syslog_socket
    on = LogSettings(syslog=True, syslog_socket=str(path))
    log.apply(on)
    log.apply(on)  # a reload that changed something else
    assert len(_syslog_handlers()) == 1
    log.apply(LogSettings(syslog=False, syslog_socket=str(path)))
    assert _syslog_handlers() == []


def test_a_missing_syslog_socket_is_reported_and_standard_error_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    log.apply(LogSettings(syslog=True, syslog_socket=str(tmp_path / "no-such-socket")))
    assert _syslog_handlers() == []
    assert "cannot log to syslog at" in caplog.text
    assert "logging to standard error only" in caplog.text


def test_a_syslog_daemon_that_goes_away_costs_one_line_on_standard_error(
    syslog_socket: tuple[Path, socket.socket], capsys: pytest.CaptureFixture[str],
) -> None:
    path, server = syslog_socket
    log.apply(LogSettings(syslog=True, syslog_socket=str(path)))
    server.close()
    path.unlink()  # rsyslog stopped
    for _ in range(3):
        logging.getLogger("thurac.store").error("store reads failing")
    complaints = [line for line in capsys.readouterr().err.splitlines() if "syslog at" in line]
    assert complaints == [f"thurac: syslog at {path} does not take log lines ([Errno 2] No such "
                          "file or directory); until it does, standard error only"]


def test_the_syslog_socket_must_be_an_absolute_path() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"log": {"syslog": True, "syslog_socket": "dev/log"}}, "thurac.yaml")
    assert str(caught.value).startswith("thurac.yaml: log.syslog_socket: String should match")
