"""Sender authentication through a real Postfix: a DKIM-signed message from a DMARC p=reject
domain arrives with our Authentication-Results (spf, dkim and dmarc pass); a spoof of that
domain from an address it does not permit is refused with 5.7.1 when dmarc.honor_reject is
on, quarantined or only tagged otherwise; a forged Authentication-Results claiming our
authserv-id never reaches the mailbox."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import authres
import pytest
from tests.integration.conftest import AUTHSERV_ID, Stack, message
from tests.support.dkim_keys import TestKey, rsa_key, sign
from tests.support.smtp_sink import SinkMessage

pytestmark = pytest.mark.postfix

DOMAIN = "bank.test"
SELECTOR = "mail2026"
BANK_IP = "127.0.0.21"  # the one address bank.test's SPF record permits
SPOOFER_IP = "127.0.0.66"
# Pinned so that tuning default scores does not decide these stories: the spoof's score
# stays below quarantine and reject, so only the DMARC switches can hold or refuse it.
ACTIONS: dict[str, Any] = {"add_header": 5.0, "quarantine": 50.0, "reject": 100.0}
# Seconds an SMTP transaction through Postfix takes besides thurac's DNS time (measured:
# well under one second on loopback; generous for a loaded CI machine).
SMTP_OVERHEAD = 3.0


@pytest.fixture(scope="module")
def bank_key() -> TestKey:
    return rsa_key(2048)


def publish_bank(stack: Stack, key: TestKey) -> None:
    """bank.test as a careful sender runs it: SPF -all, a DKIM key, DMARC p=reject, FCrDNS."""
    dns = stack.dns
    dns.add(DOMAIN, "TXT", f"v=spf1 ip4:{BANK_IP} -all")
    dns.add(f"{SELECTOR}._domainkey.{DOMAIN}", "TXT", key.record)
    dns.add(f"_dmarc.{DOMAIN}", "TXT", f"v=DMARC1; p=reject; rua=mailto:dmarc@{DOMAIN}")
    dns.add(DOMAIN, "MX", f"10 mail.{DOMAIN}")
    dns.add(f"mail.{DOMAIN}", "A", BANK_IP)
    dns.add_ptr(BANK_IP, f"mail.{DOMAIN}")


def unfolded(value: str) -> str:
    return re.sub(r"\r?\n", "", value)


def our_authres(mail: SinkMessage) -> authres.AuthenticationResultsHeader:
    """The one Authentication-Results with our authserv-id (fails if there are several)."""
    ours = [unfolded(v) for v in mail.headers("Authentication-Results")
            if unfolded(v).lower().startswith(AUTHSERV_ID)]
    assert len(ours) == 1, mail.headers("Authentication-Results")
    return authres.AuthenticationResultsHeader.parse_value(ours[0])


def results(header: authres.AuthenticationResultsHeader) -> dict[str, tuple[str, dict[str, str]]]:
    return {r.method: (r.result, {f"{p.type}.{p.name}": str(p.value) for p in r.properties})
            for r in header.results}


def spoof() -> bytes:
    return message(f"alerts@{DOMAIN}", "alice@example.test", "verify your account")


def test_signed_mail_from_a_reject_domain_arrives_with_passing_authres(
    stack_factory: Callable[..., Stack], bank_key: TestKey,
) -> None:
    stack = stack_factory({"actions": ACTIONS, "dmarc": {"honor_reject": True}})
    publish_bank(stack, bank_key)
    signed = sign(message(f"alerts@{DOMAIN}", "alice@example.test", "statement"),
                  bank_key, DOMAIN, SELECTOR)
    # Someone upstream claims to be us: that header must not survive.
    forged = b"Authentication-Results: MX.example.test; spf=fail; dmarc=fail\r\n"
    other = b"Authentication-Results: relay.bank.test; spf=pass smtp.mailfrom=bank.test\r\n"
    result = stack.send(f"bounces@{DOMAIN}", ["alice@example.test"], forged + other + signed,
                        source_ip=BANK_IP, helo=f"mail.{DOMAIN}")
    assert result.ok, (result.code, result.message)

    mail = stack.sink.wait_for(lambda m: m.subject == "statement")
    found = results(our_authres(mail))
    assert found["spf"] == ("pass", {"smtp.mailfrom": f"bounces@{DOMAIN}"})
    assert found["dkim"] == ("pass", {"header.d": DOMAIN, "header.s": SELECTOR})
    assert found["dmarc"] == ("pass", {"header.from": DOMAIN})
    assert mail.raw.startswith(f"Authentication-Results: {AUTHSERV_ID};".encode())
    raw = unfolded(mail.headers("Authentication-Results")[0])
    assert re.match(rf"{re.escape(AUTHSERV_ID)};\s+spf=pass .*;\s+dkim=pass .*;\s+dmarc=pass ",
                    raw)
    # Ours is the topmost header (prepended); the other host's is kept as it came.
    top_name, top_value = mail.message.items()[0]
    assert (top_name, unfolded(top_value)) == ("Authentication-Results", raw)
    assert any("relay.bank.test" in v for v in mail.headers("Authentication-Results"))
    assert not any("dmarc=fail" in v for v in mail.headers("Authentication-Results"))
    status = mail.headers("X-Spam-Status")[0]
    assert "DMARC_PASS" in status and "DKIM_VALID" in status and "SPF_PASS" in status


def test_spoof_of_a_reject_domain_is_refused_when_honor_reject_is_on(
    stack_factory: Callable[..., Stack], bank_key: TestKey,
) -> None:
    stack = stack_factory({"actions": ACTIONS, "dmarc": {"honor_reject": True}})
    publish_bank(stack, bank_key)
    result = stack.send(f"alerts@{DOMAIN}", ["alice@example.test"], spoof(),
                        source_ip=SPOOFER_IP, helo="mail.spoofer.test")
    assert (result.stage, result.code) == ("data", 550), (result.code, result.message)
    assert "5.7.1" in result.message
    assert "(sender authentication: DMARC p=reject failure for bank.test" in result.message
    assert stack.sink.messages == []


def test_spoof_is_quarantined_when_only_honor_quarantine_is_on(
    stack_factory: Callable[..., Stack], bank_key: TestKey,
) -> None:
    stack = stack_factory({"actions": ACTIONS, "dmarc": {"honor_quarantine": True}})
    publish_bank(stack, bank_key)
    result = stack.send(f"alerts@{DOMAIN}", ["alice@example.test"], spoof(),
                        source_ip=SPOOFER_IP, helo="mail.spoofer.test")
    assert result.ok, (result.code, result.message)
    assert result.queue_id in stack.postfix.hold_queue()
    assert "action=quarantine" in stack.thurac.log_line_for(result.queue_id)


def test_spoof_is_only_tagged_when_the_switches_are_off(
    stack_factory: Callable[..., Stack], bank_key: TestKey,
) -> None:
    stack = stack_factory({"actions": ACTIONS})
    publish_bank(stack, bank_key)
    result = stack.send(f"alerts@{DOMAIN}", ["alice@example.test"], spoof(),
                        source_ip=SPOOFER_IP, helo="mail.spoofer.test")
    assert result.ok, (result.code, result.message)
    mail = stack.sink.wait_for(lambda m: m.subject == "verify your account")
    assert stack.postfix.hold_queue() == []
    found = results(our_authres(mail))
    assert found["spf"][0] == "fail"
    assert found["dmarc"] == ("fail", {"header.from": DOMAIN})
    assert mail.headers("X-Spam-Flag") == ["YES"]
    assert "DMARC_FAIL_REJECT" in mail.headers("X-Spam-Status")[0]


def test_dead_dns_delays_nothing_past_the_budget_and_condemns_nothing(
    stack_factory: Callable[..., Stack], bank_key: TestKey,
) -> None:
    budget = 2.0
    stack = stack_factory({"actions": ACTIONS, "dmarc": {"honor_reject": True},
                           "dns": {"timeout": 0.5, "budget": budget}})
    publish_bank(stack, bank_key)  # all there, but nobody will ever hear the answers
    stack.dns.mode = "blackhole"
    signed = sign(message(f"alerts@{DOMAIN}", "alice@example.test", "during the outage"),
                  bank_key, DOMAIN, SELECTOR)
    started = time.monotonic()
    result = stack.send(f"bounces@{DOMAIN}", ["alice@example.test"], signed,
                        source_ip=SPOOFER_IP, helo=f"mail.{DOMAIN}")
    elapsed = time.monotonic() - started
    assert result.ok, (result.code, result.message)
    assert elapsed < budget + SMTP_OVERHEAD
    mail = stack.sink.wait_for(lambda m: m.subject == "during the outage")
    found = results(our_authres(mail))
    assert (found["spf"][0], found["dkim"][0], found["dmarc"][0]) == (
        "temperror", "temperror", "temperror")
    status = mail.headers("X-Spam-Status")[0]
    assert "SPF_TEMPERROR" in status and "DKIM_TEMPERROR" in status
    assert "SPF_FAIL" not in status and "DKIM_INVALID" not in status and "DMARC_FAIL" not in status


def test_simple_canonicalization_survives_odd_header_spacing(
    stack_factory: Callable[..., Stack], bank_key: TestKey,
) -> None:
    # c=simple/simple signs header lines byte for byte: "Subject:x" (no space) and
    # "X-Ref:   x" (three) must reach the verifier exactly as the sender wrote them.
    stack = stack_factory({"actions": ACTIONS})
    publish_bank(stack, bank_key)
    raw = (f"From: alerts@{DOMAIN}\r\nTo: alice@example.test\r\nSubject:odd spacing\r\n"
           f"X-Ref:   three spaces\r\nDate: Mon, 23 Nov 2026 10:00:00 +0700\r\n"
           f"Message-ID: <odd.{time.monotonic_ns()}@{DOMAIN}>\r\n\r\nbody\r\n").encode()
    signed = sign(raw, bank_key, DOMAIN, SELECTOR, canonicalize=(b"simple", b"simple"))
    result = stack.send(f"bounces@{DOMAIN}", ["alice@example.test"], signed,
                        source_ip=BANK_IP, helo=f"mail.{DOMAIN}")
    assert result.ok, (result.code, result.message)
    mail = stack.sink.wait_for(lambda m: m.subject in ("odd spacing", " odd spacing"))
    assert results(our_authres(mail))["dkim"][0] == "pass"
