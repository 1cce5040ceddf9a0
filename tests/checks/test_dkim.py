"""DKIM: messages signed in the test with dkimpy, keys served by the real DNS server on loopback.

Every signature is verified, each result is recorded with its d= and s=, key sizes are policed
(RFC 8301), l= signatures are handled as configured, and a DNS outage is a DKIM_TEMPERROR, never
a DKIM_INVALID; a missing, malformed or refused key is a DKIM_PERMERROR.
"""

from __future__ import annotations

import time

import pytest
from tests.builders import names, only, run_check
from tests.conftest import ContextFactory
from tests.support.dkim_keys import TestKey, ed25519_key, rsa_key, sign, to_message
from tests.support.dns_server import TestDnsServer

from thurac.auth import DkimResult
from thurac.checks.base import CheckContext
from thurac.checks.dkim import Dkim
from thurac.message import Message
from thurac.symbols import Symbol

CHECK = Dkim()
DOMAIN = "example.test"
OTHER = "esp.example"

# Folded Subject, runs of blanks and trailing spaces: what simple canonicalisation must keep.
RAW = (
    b"From: Alice <alice@example.test>\r\n"
    b"To: bob@example.com\r\n"
    b"Subject: Quarterly report,   with  spaces\r\n"
    b"\tfolded over two lines  \r\n"
    b"Date: Mon, 06 May 2024 07:08:09 +0000\r\n"
    b"Message-ID: <20240506070809.1@example.test>\r\n"
    b"\r\n"
    b"Hello Bob,\r\n"
    b"  indented   line with  spaces  \r\n"
    b"\r\n"
    b"Alice\r\n"
)


@pytest.fixture(scope="module")
def rsa2048() -> TestKey:
    return rsa_key(2048)


@pytest.fixture(scope="module")
def other2048() -> TestKey:
    return rsa_key(2048)


@pytest.fixture(scope="module")
def rsa512() -> TestKey:
    return rsa_key(512)


@pytest.fixture(scope="module")
def rsa4608() -> TestKey:
    return rsa_key(4608)  # above the default dkim.max_key_bits (4096)


@pytest.fixture(scope="module")
def ed25519() -> TestKey:
    return ed25519_key()


def publish(zone: TestDnsServer, key: TestKey, selector: str, domain: str = DOMAIN) -> None:
    zone.add(f"{selector}._domainkey.{domain}", "TXT", key.record)


def run(message: Message, ctx: CheckContext) -> list[Symbol]:
    return run_check(CHECK, message, ctx)


def alter_body(raw: bytes) -> bytes:
    return raw.replace(b"Hello Bob,", b"Hello Bob, send money to IBAN XX00 0000,")


# -- valid signatures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "canonicalize",
    [(b"relaxed", b"relaxed"), (b"simple", b"simple"), (b"relaxed", b"simple")],
    ids=lambda c: b"/".join(c).decode(),
)
def test_signature_verifies_through_message_raw_with_every_canonicalisation(
    zone: TestDnsServer, context: ContextFactory, rsa2048: TestKey,
    canonicalize: tuple[bytes, bytes],
) -> None:
    publish(zone, rsa2048, "sel1")
    ctx = context()
    found = run(to_message(sign(RAW, rsa2048, DOMAIN, "sel1", canonicalize=canonicalize)), ctx)
    assert names(found) == ["DKIM_VALID"]
    assert only(found, "DKIM_VALID").reason == "d=example.test s=sel1"
    assert ctx.auth.dkim == [DkimResult("pass", DOMAIN, "sel1", "", 2048, False)]


def test_key_is_fetched_through_thurac_resolver(
    zone: TestDnsServer, context: ContextFactory, rsa2048: TestKey
) -> None:
    publish(zone, rsa2048, "sel1")
    run(to_message(sign(RAW, rsa2048, DOMAIN, "sel1")), context())
    assert zone.count("sel1._domainkey.example.test", "TXT") == 1


def test_ed25519_signature_verifies(
    zone: TestDnsServer, context: ContextFactory, ed25519: TestKey
) -> None:
    publish(zone, ed25519, "ed")
    ctx = context()
    found = run(to_message(sign(RAW, ed25519, DOMAIN, "ed")), ctx)
    assert names(found) == ["DKIM_VALID"]
    assert ctx.auth.dkim[0].result == "pass"
    assert ctx.auth.dkim[0].key_bits == 256  # not held to the RSA minimum of 1024


def test_header_folding_from_the_milter_survives(
    zone: TestDnsServer, context: ContextFactory, rsa2048: TestKey
) -> None:
    # The milter hands over folded values with bare "\n" inside; simple canonicalisation
    # hashes the fold itself, so raw() must give it back as it was.
    publish(zone, rsa2048, "sel1")
    signed = sign(RAW, rsa2048, DOMAIN, "sel1", canonicalize=(b"simple", b"simple"))
    message = to_message(signed)
    assert "\n\t" in dict(message.headers)["Subject"]
    assert names(run(message, context())) == ["DKIM_VALID"]


# -- failing signatures ---------------------------------------------------------------------------


def test_body_altered_after_signing_is_invalid(
    zone: TestDnsServer, context: ContextFactory, rsa2048: TestKey
) -> None:
    publish(zone, rsa2048, "sel1")
    ctx = context()
    found = run(to_message(alter_body(sign(RAW, rsa2048, DOMAIN, "sel1"))), ctx)
    assert names(found) == ["DKIM_INVALID"]
    assert only(found, "DKIM_INVALID").reason == "d=example.test s=sel1: body hash mismatch"
    assert ctx.auth.dkim[0].result == "fail"


def test_header_altered_after_signing_is_invalid(
    zone: TestDnsServer, context: ContextFactory, rsa2048: TestKey
) -> None:
    publish(zone, rsa2048, "sel1")
    ctx = context()
    signed = sign(RAW, rsa2048, DOMAIN, "sel1").replace(
        b"Subject: Quarterly report", b"Subject: URGENT report"
    )
    found = run(to_message(signed), ctx)
    assert names(found) == ["DKIM_INVALID"]
    assert "does not match the signed header fields" in only(found, "DKIM_INVALID").reason
    assert ctx.auth.dkim[0].result == "fail"


def test_two_signatures_one_broken_gives_valid_and_invalid(
    zone: TestDnsServer, context: ContextFactory, rsa2048: TestKey, other2048: TestKey
) -> None:
    publish(zone, rsa2048, "sel1")
    publish(zone, rsa2048, "bulk", OTHER)  # esp.example signed with other2048: wrong key
    ctx = context()
    signed = sign(sign(RAW, rsa2048, DOMAIN, "sel1"), other2048, OTHER, "bulk")
    found = run(to_message(signed), ctx)
    assert names(found) == ["DKIM_VALID", "DKIM_INVALID"]
    assert only(found, "DKIM_VALID").reason == "d=example.test s=sel1"
    assert only(found, "DKIM_INVALID").reason.startswith("d=esp.example s=bulk: ")
    # Topmost (most recent) signature first.
    assert [(r.result, r.domain, r.selector) for r in ctx.auth.dkim] == [
        ("fail", OTHER, "bulk"),
        ("pass", DOMAIN, "sel1"),
    ]


def test_missing_key_is_a_permanent_error(
    zone: TestDnsServer, context: ContextFactory, rsa2048: TestKey
) -> None:
    zone.add("other._domainkey.example.test", "TXT", "v=DKIM1; p=")  # the zone exists
    ctx = context()
    found = run(to_message(sign(RAW, rsa2048, DOMAIN, "sel1")), ctx)
    assert names(found) == ["DKIM_PERMERROR"]
    assert "no key at sel1._domainkey.example.test" in only(found, "DKIM_PERMERROR").reason
    assert ctx.auth.dkim[0].result == "permerror"


def test_revoked_key_is_a_permanent_error(
    zone: TestDnsServer, context: ContextFactory, rsa2048: TestKey
) -> None:
    zone.add("sel1._domainkey.example.test", "TXT", "v=DKIM1; k=rsa; p=")
    ctx = context()
    found = run(to_message(sign(RAW, rsa2048, DOMAIN, "sel1")), ctx)
    assert "revoked" in only(found, "DKIM_PERMERROR").reason
    assert ctx.auth.dkim[0].result == "permerror"


def test_no_signature_is_dkim_none(context: ContextFactory) -> None:
    ctx = context()
    found = run(to_message(RAW), ctx)
    assert names(found) == ["DKIM_NONE"]
    assert [r.result for r in ctx.auth.dkim] == ["none"]


# -- key sizes (RFC 8301) -------------------------------------------------------------------------


def test_512_bit_key_is_weak_not_merely_invalid(
    zone: TestDnsServer, context: ContextFactory, rsa512: TestKey
) -> None:
    publish(zone, rsa512, "old")
    ctx = context()
    found = run(to_message(sign(RAW, rsa512, DOMAIN, "old")), ctx)
    assert names(found) == ["DKIM_WEAK_KEY"]
    assert only(found, "DKIM_WEAK_KEY").reason == (
        "d=example.test s=old: 512-bit RSA key below dkim.min_key_bits (1024)"
    )
    assert ctx.auth.dkim[0].result == "fail"
    assert ctx.auth.dkim[0].key_bits == 512


def test_512_bit_signature_itself_is_sound_so_only_the_size_rejects_it(
    zone: TestDnsServer, context: ContextFactory, rsa512: TestKey
) -> None:
    publish(zone, rsa512, "old")
    found = run(to_message(sign(RAW, rsa512, DOMAIN, "old")), context(dkim={"min_key_bits": 512}))
    assert names(found) == ["DKIM_VALID"]


def test_key_above_max_key_bits_is_refused(
    zone: TestDnsServer, context: ContextFactory, rsa4608: TestKey
) -> None:
    publish(zone, rsa4608, "big")
    ctx = context()
    found = run(to_message(sign(RAW, rsa4608, DOMAIN, "big")), ctx)
    assert names(found) == ["DKIM_PERMERROR"]
    assert only(found, "DKIM_PERMERROR").reason == (
        "d=example.test s=big: 4608-bit RSA key above dkim.max_key_bits (4096), refused"
    )
    assert ctx.auth.dkim[0].result == "permerror"


def test_key_above_max_key_bits_verifies_when_the_limit_allows_it(
    zone: TestDnsServer, context: ContextFactory, rsa4608: TestKey
) -> None:
    publish(zone, rsa4608, "big")
    found = run(to_message(sign(RAW, rsa4608, DOMAIN, "big")),
                context(dkim={"max_key_bits": 8192}))
    assert names(found) == ["DKIM_VALID"]


@pytest.mark.parametrize(("max_bits", "expected"), [(2048, "DKIM_VALID"), (2047, "DKIM_PERMERROR")])
def test_max_key_bits_boundary(
    zone: TestDnsServer, context: ContextFactory, rsa2048: TestKey, max_bits: int, expected: str
) -> None:
    publish(zone, rsa2048, "sel1")
    found = run(to_message(sign(RAW, rsa2048, DOMAIN, "sel1")),
                context(dkim={"max_key_bits": max_bits}))
    assert names(found) == [expected]


# -- l= (body length) -----------------------------------------------------------------------------


def appended(raw: bytes) -> bytes:
    """A mailing-list footer, or an attacker's text, added after an l= signature."""
    return raw + b"-- \r\nBuy cheap watches at http://spam.example/\r\n"


def test_body_length_signature_counts_but_is_flagged(
    zone: TestDnsServer, context: ContextFactory, rsa2048: TestKey
) -> None:
    publish(zone, rsa2048, "sel1")
    ctx = context()
    found = run(to_message(appended(sign(RAW, rsa2048, DOMAIN, "sel1", length=True))), ctx)
    assert names(found) == ["DKIM_VALID", "DKIM_BODY_LENGTH"]
    reason = only(found, "DKIM_BODY_LENGTH").reason
    assert reason.startswith("d=example.test s=sel1: l=")
    signed, total = (int(n) for n in reason.split("l=")[1].split(" body")[0].split(" of "))
    assert signed < total  # the footer is outside the signed part
    assert ctx.auth.dkim[0].result == "pass"
    assert ctx.auth.dkim[0].body_length is True


def test_body_length_signature_ignored_is_as_if_absent(
    zone: TestDnsServer, context: ContextFactory, rsa2048: TestKey
) -> None:
    publish(zone, rsa2048, "sel1")
    ctx = context(dkim={"body_length": "ignore"})
    found = run(to_message(appended(sign(RAW, rsa2048, DOMAIN, "sel1", length=True))), ctx)
    assert names(found) == ["DKIM_NONE"]
    assert [(r.result, r.body_length) for r in ctx.auth.dkim] == [("policy", True)]
    assert zone.count("sel1._domainkey.example.test", "TXT") == 0  # not even looked at


def test_ignored_body_length_signature_leaves_the_others_alone(
    zone: TestDnsServer, context: ContextFactory, rsa2048: TestKey, other2048: TestKey
) -> None:
    publish(zone, rsa2048, "sel1")
    publish(zone, other2048, "bulk", OTHER)
    ctx = context(dkim={"body_length": "ignore"})
    signed = sign(sign(RAW, rsa2048, DOMAIN, "sel1"), other2048, OTHER, "bulk", length=True)
    found = run(to_message(signed), ctx)
    assert names(found) == ["DKIM_VALID"]
    assert only(found, "DKIM_VALID").reason == "d=example.test s=sel1"


# -- what cannot be decided -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["blackhole", "servfail"])
def test_dns_outage_is_temperror_never_invalid(
    zone: TestDnsServer, context: ContextFactory, rsa2048: TestKey, mode: str
) -> None:
    publish(zone, rsa2048, "sel1")
    zone.mode = mode  # type: ignore[assignment]
    ctx = context(timeout=0.3, budget=1.0)
    started = time.monotonic()
    found = run(to_message(sign(RAW, rsa2048, DOMAIN, "sel1")), ctx)
    assert time.monotonic() - started < 1.5  # bounded by the DNS budget
    assert names(found) == ["DKIM_TEMPERROR"]
    assert only(found, "DKIM_TEMPERROR").reason.startswith(
        "d=example.test s=sel1: key lookup failed: sel1._domainkey.example.test/TXT"
    )
    assert ctx.auth.dkim[0].result == "temperror"


def test_truncated_body_is_not_verified_and_not_invalid(
    zone: TestDnsServer, context: ContextFactory, rsa2048: TestKey
) -> None:
    publish(zone, rsa2048, "sel1")
    ctx = context()
    message = to_message(sign(RAW, rsa2048, DOMAIN, "sel1"))
    cut = Message(message.connection, message.sender, message.recipients, message.headers,
                  message.body[:10], body_truncated=True)
    found = run(cut, ctx)
    assert "DKIM_INVALID" not in names(found)
    assert ctx.auth.dkim[0].result == "neutral"
    assert "milter.max_body_bytes" in ctx.auth.dkim[0].reason
    assert zone.count("sel1._domainkey.example.test", "TXT") == 0


def test_only_max_signatures_are_verified(
    zone: TestDnsServer, context: ContextFactory, rsa2048: TestKey
) -> None:
    publish(zone, rsa2048, "sel1")
    signed = RAW
    for _ in range(3):
        signed = sign(signed, rsa2048, DOMAIN, "sel1")
    ctx = context(dkim={"max_signatures": 2})
    run(to_message(signed), ctx)
    assert len(ctx.auth.dkim) == 2


def test_unparsable_signature_is_a_permanent_error(context: ContextFactory) -> None:
    ctx = context()
    found = run(to_message(b"DKIM-Signature: v=1; d=example.test; s=sel1\r\n" + RAW), ctx)
    assert names(found) == ["DKIM_PERMERROR"]
    assert only(found, "DKIM_PERMERROR").reason.startswith("d=example.test s=sel1: missing ")
    assert ctx.auth.dkim[0].result == "permerror"


def test_disabled_check_says_nothing(context: ContextFactory, rsa2048: TestKey) -> None:
    ctx = context(dkim={"enabled": False})
    assert run(to_message(sign(RAW, rsa2048, DOMAIN, "sel1")), ctx) == []
    assert ctx.auth.dkim == []


def test_a_60_kb_junk_record_served_as_the_key_is_a_permanent_error_not_a_bad_signature(
    zone: TestDnsServer, context: ContextFactory, rsa2048: TestKey
) -> None:
    # Too big for UDP: fetched over TCP, then found to be no key at all (RFC 6376 6.1.2).
    zone.add("sel1._domainkey.example.test", "TXT", "x" * 60_000)
    ctx = context()
    found = run(to_message(sign(RAW, rsa2048, DOMAIN, "sel1")), ctx)
    assert names(found) == ["DKIM_PERMERROR"]
    assert only(found, "DKIM_PERMERROR").reason == (
        "d=example.test s=sel1: key record at sel1._domainkey.example.test cannot be parsed")
    assert ctx.auth.dkim[0].result == "permerror"
    assert ("sel1._domainkey.example.test", "TXT") in zone.tcp_queries
