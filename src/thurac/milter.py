"""The milter adapter, the only importer of Milter: callbacks → Message; Verdict → actions."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import Milter

from thurac import metrics
from thurac.authresults import HEADER as AUTHRES_HEADER
from thurac.authresults import authentication_results, is_our_authres
from thurac.complaints import is_report
from thurac.headers import (
    OUR_HEADERS,
    REPORT_RESULT_HEADER,
    is_spam_header,
    removals,
    spam_headers,
)
from thurac.log import log_message, log_report
from thurac.message import Message, MessageBuilder, classify_direction, normalize_address
from thurac.outbound.answer import hold_reason, outbound_reply
from thurac.replies import reply_text
from thurac.scanner import Outcome, Scanner
from thurac.text import sanitize
from thurac.workers import VerdictWorkers

log = logging.getLogger("thurac.milter")

CONTINUE: int = Milter.CONTINUE
ACCEPT: int = Milter.ACCEPT
REJECT: int = Milter.REJECT
DISCARD: int = Milter.DISCARD
TEMPFAIL: int = Milter.TEMPFAIL

# What thurac asks the MTA to allow: add/change headers and quarantine (Postfix hold queue).
FLAGS = Milter.ADDHDRS | Milter.CHGHDRS | Milter.QUARANTINE
# Authentication-Results is prepended (index 0: top of the header), as OpenDKIM and
# OpenDMARC do: readers look for the topmost one, added by the last hop they trust. The
# X-Spam-* fields and the report follow it.
AUTHRES_INDEX = 0
# Header names whose inbound copies thurac may remove: every copy is kept for that, even
# past milter.max_headers (MessageBuilder.guarded).
GUARDED_NAMES = frozenset(name.lower() for name in (*OUR_HEADERS, AUTHRES_HEADER))


def _name_or_none(name: str | None) -> str | None:
    """Postfix says 'unknown' (or gives '[ip]') when the client has no verified name."""
    if not name or name == "unknown" or name.startswith("["):
        return None
    return name


# The hold reason names the symbols that weighed most, within Postfix's log line.
HOLD_SYMBOLS = 3
HOLD_REASON_MAX_BYTES = 200


class ThuracMilter(Milter.Base):  # type: ignore[misc]
    """One object per SMTP connection; message state starts afresh at every MAIL FROM."""

    def __init__(self, scanner: Scanner, workers: VerdictWorkers) -> None:
        self.scanner = scanner
        self.workers = workers
        milter_settings = scanner.settings.milter
        self.builder = MessageBuilder(max_headers=milter_settings.max_headers,
                                      max_body_bytes=milter_settings.max_body_bytes,
                                      guarded_names=GUARDED_NAMES)

    def _macro(self, *names: str) -> str | None:
        for name in names:
            value = self.getsymval(name)
            if value:
                return str(value)
        return None

    @Milter.noreply  # type: ignore[untyped-decorator]
    def connect(self, hostname: str, family: int, hostaddr: Any) -> int:
        # libmilter gives (ip, port[, ...]) for inet sockets; test harnesses give the bare ip.
        address = hostaddr[0] if isinstance(hostaddr, tuple) and hostaddr else hostaddr
        self.builder.client_ip = (
            str(address) if isinstance(address, str) and address else ""
        ) or self._macro("{client_addr}") or ""
        self.builder.client_name = _name_or_none(self._macro("{client_name}") or hostname)
        negotiated = getattr(self, "_protocol", 0)  # set by Milter.Base.negotiate
        self.builder.exact_header_values = bool(negotiated & Milter.P_HDR_LEADSPC)
        return CONTINUE

    @Milter.noreply  # type: ignore[untyped-decorator]
    def hello(self, heloname: str) -> int:
        self.builder.helo = heloname or ""
        self.builder.tls_version = self._macro("{tls_version}")
        return CONTINUE

    @Milter.noreply  # type: ignore[untyped-decorator]
    def envfrom(self, mailfrom: str, *esmtp: str) -> int:
        self.builder.reset_message()
        self.builder.sender = normalize_address(mailfrom)
        self.builder.auth_user = self._macro("{auth_authen}")
        self.builder.tls_version = self._macro("{tls_version}") or self.builder.tls_version
        return CONTINUE

    @Milter.noreply  # type: ignore[untyped-decorator]
    def envrcpt(self, to: str, *esmtp: str) -> int:
        self.builder.add_recipients([to])
        return CONTINUE

    @Milter.noreply  # type: ignore[untyped-decorator]
    def header(self, name: str, value: str) -> int:
        self.builder.add_header(name, value)
        return CONTINUE

    @Milter.noreply  # type: ignore[untyped-decorator]
    def body(self, chunk: bytes) -> int:
        self.builder.add_body(chunk)
        return CONTINUE

    def eom(self) -> int:
        started = time.monotonic()
        queue_id = self._macro("i", "{i}") or "NOQUEUE"
        timeout = self.scanner.verdict_timeout()
        direction: str = metrics.UNKNOWN_DIRECTION
        try:
            direction = classify_direction(self.builder.connection(),
                                           self.scanner.settings.local.internal_networks)
            message = self.builder.build(queue_id, direction, datetime.now(UTC))
            if is_report(message, self.scanner.settings):
                return self._report(message, timeout, started)
            # Off libmilter's thread (see workers.py); bounded, or on_error applies.
            outcome = self.workers.run(lambda: self.scanner.scan(message), timeout)
            result = (self._apply_outbound(outcome, queue_id) if direction == "outbound"
                      else self._apply(self.builder.guarded, outcome, queue_id))
        except TimeoutError:
            log.error("%s: no verdict within %.1fs; applying on_error=%s", queue_id, timeout,
                      self.scanner.settings.milter.on_error)
            return self._on_error(queue_id, "verdict timed out", direction, started)
        except Exception:
            log.exception("%s: internal error; applying on_error=%s", queue_id,
                          self.scanner.settings.milter.on_error)
            return self._on_error(queue_id, "internal error", direction, started)
        elapsed = time.monotonic() - started
        log_message(message, outcome.verdict, elapsed * 1000)
        metrics.message(direction, outcome.verdict, elapsed, self.scanner.settings)
        self._record(message, outcome)
        return result

    def _report(self, message: Message, timeout: float, started: float) -> int:
        """Mail to a report mailbox: never scored, never rejected; kept with the result
        header, or discarded (reports.deliver)."""
        intake = self.workers.run(lambda: self.scanner.report(message), timeout)
        log_report(message, intake.result, (time.monotonic() - started) * 1000)
        if self.scanner.settings.reports.deliver == "discard":
            return DISCARD
        for name, index in removals(self.builder.guarded, is_spam_header):
            self.chgheader(name, index, "")
        self._add_header(REPORT_RESULT_HEADER, intake.result, 0)
        return ACCEPT

    def _record(self, message: Any, outcome: Outcome) -> None:
        try:
            self.scanner.record(message, outcome)
        except Exception:
            log.exception("%s: could not queue the history record", message.queue_id)

    def _apply(self, headers: Sequence[tuple[str, str]], outcome: Outcome,
               queue_id: str) -> int:
        """`headers`: every inbound field of a name we may remove (MessageBuilder.guarded)."""
        verdict = outcome.verdict
        if verdict is None:
            return ACCEPT
        if verdict.action in ("reject", "tempfail"):
            text = reply_text(verdict, queue_id, self.scanner.settings.replies)
            if verdict.action == "reject":
                self.setreply("550", "5.7.1", text)
                return REJECT
            self.setreply("451", "4.7.1", text)
            return TEMPFAIL
        for name, index in removals(headers, is_spam_header):
            self.chgheader(name, index, "")
        # RFC 8601 5: an Authentication-Results claiming our authserv-id came from outside.
        authserv_id = self.scanner.settings.local.authserv_id
        for name, index in removals(
            headers, lambda name, value: is_our_authres(name, value, authserv_id)
        ):
            self.chgheader(name, index, "")
        ours = list(spam_headers(verdict))
        authres = authentication_results(outcome.auth, authserv_id)
        if authres is not None:
            ours.insert(0, (AUTHRES_HEADER, authres))
        # At the top, in this order: a field a sender makes the MTA fold further down (a
        # name over 998 octets) ends the header section for readers before anything below.
        for index, (name, value) in enumerate(ours, AUTHRES_INDEX):
            self._add_header(name, value, index)
        if verdict.action == "quarantine":
            names = ", ".join(s.name for s in verdict.top_symbols(HOLD_SYMBOLS))
            reason = f"thurac score {verdict.score:.1f}: {names}"
            self.quarantine(sanitize(reason, HOLD_REASON_MAX_BYTES))
        return ACCEPT

    def _apply_outbound(self, outcome: Outcome, queue_id: str) -> int:
        """Our own user's mail (outbound/answer.py): their client shows the reply; headers
        only with outbound.add_headers."""
        verdict = outcome.verdict
        if verdict is None:
            return ACCEPT
        reply = outbound_reply(verdict, queue_id, self.scanner.settings)
        if reply is not None:
            self.setreply(reply.code, reply.dsn, reply.text)
            return REJECT if reply.code.startswith("5") else TEMPFAIL
        if self.scanner.settings.outbound.add_headers:
            return self._apply(self.builder.guarded, outcome, queue_id)
        if verdict.action == "quarantine":
            self.quarantine(hold_reason(verdict))
        return ACCEPT

    def _add_header(self, name: str, value: str, index: int = -1) -> None:
        # With SMFIP_HDR_LEADSPC the MTA writes values as given: the space is ours to add.
        spaced = f" {value}" if self.builder.exact_header_values else value
        self.addheader(name, spaced, index)

    def _on_error(self, queue_id: str, why: str, direction: str, started: float) -> int:
        """thurac broke: never a 5xx, never a lost message."""
        on_error = self.scanner.settings.milter.on_error
        metrics.unscored(direction, on_error, time.monotonic() - started)
        if on_error == "tempfail":
            self.setreply("451", "4.7.1", "Temporary filter failure, try again later")
            return TEMPFAIL
        try:
            # Even unscored, the message must not keep a sender's forged verdict.
            for name, index in removals(self.builder.guarded, is_spam_header):
                self.chgheader(name, index, "")
            self._add_header("X-Thurac-Report", f"not scored: {why}")
        except Exception:
            log.exception("%s: could not fix the headers of an unscored message", queue_id)
        return ACCEPT


# Ask the MTA for header values with their leading whitespace (Postfix and Sendmail agree
# when they can): without it a DKIM c=simple signature over "Subject:x" cannot verify.
Milter.enable_protocols(ThuracMilter, Milter.P_HDR_LEADSPC)
