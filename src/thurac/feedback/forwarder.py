"""Spam reports on their way to the authority: a durable queue and a thread that hands each
report to the local relay (the MTA) by SMTP.

Why it is shaped so: `submit` is called on the milter's reply path, so it only hands the job
to memory and wakes the thread, which writes it to a JSON-lines journal before its first
attempt; a relay that is down, slow or refusing is the thread's problem alone. The relay does
the real delivery and its own retries, so ours cover the relay itself being away (restarted,
reloading, misconfigured): a failure is retried after `retry_first` seconds, doubling up to
`retry_max`, until the job is `max_age` seconds old or has had `max_attempts` attempts; then it
is dropped with one log line that says how to send it again. A 5xx reply is final at once, as
an MTA would bounce it. Every event is one line, `forward ID: … status=…`, for grep.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import logging
import os
import secrets
import smtplib
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from thurac.errors import ThuracError
from thurac.text import sanitize

log = logging.getLogger("thurac.forward")

QUEUE_FILE = "forward.jsonl"  # the journal, in the caller's queue directory
LOCK_FILE = "forward.lock"  # held by the one process that sends from the queue
MAX_ERROR = 300  # bytes of a relay's reply or an error kept in the journal and the log
COMPACT_SLACK = 1024 * 1024  # journal bytes beyond the live jobs' before it is rewritten
CLOSE_GRACE = 1.0  # seconds close() lets a conversation finish before cutting it


class ForwardError(ThuracError):
    """The forward queue cannot be used: its directory is unwritable, or another process
    sends from it."""


@dataclass(frozen=True, slots=True)
class ForwardSettings:
    """How reports are sent and retried; defaults for a relay on the same host."""

    timeout: float = 10.0  # seconds per SMTP connect or reply
    retry_first: float = 30.0  # seconds before the first retry; doubled after each failure
    retry_max: float = 1800.0  # longest wait between two attempts
    max_age: float = 5 * 86400.0  # seconds after queueing when a failing job is dropped
    max_attempts: int = 300  # attempts after which a failing job is dropped
    max_jobs: int = 1000  # jobs held at most; a job beyond is not queued (and logged)
    max_bytes: int = 64 * 1024 * 1024  # report bytes held at most (the journal is 4/3 of it)
    helo: str = ""  # our EHLO name; "" for the host name (no DNS lookup)

    def __post_init__(self) -> None:
        for name in ("timeout", "retry_first", "retry_max", "max_age"):
            if not getattr(self, name) > 0:
                raise ValueError(f"forward {name}: expected a number of seconds above 0")
        for name in ("max_attempts", "max_jobs", "max_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"forward {name}: expected a whole number above 0")


@dataclass(frozen=True, slots=True)
class ForwardJob:
    """One report to send: the message as it goes on the wire and its envelope. `id` names
    it in the log and in `thurac complaints forward ID` (made up when not given)."""

    message: bytes
    mail_from: str
    rcpt_to: tuple[str, ...]
    id: str = field(default_factory=lambda: secrets.token_hex(6))
    queued_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if isinstance(self.rcpt_to, str):  # one address, not its letters
            object.__setattr__(self, "rcpt_to", (self.rcpt_to,))
        else:
            object.__setattr__(self, "rcpt_to", tuple(self.rcpt_to))
        if not self.rcpt_to:
            raise ValueError(f"forward job {self.id}: no recipient")


@dataclass(slots=True)
class _Entry:
    """A queued job and its retry state (kept by the thread only)."""

    job: ForwardJob
    attempts: int = 0
    next_at: float = 0.0
    error: str = ""
    size: int = 0  # bytes of its journal line


@dataclass(frozen=True, slots=True)
class _Outcome:
    error: str | None  # None: the relay took it
    permanent: bool = False
    reply: str = ""


def parse_relay(relay: str) -> tuple[str, int]:
    """`host:port`, `[v6]:port`, `host` or `[v6]` (port 25) → (host, port); ValueError if not."""
    text = relay.strip()
    port = "25"
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"relay {relay!r}: expected host:port or [IPv6]:port")
        port = rest[1:] or port
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host = text
    bare_v6 = ":" in host and not text.startswith("[")
    if not host or bare_v6 or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"relay {relay!r}: expected host:port (e.g. 127.0.0.1:25)")
    return host, int(port)


class Forwarder:
    """Sends queued reports to `relay` (`host:port`) from a journal in `queue_dir`.

    `start=False` gives a forwarder for `send_now` alone (the CLI, beside a running daemon):
    no thread, and the queue is neither read nor locked. Raises ValueError for a bad relay and
    ForwardError when the queue directory cannot be used or another process sends from it.
    """

    def __init__(self, relay: str, queue_dir: Path | str,
                 settings: ForwardSettings | None = None, *, start: bool = True) -> None:
        self.relay = relay.strip()
        self._address = parse_relay(relay)
        self.settings = settings or ForwardSettings()
        self.path = Path(queue_dir) / QUEUE_FILE
        self._lock = threading.Lock()
        self._inbox: list[ForwardJob] = []  # submitted, not yet journalled
        self._ids: set[str] = set()  # every job held, journalled or not
        self._bytes = 0  # their message bytes
        self._cancelled: set[str] = set()  # sent by send_now: remove the queued copy
        self._smtp: smtplib.SMTP | None = None  # the thread's conversation, for close()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._entries: dict[str, _Entry] = {}
        self._file_bytes = 0
        self._journal_failing = False
        self._lock_file: Any = None
        self._thread: threading.Thread | None = None
        if not start:
            return
        self._take_lock(Path(queue_dir))
        self._load()
        self._thread = threading.Thread(target=self._run, name="thurac-forwarder", daemon=True)
        self._thread.start()

    # -- the caller's side ---------------------------------------------------------------

    def submit(self, job: ForwardJob) -> bool:
        """Queue `job` for sending; False (logged) when the queue is full or closed. Never
        blocks on the relay or the disk, never raises."""
        try:
            with self._lock:
                if self._thread is None or self._stop.is_set():
                    log.error("forward %s: not queued: the forwarder is not running",
                              _name(job.id))
                    return False
                if job.id in self._ids:
                    log.info("forward %s: already queued", _name(job.id))
                    return True
                size = len(job.message)
                if len(self._ids) >= self.settings.max_jobs or \
                        self._bytes + size > self.settings.max_bytes:
                    log.error("forward %s: not queued: queue full (%d jobs, %d bytes held; "
                              "limits %d jobs, %d bytes); send it later with thurac "
                              "complaints forward %s", _name(job.id), len(self._ids),
                              self._bytes, self.settings.max_jobs, self.settings.max_bytes,
                              _name(job.id))
                    return False
                self._ids.add(job.id)
                self._bytes += size
                self._inbox.append(job)
            self._wake.set()
            return True
        except Exception:  # the reply path must not see our trouble
            log.exception("forward %s: not queued: unexpected failure", _name(job.id))
            return False

    def send_now(self, job: ForwardJob) -> str | None:
        """Send `job` at once, whatever the queue holds (a manual resend); None when the relay
        took it, else the error. A queued copy of a job sent so is removed."""
        try:
            outcome = self._send(job, track=False)
        except Exception as exc:  # never raise into the command
            outcome = _Outcome(f"unexpected failure: {sanitize(str(exc), MAX_ERROR)}")
        rcpts = _rcpts(job)
        if outcome.error is None:
            log.info("forward %s: to=%s relay=%s manual status=sent (%s)", _name(job.id),
                     rcpts, self.relay, outcome.reply)
            with self._lock:
                if job.id in self._ids and self._thread is not None:
                    self._cancelled.add(job.id)
            self._wake.set()
            return None
        log.error("forward %s: to=%s relay=%s manual status=%s (%s)", _name(job.id), rcpts,
                  self.relay, "refused" if outcome.permanent else "failed", outcome.error)
        return outcome.error

    def pending(self) -> list[str]:
        """Ids of the jobs held (queued or being sent)."""
        with self._lock:
            return sorted(self._ids)

    def close(self, timeout: float = 10.0) -> bool:
        """Stop the thread (what was submitted is journalled first; a conversation that is not
        over within CLOSE_GRACE is cut); True if it stopped within `timeout` seconds."""
        if self._thread is None:
            return True
        with self._lock:
            self._stop.set()
        self._wake.set()
        started = time.monotonic()
        self._thread.join(min(CLOSE_GRACE, timeout))  # a relay that answers is done by then
        while self._thread.is_alive() and time.monotonic() - started < timeout:
            self._cut_conversation()
            self._thread.join(0.1)
        stopped = not self._thread.is_alive()
        if not stopped:
            log.error("forward: the sending thread did not stop within %.0fs", timeout)
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock
            self._lock_file = None
        return stopped

    def __enter__(self) -> Forwarder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                stopping = self._stop.is_set()  # set under the lock: no submit comes after
                self._take_inbox()
                if stopping:
                    return
                entry = self._next_due()
                if entry is None:
                    self._wake.wait(self._seconds_to_next())
                    self._wake.clear()
                    continue
                self._attempt(entry)
            except Exception:  # the thread must outlive any surprise
                log.exception("forward: unexpected failure in the sending thread")
                self._stop.wait(max(self.settings.retry_first, 0.1))

    def _take_inbox(self) -> None:
        """Journal what was submitted; drop what send_now delivered meanwhile."""
        with self._lock:
            jobs, self._inbox = self._inbox, []
            cancelled, self._cancelled = self._cancelled, set()
        for job in jobs:
            entry = _Entry(job)
            entry.size = self._journal([_job_record(job)])
            self._entries[job.id] = entry
            log.info("forward %s: queued to=%s size=%d", _name(job.id), _rcpts(job),
                     len(job.message))
        for job_id in cancelled:
            if job_id in self._entries:
                self._finish(self._entries[job_id], "sent-manually")
                log.info("forward %s: queued copy removed (sent manually)", _name(job_id))

    def _next_due(self) -> _Entry | None:
        now = time.time()
        due = [e for e in self._entries.values() if e.next_at <= now]
        return min(due, key=lambda e: (e.next_at, e.job.queued_at)) if due else None

    def _seconds_to_next(self) -> float | None:
        if not self._entries:
            return None
        return max(0.0, min(e.next_at for e in self._entries.values()) - time.time())

    def _attempt(self, entry: _Entry) -> None:
        job = entry.job
        outcome = self._send(job, track=True)
        if self._stop.is_set() and outcome.error is not None:
            return  # cut by close(): not the relay's failure; tried again after a restart
        entry.attempts += 1
        prefix = (f"forward {_name(job.id)}: to={_rcpts(job)} relay={self.relay} "
                  f"attempt={entry.attempts}")
        if outcome.error is None:
            self._finish(entry, "sent")
            log.info("%s status=sent (%s)", prefix, outcome.reply)
            return
        if outcome.permanent:
            self._finish(entry, "refused")
            log.error("%s status=refused (%s); dropped: resend with thurac complaints forward "
                      "%s once the relay accepts it", prefix, outcome.error, _name(job.id))
            return
        age = time.time() - job.queued_at
        if entry.attempts >= self.settings.max_attempts or age >= self.settings.max_age:
            self._finish(entry, "expired")
            log.error("%s status=expired (%s); dropped after %d attempt(s) in %.1f day(s): "
                      "resend with thurac complaints forward %s", prefix, outcome.error,
                      entry.attempts, age / 86400, _name(job.id))
            return
        delay = min(self.settings.retry_first * 2 ** (entry.attempts - 1),
                    self.settings.retry_max)
        entry.next_at = time.time() + delay
        entry.error = outcome.error
        self._journal([{"op": "try", "id": job.id, "attempts": entry.attempts,
                        "next_at": entry.next_at, "error": entry.error}])
        log.warning("%s status=deferred (%s); next attempt in %gs", prefix, outcome.error,
                    round(delay, 1))

    def _finish(self, entry: _Entry, outcome: str) -> None:
        job_id = entry.job.id
        self._entries.pop(job_id, None)
        with self._lock:
            self._ids.discard(job_id)
            self._bytes -= len(entry.job.message)
        self._journal([{"op": "done", "id": job_id, "outcome": outcome}])
        self._maybe_compact()

    # -- SMTP ----------------------------------------------------------------------------

    def _send(self, job: ForwardJob, *, track: bool) -> _Outcome:
        """One SMTP conversation with the relay; what it came to, never an exception."""
        host, port = self._address
        smtp = smtplib.SMTP(timeout=self.settings.timeout,
                            local_hostname=self.settings.helo or socket.gethostname())
        if track:
            with self._lock:
                self._smtp = smtp
        try:
            code, reply = smtp.connect(host, port)
            if code != 220:
                return _refusal(code, reply, "greeting")
            smtp.ehlo_or_helo_if_needed()
            options = []
            if not job.message.isascii() and smtp.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
            envelope = [job.mail_from, *job.rcpt_to]
            if not all(a.isascii() for a in envelope) and smtp.has_extn("smtputf8"):
                options.append("SMTPUTF8")
            code, reply = smtp.mail(job.mail_from, options)
            if code != 250:
                return _refusal(code, reply, f"MAIL FROM:<{job.mail_from}>")
            refused = {}
            for rcpt in job.rcpt_to:
                code, reply = smtp.rcpt(rcpt)
                if code not in (250, 251):
                    refused[rcpt] = (code, reply)
            if len(refused) == len(job.rcpt_to):
                said = "; ".join(f"<{r}>: {c} {_text(m)}" for r, (c, m) in refused.items())
                return _Outcome(sanitize(f"RCPT TO: {said}", MAX_ERROR),
                                permanent=all(c >= 500 for c, _ in refused.values()))
            code, reply = smtp.data(job.message)
            if code != 250:
                return _refusal(code, reply, "DATA")
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            said = _text(reply)
            if refused:  # the others have it: sending again would duplicate it for them
                said += "; refused " + "; ".join(f"<{r}>: {c} {_text(m)}"
                                                  for r, (c, m) in refused.items())
            return _Outcome(None, reply=sanitize(said, MAX_ERROR))
        except smtplib.SMTPResponseException as exc:  # EHLO, DATA's 354
            return _refusal(exc.smtp_code, exc.smtp_error, "relay said")
        except (OSError, smtplib.SMTPException) as exc:  # refused, timed out, cut
            return _Outcome(sanitize(f"{type(exc).__name__}: {exc}", MAX_ERROR))
        except Exception as exc:  # e.g. a non-ASCII address the relay cannot take
            return _Outcome(sanitize(f"{type(exc).__name__}: {exc}", MAX_ERROR), permanent=True)
        finally:
            if track:
                with self._lock:
                    self._smtp = None
            smtp.close()

    def _cut_conversation(self) -> None:
        """Shut the thread's socket so that a relay that answers nothing cannot hold close()."""
        with self._lock:
            sock = getattr(self._smtp, "sock", None) if self._smtp is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    # -- the journal ---------------------------------------------------------------------

    def _take_lock(self, directory: Path) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock_file = (directory / LOCK_FILE).open("a")
            os.close(_open(self.path, os.O_APPEND))
        except OSError as exc:
            raise ForwardError(f"forward queue {directory}: cannot write: "
                               f"{exc.strerror or exc} (queued reports live there; set a "
                               "writable directory)") from exc
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self._lock_file.close()
            self._lock_file = None
            raise ForwardError(f"forward queue {directory}: in use by another thurac process "
                               "(give each daemon its own queue directory)") from exc

    def _load(self) -> None:
        """The jobs a previous run left, then a journal of just them."""
        try:
            with self.path.open("rb") as lines:
                for number, line in enumerate(lines, 1):
                    try:
                        self._replay(json.loads(line))
                    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                        log.error("forward queue %s line %d unreadable, skipped: %s",
                                  self.path, number, sanitize(str(exc), MAX_ERROR))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ForwardError(f"forward queue {self.path}: cannot read: "
                               f"{exc.strerror or exc}") from exc
        for entry in self._entries.values():
            self._ids.add(entry.job.id)
            self._bytes += len(entry.job.message)
        if self._entries:
            log.info("forward: %d queued report(s) from %s", len(self._entries), self.path)
        self._compact()

    def _replay(self, record: dict[str, Any]) -> None:
        op, job_id = record["op"], str(record["id"])
        if op == "job":
            job = ForwardJob(message=base64.b64decode(record["message"], validate=True),
                             mail_from=str(record["mail_from"]),
                             rcpt_to=tuple(str(r) for r in record["rcpt_to"]), id=job_id,
                             queued_at=float(record["queued_at"]))
            self._entries[job_id] = _Entry(job)
        elif op == "try" and job_id in self._entries:
            entry = self._entries[job_id]  # next_at is not kept: a restart tries at once
            entry.attempts = int(record["attempts"])
            entry.error = str(record["error"])
        elif op == "done":
            self._entries.pop(job_id, None)

    def _journal(self, records: list[dict[str, Any]]) -> int:
        """Append `records`; their size in bytes. A disk error is logged once per outage: the
        jobs stay in memory and are sent all the same."""
        data = b"".join(json.dumps(r).encode("ascii") + b"\n" for r in records)
        try:
            with os.fdopen(_open(self.path, os.O_APPEND), "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            if not self._journal_failing:
                log.error("forward queue %s: cannot write: %s; queued reports are kept in "
                          "memory only until it can", self.path, exc.strerror or exc)
            self._journal_failing = True
            return len(data)
        if self._journal_failing:
            log.warning("forward queue %s: writable again", self.path)
            self._journal_failing = False
        self._file_bytes += len(data)
        return len(data)

    def _maybe_compact(self) -> None:
        live = sum(e.size for e in self._entries.values())
        if not self._entries or self._file_bytes > 2 * live + COMPACT_SLACK:
            self._compact()

    def _compact(self) -> None:
        """Rewrite the journal with the live jobs only (atomically: a crash keeps the old)."""
        records: list[dict[str, Any]] = []
        for entry in self._entries.values():
            job_line = _job_record(entry.job)
            records.append(job_line)
            entry.size = len(json.dumps(job_line)) + 1
            if entry.attempts:
                records.append({"op": "try", "id": entry.job.id, "attempts": entry.attempts,
                                "next_at": entry.next_at, "error": entry.error})
        data = b"".join(json.dumps(r).encode("ascii") + b"\n" for r in records)
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            with os.fdopen(_open(temporary, os.O_TRUNC), "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("forward queue %s: cannot rewrite: %s", self.path, exc.strerror or exc)
            return
        self._file_bytes = len(data)


def _open(path: Path, mode: int) -> int:
    """A journal file for writing, readable by us alone: it holds the users' reported mail."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | mode, 0o600)


def _job_record(job: ForwardJob) -> dict[str, Any]:
    return {"op": "job", "id": job.id, "mail_from": job.mail_from, "rcpt_to": list(job.rcpt_to),
            "queued_at": job.queued_at, "message": base64.b64encode(job.message).decode("ascii")}


def _refusal(code: int, reply: bytes | str, step: str) -> _Outcome:
    return _Outcome(sanitize(f"{step}: {code} {_text(reply)}", MAX_ERROR), permanent=code >= 500)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _name(job_id: str) -> str:
    return sanitize(job_id, 64) or "-"


def _rcpts(job: ForwardJob) -> str:
    return ",".join(f"<{sanitize(r, 320)}>" for r in job.rcpt_to)
