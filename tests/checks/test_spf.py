"""SPF (RFC 7208) through thurac's own resolver, against a real DNS server on loopback.

pyspf evaluates the records; every lookup it makes goes through the message's DnsSession,
so RFC 7208's limits (10 DNS-querying terms, 2 void lookups) and the per-message DNS
budget both hold, and a DNS failure is SPF_TEMPERROR, never SPF_FAIL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import spf
from tests.builders import make_message, make_settings, names, only, run_check
from tests.support.dns_server import TestDnsServer

from thurac.checks.base import CheckContext
from thurac.checks.spf import Spf
from thurac.checks.spf_dns import check_spf
from thurac.config import Settings
from thurac.dns import Resolver
from thurac.message import Message
from thurac.symbols import Symbol

CHECK = Spf()
CLIENT = "192.0.2.5"
OTHER_CLIENT = "198.51.100.99"
TIMEOUT = 0.3  # per query: keeps the blackhole tests short
BUDGET = 1.0  # per message


def _chain(server: TestDnsServer, prefix: str, length: int, last: str) -> None:
    """prefix0 includes prefix1 ... prefix{length-1}, whose record is `last`."""
    for i in range(length - 1):
        server.add(f"{prefix}{i}.spf.test", "TXT", f"v=spf1 include:{prefix}{i + 1}.spf.test -all")
    server.add(f"{prefix}{length - 1}.spf.test", "TXT", last)


@pytest.fixture(scope="module")
def zones() -> Iterator[TestDnsServer]:
    with TestDnsServer() as server:
        server.add("pass.spf.test", "TXT", f"v=spf1 ip4:{CLIENT}/32 -all")
        server.add("fail.spf.test", "TXT", "v=spf1 ip4:203.0.113.0/24 -all")
        server.add("soft.spf.test", "TXT", "v=spf1 ip4:203.0.113.0/24 ~all")
        server.add("neutral.spf.test", "TXT", "v=spf1 ip4:203.0.113.0/24 ?all")
        server.add("nomatch.spf.test", "TXT", "v=spf1 ip4:203.0.113.0/24")
        server.add("nospf.spf.test", "TXT", "google-site-verification=abc")
        server.add("nospf.spf.test", "MX", "10 mx.nospf.spf.test")
        server.add("broken.spf.test", "TXT", "v=spf1 ip4:300.1.2.3 -all")
        server.add("two.spf.test", "TXT", "v=spf1 -all")
        server.add("two.spf.test", "TXT", "v=spf1 +all")
        server.add("v6.spf.test", "TXT", "v=spf1 ip6:2001:db8::/32 -all")
        # Mechanisms that need lookups, answered only by this server.
        server.add("amx.spf.test", "TXT", "v=spf1 a:host.amx.spf.test mx -all")
        server.add("host.amx.spf.test", "A", "203.0.113.7")
        server.add("amx.spf.test", "MX", "10 mail.amx.spf.test")
        server.add("mail.amx.spf.test", "A", CLIENT)
        # Include chains: 10 terms needing DNS is the limit, the 11th is a permerror.
        _chain(server, "ten", 10,  # 9 includes, then one a: = 10 terms that query DNS
               "v=spf1 a:host.amx.spf.test ip4:192.0.2.0/24 -all")
        _chain(server, "eleven", 12, f"v=spf1 ip4:{CLIENT} -all")  # 11 includes
        server.add("inc.spf.test", "TXT", "v=spf1 include:pass.spf.test -all")
        server.add("redir.spf.test", "TXT", "v=spf1 redirect=pass.spf.test")
        # Loops: include and redirect back to where they started.
        server.add("loop-a.spf.test", "TXT", "v=spf1 include:loop-b.spf.test -all")
        server.add("loop-b.spf.test", "TXT", "v=spf1 include:loop-a.spf.test -all")
        server.add("self.spf.test", "TXT", "v=spf1 redirect=self.spf.test")
        # Void lookups: names that do not exist.  Two are allowed, the third is a permerror.
        server.add("void2.spf.test", "TXT",
                   "v=spf1 a:gone1.void.test a:gone2.void.test ip4:192.0.2.0/24 -all")
        server.add("void3.spf.test", "TXT",
                   "v=spf1 a:gone1.void.test a:gone2.void.test a:gone3.void.test "
                   "ip4:192.0.2.0/24 -all")
        # HELO identity for bounces.
        server.add("mta.helo.test", "TXT", f"v=spf1 ip4:{CLIENT} -all")
        yield server


def context(server: TestDnsServer, settings: Settings | None = None, *,
            budget: float = BUDGET) -> CheckContext:
    """A fresh resolver each time, so no test sees another's cached answers."""
    resolver = Resolver([server.address], timeout=TIMEOUT)
    return CheckContext(settings or make_settings(), resolver.session(budget))


def mail(sender: str, ip: str = CLIENT, **kwargs: Any) -> Message:
    return make_message(sender, client_ip=ip, **kwargs)


def run(message: Message, ctx: CheckContext) -> list[Symbol]:
    found = run_check(CHECK, message, ctx)
    assert len(found) <= 1  # one SPF result per message
    return found


@pytest.mark.parametrize(
    ("domain", "symbol", "reason"),
    [
        ("pass.spf.test", "SPF_PASS", f"{CLIENT} permitted by pass.spf.test: ip4:{CLIENT}/32"),
        ("fail.spf.test", "SPF_FAIL", f"{CLIENT} not permitted by fail.spf.test: -all"),
        ("soft.spf.test", "SPF_SOFTFAIL",
         f"{CLIENT} probably not permitted by soft.spf.test: ~all"),
        ("neutral.spf.test", "SPF_NEUTRAL",
         f"neutral.spf.test makes no assertion about {CLIENT}: ?all"),
        ("nomatch.spf.test", "SPF_NEUTRAL",
         f"nomatch.spf.test makes no assertion about {CLIENT}: no mechanism matched"),
        ("nospf.spf.test", "SPF_NONE", "nospf.spf.test publishes no SPF record"),
        ("nowhere.spf.test", "SPF_NONE", "nowhere.spf.test publishes no SPF record"),
    ],
)
def test_each_spf_result_is_a_symbol_with_a_plain_reason(
    zones: TestDnsServer, domain: str, symbol: str, reason: str
) -> None:
    ctx = context(zones)
    found = only(run(mail(f"news@{domain}"), ctx), symbol)
    assert found.reason == reason
    assert ctx.auth.spf is not None
    assert (ctx.auth.spf.identity, ctx.auth.spf.domain) == ("mailfrom", domain)
    assert ctx.auth.spf.address == f"news@{domain}"
    assert ctx.auth.spf.result == symbol.removeprefix("SPF_").lower()


def test_scores_come_from_the_yaml(zones: TestDnsServer) -> None:
    settings = make_settings(scores={"SPF_FAIL": 9.5})
    found = only(run(mail("x@fail.spf.test"), context(zones, settings)), "SPF_FAIL")
    assert found.score == 9.5


def test_a_and_mx_mechanisms_are_resolved_by_our_resolver_not_pyspfs(
    zones: TestDnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("pyspf used its own DNS resolver")

    monkeypatch.setattr(spf, "DNSLookup", forbidden)
    zones.reset_queries()
    found = only(run(mail("x@amx.spf.test"), context(zones)), "SPF_PASS")
    assert found.reason.endswith(": mx")
    for query in (("amx.spf.test", "TXT"), ("host.amx.spf.test", "A"),
                  ("amx.spf.test", "MX"), ("mail.amx.spf.test", "A")):
        assert query in zones.queries


def test_ipv6_client_is_matched_by_ip6(zones: TestDnsServer) -> None:
    only(run(mail("x@v6.spf.test", ip="2001:db8::25"), context(zones)), "SPF_PASS")
    only(run(mail("x@v6.spf.test", ip="2001:db9::25"), context(zones)), "SPF_FAIL")


@pytest.mark.parametrize("domain", ["inc.spf.test", "redir.spf.test"])
def test_include_and_redirect_are_followed(zones: TestDnsServer, domain: str) -> None:
    only(run(mail(f"x@{domain}"), context(zones)), "SPF_PASS")
    only(run(mail(f"x@{domain}", ip=OTHER_CLIENT), context(zones)), "SPF_FAIL")


def test_ten_dns_lookups_are_allowed(zones: TestDnsServer) -> None:
    answer = check_spf(context(zones).dns, CLIENT, "x@ten0.spf.test", "h.test")
    assert (answer.result, answer.lookups) == ("pass", 10)


def test_an_eleventh_dns_lookup_is_a_permerror(zones: TestDnsServer) -> None:
    ctx = context(zones)
    found = only(run(mail("x@eleven0.spf.test"), ctx), "SPF_PERMERROR")
    assert found.reason == "broken SPF record at eleven0.spf.test: Too many DNS lookups"
    assert ctx.auth.spf is not None and ctx.auth.spf.result == "permerror"
    # pyspf stops at the 11th term: the 12th record in the chain is never asked for.
    assert check_spf(context(zones).dns, CLIENT, "x@eleven0.spf.test", "h").lookups == 11


@pytest.mark.parametrize("domain", ["loop-a.spf.test", "self.spf.test"])
def test_include_and_redirect_loops_are_permerrors(zones: TestDnsServer, domain: str) -> None:
    started = time.monotonic()
    found = only(run(mail(f"x@{domain}"), context(zones)), "SPF_PERMERROR")
    assert "Too many DNS lookups" in found.reason
    assert time.monotonic() - started < BUDGET


def test_two_void_lookups_are_allowed(zones: TestDnsServer) -> None:
    answer = check_spf(context(zones).dns, CLIENT, "x@void2.spf.test", "h.test")
    assert (answer.result, answer.void_lookups) == ("pass", 2)


def test_a_third_void_lookup_is_a_permerror(zones: TestDnsServer) -> None:
    found = only(run(mail("x@void3.spf.test"), context(zones)), "SPF_PERMERROR")
    assert "more than 2 void lookups" in found.reason


@pytest.mark.parametrize("domain", ["broken.spf.test", "two.spf.test"])
def test_broken_records_are_permerrors(zones: TestDnsServer, domain: str) -> None:
    only(run(mail(f"x@{domain}"), context(zones)), "SPF_PERMERROR")


def test_bounce_is_checked_against_the_helo_name(zones: TestDnsServer) -> None:
    ctx = context(zones)
    found = only(run(mail("", helo="mta.helo.test"), ctx), "SPF_PASS")
    assert found.reason == f"{CLIENT} permitted by mta.helo.test (HELO): ip4:{CLIENT}"
    assert ctx.auth.spf is not None
    assert (ctx.auth.spf.identity, ctx.auth.spf.address) == ("helo", "mta.helo.test")
    only(run(mail("", ip=OTHER_CLIENT, helo="mta.helo.test"), context(zones)), "SPF_FAIL")


@pytest.mark.parametrize("helo", ["[192.0.2.5]", "localhost", ""])
def test_bounce_without_a_helo_domain_is_none_without_asking_dns(
    zones: TestDnsServer, helo: str
) -> None:
    zones.reset_queries()
    ctx = context(zones)
    found = only(run(mail("", helo=helo), ctx), "SPF_NONE")
    assert "is not a domain name with SPF" in found.reason
    assert zones.queries == []
    assert ctx.auth.spf is not None and ctx.auth.spf.identity == "helo"


def test_disabled_check_and_outbound_mail_say_nothing(zones: TestDnsServer) -> None:
    off = make_settings(spf={"enabled": False})
    assert run(mail("x@fail.spf.test"), context(zones, off)) == []
    outbound = mail("x@fail.spf.test", direction="outbound", auth_user="x")
    ctx = context(zones)
    assert run(outbound, ctx) == []
    assert ctx.auth.spf is None


def test_unknown_client_address_is_not_checked(zones: TestDnsServer) -> None:
    ctx = context(zones)
    assert run(mail("x@fail.spf.test", ip="unknown"), ctx) == []
    assert ctx.auth.spf is None


# -- DNS failures: temperror, never fail -------------------------------------------------------


@pytest.mark.parametrize("mode", ["blackhole", "servfail"])
def test_dns_outage_is_a_temperror_within_the_budget(mode: str) -> None:
    with TestDnsServer() as dead:
        dead.add("fail.spf.test", "TXT", "v=spf1 -all")  # would fail, if it could be read
        dead.mode = mode  # type: ignore[assignment]
        ctx = context(dead)
        started = time.monotonic()
        found = run(mail("x@fail.spf.test"), ctx)
        elapsed = time.monotonic() - started
    symbol = only(found, "SPF_TEMPERROR")
    assert symbol.score == 0.0
    assert symbol.reason.startswith("could not evaluate fail.spf.test: DNS failure for ")
    assert ctx.auth.spf is not None and ctx.auth.spf.result == "temperror"
    assert elapsed < BUDGET + 0.5


def test_dns_failure_inside_an_include_is_a_temperror_not_a_fail(zones: TestDnsServer) -> None:
    zones.add("outer.spf.test", "TXT", "v=spf1 include:pass.spf.test -all")
    resolver = Resolver([zones.address], timeout=TIMEOUT)
    assert resolver.session(BUDGET).txt("outer.spf.test").ok  # the outer record is now cached
    zones.mode = "blackhole"  # ... and the include's record cannot be fetched
    try:
        ctx = CheckContext(make_settings(), resolver.session(BUDGET))
        found = run(mail("x@outer.spf.test", ip=OTHER_CLIENT), ctx)
    finally:
        zones.mode = "normal"
    assert "pass.spf.test/TXT" in only(found, "SPF_TEMPERROR").reason


def test_exhausted_budget_is_a_temperror_without_any_query(zones: TestDnsServer) -> None:
    zones.reset_queries()
    ctx = context(zones, budget=BUDGET)
    ctx.dns.spent = ctx.dns.budget
    only(run(mail("x@fail.spf.test"), ctx), "SPF_TEMPERROR")
    assert zones.queries == []


def test_concurrent_checks_each_use_their_own_session(zones: TestDnsServer) -> None:
    """The milter is threaded: a dead DNS for one message must not leak into another's."""
    results: dict[str, list[Symbol]] = {}
    with TestDnsServer() as dead:
        dead.mode = "blackhole"
        slow = context(dead)
        fast = context(zones)

        def check(key: str, ctx: CheckContext, sender: str) -> None:
            results[key] = run(mail(sender), ctx)

        threads = [
            threading.Thread(target=check, args=("dead", slow, "x@pass.spf.test")),
            threading.Thread(target=check, args=("live", fast, "x@pass.spf.test")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=5)
    assert names(results["dead"]) == ["SPF_TEMPERROR"]
    assert names(results["live"]) == ["SPF_PASS"]
