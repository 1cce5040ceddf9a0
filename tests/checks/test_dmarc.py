"""DMARC (RFC 7489) against a real DNS server on loopback.

SPF and DKIM results are filled in by hand (the SPF and DKIM checks have their own tests);
the DMARC records, the organisational-domain fallback and the policies come from DNS.
Each test domain is its own organisational domain (x.test): the Public Suffix List treats
an unknown TLD as a public suffix.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.builders import make_message, make_settings, names, only, run_check
from tests.support.dns_server import TestDnsServer

from thurac.auth import ArcResult, AuthResults, DkimResult, DmarcResult, SpfResult
from thurac.checks.base import CheckContext
from thurac.checks.dmarc import (
    MAX_FROM_DOMAINS,
    Dmarc,
    DmarcRecord,
    aligned,
    parse_record,
)
from thurac.config import DmarcSettings, Settings
from thurac.dns import Resolver
from thurac.domains import organizational_domain
from thurac.message import Connection, Message
from thurac.policy.dmarc_honour import forced_action
from thurac.scanner import open_scanner
from thurac.symbols import Symbol

CHECK = Dmarc()
TIMEOUT = 0.3
BUDGET = 1.0
SPOOFER_IP = "203.0.113.66"
BANK_IP = "192.0.2.25"


@pytest.fixture(scope="module")
def zones() -> Iterator[TestDnsServer]:
    with TestDnsServer() as server:
        server.add("_dmarc.bank.test", "TXT", "v=DMARC1; p=reject; rua=mailto:d@bank.test")
        server.add("_dmarc.shop.test", "TXT", "v=DMARC1; p=quarantine")
        server.add("_dmarc.blog.test", "TXT", "v=DMARC1; p=none; rua=mailto:d@blog.test")
        server.add("_dmarc.strict.test", "TXT", "v=DMARC1; p=reject; adkim=s; aspf=s")
        server.add("_dmarc.example.test", "TXT", "v=DMARC1; p=reject; sp=quarantine")
        server.add("_dmarc.twice.test", "TXT", "v=DMARC1; p=reject")
        server.add("_dmarc.twice.test", "TXT", "v=DMARC1; p=none")
        server.add("_dmarc.badp.test", "TXT", "v=DMARC1; p=bogus")
        server.add("_dmarc.badprua.test", "TXT", "v=DMARC1; p=bogus; rua=mailto:d@badprua.test")
        server.add("_dmarc.notfirst.test", "TXT", "p=reject; v=DMARC1")
        server.add("_dmarc.noise.test", "TXT", "some-verification=123")
        server.add("_dmarc.noise.test", "TXT", "v=DMARC1; p=quarantine")
        # For the scanner test: bank.test sends from BANK_IP only.
        server.add("bank.test", "TXT", f"v=spf1 ip4:{BANK_IP} -all")
        yield server


def context(server: TestDnsServer, settings: Settings | None = None, *,
            spf: SpfResult | None = None, dkim: tuple[DkimResult, ...] = (),
            arc: ArcResult | None = None) -> CheckContext:
    resolver = Resolver([server.address], timeout=TIMEOUT)
    auth = AuthResults(spf=spf, dkim=list(dkim), arc=arc)
    return CheckContext(settings or make_settings(), resolver.session(BUDGET), auth)


def spf_result(domain: str, result: Any = "pass") -> SpfResult:
    return SpfResult(result, "mailfrom", domain, f"bounce@{domain}")


def dkim_result(domain: str, result: Any = "pass") -> DkimResult:
    return DkimResult(result, domain, "sel")


def from_(*values: str) -> Message:
    return make_message(without=("From",), extra_headers=[("From", v) for v in values])


def run(message: Message, ctx: CheckContext) -> list[Symbol]:
    return run_check(CHECK, message, ctx)


def result_of(ctx: CheckContext) -> DmarcResult:
    assert ctx.auth.dmarc is not None
    return ctx.auth.dmarc


# -- policy discovery ------------------------------------------------------------------------


def test_domain_without_a_record_is_dmarc_none(zones: TestDnsServer) -> None:
    ctx = context(zones, spf=spf_result("nodmarc.test", "fail"))
    found = only(run(from_("a@nodmarc.test"), ctx), "DMARC_NONE")
    assert found.reason == "no DMARC record for nodmarc.test"
    assert result_of(ctx) == DmarcResult("none", "nodmarc.test", None, found.reason)


def test_subdomain_falls_back_to_the_organisational_domain_and_its_sp(
    zones: TestDnsServer,
) -> None:
    zones.reset_queries()
    ctx = context(zones)
    found = only(run(from_("a@mail.sub.example.test"), ctx), "DMARC_FAIL_QUARANTINE")
    assert ("_dmarc.mail.sub.example.test", "TXT") in zones.queries
    assert ("_dmarc.example.test", "TXT") in zones.queries
    assert ("_dmarc.sub.example.test", "TXT") not in zones.queries  # no tree walk in RFC 7489
    assert found.reason.startswith("mail.sub.example.test p=quarantine: no aligned pass")
    assert result_of(ctx).policy == "quarantine"


def test_organisational_domain_itself_gets_p_not_sp(zones: TestDnsServer) -> None:
    only(run(from_("a@example.test"), context(zones)), "DMARC_FAIL_REJECT")


def test_subdomain_without_sp_gets_p(zones: TestDnsServer) -> None:
    only(run(from_("a@news.bank.test"), context(zones)), "DMARC_FAIL_REJECT")


@pytest.mark.parametrize(
    ("domain", "symbol"),
    [("bank.test", "DMARC_FAIL_REJECT"), ("shop.test", "DMARC_FAIL_QUARANTINE"),
     ("blog.test", "DMARC_FAIL_NONE"), ("noise.test", "DMARC_FAIL_QUARANTINE"),
     ("badprua.test", "DMARC_FAIL_NONE")],
)
def test_failure_symbol_follows_the_published_policy(
    zones: TestDnsServer, domain: str, symbol: str
) -> None:
    ctx = context(zones, spf=spf_result("spoof.test"), dkim=(dkim_result("spoof.test"),))
    found = only(run(from_(f"a@{domain}"), ctx), symbol)
    assert found.reason == (
        f"{domain} p={result_of(ctx).policy}: no aligned pass "
        "(SPF pass for spoof.test; DKIM pass d=spoof.test)"
    )
    assert result_of(ctx).result == "fail"


@pytest.mark.parametrize(
    ("domain", "why"),
    [("twice.test", "2 DMARC records at _dmarc.twice.test"),
     ("badp.test", "unusable DMARC record at _dmarc.badp.test: no valid p=")],
)
def test_unusable_record_means_no_dmarc_processing(
    zones: TestDnsServer, domain: str, why: str
) -> None:
    ctx = context(zones)
    assert only(run(from_(f"a@{domain}"), ctx), "DMARC_NONE").reason == why
    assert result_of(ctx).result == "permerror"
    assert forced_action(ctx.auth, DmarcSettings(honor_reject=True)) is None


def test_record_must_start_with_the_version_tag(zones: TestDnsServer) -> None:
    only(run(from_("a@notfirst.test"), context(zones)), "DMARC_NONE")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=DMARC1; p=reject", DmarcRecord("reject")),
        ("v=DMARC1;p=Quarantine;sp=none;adkim=s;aspf=s",
         DmarcRecord("quarantine", "none", "s", "s")),
        (" v = DMARC1 ; p = none ; pct=10; fo=1 ;", DmarcRecord("none")),
        ("v=DMARC1; p=reject; sp=bogus; adkim=x", DmarcRecord("reject")),
        ("v=DMARC1; rua=mailto:a@b.test", DmarcRecord("none")),
        ("v=DMARC1; p=bogus", None),
        ("v=DMARC1", None),
        ("v=dmarc1; p=reject", None),
        ("p=reject; v=DMARC1", None),
        ("v=DMARC2; p=reject", None),
        ("", None),
    ],
)
def test_record_parsing(text: str, expected: DmarcRecord | None) -> None:
    assert parse_record(text) == expected


# -- alignment ---------------------------------------------------------------------------------


def test_aligned_spf_pass_alone_passes(zones: TestDnsServer) -> None:
    ctx = context(zones, spf=spf_result("bounces.bank.test"))
    found = only(run(from_("Bank <alerts@bank.test>"), ctx), "DMARC_PASS")
    assert found.reason == "bank.test p=reject: aligned SPF pass (bounces.bank.test)"
    assert result_of(ctx) == DmarcResult("pass", "bank.test", "reject", found.reason)


def test_aligned_dkim_pass_alone_passes(zones: TestDnsServer) -> None:
    ctx = context(zones, spf=spf_result("mailer.test", "fail"),
                  dkim=(dkim_result("spoof.test", "fail"), dkim_result("bank.test")))
    found = only(run(from_("alerts@bank.test"), ctx), "DMARC_PASS")
    assert found.reason == "bank.test p=reject: aligned DKIM pass (d=bank.test)"


@pytest.mark.parametrize(
    ("spf", "dkim"),
    [
        (spf_result("bank.test", "softfail"), ()),
        (spf_result("bank.test", "neutral"), (dkim_result("bank.test", "fail"),)),
        (spf_result("bank.test.spoof.test"), (dkim_result("notbank.test"),)),
        (None, ()),
    ],
)
def test_no_aligned_pass_fails(zones: TestDnsServer, spf: SpfResult | None,
                               dkim: tuple[DkimResult, ...]) -> None:
    ctx = context(zones, spf=spf, dkim=dkim)
    only(run(from_("alerts@bank.test"), ctx), "DMARC_FAIL_REJECT")
    assert result_of(ctx).result == "fail"


def test_failure_reason_tells_what_was_seen(zones: TestDnsServer) -> None:
    unsigned = DkimResult("none", reason="no signature")
    ctx = context(zones, spf=spf_result("bank.test", "fail"), dkim=(unsigned,))
    found = only(run(from_("alerts@bank.test"), ctx), "DMARC_FAIL_REJECT")
    assert found.reason == "bank.test p=reject: no aligned pass (SPF fail for bank.test; DKIM none)"


@pytest.mark.parametrize(
    ("spf", "dkim", "symbol"),
    [
        (spf_result("strict.test"), (), "DMARC_PASS"),
        (spf_result("mail.strict.test"), (), "DMARC_FAIL_REJECT"),
        (None, (dkim_result("strict.test"),), "DMARC_PASS"),
        (None, (dkim_result("sub.strict.test"),), "DMARC_FAIL_REJECT"),
        (None, (dkim_result("STRICT.TEST."),), "DMARC_PASS"),
    ],
)
def test_strict_alignment_needs_the_exact_domain(
    zones: TestDnsServer, spf: SpfResult | None, dkim: tuple[DkimResult, ...], symbol: str
) -> None:
    only(run(from_("a@strict.test"), context(zones, spf=spf, dkim=dkim)), symbol)


def test_relaxed_alignment_accepts_the_same_organisational_domain(zones: TestDnsServer) -> None:
    ctx = context(zones, dkim=(dkim_result("bank.test"),))
    only(run(from_("alerts@news.bank.test"), ctx), "DMARC_PASS")


def test_organisational_domains_come_from_the_public_suffix_list() -> None:
    assert organizational_domain("mail.sub.example.test") == "example.test"
    assert organizational_domain("a.b.example.co.uk") == "example.co.uk"
    assert organizational_domain("co.uk") == "co.uk"
    assert organizational_domain("Mail.Example.COM.") == "example.com"
    assert aligned("mail.example.co.uk", "example.co.uk", "r")
    assert not aligned("evil.co.uk", "example.co.uk", "r")
    assert not aligned("", "example.co.uk", "r")


# -- temporary failures never condemn ----------------------------------------------------------


def test_dns_failure_fetching_the_record_is_dmarc_temperror_scored_zero() -> None:
    with TestDnsServer() as dead:
        dead.mode = "blackhole"
        ctx = context(dead, spf=spf_result("spoof.test"))
        started = time.monotonic()
        found = run(from_("a@bank.test"), ctx)
        elapsed = time.monotonic() - started
    assert [(f.name, f.score) for f in found] == [("DMARC_TEMPERROR", 0.0)]
    assert found[0].reason.startswith("DNS failure for _dmarc.bank.test")
    result = result_of(ctx)
    assert (result.result, result.domain, result.policy) == ("temperror", "bank.test", None)
    assert result.reason.startswith("DNS failure for _dmarc.bank.test")
    assert forced_action(ctx.auth, DmarcSettings(honor_reject=True)) is None
    assert elapsed < BUDGET + 0.5


@pytest.mark.parametrize(
    ("spf", "dkim", "why"),
    [
        (spf_result("bank.test", "temperror"), (), "SPF temperror for bank.test"),
        (spf_result("spoof.test"), (dkim_result("bank.test", "temperror"),),
         "DKIM temperror for d=bank.test"),
    ],
)
def test_aligned_temperror_without_a_pass_is_temperror_not_fail(
    zones: TestDnsServer, spf: SpfResult, dkim: tuple[DkimResult, ...], why: str
) -> None:
    ctx = context(zones, spf=spf, dkim=dkim)
    found = run(from_("a@bank.test"), ctx)
    assert [(f.name, f.reason) for f in found] == [
        ("DMARC_TEMPERROR", f"bank.test p=reject: no aligned pass, but {why}")]
    assert result_of(ctx).result == "temperror"
    assert result_of(ctx).reason == f"bank.test p=reject: no aligned pass, but {why}"
    assert forced_action(ctx.auth, DmarcSettings(honor_reject=True)) is None


def test_unaligned_temperror_does_not_save_a_failure(zones: TestDnsServer) -> None:
    ctx = context(zones, spf=spf_result("spoof.test", "temperror"))
    only(run(from_("a@bank.test"), ctx), "DMARC_FAIL_REJECT")


# -- From header problems fail DMARC -----------------------------------------------------------


def test_message_without_from_fails_with_no_policy(zones: TestDnsServer) -> None:
    ctx = context(zones, spf=spf_result("bank.test"))
    found = only(run(from_(), ctx), "DMARC_FAIL_NONE")
    assert found.reason == "no From header: fails DMARC, no policy found"
    assert result_of(ctx) == DmarcResult("fail", "", None, found.reason)
    assert forced_action(ctx.auth, DmarcSettings(honor_reject=True)) is None


def test_several_from_addresses_fail_under_the_strictest_policy(zones: TestDnsServer) -> None:
    # The spoofer lists his own p=none domain first and even passes for it.
    ctx = context(zones, spf=spf_result("blog.test"), dkim=(dkim_result("blog.test"),))
    found = only(run(from_("me@blog.test, Bank <alerts@bank.test>"), ctx), "DMARC_FAIL_REJECT")
    assert found.reason == ("2 addresses in From: me@blog.test, alerts@bank.test: "
                            "fails DMARC under bank.test p=reject")
    assert (result_of(ctx).domain, result_of(ctx).policy) == ("bank.test", "reject")
    assert forced_action(ctx.auth, DmarcSettings(honor_reject=True)) == "reject"


def test_two_from_fields_fail_even_when_aligned(zones: TestDnsServer) -> None:
    ctx = context(zones, spf=spf_result("shop.test"))
    only(run(from_("a@shop.test", "a@shop.test"), ctx), "DMARC_FAIL_QUARANTINE")


def test_several_from_domains_without_policy_fail_with_none(zones: TestDnsServer) -> None:
    only(run(from_("a@one.test, b@two.test"), context(zones)), "DMARC_FAIL_NONE")


def test_policy_lookups_for_a_hostile_from_list_are_bounded(zones: TestDnsServer) -> None:
    listing = ", ".join(f"u{i}@d{i}.test" for i in range(100))
    zones.reset_queries()
    only(run(from_(listing), context(zones)), "DMARC_FAIL_NONE")
    dmarc_queries = [q for q in zones.queries if q[0].startswith("_dmarc.")]
    assert len(dmarc_queries) <= 2 * MAX_FROM_DOMAINS


# -- ARC override ------------------------------------------------------------------------------


def test_trusted_arc_sealer_overrides_a_failure(zones: TestDnsServer) -> None:
    arc = ArcResult("pass", "lists.test", trusted=True)
    ctx = context(zones, spf=spf_result("lists.test"), arc=arc)
    found = only(run(from_("alerts@bank.test"), ctx), "DMARC_FAIL_NONE")
    assert found.reason.endswith("; overridden: trusted ARC sealer lists.test passed")
    assert (result_of(ctx).result, result_of(ctx).policy) == ("fail", "reject")
    assert forced_action(ctx.auth, DmarcSettings(honor_reject=True)) is None


def test_untrusted_arc_sealer_changes_nothing(zones: TestDnsServer) -> None:
    ctx = context(zones, spf=spf_result("lists.test"), arc=ArcResult("pass", "lists.test"))
    only(run(from_("alerts@bank.test"), ctx), "DMARC_FAIL_REJECT")
    assert forced_action(ctx.auth, DmarcSettings(honor_reject=True)) == "reject"


# -- the YAML switches -------------------------------------------------------------------------


def spoofed_bank_mail() -> Message:
    return Message(
        connection=Connection(SPOOFER_IP, helo="mail.spoof.test", tls_version="TLSv1.3"),
        sender="alerts@bank.test",
        recipients=("alice@example.com",),
        headers=(("From", "Bank <alerts@bank.test>"), ("To", "alice@example.com"),
                 ("Subject", "verify your account"), ("Message-ID", "<1@spoof.test>"),
                 ("Date", "Mon, 06 May 2024 07:08:09 +0000")),
        body=b"click\r\n",
    )


@pytest.mark.parametrize(
    ("dmarc", "expected"),
    [
        ({"honor_reject": True}, "reject"),
        ({"honor_quarantine": True}, "quarantine"),
        ({}, "accept"),
    ],
)
def test_scanner_applies_the_domains_policy_when_told_to(
    zones: TestDnsServer, tmp_path: Path, dmarc: dict[str, bool], expected: str
) -> None:
    # Thresholds out of reach: only the DMARC policy can block this message.
    settings = make_settings(
        database={"url": f"sqlite:///{tmp_path}/thurac.db"},
        dns={"nameservers": [zones.address], "timeout": TIMEOUT, "budget": 3},
        actions={"add_header": 100, "quarantine": 200, "reject": 300},
        dmarc=dmarc,
    )
    scanner = open_scanner(settings, recording=False)
    try:
        outcome = scanner.scan(spoofed_bank_mail())
    finally:
        scanner.close()
    assert outcome.verdict is not None
    assert outcome.verdict.action == expected
    assert "DMARC_FAIL_REJECT" in names(outcome.verdict.symbols)
    assert outcome.auth.spf is not None and outcome.auth.spf.result == "fail"
    assert outcome.auth.dmarc is not None and outcome.auth.dmarc.policy == "reject"


def test_disabled_check_and_outbound_mail_say_nothing(zones: TestDnsServer) -> None:
    off = make_settings(dmarc={"enabled": False})
    ctx = context(zones, off)
    assert run(from_("a@bank.test"), ctx) == []
    assert ctx.auth.dmarc is None
    outbound = make_message("a@bank.test", direction="outbound", auth_user="a")
    assert run(outbound, context(zones)) == []
