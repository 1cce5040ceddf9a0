"""A private, throw-away Postfix instance on loopback for end-to-end milter tests.

:class:`PrivatePostfix` writes its own ``main.cf``/``master.cf`` into a temp
directory (nothing is copied from or written to ``/etc/postfix``), starts a
separate master with ``postfix -c DIR start`` and routes *all* mail (local
domains and remote ones) to an SMTP sink on ``[127.0.0.1]:PORT`` so a test can
read what Postfix, and the milter in front of it, produced. Postfix logs into a
file in the temp directory via ``maillog_file`` + the ``postlog`` service, so no
syslog daemon is needed.

It never touches the system instance: separate config, queue and data
directories, a master that is identified by its ``MAIL_CONFIG`` environment
before anything is ever signalled, and only loopback listeners. Must run as
root (Postfix insists on it for ``postfix start``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from tests.support.net import free_port, wait_listening

POSTFIX = shutil.which("postfix", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/postfix"
POSTCONF = shutil.which("postconf", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/postconf"
POSTQUEUE = shutil.which("postqueue", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/postqueue"
POSTSUPER = shutil.which("postsuper", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/postsuper"
SENDMAIL = "/usr/sbin/sendmail"

#: Installation parameters copied from ``postconf -d`` so post-install/postfix-script
#: find the binaries; everything else in main.cf is written from scratch.
_INSTALL_PARAMS = (
    "command_directory",
    "daemon_directory",
    "meta_directory",
    "shlib_directory",
    "sendmail_path",
    "newaliases_path",
    "mailq_path",
    "manpage_directory",
    "html_directory",
    "readme_directory",
    "sample_directory",
    "mail_owner",
    "setgid_group",
)

_QUEUE_SUBDIRS = ("incoming", "active", "deferred", "hold")
_QUEUED_AS_RE = re.compile(r"queued as ([0-9A-Za-z]+)")
_KEEP_ENV = "THURAC_KEEP_POSTFIX"

MASTER_CF_TEMPLATE = """\
# Written by tests/support/postfix.py -- private test instance, no chroot anywhere.
# service    type  private unpriv chroot wakeup maxproc command
{listen}     inet  n       -      n      -      -       smtpd
pickup       unix  n       -      n      60     1       pickup
cleanup      unix  n       -      n      -      0       cleanup
qmgr         unix  n       -      n      300    1       qmgr
tlsmgr       unix  -       -      n      1000?  1       tlsmgr
rewrite      unix  -       -      n      -      -       trivial-rewrite
bounce       unix  -       -      n      -      0       bounce
defer        unix  -       -      n      -      0       bounce
trace        unix  -       -      n      -      0       bounce
verify       unix  -       -      n      -      1       verify
flush        unix  n       -      n      1000?  0       flush
proxymap     unix  -       -      n      -      -       proxymap
proxywrite   unix  -       -      n      -      1       proxymap
smtp         unix  -       -      n      -      -       smtp
relay        unix  -       -      n      -      -       smtp
showq        unix  n       -      n      -      -       showq
error        unix  -       -      n      -      -       error
retry        unix  -       -      n      -      -       error
discard      unix  -       -      n      -      -       discard
local        unix  -       n      n      -      -       local
virtual      unix  -       n      n      -      -       virtual
lmtp         unix  -       -      n      -      -       lmtp
anvil        unix  -       -      n      -      1       anvil
scache       unix  -       -      n      -      1       scache
postlog      unix-dgram n  -      n      -      1       postlogd
"""


class PostfixError(RuntimeError):
    """A Postfix command failed or the instance did not come up in time."""


@dataclass(frozen=True)
class SendResult:
    """Outcome of one SMTP transaction sent by :meth:`PrivatePostfix.send`.

    ``code``/``message`` are the last reply seen: the final DATA reply on
    success, otherwise the reply that ended the transaction. ``stage`` names
    that step (``connect``, ``helo``, ``xclient``, ``mail``, ``rcpt``,
    ``data``); ``code`` is 0 when the server just dropped the connection.
    """

    code: int
    message: str
    stage: str
    queue_id: str | None = None
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the message was accepted for delivery (2xx after DATA)."""
        return self.stage == "data" and 200 <= self.code < 300

    @property
    def temporary_failure(self) -> bool:
        """True for a 4xx reply."""
        return 400 <= self.code < 500

    @property
    def permanent_failure(self) -> bool:
        """True for a 5xx reply."""
        return 500 <= self.code < 600


def postfix_available() -> bool:
    """Return True when the Postfix binaries this harness needs are installed."""
    return all(os.access(p, os.X_OK) for p in (POSTFIX, POSTCONF, POSTSUPER))


def _xtext(value: str) -> str:
    """Encode ``value`` as RFC 3461 xtext (needed for XCLIENT attribute values)."""
    out = []
    for ch in value:
        if "!" <= ch <= "~" and ch not in "+=":
            out.append(ch)
        else:
            out.extend(f"+{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def _crlf(data: bytes) -> bytes:
    """Normalise bare LF / bare CR line endings to CRLF, as SMTP requires."""
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


def _clean_env() -> dict[str, str]:
    """Environment for Postfix commands, without inherited Postfix overrides."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MAIL_CONFIG", "MAIL_DEBUG", "MAIL_VERBOSE", "MAIL_LOGTAG")
    }
    env["LANG"] = "C"
    env["LC_ALL"] = "C"
    env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
    return env


class PrivatePostfix:
    """A private Postfix on ``127.0.0.1:<port>`` that relays everything to a sink.

    Typical use::

        with SmtpSink() as sink, PrivatePostfix(sink.port, milter="inet:127.0.0.1:8894") as pf:
            res = pf.send("a@remote.test", ["user@example.test"], raw_bytes)
            msg = sink.wait_for(lambda m: "user@example.test" in m.rcpt_tos)
    """

    def __init__(
        self,
        sink_port: int,
        *,
        local_domains: Iterable[str] = ("example.test",),
        milter: str | Sequence[str] | None = None,
        overrides: Mapping[str, str | None] | None = None,
        sink_host: str = "127.0.0.1",
        myhostname: str = "mx.example.test",
        mynetworks: str = "127.0.0.0/8",
        listen_host: str = "127.0.0.1",
        port: int | None = None,
        extra_master_cf: Sequence[str] = (),
        start_timeout: float = 30.0,
        keep_dir: bool | None = None,
        sasl_params: Mapping[str, str] | None = None,
    ) -> None:
        """Configure (but do not start) an instance.

        ``sink_port``/``sink_host``: where every message is delivered.
        ``local_domains``: put in ``mydestination``; accepted from anyone.
        Other domains are relayed for ``mynetworks`` clients only.
        ``milter``: e.g. ``"inet:127.0.0.1:8894"`` (or several); used for both
        smtpd and non-smtpd mail. ``overrides``: final say over main.cf
        (``None`` drops a parameter). ``keep_dir`` keeps the temp dir for
        debugging (default: env ``THURAC_KEEP_POSTFIX`` set). ``sasl_params``: SMTP
        AUTH for smtpd (tests/support/sasl.py ``DovecotAuth.postfix_params()``).
        """
        self.sink_host = sink_host
        self.sink_port = sink_port
        self.local_domains = [d.strip().lower() for d in local_domains if d.strip()]
        if isinstance(milter, str):
            self.milters: list[str] = [milter]
        else:
            self.milters = list(milter or [])
        self.overrides: dict[str, str | None] = dict(overrides or {})
        self.sasl_params: dict[str, str] = dict(sasl_params or {})
        self.myhostname = myhostname
        self.mynetworks = mynetworks
        self.host = listen_host
        self._fixed_port = port
        self.port = port or 0
        self.extra_master_cf = list(extra_master_cf)
        self.start_timeout = start_timeout
        self.keep_dir = bool(os.environ.get(_KEEP_ENV)) if keep_dir is None else keep_dir
        self.root: Path | None = None
        self._started = False

    # -- paths ---------------------------------------------------------------

    def _path(self, *parts: str) -> Path:
        if self.root is None:
            raise PostfixError("instance has no directory yet (call start())")
        return self.root.joinpath(*parts)

    @property
    def config_dir(self) -> Path:
        """The private ``config_directory`` (main.cf, master.cf)."""
        return self._path("etc")

    @property
    def queue_dir(self) -> Path:
        """The private ``queue_directory``."""
        return self._path("spool")

    @property
    def data_dir(self) -> Path:
        """The private ``data_directory`` (master.lock, caches)."""
        return self._path("lib")

    @property
    def log_path(self) -> Path:
        """The ``maillog_file`` written by postlogd."""
        return self._path("maillog")

    @property
    def nexthop(self) -> str:
        """The sink as a Postfix nexthop, e.g. ``[127.0.0.1]:2525``."""
        return f"[{self.sink_host}]:{self.sink_port}"

    # -- configuration ------------------------------------------------------

    def main_cf_params(self) -> dict[str, str]:
        """Return the main.cf parameters this instance will use (overrides applied)."""
        assert self.root is not None
        relay = f"smtp:{self.nexthop}"
        params: dict[str, str] = _postconf_defaults(_INSTALL_PARAMS)
        params.update(
            {
                "compatibility_level": "3.6",
                "config_directory": str(self.config_dir),
                "queue_directory": str(self.queue_dir),
                "data_directory": str(self.data_dir),
                # Logging to a file through postlogd; no syslog needed.
                "maillog_file": str(self.log_path),
                "maillog_file_prefixes": str(self.root),
                "syslog_name": "postfix",
                # Identity and network.
                "myhostname": self.myhostname,
                "mydomain": self.myhostname.partition(".")[2] or self.myhostname,
                "myorigin": "$myhostname",
                "mydestination": ", ".join(self.local_domains),
                "inet_interfaces": self.host,
                "inet_protocols": "ipv4",
                "mynetworks": self.mynetworks,
                "relay_domains": "",
                "smtpd_banner": "$myhostname ESMTP",
                "biff": "no",
                "append_dot_mydomain": "no",
                "readme_directory": "no",
                # Everything, local or remote, goes to the sink.
                "local_transport": relay,
                "default_transport": relay,
                "relay_transport": relay,
                "virtual_transport": relay,
                "relayhost": "",
                "transport_maps": "",
                "local_recipient_maps": "",
                "alias_maps": "",
                "alias_database": "",
                # No DNS anywhere.
                "smtp_dns_support_level": "disabled",
                "smtp_host_lookup": "native",
                "lmtp_host_lookup": "native",
                "smtpd_peername_lookup": "no",
                # Minimal policy: local domains from anyone, relay from mynetworks.
                "smtpd_relay_restrictions": (
                    "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"
                ),
                "smtpd_recipient_restrictions": "",
                "smtpd_client_restrictions": "",
                "smtpd_helo_restrictions": "",
                "smtpd_sender_restrictions": "",
                "smtpd_authorized_xclient_hosts": "127.0.0.0/8",
                "smtpd_error_sleep_time": "0s",
                "smtpd_client_port_logging": "yes",
                "smtpd_tls_security_level": "none",
                "smtp_tls_security_level": "none",
                "smtpd_sasl_auth_enable": "no",
                "smtp_sasl_auth_enable": "no",
                # Fast, bounded retries so deferred mail is re-tried within a test.
                "queue_run_delay": "1s",
                "minimal_backoff_time": "1s",
                "maximal_backoff_time": "5s",
                "smtp_connect_timeout": "5s",
                "smtp_connection_cache_on_demand": "no",
                "delay_warning_time": "0h",
                "in_flow_delay": "0s",
                # Milter plumbing (harmless when no milter is configured).
                "milter_protocol": "6",
                "milter_default_action": "accept",
                "milter_connect_timeout": "10s",
                "milter_command_timeout": "15s",
                "milter_content_timeout": "30s",
                # Macros: Postfix defaults on purpose, as the README promises they suffice.
            }
        )
        params.update(self.sasl_params)
        if self.milters:
            params["smtpd_milters"] = ", ".join(self.milters)
            params["non_smtpd_milters"] = ", ".join(self.milters)
        for name, value in self.overrides.items():
            if value is None:
                params.pop(name, None)
            else:
                params[name] = value
        return params

    def _write_config(self) -> None:
        """Write main.cf and master.cf from scratch into ``config_dir``."""
        lines = ["# Written by tests/support/postfix.py -- private test instance."]
        for name, value in self.main_cf_params().items():
            if "\n" in value:
                raise ValueError(f"main.cf value for {name!r} must be a single line")
            lines.append(f"{name} = {value}")
        (self.config_dir / "main.cf").write_text("\n".join(lines) + "\n")
        master = MASTER_CF_TEMPLATE.format(listen=f"{self.host}:{self.port}")
        if self.extra_master_cf:
            master += "\n".join(self.extra_master_cf) + "\n"
        (self.config_dir / "master.cf").write_text(master)
        for name in ("main.cf", "master.cf"):
            (self.config_dir / name).chmod(0o644)

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> PrivatePostfix:
        """Create the directories, ``postfix check`` and ``postfix start``; wait for SMTP."""
        if self._started:
            return self
        if os.geteuid() != 0:
            raise PostfixError("PrivatePostfix must run as root")
        self.root = Path(tempfile.mkdtemp(prefix="thurac-postfix-"))
        # Postfix daemons run as the postfix user and must traverse the tree.
        self.root.chmod(0o755)
        self.config_dir.mkdir(mode=0o755)
        self.queue_dir.mkdir(mode=0o755)
        attempts = 1 if self._fixed_port else 3
        try:
            for attempt in range(attempts):
                self.port = self._fixed_port or free_port(self.host)
                self._write_config()
                if attempt == 0:
                    self._run([POSTFIX, "-c", str(self.config_dir), "check"], timeout=60)
                try:
                    self._run([POSTFIX, "-c", str(self.config_dir), "start"], timeout=60)
                except PostfixError:
                    # Most likely the port was grabbed by someone else; retry.
                    if attempt + 1 >= attempts:
                        raise
                    self._terminate()
                    continue
                self._started = True
                break
            # master binds the smtpd socket before "postfix start" returns (master -w);
            # check LISTEN state without connecting so a milter sees no probe session.
            wait_listening(self.host, self.port, timeout=self.start_timeout)
        except BaseException as exc:
            tail = "\n".join(self.log_lines()[-30:])
            self.stop()
            if isinstance(exc, Exception) and not isinstance(exc, PostfixError):
                raise PostfixError(f"private postfix failed to start: {exc}\n{tail}") from exc
            raise
        return self

    def stop(self) -> None:
        """Stop this instance only (``stop``, then ``abort``, then SIGKILL) and clean up."""
        try:
            if self.root is not None and (self.queue_dir / "pid" / "master.pid").exists():
                self._terminate()
        finally:
            self._started = False
            if self.root is not None and not self.keep_dir:
                self._rmtree(self.root)
                self.root = None

    def _terminate(self) -> None:
        """Bring our master and all its children down with bounded waits."""
        cfg = str(self.config_dir)
        with contextlib.suppress(PostfixError, subprocess.TimeoutExpired):
            self._run([POSTFIX, "-c", cfg, "stop"], timeout=20, check=False)
        if self._own_pids():
            with contextlib.suppress(PostfixError, subprocess.TimeoutExpired):
                self._run([POSTFIX, "-c", cfg, "abort"], timeout=10, check=False)
        deadline = time.monotonic() + 10.0
        while self._own_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self._own_pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while self._own_pids() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _own_pids(self) -> list[int]:
        """PIDs of processes whose environment says ``MAIL_CONFIG=<our config dir>``.

        Postfix keeps MAIL_CONFIG in every daemon's environment
        (``import_environment``), so this finds exactly this instance's master
        and children and never the system Postfix.
        """
        if self.root is None:
            return []
        needle = f"MAIL_CONFIG={self.config_dir}".encode()
        pids = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/environ", "rb") as fh:
                    env = fh.read().split(b"\0")
            except OSError:
                continue
            if needle in env and int(entry.name) != os.getpid():
                pids.append(int(entry.name))
        return pids

    @staticmethod
    def _rmtree(path: Path) -> None:
        """Remove ``path``, retrying briefly while exiting daemons close files."""
        deadline = time.monotonic() + 5.0
        while True:
            try:
                shutil.rmtree(path)
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() >= deadline:
                    shutil.rmtree(path, ignore_errors=True)
                    return
                time.sleep(0.1)

    def __enter__(self) -> PrivatePostfix:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reload(self, overrides: Mapping[str, str | None] | None = None) -> None:
        """Merge ``overrides`` into main.cf, rewrite it and ``postfix reload``.

        Note: already running smtpd processes finish their current session with
        the old settings; new connections see the new ones.
        """
        if overrides:
            self.overrides.update(overrides)
        self._write_config()
        self._run([POSTFIX, "-c", str(self.config_dir), "reload"], timeout=30)

    # -- commands ------------------------------------------------------------

    def _run(
        self,
        argv: Sequence[str],
        *,
        timeout: float = 30.0,
        check: bool = True,
        data: bytes | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a Postfix command with a clean environment and a hard timeout."""
        proc = subprocess.run(
            list(argv),
            input=data,
            capture_output=True,
            timeout=timeout,
            env=_clean_env(),
            check=False,
        )
        if check and proc.returncode != 0:
            raise PostfixError(
                f"{' '.join(argv)} exited {proc.returncode}\n"
                f"stdout: {proc.stdout.decode(errors='replace')}\n"
                f"stderr: {proc.stderr.decode(errors='replace')}\n"
                + "\n".join(self.log_lines()[-20:])
            )
        return proc

    def postconf(self, name: str) -> str:
        """Return the effective value of main.cf parameter ``name`` (``postconf -h``)."""
        proc = self._run([POSTCONF, "-c", str(self.config_dir), "-h", name], timeout=15)
        return proc.stdout.decode().strip()

    def postsuper(self, *args: str) -> str:
        """Run ``postsuper -c DIR ARGS`` (e.g. ``"-H", qid`` to release from hold)."""
        proc = self._run([POSTSUPER, "-c", str(self.config_dir), *args], timeout=30)
        return (proc.stdout + proc.stderr).decode(errors="replace")

    def flush(self) -> None:
        """Ask the queue manager to retry deferred mail now (``postqueue -f``)."""
        self._run([POSTQUEUE, "-c", str(self.config_dir), "-f"], timeout=30)

    def queue_json(self) -> list[dict[str, object]]:
        """Return ``postqueue -j`` records (queue_name, queue_id, sender, recipients...)."""
        proc = self._run([POSTQUEUE, "-c", str(self.config_dir), "-j"], timeout=30)
        return [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]

    # -- queue inspection ----------------------------------------------------

    def _queue_files(self, subdirs: Iterable[str]) -> list[str]:
        ids: list[str] = []
        for sub in subdirs:
            for _dirpath, _dirs, files in os.walk(self.queue_dir / sub):
                ids.extend(files)
        return sorted(ids)

    def hold_queue(self) -> list[str]:
        """Queue IDs currently in the hold queue (read straight from ``DIR/hold``)."""
        return self._queue_files(["hold"])

    def queue_ids(self, include_hold: bool = True) -> list[str]:
        """Queue IDs in incoming/active/deferred (and hold unless excluded)."""
        subs = [s for s in _QUEUE_SUBDIRS if include_hold or s != "hold"]
        return self._queue_files(subs)

    def wait_queue_empty(self, timeout: float = 15.0, include_hold: bool = False) -> None:
        """Wait until nothing is waiting for delivery; raises ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.queue_ids(include_hold=include_hold)
            if not left:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"queue not empty after {timeout}s: {left}")
            time.sleep(0.05)

    def wait_hold(self, queue_id: str, timeout: float = 15.0) -> None:
        """Wait until ``queue_id`` shows up in the hold queue."""
        deadline = time.monotonic() + timeout
        while queue_id not in self.hold_queue():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{queue_id} not in hold queue after {timeout}s")
            time.sleep(0.05)

    # -- logging -------------------------------------------------------------

    def log_lines(self) -> list[str]:
        """All lines Postfix logged so far (empty list if the log does not exist yet)."""
        if self.root is None:
            return []
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def wait_for_log(
        self, pattern: str | re.Pattern[str], timeout: float = 15.0, start: int = 0
    ) -> str:
        """Return the first log line (from index ``start``) matching ``pattern``.

        Raises ``TimeoutError`` with the log tail when nothing matches in time.
        """
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            lines = self.log_lines()
            for line in lines[start:]:
                if regex.search(line):
                    return line
            if time.monotonic() >= deadline:
                tail = "\n".join(lines[-20:])
                raise TimeoutError(f"no log line matching {regex.pattern!r}; tail:\n{tail}")
            time.sleep(0.05)

    # -- sending -------------------------------------------------------------

    def send(
        self,
        mail_from: str,
        rcpts: Sequence[str],
        data: bytes,
        source_ip: str = "127.0.0.1",
        helo: str = "client.example.net",
        *,
        xclient: Mapping[str, str] | None = None,
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
        timeout: float = 60.0,
        normalize_eol: bool = True,
        auth: tuple[str, str] | None = None,
    ) -> SendResult:
        """Submit one message over SMTP from ``source_ip`` and report how it went.

        Never raises for SMTP-level failures: rejected MAIL/RCPT/DATA, or a
        dropped connection, come back as a :class:`SendResult`. ``xclient``
        (e.g. ``{"ADDR": "203.0.113.9", "NAME": "mx.remote.test"}``) makes
        Postfix and the milter see a non-loopback client. ``data`` gets CRLF
        line endings unless ``normalize_eol`` is False. ``auth``: (login, password) for
        SMTP AUTH (the instance needs ``sasl_params``).
        """
        if not self._started:
            raise PostfixError("instance not started")
        payload = _crlf(data) if normalize_eol else data
        stage = "connect"
        refused: dict[str, tuple[int, str]] = {}
        smtp: smtplib.SMTP | None = None
        try:
            smtp = smtplib.SMTP(
                self.host,
                self.port,
                local_hostname=helo,
                timeout=timeout,
                source_address=(source_ip, 0),
            )
            stage = "helo"
            code, msg = smtp.ehlo(helo)
            if code != 250:
                return SendResult(code, msg.decode(errors="replace"), stage)
            if xclient:
                stage = "xclient"
                attrs = " ".join(f"{k.upper()}={_xtext(v)}" for k, v in xclient.items())
                code, msg = smtp.docmd("XCLIENT", attrs)
                if code != 220:
                    return SendResult(code, msg.decode(errors="replace"), stage)
                stage = "helo"
                code, msg = smtp.ehlo(helo)
                if code != 250:
                    return SendResult(code, msg.decode(errors="replace"), stage)
            if auth:
                stage = "auth"
                code, msg = smtp.login(*auth)
                if code != 235:
                    return SendResult(code, msg.decode(errors="replace"), stage)
            stage = "mail"
            code, msg = smtp.mail(mail_from, list(mail_options))
            if code != 250:
                return SendResult(code, msg.decode(errors="replace"), stage)
            stage = "rcpt"
            last: tuple[int, bytes] = (0, b"no recipients given")
            for rcpt in rcpts:
                code, msg = smtp.rcpt(rcpt, list(rcpt_options))
                last = (code, msg)
                if code not in (250, 251):
                    refused[rcpt] = (code, msg.decode(errors="replace"))
            if len(refused) == len(rcpts):
                return SendResult(last[0], last[1].decode(errors="replace"), stage, None, refused)
            stage = "data"
            code, msg = smtp.data(payload)
            text = msg.decode(errors="replace")
            match = _QUEUED_AS_RE.search(text) if 200 <= code < 300 else None
            return SendResult(code, text, stage, match.group(1) if match else None, refused)
        except smtplib.SMTPResponseException as exc:
            err = exc.smtp_error
            text = err.decode(errors="replace") if isinstance(err, bytes) else str(err)
            return SendResult(exc.smtp_code, text, stage, None, refused)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            # Dropped connection, refused connect or socket timeout: no SMTP code.
            return SendResult(0, f"{type(exc).__name__}: {exc}", stage, None, refused)
        finally:
            if smtp is not None:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    smtp.quit()
                with contextlib.suppress(OSError):
                    smtp.close()

    def sendmail(
        self, mail_from: str, rcpts: Sequence[str], data: bytes, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[bytes]:
        """Inject via ``sendmail -C DIR`` (the pickup path, i.e. ``non_smtpd_milters``)."""
        return self._run(
            [SENDMAIL, "-C", str(self.config_dir), "-i", "-f", mail_from, "--", *rcpts],
            data=data,
            timeout=timeout,
        )


_DEFAULTS_CACHE: dict[str, str] = {}


def _postconf_defaults(names: Sequence[str]) -> dict[str, str]:
    """Return Postfix's compiled-in defaults for ``names`` (one ``postconf -d`` call, cached)."""
    missing = [n for n in names if n not in _DEFAULTS_CACHE]
    if missing:
        proc = subprocess.run(
            [POSTCONF, "-d", *missing],
            capture_output=True,
            timeout=15,
            env=_clean_env(),
            check=True,
        )
        for line in proc.stdout.decode().splitlines():
            name, sep, value = line.partition(" = ")
            if sep:
                _DEFAULTS_CACHE[name.strip()] = value.strip()
            elif line.endswith(" ="):
                _DEFAULTS_CACHE[line[:-2].strip()] = ""
    return {n: _DEFAULTS_CACHE[n] for n in names}
