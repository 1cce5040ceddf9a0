"""ARC: chains sealed in the test with dkimpy's arc_sign, keys on the real DNS server on loopback.

A mailing list (lists.example) forwards Alice's message and seals it; a second hop
(fwd.example) may seal it again.  The check reports pass/fail/none with the newest sealer, and
marks the chain trusted only when it passes and that sealer is in arc.trusted_sealers.
"""

from __future__ import annotations

import time

import dkim
import pytest
from tests.builders import names, only, run_check
from tests.conftest import ContextFactory
from tests.support.dkim_keys import TestKey, rsa_key, to_message
from tests.support.dns_server import TestDnsServer

from thurac.auth import ArcResult
from thurac.checks.arc import Arc
from thurac.checks.base import CheckContext
from thurac.message import Message
from thurac.symbols import Symbol

CHECK = Arc()
LIST = "lists.example"
FORWARDER = "fwd.example"
SELECTOR = "arc"

RAW = (
    b"From: Alice <alice@example.test>\r\n"
    b"To: team@lists.example\r\n"
    b"Subject: [team] Minutes of the\r\n"
    b" weekly meeting\r\n"
    b"Date: Mon, 06 May 2024 07:08:09 +0000\r\n"
    b"Message-ID: <20240506070809.2@example.test>\r\n"
    b"\r\n"
    b"The minutes are attached.\r\n"
)


@pytest.fixture(scope="module")
def list_key() -> TestKey:
    return rsa_key(2048)


@pytest.fixture(scope="module")
def forwarder_key() -> TestKey:
    return rsa_key(2048)


@pytest.fixture
def keys(zone: TestDnsServer, list_key: TestKey, forwarder_key: TestKey) -> TestDnsServer:
    zone.add(f"{SELECTOR}._domainkey.{LIST}", "TXT", list_key.record)
    zone.add(f"{SELECTOR}._domainkey.{FORWARDER}", "TXT", forwarder_key.record)
    return zone


def seal(raw: bytes, key: TestKey, sealer: str, chain: str | None = None) -> bytes:
    """`raw` as `sealer` forwards it: its Authentication-Results, then its ARC set on top.

    `chain` is the arc= result the sealer found (None for the first hop, which found none).
    """
    results = f"{sealer}; dkim=pass header.d=example.test"
    if chain is not None:
        results += f"; arc={chain}"
    received = f"Authentication-Results: {results}\r\n".encode() + raw
    arc_set: list[bytes] = dkim.arc_sign(
        received, SELECTOR.encode(), sealer.encode(), key.private, sealer.encode()
    )
    assert len(arc_set) == 3, "arc_sign found no Authentication-Results of ours"
    return b"".join(arc_set) + received


def run(message: Message, ctx: CheckContext) -> list[Symbol]:
    return run_check(CHECK, message, ctx)


@pytest.mark.usefixtures("keys")
def test_chain_from_a_mailing_list_passes(context: ContextFactory, list_key: TestKey) -> None:
    ctx = context()
    found = run(to_message(seal(RAW, list_key, LIST)), ctx)
    assert names(found) == ["ARC_PASS"]
    assert only(found, "ARC_PASS").reason == "sealer d=lists.example i=1"
    assert ctx.auth.arc == ArcResult("pass", LIST, "success", trusted=False)


@pytest.mark.usefixtures("keys")
def test_two_hop_chain_passes_and_names_the_newest_sealer(
    context: ContextFactory, list_key: TestKey, forwarder_key: TestKey
) -> None:
    ctx = context()
    twice = seal(seal(RAW, list_key, LIST), forwarder_key, FORWARDER, chain="pass")
    found = run(to_message(twice), ctx)
    assert names(found) == ["ARC_PASS"]
    assert ctx.auth.arc is not None
    assert (ctx.auth.arc.result, ctx.auth.arc.sealer) == ("pass", FORWARDER)


@pytest.mark.usefixtures("keys")
def test_trusted_sealer_vouches_for_the_chain(context: ContextFactory, list_key: TestKey) -> None:
    ctx = context(arc={"trusted_sealers": ["Lists.Example."]})
    found = run(to_message(seal(RAW, list_key, LIST)), ctx)
    assert names(found) == ["ARC_PASS", "ARC_TRUSTED"]
    assert ctx.auth.arc is not None and ctx.auth.arc.trusted


@pytest.mark.usefixtures("keys")
def test_untrusted_sealer_passes_without_vouching(
    context: ContextFactory, list_key: TestKey
) -> None:
    ctx = context(arc={"trusted_sealers": [FORWARDER]})
    found = run(to_message(seal(RAW, list_key, LIST)), ctx)
    assert names(found) == ["ARC_PASS"]
    assert ctx.auth.arc is not None and not ctx.auth.arc.trusted


@pytest.mark.usefixtures("keys")
def test_body_altered_after_sealing_fails_even_for_a_trusted_sealer(
    context: ContextFactory, list_key: TestKey
) -> None:
    ctx = context(arc={"trusted_sealers": [LIST]})
    altered = seal(RAW, list_key, LIST).replace(b"The minutes", b"The invoice")
    found = run(to_message(altered), ctx)
    assert names(found) == ["ARC_FAIL"]
    assert only(found, "ARC_FAIL").score > 0
    assert ctx.auth.arc is not None
    assert (ctx.auth.arc.result, ctx.auth.arc.sealer, ctx.auth.arc.trusted) == (
        "fail", LIST, False,
    )


@pytest.mark.usefixtures("keys")
def test_seal_altered_fails(context: ContextFactory, list_key: TestKey) -> None:
    ctx = context()
    altered = seal(RAW, list_key, LIST).replace(
        b"dkim=pass header.d=example.test", b"dkim=pass header.d=bank.example"
    )
    found = run(to_message(altered), ctx)
    assert names(found) == ["ARC_FAIL"]
    assert ctx.auth.arc is not None and ctx.auth.arc.result == "fail"


def test_message_without_arc_is_none(context: ContextFactory) -> None:
    ctx = context()
    found = run(to_message(RAW), ctx)
    assert names(found) == ["ARC_NONE"]
    assert ctx.auth.arc == ArcResult("none", "", "no ARC headers")


@pytest.mark.usefixtures("keys")
def test_dns_outage_fails_the_chain_without_scoring(
    zone: TestDnsServer, context: ContextFactory, list_key: TestKey
) -> None:
    zone.mode = "blackhole"
    ctx = context(timeout=0.3, budget=1.0)
    started = time.monotonic()
    found = run(to_message(seal(RAW, list_key, LIST)), ctx)
    assert time.monotonic() - started < 1.5  # bounded by the DNS budget
    symbol = only(found, "ARC_FAIL")
    assert symbol.score == 0.0
    assert "key lookup failed: arc._domainkey.lists.example/TXT" in symbol.reason
    assert ctx.auth.arc is not None and not ctx.auth.arc.trusted


@pytest.mark.usefixtures("keys")
def test_instance_above_rfc_limit_fails_without_lookups(
    zone: TestDnsServer, context: ContextFactory, list_key: TestKey
) -> None:
    sealed = seal(RAW, list_key, LIST).replace(b"i=1;", b"i=51;")
    ctx = context()
    found = run(to_message(sealed), ctx)
    assert "i=51 above RFC 8617's limit of 50" in only(found, "ARC_FAIL").reason
    assert zone.queries == []


@pytest.mark.usefixtures("keys")
def test_disabled_check_says_nothing(context: ContextFactory, list_key: TestKey) -> None:
    ctx = context(arc={"enabled": False})
    assert run(to_message(seal(RAW, list_key, LIST)), ctx) == []
    assert ctx.auth.arc is None
