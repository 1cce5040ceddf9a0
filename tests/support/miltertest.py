"""Sendmail's side of the milter protocol, played by miltertest(8) (Debian package miltertest,
OpenDKIM's milter test client), for tests that cannot install Sendmail next to Postfix.

A `SendmailSession` is one SMTP session as Sendmail hands it to a milter: its option
negotiation offer, its macro names at each stage (`j`, `_`, `{daemon_name}` at connect,
`{tls_version}` at HELO, `i`, `{auth_authen}`, `{mail_addr}` at MAIL, `{rcpt_addr}` at RCPT)
and its header-value form. `run_session` writes it as a Lua table and runs
tests/integration/miltertest/sendmail_session.lua on it; the result says what the milter
answered and which header fields it added, inserted or deleted at end of message.
"""

from __future__ import annotations

import re
import secrets
import shutil
import string
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "integration" / "miltertest" / "sendmail_session.lua"
RUN_TIMEOUT = 90.0  # seconds for one miltertest run (each reply waits at most `timeout`)

# libmilter/mfdef.h
SMFI_PROT_VERSION = 6
SMFI_CURR_ACTS = 0x000001FF
SMFI_CURR_PROT = 0x001FFFFF
SMFIP_HDR_LEADSPC = 0x00100000

# The headers thurac adds at end of message.
THURAC_HEADERS = ("Authentication-Results", "X-Spam-Flag", "X-Spam-Score", "X-Spam-Status",
                  "X-Thurac-Report")

_QUEUE_ID_CHARS = string.ascii_letters + string.digits


def miltertest_path() -> str | None:
    return shutil.which("miltertest")


def miltertest_version() -> str:
    """`miltertest -V`, e.g. 'miltertest: OpenDKIM milter test facility v1.6.0'."""
    path = miltertest_path()
    if path is None:
        return "miltertest not installed"
    done = subprocess.run([path, "-V"], capture_output=True, text=True, timeout=10)
    return (done.stdout or done.stderr).strip()


def sendmail_queue_id() -> str:
    """A queue id shaped like Sendmail's (8 letters and digits, then 6 digits)."""
    head = "".join(secrets.choice(_QUEUE_ID_CHARS) for _ in range(8))
    return f"{head}{secrets.randbelow(1_000_000):06d}"


@dataclass(frozen=True)
class Offer:
    """What the MTA offers at option negotiation (SMFIC_OPTNEG)."""

    version: int = SMFI_PROT_VERSION
    protocol: int = SMFI_CURR_PROT
    actions: int = SMFI_CURR_ACTS

    @property
    def leading_space(self) -> bool:
        return bool(self.protocol & SMFIP_HDR_LEADSPC)


# Sendmail without SMFIP_HDR_LEADSPC (8.13 and older, or any MTA that does not offer it):
# header values reach the milter without the space after the colon, and Sendmail writes
# "Name: " + value for every header the milter adds.
SENDMAIL_WITHOUT_LEADSPC = Offer(protocol=SMFI_CURR_PROT & ~SMFIP_HDR_LEADSPC)
# Sendmail 8.14 and later offers SMFI_CURR_PROT, SMFIP_HDR_LEADSPC included (milter.c,
# milter_negotiate); a milter that takes it gets and gives values exactly as they stand
# after the colon.
SENDMAIL_WITH_LEADSPC = Offer()


def macro_list(macros: Mapping[str, str]) -> list[str]:
    """{"i": "Q1", ...} → ["i", "Q1", ...] as mt.macro takes them."""
    return [item for pair in macros.items() for item in pair]


def sendmail_value(raw_value: str, offer: Offer) -> str:
    """A header value as Sendmail passes it to the milter: the one space after the colon is
    dropped unless SMFIP_HDR_LEADSPC was negotiated."""
    if not offer.leading_space and raw_value.startswith(" "):
        return raw_value[1:]
    return raw_value


def sendmail_line(name: str, value: str, offer: Offer) -> str:
    """The header line Sendmail writes for a value the milter added (it puts the space after
    the colon itself when SMFIP_HDR_LEADSPC was not negotiated)."""
    return f"{name}:{value}" if offer.leading_space else f"{name}: {value}"


def value_problems(value: str, offer: Offer) -> list[str]:
    """Why an added header value would not make a clean header line through this MTA."""
    problems: list[str] = []
    first, *rest = value.split("\n")
    if not value.strip():
        problems.append(f"empty value: {value!r}")
    elif offer.leading_space:
        if not first.startswith(" ") or first.startswith("  ") or first[1:2] in ("", "\t"):
            problems.append(f"value must start with exactly one space: {first[:40]!r}")
    elif first[:1] in ("", " ", "\t"):
        problems.append(f"value starts with whitespace (Sendmail adds its own space, "
                        f"giving a double space): {first[:40]!r}")
    if "\r" in value:
        problems.append("CR inside the value (libmilter values use bare LF between lines)")
    for line in [first, *rest]:
        if line != line.rstrip():
            problems.append(f"trailing whitespace on line {line[:40]!r}")
    for line in rest:
        if line[:1] not in (" ", "\t") or not line.strip():
            problems.append(f"continuation line not folded with leading whitespace: {line!r}")
    if any(ord(c) < 32 and c not in "\t\n" for c in value) or "\x7f" in value:
        problems.append("control character in the value")
    return problems


@dataclass
class SendmailMessage:
    """One transaction of the session, with the macros Sendmail sends along."""

    sender: str  # envelope sender without brackets ("" for the null sender)
    rcpts: Sequence[str]
    headers: Sequence[tuple[str, str]]  # values in Sendmail's form (see sendmail_value)
    body: str = "Hello.\r\n"
    queue_id: str = field(default_factory=sendmail_queue_id)
    auth_user: str | None = None  # {auth_authen} after SMTP AUTH
    local_domains: Sequence[str] = ()  # recipients here get {rcpt_mailer}=local
    expect: Mapping[str, Any] = field(default_factory=dict)

    def mail_macros(self) -> dict[str, str]:
        """Sendmail's default Milter.macros.envfrom: i, {auth_type}, {auth_authen},
        {auth_ssf}, {auth_author}, {mail_mailer}, {mail_host}, {mail_addr}."""
        macros = {"i": self.queue_id}
        if self.auth_user is not None:
            macros.update({"{auth_type}": "PLAIN", "{auth_authen}": self.auth_user,
                           "{auth_ssf}": "0"})
        domain = self.sender.rpartition("@")[2]
        macros.update({"{mail_mailer}": "esmtp" if self.sender else "local",
                       "{mail_host}": domain, "{mail_addr}": self.sender})
        return macros

    def rcpt_macros(self, rcpt: str) -> dict[str, str]:
        """Sendmail's default Milter.macros.envrcpt: {rcpt_mailer}, {rcpt_host}, {rcpt_addr}
        (a local user's address is its local part, delivered by the local mailer)."""
        user, _, domain = rcpt.rpartition("@")
        if any(domain == d or domain.endswith(f".{d}") for d in self.local_domains):
            return {"{rcpt_mailer}": "local", "{rcpt_host}": "", "{rcpt_addr}": user}
        return {"{rcpt_mailer}": "esmtp", "{rcpt_host}": domain, "{rcpt_addr}": rcpt}

    def to_table(self) -> dict[str, Any]:
        return {
            "mail_macros": macro_list(self.mail_macros()),
            "from": f"<{self.sender}>",
            "rcpts": [{"addr": f"<{r}>", "macros": macro_list(self.rcpt_macros(r))}
                      for r in self.rcpts],
            "headers": [[name, value] for name, value in self.headers],
            "body": self.body,
            "expect": dict(self.expect),
        }


@dataclass
class SendmailSession:
    """One SMTP session: connection, HELO and one or more messages over one milter link."""

    socket: str  # inet:PORT@HOST, as in INPUT_MAIL_FILTER(`thurac', `S=inet:8894@127.0.0.1')
    client_ip: str  # "unspec": no address (SMFIA_UNKNOWN), as for `sendmail -bs`
    client_host: str  # Sendmail's name for the client; "[ip]" when it has none
    helo: str
    messages: list[SendmailMessage]
    offer: Offer = SENDMAIL_WITHOUT_LEADSPC
    tls_version: str | None = None  # {tls_version} at HELO after STARTTLS
    mta_host: str = "mx.example.test"  # $j
    extra_connect_macros: Mapping[str, str] = field(default_factory=dict)
    watch: Sequence[str] = THURAC_HEADERS
    reply_timeout: int = 30  # seconds miltertest waits for each reply

    def connect_macros(self) -> dict[str, str]:
        """Sendmail's default Milter.macros.connect: j, _, {daemon_name}, {if_name},
        {if_addr}; `_` reads "name [ip]"."""
        name = "" if self.client_host.startswith("[") else f"{self.client_host} "
        who = "localhost" if self.client_ip == "unspec" else f"{name}[{self.client_ip}]"
        macros = {"j": self.mta_host, "_": who,
                  "{daemon_name}": "MTA", "{if_name}": self.mta_host, "{if_addr}": "192.0.2.25"}
        macros.update(self.extra_connect_macros)
        return macros

    def helo_macros(self) -> dict[str, str]:
        """Sendmail's default Milter.macros.helo: {tls_version}, {cipher}, {cipher_bits},
        {cert_subject}, {cert_issuer}; only defined ones are sent."""
        if self.tls_version is None:
            return {}
        return {"{tls_version}": self.tls_version, "{cipher}": "TLS_AES_256_GCM_SHA384",
                "{cipher_bits}": "256"}

    def to_lua(self) -> str:
        table = {
            "socket": self.socket,
            "timeout": self.reply_timeout,
            "offer": {"version": self.offer.version, "protocol": self.offer.protocol,
                      "actions": self.offer.actions},
            "connect": {"host": self.client_host, "ip": self.client_ip,
                        "macros": macro_list(self.connect_macros())},
            "helo": {"name": self.helo, "macros": macro_list(self.helo_macros())},
            "messages": [m.to_table() for m in self.messages],
            "watch": list(self.watch),
        }
        return "-- written by tests/support/miltertest.py\nreturn " + lua_literal(table) + "\n"


def lua_literal(value: Any) -> str:
    """A Lua expression for a str, int, bool, None, list/tuple or str-keyed mapping."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        out = [chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:03d}"
               for b in value.encode("utf-8", "surrogateescape")]
        return '"' + "".join(out) + '"'
    if isinstance(value, Mapping):
        items = [f"[{lua_literal(str(k))}] = {lua_literal(v)}" for k, v in value.items()]
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    raise TypeError(f"no Lua literal for {type(value).__name__}")


def _unescape(text: str) -> str:
    return re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1))), text)


@dataclass(frozen=True)
class AddedHeader:
    how: str  # "add" (SMFIR_ADDHEADER), "insert@0" or "insert" (SMFIR_INSHEADER)
    name: str
    value: str


@dataclass
class MessageResult:
    """What the milter did at the end of one message."""

    reply: str = ""  # SMFIR letter: a accept, c continue, r reject, t tempfail, y reply code
    headers: list[AddedHeader] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    quarantined: bool = False
    smtpreply: bool | None = None
    done: bool = False

    def values(self, name: str) -> list[str]:
        return [h.value for h in self.headers if h.name.lower() == name.lower()]

    def value(self, name: str) -> str:
        values = self.values(name)
        assert len(values) == 1, f"{name}: expected one added value, got {values!r}"
        return values[0]

    def header(self, name: str) -> AddedHeader:
        found = [h for h in self.headers if h.name.lower() == name.lower()]
        assert len(found) == 1, f"{name}: expected one added header, got {found!r}"
        return found[0]


@dataclass
class MilterTestRun:
    """One miltertest run: exit status, output, and the parsed observations."""

    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    negotiated: dict[str, bool] = field(default_factory=dict)
    messages: dict[int, MessageResult] = field(default_factory=dict)

    def message(self, n: int) -> MessageResult:
        assert n in self.messages, f"no result for message {n}:\n{self.explain()}"
        return self.messages[n]

    def explain(self) -> str:
        return (f"$ {' '.join(self.command)}\nexit status {self.returncode}\n"
                f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}")


def parse_output(run: MilterTestRun) -> None:
    for line in run.stdout.splitlines():
        parts = line.split(" ", 4)
        if len(parts) < 3 or parts[0] != "MT":
            continue
        n, what = int(parts[1]), parts[2]
        if n == 0 and what == "negotiated":
            for item in line.split()[3:]:
                key, _, flag = item.partition("=")
                run.negotiated[key] = flag == "true"
            continue
        result = run.messages.setdefault(n, MessageResult())
        if what == "reply":
            result.reply = parts[3]
        elif what == "header" and len(parts) == 5:
            name, _, value = parts[4].partition(" ")
            result.headers.append(AddedHeader(parts[3], name, _unescape(value)))
        elif what == "delete":
            result.deleted.append(parts[3])
        elif what == "quarantine":
            result.quarantined = parts[3] == "true"
        elif what == "smtpreply":
            result.smtpreply = parts[3] == "true"
        elif what == "done":
            result.done = True


def run_session(session: SendmailSession, workdir: Path,
                timeout: float = RUN_TIMEOUT) -> MilterTestRun:
    """Run the session through miltertest; never raises on a failed run (see returncode)."""
    path = miltertest_path()
    assert path is not None, "miltertest is not installed (apt-get install miltertest)"
    workdir.mkdir(parents=True, exist_ok=True)
    session_file = workdir / f"session-{secrets.token_hex(4)}.lua"
    session_file.write_text(session.to_lua())
    command = [path, "-D", f"session={session_file}", "-s", str(SCRIPT)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                              timeout=timeout, cwd=workdir)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        run = MilterTestRun(command, -1, out, err + f"\n(timed out after {timeout}s)")
    else:
        run = MilterTestRun(command, done.returncode, done.stdout, done.stderr)
    parse_output(run)
    return run
