"""The milter adapter and Authentication-Results: forged copies claiming our authserv-id are
removed, other hosts' are kept, ours is prepended; nothing is added to a refused message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import Milter
import pytest
import tests.test_milter as milter_tests
from tests.support.dns_server import TestDnsServer
from tests.test_milter import RecordingCtx, feed, make_scanner

from thurac.authresults import authserv_id_of

AUTHSERV_ID = "mx.example.test"  # what make_scanner configures
SENDER_IP = "203.0.113.9"  # sender.test's one permitted client (tests.test_milter's default)
SPOOFER_IP = "198.51.100.66"


class HeaderEditCtx(RecordingCtx):
    """RecordingCtx whose header edits follow the milter protocol exactly.

    pymilter's TestCtx deletes every field of a name when asked to delete one, and appends
    where the milter asked to insert: these tests are about which field goes where.
    """

    def __init__(self) -> None:
        super().__init__()
        self.edits: list[tuple[str, ...]] = []

    def chgheader(self, field: str, idx: int, value: str) -> None:
        self.edits.append(("chg", field, str(idx), value))
        fields = self._msg._headers
        positions = [i for i, (name, _) in enumerate(fields) if name.lower() == field.lower()]
        if idx > len(positions):
            return  # libmilter ignores an index past the last field
        if value:
            fields[positions[idx - 1]] = (fields[positions[idx - 1]][0], value)
        else:
            del fields[positions[idx - 1]]

    def addheader(self, field: str, value: str, idx: int) -> None:
        self.edits.append(("add", field, value, str(idx)))
        if idx < 0:
            self._msg._headers.append((field, value))
        else:
            self._msg._headers.insert(idx, (field, value))


@pytest.fixture(autouse=True)
def exact_header_edits(monkeypatch: pytest.MonkeyPatch) -> None:
    # feed() builds its context from the name RecordingCtx in tests.test_milter.
    monkeypatch.setattr(milter_tests, "RecordingCtx", HeaderEditCtx)


@pytest.fixture(scope="module")
def dns() -> Iterator[TestDnsServer]:
    with TestDnsServer() as server:
        server.add("sender.test", "MX", "10 mail.sender.test")
        server.add("mail.sender.test", "A", SENDER_IP)
        server.add_ptr(SENDER_IP, "mail.sender.test")
        server.add("sender.test", "TXT", f"v=spf1 ip4:{SENDER_IP} -all")
        server.add("_dmarc.sender.test", "TXT", "v=DMARC1; p=reject")
        yield server


# Thresholds out of reach: a spoofed message is refused only when a DMARC switch says so.
HIGH_THRESHOLDS = {"add_header": 50, "quarantine": 80, "reject": 100}


def send(tmp_path: Path, dns: TestDnsServer, raw: bytes, ip: str = SENDER_IP,
         **overrides: Any) -> HeaderEditCtx:
    scanner = make_scanner(tmp_path, dns, actions=HIGH_THRESHOLDS, **overrides)
    try:
        ctx = feed(scanner, raw, "ann@sender.test", "bob@example.test", ip=ip)
    finally:
        scanner.close()
    assert isinstance(ctx, HeaderEditCtx)
    return ctx


PLAIN = (b"From: Ann <ann@sender.test>\nTo: bob@example.test\nSubject: hello\n"
         b"Date: Mon, 23 Nov 2026 10:00:00 +0700\nMessage-ID: <m1@sender.test>\n\nHi Bob\n")


def authres_headers(ctx: HeaderEditCtx) -> list[str]:
    return [str(v) for v in ctx._msg.get_all("Authentication-Results") or []]


def test_ours_is_prepended_with_spf_and_dmarc(tmp_path: Path, dns: TestDnsServer) -> None:
    ctx = send(tmp_path, dns, PLAIN)
    assert ctx.rc == Milter.ACCEPT
    first_name, first_value = ctx._msg._headers[0]
    assert first_name == "Authentication-Results"
    assert first_value.startswith(f"{AUTHSERV_ID};\n\tspf=pass ")
    assert "smtp.mailfrom=ann@sender.test" in first_value
    assert "dmarc=pass (p=reject)" in first_value and "header.from=sender.test" in first_value


def test_forged_authres_with_our_id_is_removed_and_ours_added(tmp_path: Path,
                                                              dns: TestDnsServer) -> None:
    raw = (b"Authentication-Results: mx.example.test; spf=pass; dmarc=pass\n"
           b"Authentication-Results: mx.google.com; dkim=pass header.d=sender.test\n"
           b"Authentication-Results: MX.EXAMPLE.TEST 1; dkim=pass header.d=bank.test\n"
           + PLAIN)
    ctx = send(tmp_path, dns, raw, ip=SPOOFER_IP)
    found = authres_headers(ctx)
    assert len(found) == 2
    ours, google = found
    assert ours.startswith(f"{AUTHSERV_ID};\n\tspf=fail ")
    assert "dmarc=fail (p=reject)" in ours
    assert google == "mx.google.com; dkim=pass header.d=sender.test"
    # Deleted last first, so that the second index still pointed at the forged field.
    deletions = [e for e in ctx.edits if e[0] == "chg" and e[1] == "Authentication-Results"]
    assert deletions == [("chg", "Authentication-Results", "3", ""),
                         ("chg", "Authentication-Results", "1", "")]
    ours_claimed = [v for v in found if (authserv_id_of(v) or "").lower() == AUTHSERV_ID]
    assert ours_claimed == [ours]


def test_other_hosts_authres_is_kept_untouched(tmp_path: Path, dns: TestDnsServer) -> None:
    foreign = "relay.sender.test; spf=pass smtp.mailfrom=sender.test"
    ctx = send(tmp_path, dns, f"Authentication-Results: {foreign}\n".encode() + PLAIN)
    assert authres_headers(ctx)[1] == foreign
    assert not [e for e in ctx.edits if e[0] == "chg" and e[1] == "Authentication-Results"]


def test_rejected_message_gets_no_headers(tmp_path: Path, dns: TestDnsServer) -> None:
    raw = b"Authentication-Results: mx.example.test; dmarc=pass\n" + PLAIN
    ctx = send(tmp_path, dns, raw, ip=SPOOFER_IP, dmarc={"honor_reject": True})
    assert ctx.rc == Milter.REJECT
    assert ctx._reply[:2] == ("550", "5.7.1")
    assert "(sender authentication: DMARC p=reject failure for" in ctx._reply[2]
    assert ctx.edits == []


def test_quarantined_message_still_carries_the_results(tmp_path: Path,
                                                       dns: TestDnsServer) -> None:
    ctx = send(tmp_path, dns, PLAIN, ip=SPOOFER_IP, dmarc={"honor_quarantine": True})
    assert ctx.rc == Milter.ACCEPT
    assert ctx.quarantined is not None
    assert authres_headers(ctx)[0].startswith(f"{AUTHSERV_ID};\n\tspf=fail")


def test_outbound_mail_gets_no_authres(tmp_path: Path, dns: TestDnsServer) -> None:
    ctx = send(tmp_path, dns, PLAIN, ip="10.1.2.3")
    assert ctx.rc == Milter.ACCEPT
    assert authres_headers(ctx) == []
