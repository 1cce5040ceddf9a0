"""The administrator's story with Sendmail instead of Postfix: a real `thurac run` daemon,
driven by miltertest(8) speaking for Sendmail (Sendmail and Postfix cannot both be installed).

Sendmail's way differs from Postfix's: its macro names (`i` at MAIL, `j`, `_`,
`{daemon_name}` at connect, `{tls_version}` at HELO, `{auth_authen}` at MAIL, `{rcpt_addr}` at
RCPT), the client's name "[ip]" when it has none, several messages over one milter
connection, and, when SMFIP_HDR_LEADSPC is not negotiated (Sendmail 8.13 and older; 8.14 and
later offer it), header values without the space after the colon, in both directions:
Sendmail puts one space before every value a milter adds. An inbound message must get its
verdict and well-formed headers; an authenticated user's outbound message must be learned
from, not scored, so that the correspondent's reply counts as related.

The Lua side is tests/integration/miltertest/sendmail_session.lua; a failed run prints the
command to replay it by hand (the session file stays in the test's tmp_path).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import authres
import pytest
import yaml
from tests.support.dkim_keys import rsa_key, sign
from tests.support.dns_server import TestDnsServer
from tests.support.miltertest import (
    SENDMAIL_WITH_LEADSPC,
    SENDMAIL_WITHOUT_LEADSPC,
    THURAC_HEADERS,
    MessageResult,
    MilterTestRun,
    Offer,
    SendmailMessage,
    SendmailSession,
    miltertest_path,
    run_session,
    sendmail_line,
    sendmail_queue_id,
    sendmail_value,
    value_problems,
)
from tests.support.net import free_port
from tests.support.thurac import AUTHSERV_ID, LOCAL_DOMAIN, Thurac, base_config, deep_merge

from thurac.message import parse_rfc822

pytestmark = pytest.mark.skipif(
    miltertest_path() is None,
    reason="needs miltertest, OpenDKIM's milter test client (apt-get install miltertest; "
           "make test installs it)",
)

REMOTE = "remote.test"
REMOTE_IP = "203.0.113.5"  # mail.remote.test, with matching PTR and A
ROAMING_IP = "198.51.100.20"  # alice's laptop on a hotel network: outside our networks
STRANGER_IP = "192.0.2.99"  # no PTR: Sendmail names it "[192.0.2.99]"
ALICE = f"alice@{LOCAL_DOMAIN}"
BOB = f"bob@{REMOTE}"
CAROL = f"carol@{REMOTE}"
DKIM_SELECTOR = "s2026"
# Pinned so that tuning default scores does not move these stories: a PHPMailer message from
# a well-run domain is tagged, never held or refused.
TAGGING: dict[str, Any] = {"actions": {"add_header": 2.0, "quarantine": 50.0, "reject": 100.0}}


@dataclass
class Daemon:
    """A `thurac run` process with its socket, SQLite file and a scratch directory."""

    thurac: Thurac
    socket: str
    database: Path
    workdir: Path

    def run(self, session: SendmailSession) -> MilterTestRun:
        return run_session(session, self.workdir)


@pytest.fixture
def start_thurac(tmp_path: Path, dns_zone: TestDnsServer) -> Iterator[Callable[..., Daemon]]:
    """Start `thurac run` with config overrides; it stops at teardown."""
    started: list[Thurac] = []

    def start(overrides: Mapping[str, Any] | None = None, local_socket: bool = False) -> Daemon:
        """local_socket: listen on local:ROOT/thurac.sock, Sendmail's spelling of a unix
        socket (S=local:/path in sendmail.mc), instead of inet:PORT@127.0.0.1."""
        root = tmp_path / f"thurac{len(started)}"
        root.mkdir()
        config = deep_merge(base_config(root, free_port(), dns_zone), overrides or {})
        if local_socket:
            config["milter"]["socket"] = f"local:{root}/thurac.sock"
        socket = config["milter"]["socket"]
        config_path = root / "thurac.yaml"
        config_path.write_text(yaml.safe_dump(config))
        # The harness waits for unix:PATH; thurac itself is given the config's spelling.
        thurac = Thurac(config_path, root / "thurac.log",
                        socket.replace("local:", "unix:", 1))
        thurac.start()
        started.append(thurac)
        database = Path(config["database"]["url"].removeprefix("sqlite:///"))
        return Daemon(thurac, socket, database, root / "miltertest")

    yield start
    for thurac in started:
        thurac.stop()


def publish_remote(dns: TestDnsServer) -> None:
    """remote.test as a careful sender runs it: MX, FCrDNS for its one server, SPF -all."""
    dns.add(REMOTE, "MX", f"10 mail.{REMOTE}")
    dns.add(f"mail.{REMOTE}", "A", REMOTE_IP)
    dns.add_ptr(REMOTE_IP, f"mail.{REMOTE}")
    dns.add(REMOTE, "TXT", f"v=spf1 ip4:{REMOTE_IP} -all")


def headers_for(sender: str, rcpt: str, subject: str,
                extra: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """A well-formed header section, values as Sendmail passes them (no leading space)."""
    domain = sender.rpartition("@")[2]
    return [
        ("From", f"<{sender}>"),
        ("To", f"<{rcpt}>"),
        ("Subject", subject),
        ("Date", "Mon, 23 Nov 2026 10:00:00 +0700"),
        ("Message-ID", f"<{subject.replace(' ', '-')}.{time.monotonic_ns()}@{domain}>"),
        *(extra or []),
    ]


def inbound_session(daemon: Daemon, messages: list[SendmailMessage], *,
                    offer: Offer = SENDMAIL_WITHOUT_LEADSPC, client_ip: str = REMOTE_IP,
                    client_host: str = f"mail.{REMOTE}", helo: str = f"mail.{REMOTE}",
                    tls_version: str | None = "TLSv1.3") -> SendmailSession:
    return SendmailSession(daemon.socket, client_ip, client_host, helo, messages,
                           offer=offer, tls_version=tls_version)


def sendmail_message(sender: str, rcpt: str, headers: list[tuple[str, str]],
                     **kwargs: Any) -> SendmailMessage:
    return SendmailMessage(sender, [rcpt], headers, local_domains=[LOCAL_DOMAIN], **kwargs)


def assert_well_formed(result: MessageResult, offer: Offer) -> None:
    """Every value thurac added makes a clean header line through this MTA."""
    problems = {h.name: value_problems(h.value, offer) for h in result.headers}
    assert not any(problems.values()), problems


def correspondents(database: Path, local: str, remote: str,
                   timeout: float = 10.0) -> tuple[int, int]:
    """(sent, received) for the pair, once the recorder (which writes behind the reply) has
    written it."""
    deadline = time.monotonic() + timeout
    while True:
        if database.exists():
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
                row = db.execute("SELECT sent, received FROM correspondents "
                                 "WHERE local = ? AND remote = ?", (local, remote)).fetchone()
            if row is not None:
                return int(row[0]), int(row[1])
        assert time.monotonic() < deadline, f"no correspondents row ({local}, {remote})"
        time.sleep(0.1)


def event(database: Path, queue_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """The events row of a message, by queue id, once written."""
    deadline = time.monotonic() + timeout
    while True:
        if database.exists():
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
                db.row_factory = sqlite3.Row
                row = db.execute("SELECT * FROM events WHERE queue_id = ?",
                                 (queue_id,)).fetchone()
            if row is not None:
                return dict(row)
        assert time.monotonic() < deadline, f"no events row for {queue_id}"
        time.sleep(0.1)


def parse_authres(value: str) -> authres.AuthenticationResultsHeader:
    return authres.AuthenticationResultsHeader.parse_value(value.replace("\n", ""))


def results_of(header: authres.AuthenticationResultsHeader) -> dict[str, str]:
    return {r.method: r.result for r in header.results}


def symbols_of(log_line: str) -> list[str]:
    """Symbol names from a thurac log line's symbols=NAME(score),... field."""
    field = next(p for p in log_line.split() if p.startswith("symbols="))
    return [s.partition("(")[0] for s in field.removeprefix("symbols=").split(",") if s != "-"]


def test_sendmail_inbound_message_gets_verdict_headers_without_leading_space_negotiation(
    start_thurac: Callable[..., Daemon], dns_zone: TestDnsServer,
) -> None:
    publish_remote(dns_zone)
    daemon = start_thurac(TAGGING)
    msg = sendmail_message(BOB, ALICE, headers_for(BOB, ALICE, "offer",
                                                   [("X-Mailer", "PHPMailer 6.9.1")]),
                           expect={"reply": "a", "added": list(THURAC_HEADERS),
                                   "quarantine": False})
    run = daemon.run(inbound_session(daemon, [msg]))
    assert run.returncode == 0, run.explain()
    assert run.negotiated["leadspc"] is False, run.explain()
    result = run.message(1)
    assert result.done and result.reply == "a"

    # thurac's line for the message, found by Sendmail's queue id (macro i at MAIL).
    line = daemon.thurac.log_line_for(msg.queue_id)
    assert (f"direction=inbound client=mail.{REMOTE}[{REMOTE_IP}] helo=<mail.{REMOTE}> "
            f"from=<{BOB}> rcpts=1") in line
    assert "action=add_header" in line
    symbols = symbols_of(line)
    assert "C22_TECH_MAILER" in symbols
    # {tls_version} at HELO, FCrDNS and SPF from Sendmail's connection data all count.
    assert not {"C22_TECH_NO_TLS", "C22_TECH_NO_PTR", "C22_TECH_FCRDNS_MISMATCH"} & set(symbols)
    assert "SPF_PASS" in symbols

    # The verdict headers, added (SMFIR_ADDHEADER) with the values Sendmail expects.
    assert_well_formed(result, SENDMAIL_WITHOUT_LEADSPC)
    score = line.split(" score=")[1].split()[0]
    assert result.value("X-Spam-Flag") == "YES"
    assert result.value("X-Spam-Score") == score
    assert result.value("X-Spam-Status").startswith(f"Yes, score={score} required=2.0 tests=")
    assert "C22_TECH_MAILER" in result.value("X-Spam-Status")
    report = result.value("X-Thurac-Report")
    assert report.startswith(f"score={score} action=add_header\n\t")
    assert "\n\tC22_TECH_MAILER(2.5): X-Mailer 'PHPMailer 6.9.1' matches" in report
    for name in ("X-Spam-Flag", "X-Spam-Score", "X-Spam-Status", "X-Thurac-Report"):
        # Inserted near the top, below Authentication-Results: a sender's field the MTA
        # must fold further down cannot end the header section before them.
        assert result.header(name).how == "insert"
    # As Sendmail writes them into the message: one space after the colon, never two.
    assert sendmail_line("X-Spam-Flag", "YES", SENDMAIL_WITHOUT_LEADSPC) == "X-Spam-Flag: YES"
    assert sendmail_line("X-Spam-Score", result.value("X-Spam-Score"),
                         SENDMAIL_WITHOUT_LEADSPC) == f"X-Spam-Score: {score}"

    # Authentication-Results inserted at the top (index 0), led by our authserv-id.
    added = result.header("Authentication-Results")
    assert added.how == "insert@0"
    assert added.value.startswith(f"{AUTHSERV_ID};\n\t")
    parsed = parse_authres(added.value)
    assert parsed.authserv_id == AUTHSERV_ID
    assert results_of(parsed) == {"spf": "pass", "dkim": "none", "dmarc": "none", "arc": "none"}


def test_sendmail_8_14_offering_leading_space_gets_exactly_one_space_before_each_value(
    start_thurac: Callable[..., Daemon], dns_zone: TestDnsServer,
) -> None:
    publish_remote(dns_zone)
    daemon = start_thurac(TAGGING)
    raw = [(name, f" {value}") for name, value in headers_for(BOB, ALICE, "offer", [
        ("X-Mailer", "PHPMailer 6.9.1")])]
    msg = sendmail_message(BOB, ALICE, raw,
                           expect={"reply": "a", "added": list(THURAC_HEADERS)})
    run = daemon.run(inbound_session(daemon, [msg], offer=SENDMAIL_WITH_LEADSPC))
    assert run.returncode == 0, run.explain()
    assert run.negotiated["leadspc"] is True, run.explain()
    result = run.message(1)
    assert_well_formed(result, SENDMAIL_WITH_LEADSPC)
    assert result.value("X-Spam-Flag") == " YES"
    assert result.header("Authentication-Results").value.startswith(f" {AUTHSERV_ID};")
    line = daemon.thurac.log_line_for(msg.queue_id)
    assert f" score={result.value('X-Spam-Score').strip()} " in line
    assert "C22_TECH_MAILER" in symbols_of(line)


def test_sendmail_authenticated_user_is_learned_from_and_her_correspondent_reply_is_related(
    start_thurac: Callable[..., Daemon], dns_zone: TestDnsServer,
) -> None:
    publish_remote(dns_zone)
    daemon = start_thurac(TAGGING)

    # Alice writes to Bob from a hotel network, after SMTP AUTH: {auth_authen}=alice at MAIL.
    outbound = sendmail_message(ALICE, BOB, headers_for(ALICE, BOB, "lunch"),
                                auth_user="alice",
                                expect={"reply": "a", "no_changes": True, "quarantine": False})
    run = daemon.run(SendmailSession(daemon.socket, ROAMING_IP, f"[{ROAMING_IP}]",
                                     "alices-laptop", [outbound]))
    assert run.returncode == 0, run.explain()
    assert run.message(1).headers == [], "nothing is added to outbound mail"
    line = daemon.thurac.log_line_for(outbound.queue_id)
    assert f"direction=outbound client=unknown[{ROAMING_IP}]" in line
    assert f"from=<{ALICE}>" in line and "action=accept" in line
    # Learned: the pair is in the store, with Sendmail's {auth_authen} as the user.
    assert correspondents(daemon.database, ALICE, BOB) == (1, 0)
    assert event(daemon.database, outbound.queue_id)["auth_user"] == "alice"

    # Bob answers; Carol, whom Alice never wrote to, writes too: one Sendmail session, one
    # milter connection, two messages.
    reply = sendmail_message(BOB, ALICE, headers_for(BOB, ALICE, "re lunch"),
                             expect={"reply": "a", "added": list(THURAC_HEADERS)})
    cold = sendmail_message(CAROL, ALICE, headers_for(CAROL, ALICE, "hello"),
                            expect={"reply": "a", "added": list(THURAC_HEADERS)})
    run = daemon.run(inbound_session(daemon, [reply, cold]))
    assert run.returncode == 0, run.explain()

    related = run.message(1)
    assert related.reply == "a"
    assert "C22_UNRELATED_RCPT" not in related.value("X-Thurac-Report")
    assert "C22_UNRELATED_RCPT" not in related.value("X-Spam-Status")
    assert "C22_UNRELATED_RCPT" not in symbols_of(daemon.thurac.log_line_for(reply.queue_id))

    # The control: same client, same connection, a stranger to Alice.
    unrelated = run.message(2)
    assert "C22_UNRELATED_RCPT" in unrelated.value("X-Thurac-Report")
    cold_line = daemon.thurac.log_line_for(cold.queue_id)
    assert f"from=<{CAROL}>" in cold_line
    assert "C22_UNRELATED_RCPT" in symbols_of(cold_line)
    # The store agrees: Bob's recipient is related, Carol's is not.
    assert event(daemon.database, reply.queue_id)["unrelated_count"] == 0
    assert event(daemon.database, cold.queue_id)["unrelated_count"] == 1
    for result in (related, unrelated):
        assert_well_formed(result, SENDMAIL_WITHOUT_LEADSPC)
        assert len(result.values("X-Spam-Flag")) == 1  # nothing left over from message 1


def test_sendmail_gets_550_5_7_1_for_a_message_over_the_reject_threshold(
    start_thurac: Callable[..., Daemon],
) -> None:
    # Pinned scores make the symbol named in the reply known in advance.
    daemon = start_thurac({
        "actions": {"add_header": 1.0, "quarantine": 2.0, "reject": 3.0},
        "scores": {"C22_TECH_MAILER": 9.0, "C22_TECH_NO_PTR": 8.0, "C22_NO_MX": 7.0},
    })
    queue_id = sendmail_queue_id()
    text = (f"Rejected as spam (Circular 22/2021 art. 4.3c, sending technology: "
            f"C22_TECH_MAILER) [queue id {queue_id}]")
    spam = sendmail_message("promo@nowhere.test", ALICE, headers_for(
        "promo@nowhere.test", ALICE, "offer", [("X-Mailer", "PHPMailer 6.9.1")]),
        queue_id=queue_id, expect={"reply": "y", "absent": list(THURAC_HEADERS),
                                   "smtpreply": ["550", "5.7.1", text]})
    run = daemon.run(inbound_session(daemon, [spam], client_ip=STRANGER_IP,
                                     client_host=f"[{STRANGER_IP}]", helo="promo.nowhere.test",
                                     tls_version=None))
    assert run.returncode == 0, run.explain()
    result = run.message(1)
    assert result.reply == "y" and result.smtpreply is True  # SMFIR_REPLYCODE 550 5.7.1
    line = daemon.thurac.log_line_for(spam.queue_id)
    assert f"client=unknown[{STRANGER_IP}]" in line and "action=reject" in line


def test_sendmail_forged_verdict_headers_from_outside_are_deleted_before_ours_are_added(
    start_thurac: Callable[..., Daemon], dns_zone: TestDnsServer,
) -> None:
    publish_remote(dns_zone)
    daemon = start_thurac(TAGGING)
    forged = [("X-Spam-Flag", "NO"), ("X-Spam-Score", "-10.0"),
              ("X-Thurac-Report", "score=-10.0 action=accept"),
              ("Authentication-Results", f"{AUTHSERV_ID}; spf=pass smtp.mailfrom={BOB}")]
    msg = sendmail_message(BOB, ALICE, headers_for(BOB, ALICE, "offer", forged),
                           expect={"reply": "a", "added": list(THURAC_HEADERS),
                                   "deleted": ["X-Spam-Flag", "X-Spam-Score",
                                               "X-Thurac-Report", "Authentication-Results"]})
    run = daemon.run(inbound_session(daemon, [msg]))
    assert run.returncode == 0, run.explain()
    result = run.message(1)
    assert set(result.deleted) == {"X-Spam-Flag", "X-Spam-Score", "X-Thurac-Report",
                                   "Authentication-Results"}
    assert result.value("X-Spam-Score") != "-10.0"
    assert_well_formed(result, SENDMAIL_WITHOUT_LEADSPC)


def test_sendmail_dkim_simple_signature_verifies_from_values_without_leading_space(
    start_thurac: Callable[..., Daemon], dns_zone: TestDnsServer,
) -> None:
    """Without SMFIP_HDR_LEADSPC thurac must put back the one space Sendmail took away, or a
    c=simple header hash cannot match."""
    publish_remote(dns_zone)
    key = rsa_key(1024)
    dns_zone.add(f"{DKIM_SELECTOR}._domainkey.{REMOTE}", "TXT", key.record)
    plain = "".join(f"{name}: {value}\r\n" for name, value in headers_for(BOB, ALICE, "signed"))
    raw = sign((plain + "\r\nSigned, sealed, delivered.\r\n").encode(), key, REMOTE,
               DKIM_SELECTOR, canonicalize=(b"simple", b"simple"))
    fields, body = parse_rfc822(raw, exact=True)
    headers = [(name, sendmail_value(value, SENDMAIL_WITHOUT_LEADSPC)) for name, value in fields]
    assert headers[0][0] == "DKIM-Signature" and not headers[0][1].startswith(" ")
    msg = sendmail_message(BOB, ALICE, headers, body=body.decode(),
                           expect={"reply": "a", "added": ["Authentication-Results"]})
    daemon = start_thurac(TAGGING)
    run = daemon.run(inbound_session(daemon, [msg]))
    assert run.returncode == 0, run.explain()
    value = run.message(1).header("Authentication-Results").value
    assert results_of(parse_authres(value))["dkim"] == "pass", value
    assert f"header.d={REMOTE}" in value


def test_sendmail_holds_a_message_over_the_quarantine_threshold_with_its_headers(
    start_thurac: Callable[..., Daemon], dns_zone: TestDnsServer,
) -> None:
    publish_remote(dns_zone)
    daemon = start_thurac({"actions": {"add_header": 1.0, "quarantine": 2.0, "reject": 100.0}})
    msg = sendmail_message(BOB, ALICE, headers_for(BOB, ALICE, "offer",
                                                   [("X-Mailer", "PHPMailer 6.9.1")]),
                           expect={"reply": "a", "added": list(THURAC_HEADERS),
                                   "quarantine": True})
    run = daemon.run(inbound_session(daemon, [msg]))
    assert run.returncode == 0, run.explain()
    result = run.message(1)
    assert result.quarantined  # SMFIR_QUARANTINE: Sendmail keeps it in its quarantine
    assert result.value("X-Thurac-Report").startswith("score=")
    assert " action=quarantine\n\t" in result.value("X-Thurac-Report")
    assert_well_formed(result, SENDMAIL_WITHOUT_LEADSPC)
    assert "action=quarantine" in daemon.thurac.log_line_for(msg.queue_id)


def test_sendmail_reaches_thurac_on_a_socket_spelled_local_as_in_sendmail_mc(
    start_thurac: Callable[..., Daemon], dns_zone: TestDnsServer,
) -> None:
    publish_remote(dns_zone)
    daemon = start_thurac(TAGGING, local_socket=True)
    assert daemon.socket.startswith("local:/")
    msg = sendmail_message(BOB, ALICE, headers_for(BOB, ALICE, "hello"),
                           expect={"reply": "a", "added": list(THURAC_HEADERS)})
    run = daemon.run(inbound_session(daemon, [msg]))
    assert run.returncode == 0, run.explain()
    assert f"from=<{BOB}>" in daemon.thurac.log_line_for(msg.queue_id)


# Sendmail reports an SMTP session on standard input (`sendmail -bs`) as host 'localhost'
# with address family SMFIA_UNKNOWN and no address: the MTA's own local submission.
def test_sendmail_local_submission_without_a_client_address_is_learned_not_scored(
    start_thurac: Callable[..., Daemon],
) -> None:
    daemon = start_thurac({"local": {"internal_networks": ["127.0.0.1/32", "::1/128"]}})
    msg = sendmail_message(ALICE, BOB, headers_for(ALICE, BOB, "from alpine"),
                           expect={"reply": "a"})
    run = daemon.run(SendmailSession(daemon.socket, "unspec", "localhost", "localhost", [msg]))
    assert run.returncode == 0, run.explain()
    line = daemon.thurac.log_line_for(msg.queue_id)
    assert "direction=outbound" in line and "action=accept" in line, line
    assert run.message(1).headers == []
    assert correspondents(daemon.database, ALICE, BOB) == (1, 0)
