"""Circular 22 art. 4.3b (first dash): sources that only send and never receive.

C22_ONE_WAY comes from history (the sender wrote to us often, none of our users ever wrote back);
C22_NO_MX from the real DNS server on loopback (the sender domain cannot receive mail at all).
"""

from __future__ import annotations

import pytest
from tests.builders import SENDER, make_message, make_settings, names, only, run_check
from tests.conftest import ContextFactory
from tests.support.dns_server import TestDnsServer

from thurac.checks.base import CheckContext
from thurac.checks.one_way_source import OneWaySource
from thurac.dns import Resolver
from thurac.history import History
from thurac.message import Message
from thurac.symbols import Symbol

CHECK = OneWaySource()
DOMAIN = "shop.example"
# A sender our users have written to: C22_ONE_WAY stays out of the DNS tests' way.
CORRESPONDENT = History(sender_messages=100, sender_written_to=True)


def run(message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
    return run_check(CHECK, message, ctx, history)


@pytest.fixture
def receiving_domain(zone: TestDnsServer) -> TestDnsServer:
    """shop.example has a working MX, as most senders do."""
    zone.add(DOMAIN, "MX", "10 mx.shop.example")
    zone.add("mx.shop.example", "A", "198.51.100.25")
    return zone


# -- C22_ONE_WAY: history -----------------------------------------------------------------------


@pytest.mark.usefixtures("receiving_domain")
@pytest.mark.parametrize(
    ("before", "flagged"),
    [
        (3, False),  # this is the 4th message: below min_messages (5)
        (4, True),  # the 5th: min_messages reached
        (400, True),
    ],
)
def test_sender_nobody_ever_wrote_to_is_one_way_from_min_messages(
    context: ContextFactory, before: int, flagged: bool
) -> None:
    found = run(make_message(), History(sender_messages=before), context())
    assert ("C22_ONE_WAY" in names(found)) is flagged


@pytest.mark.usefixtures("receiving_domain")
def test_one_way_reason_gives_the_count_and_the_threshold(context: ContextFactory) -> None:
    symbol = only(run(make_message(), History(sender_messages=4), context()), "C22_ONE_WAY")
    assert symbol.reason == (
        f"{SENDER} sent 5 messages >= 5; no local user ever wrote to it"
    )
    assert symbol.score == pytest.approx(3.0)


@pytest.mark.usefixtures("receiving_domain")
def test_sender_a_local_user_wrote_to_is_not_one_way(context: ContextFactory) -> None:
    history = History(sender_messages=400, sender_written_to=True)
    assert run(make_message(), history, context()) == []


@pytest.mark.usefixtures("receiving_domain")
def test_admin_flags_strangers_from_their_first_message(context: ContextFactory) -> None:
    ctx = context(one_way_source={"min_messages": 1})
    assert names(run(make_message(), History(), ctx)) == ["C22_ONE_WAY"]


@pytest.mark.usefixtures("receiving_domain")
def test_unreadable_history_gives_no_one_way_penalty(context: ContextFactory) -> None:
    history = History(available=False, sender_messages=400)
    assert run(make_message(), history, context()) == []


def test_null_sender_bounces_are_not_judged_at_all(
    context: ContextFactory, zone: TestDnsServer
) -> None:
    found = run(make_message(sender=""), History(sender_messages=400), context())
    assert found == []
    assert zone.queries == []


def test_disabled_check_finds_nothing_and_asks_no_dns(
    context: ContextFactory, zone: TestDnsServer
) -> None:
    found = run(make_message(), History(sender_messages=400),
                context(one_way_source={"enabled": False}))
    assert found == []
    assert zone.queries == []


# -- C22_NO_MX: the sender domain cannot receive mail ------------------------------------------


def test_domain_with_a_working_mx_can_receive(
    context: ContextFactory, receiving_domain: TestDnsServer
) -> None:
    assert run(make_message(), CORRESPONDENT, context()) == []
    assert receiving_domain.count(DOMAIN, "MX") == 1


def test_domain_publishing_null_mx_cannot_receive(
    context: ContextFactory, zone: TestDnsServer
) -> None:
    zone.add(DOMAIN, "MX", "0 .")
    zone.add(DOMAIN, "A", "198.51.100.80")  # a web site does not make it a mail domain
    symbol = only(run(make_message(), CORRESPONDENT, context()), "C22_NO_MX")
    assert symbol.reason == f"{DOMAIN} publishes a null MX (RFC 7505)"
    assert symbol.score == pytest.approx(4.0)


def test_domain_without_mx_but_with_an_address_receives_on_it(
    context: ContextFactory, zone: TestDnsServer
) -> None:
    zone.add(DOMAIN, "A", "198.51.100.80")  # RFC 5321 5.1: the implicit MX
    assert run(make_message(), CORRESPONDENT, context()) == []


def test_domain_without_mx_but_with_an_ipv6_address_receives_on_it(
    context: ContextFactory, zone: TestDnsServer
) -> None:
    zone.add(DOMAIN, "AAAA", "2001:db8::80")
    assert run(make_message(), CORRESPONDENT, context()) == []


def test_domain_with_no_mx_and_no_address_cannot_receive(
    context: ContextFactory, zone: TestDnsServer
) -> None:
    zone.add(DOMAIN, "TXT", "v=spf1 ip4:198.51.100.0/24 -all")  # exists, but only sends
    symbol = only(run(make_message(), CORRESPONDENT, context()), "C22_NO_MX")
    assert symbol.reason == f"{DOMAIN} has no MX and no A/AAAA record"


def test_sender_domain_that_does_not_exist_cannot_receive(context: ContextFactory) -> None:
    symbol = only(run(make_message(), CORRESPONDENT, context()), "C22_NO_MX")
    assert symbol.reason == f"{DOMAIN} does not exist (NXDOMAIN)"


@pytest.mark.parametrize("mode", ["servfail", "blackhole"])
def test_dns_failure_never_counts_against_the_sender(
    context: ContextFactory, zone: TestDnsServer, mode: str
) -> None:
    zone.mode = mode  # type: ignore[assignment]
    ctx = context(timeout=0.2, budget=0.5)
    assert run(make_message(), CORRESPONDENT, ctx) == []
    assert ctx.dns.temperrors  # the failure is on record for the log, not on the sender


def test_address_lookup_failure_after_an_empty_mx_answer_is_no_evidence(
    zone: TestDnsServer,
) -> None:
    # The MX answer (none) is already cached when the DNS server starts failing: the A/AAAA
    # lookup that would decide "cannot receive" fails, so nothing is held against the sender.
    zone.add(DOMAIN, "TXT", "v=spf1 -all")
    resolver = Resolver([zone.address], timeout=0.3)
    assert resolver.session(1.0).mx(DOMAIN).status == "nodata"
    zone.mode = "servfail"
    ctx = CheckContext(make_settings(), resolver.session(1.0))
    assert run(make_message(), CORRESPONDENT, ctx) == []
    assert zone.count(DOMAIN, "A") == 1


def test_mx_check_can_be_switched_off(context: ContextFactory, zone: TestDnsServer) -> None:
    found = run(make_message(), CORRESPONDENT, context(one_way_source={"check_mx": False}))
    assert found == []
    assert zone.queries == []


@pytest.mark.usefixtures("zone")
def test_one_way_and_unreachable_domain_add_up(context: ContextFactory) -> None:
    found = run(make_message(), History(sender_messages=10), context())
    assert sorted(names(found)) == ["C22_NO_MX", "C22_ONE_WAY"]
