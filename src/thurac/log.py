"""Logging: one line per message, queue id first, then key=value pairs an admin can grep.
To standard error always, and to syslog too when `log.syslog` is on, so that thurac's lines
sit beside Postfix's in the mail log."""

from __future__ import annotations

import logging
import sys
from logging.handlers import SysLogHandler

from thurac.config import LogSettings
from thurac.message import Message
from thurac.text import sanitize
from thurac.verdict import Verdict

message_log = logging.getLogger("thurac.message")
LIST_SYMBOLS = frozenset({"ALLOWLIST", "ALLOWLIST_NOT_AUTHENTICATED", "BLOCKLIST"})


def setup(level: str = "INFO") -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s thurac[%(process)d]: %(levelname)s %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migrations speak only on trouble


# As Postfix's lines read: `thurac[PID]: INFO QUEUEID: …` (syslog adds the time and host).
SYSLOG_FORMAT = "thurac[%(process)d]: %(levelname)s %(message)s"


class _Syslog(SysLogHandler):
    """A syslog daemon that stops taking lines costs one line on standard error (which still
    has every record), not a traceback per record; it is reconnected at the next record."""

    failing = False
    _failed_now = False

    def emit(self, record: logging.LogRecord) -> None:
        self._failed_now = False
        super().emit(record)  # calls handleError on any failure
        self.failing = self._failed_now

    def handleError(self, record: logging.LogRecord) -> None:
        self._failed_now = True
        if not self.failing:
            sys.stderr.write(f"thurac: syslog at {self.address} does not take log lines "
                             f"({sys.exc_info()[1]}); until it does, standard error only\n")


_syslog: _Syslog | None = None


def apply(settings: LogSettings) -> None:
    """Start, stop or move the syslog copy as `log:` says: at start-up and at each reload.

    A socket that cannot be reached then is reported and skipped (standard error still has
    every line); the next reload tries again.
    """
    global _syslog
    wanted = settings.syslog_socket if settings.syslog else None
    if wanted == (_syslog.address if _syslog is not None else None):
        return
    root = logging.getLogger()
    if _syslog is not None:
        root.removeHandler(_syslog)
        _syslog.close()
        _syslog = None
    if wanted is None:
        return
    try:
        handler = _Syslog(address=wanted, facility=SysLogHandler.LOG_MAIL)
        if handler.socktype is None:  # set once connected (Python hides the error)
            handler.close()
            handler._connect_unixsocket(wanted)  # for the error itself
    except OSError as exc:
        logging.getLogger("thurac").error("cannot log to syslog at %s: %s; logging to standard "
                                          "error only", wanted, exc.strerror or exc)
        return
    handler.setFormatter(logging.Formatter(SYSLOG_FORMAT))
    root.addHandler(handler)
    _syslog = handler
    logging.getLogger("thurac").info("logging to syslog at %s (facility mail) too", wanted)


def message_line(message: Message, verdict: Verdict | None, elapsed_ms: float) -> str:
    """`QUEUEID: direction=… client=… from=<…> … score=… action=… symbols=…` (values sanitised)."""
    conn = message.connection
    parts = [
        f"{sanitize(message.queue_id, 64)}:",
        f"direction={message.direction}",
        f"client={sanitize(conn.client_name or 'unknown', 255)}[{sanitize(conn.client_ip, 64)}]",
        f"helo=<{sanitize(conn.helo, 255)}>",
        f"from=<{sanitize(message.sender, 320)}>",
        f"rcpts={len(message.recipients)}",
    ]
    if verdict is not None:
        symbols = ",".join(f"{s.name}({s.score:g})" for s in verdict.symbols)
        parts += [
            f"score={verdict.score:.1f}",
            f"required={verdict.required:.1f}",
            f"action={verdict.action}",
        ]
        if verdict.intended != verdict.action:
            parts.append(f"would={verdict.intended}")
        if verdict.policy is not None:
            parts.append(f"policy={sanitize(verdict.policy, 320)}")
        parts.append(f"symbols={symbols or '-'}")
        # Which list entry matched, so `grep QUEUEID` answers "why blocked?" on its own.
        listed = [s.reason for s in verdict.symbols if s.name in LIST_SYMBOLS]
        if listed:
            parts.append(f"lists=<{sanitize('; '.join(listed), 400)}>")
    else:
        parts.append("action=learn")
    parts.append(f"time={elapsed_ms:.0f}ms")
    return " ".join(parts)


def log_report(message: Message, result: str, elapsed_ms: float) -> None:
    """A report mailbox's message: the usual head, then what became of the report."""
    head = message_line(message, None, elapsed_ms).rsplit(" action=", 1)[0]
    message_log.info("%s action=report result=<%s> time=%.0fms", head, sanitize(result, 300),
                     elapsed_ms)


def log_message(message: Message, verdict: Verdict | None, elapsed_ms: float) -> None:
    message_log.info("%s", message_line(message, verdict, elapsed_ms))
