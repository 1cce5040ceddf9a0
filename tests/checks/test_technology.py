"""Circular 22 art. 4.3c: the technology used to send — HELO, reverse DNS, TLS, mailer, bulk traits.

Reverse DNS is looked up on the real DNS server on loopback. Every test starts from a well-run
client (forward-confirmed PTR, FQDN HELO, TLS, Message-ID and Date) and changes one thing.
"""

from __future__ import annotations

import pytest
import yaml
from tests.builders import (
    CLIENT_IP,
    local_users,
    make_message,
    make_settings,
    names,
    only,
    run_check,
)
from tests.conftest import ContextFactory
from tests.support.dns_server import TestDnsServer

from thurac.checks.base import CheckContext
from thurac.checks.technology import Technology, helo_address
from thurac.message import Message
from thurac.symbols import Symbol

CHECK = Technology()
PTR_NAME = "mail.shop.example"


def run(message: Message, ctx: CheckContext) -> list[Symbol]:
    return run_check(CHECK, message, ctx)


@pytest.fixture
def well_run(zone: TestDnsServer) -> TestDnsServer:
    """The client's IP has a PTR whose name resolves back to it."""
    zone.add_ptr(CLIENT_IP, PTR_NAME)
    zone.add(PTR_NAME, "A", CLIENT_IP)
    return zone


pytestmark = pytest.mark.usefixtures("well_run")


def test_well_run_client_shows_no_technology_trait(context: ContextFactory) -> None:
    assert run(make_message(), context()) == []


# -- HELO ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("helo", ["[198.51.100.7]", "198.51.100.7", "[IPv6:2001:db8::7]"])
def test_helo_with_an_address_literal(context: ContextFactory, helo: str) -> None:
    found = run(make_message(helo=helo), context())
    assert names(found) == ["C22_TECH_HELO_IP"]
    assert found[0].reason == f"HELO {helo.lower()} is an address literal"


def test_helo_naming_our_own_mx_address_from_outside_is_forged(context: ContextFactory) -> None:
    found = run(make_message(helo="[192.0.2.25]"), context())  # local.addresses: 192.0.2.25
    assert sorted(names(found)) == ["C22_TECH_HELO_FORGED", "C22_TECH_HELO_IP"]
    assert only(found, "C22_TECH_HELO_FORGED").reason == "HELO [192.0.2.25] is our address"


def test_our_own_address_naming_itself_in_helo_is_not_forged(
    context: ContextFactory, well_run: TestDnsServer
) -> None:
    well_run.add_ptr("192.0.2.25", "mx.example.com")
    well_run.add("mx.example.com", "A", "192.0.2.25")
    found = run(make_message(helo="[192.0.2.25]", client_ip="192.0.2.25"), context())
    assert names(found) == ["C22_TECH_HELO_IP"]


@pytest.mark.parametrize("helo", ["example.com", "mx.example.com", "MX.Example.COM."])
def test_helo_claiming_our_domain_is_forged(context: ContextFactory, helo: str) -> None:
    found = run(make_message(helo=helo), context())
    assert names(found) == ["C22_TECH_HELO_FORGED"]
    shown = helo.lower().rstrip(".")
    assert found[0].reason == f"HELO {shown} claims our domain"
    assert found[0].score == pytest.approx(4.0)


def test_helo_merely_ending_like_our_domain_is_not_ours(context: ContextFactory) -> None:
    assert run(make_message(helo="mail.notexample.com"), context()) == []


@pytest.mark.parametrize("helo", ["localhost", "desktop-7f3k", "mail_server.shop.example",
                                  "mail.shop.123"])
def test_helo_that_is_not_a_fully_qualified_name(context: ContextFactory, helo: str) -> None:
    found = run(make_message(helo=helo), context())
    assert names(found) == ["C22_TECH_HELO_NOT_FQDN"]
    assert found[0].reason == f"HELO {helo!r} is not a FQDN"


def test_unknown_helo_is_not_held_against_the_sender(context: ContextFactory) -> None:
    # `thurac check` on a stored message knows no HELO.
    assert run(make_message(helo=""), context()) == []


def test_helo_address_reads_every_literal_form() -> None:
    assert str(helo_address("[192.0.2.1]")) == "192.0.2.1"
    assert str(helo_address("[IPv6:2001:DB8::1]")) == "2001:db8::1"
    assert helo_address("mail.shop.example") is None
    assert helo_address("[not an address]") is None


# -- reverse DNS (real DNS server) ----------------------------------------------------------


def test_client_without_ptr(context: ContextFactory, zone: TestDnsServer) -> None:
    zone.clear()
    found = run(make_message(), context())
    assert names(found) == ["C22_TECH_NO_PTR"]
    assert found[0].reason == f"{CLIENT_IP} has no PTR record"


def test_ptr_name_pointing_elsewhere_is_not_forward_confirmed(
    context: ContextFactory, zone: TestDnsServer
) -> None:
    zone.remove(PTR_NAME, "A")
    zone.add(PTR_NAME, "A", "203.0.113.99")
    found = run(make_message(), context())
    assert names(found) == ["C22_TECH_FCRDNS_MISMATCH"]
    assert found[0].reason == f"PTR {PTR_NAME} does not resolve back to {CLIENT_IP}"


def test_ptr_name_that_does_not_exist_is_not_forward_confirmed(
    context: ContextFactory, zone: TestDnsServer
) -> None:
    zone.remove(PTR_NAME)
    assert names(run(make_message(), context())) == ["C22_TECH_FCRDNS_MISMATCH"]


@pytest.mark.parametrize(
    "ptr",
    [
        "198-51-100-7.pool.isp.example",
        "host198.51.100.7.isp.example",
        "dyn-77.isp.example",
        "adsl-12.hanoi.isp.example",
        "ppp7.isp.example",
        "DHCP-5.ISP.example",
    ],
)
def test_residential_looking_ptr_is_dynamic(
    context: ContextFactory, zone: TestDnsServer, ptr: str
) -> None:
    zone.clear()
    zone.add_ptr(CLIENT_IP, ptr)
    zone.add(ptr, "A", CLIENT_IP)
    found = run(make_message(), context())
    assert names(found) == ["C22_TECH_DYNAMIC_PTR"]
    assert found[0].reason == f"PTR {ptr.lower()} looks dynamic"


def test_dynamic_ptr_patterns_come_from_yaml(context: ContextFactory, zone: TestDnsServer) -> None:
    zone.clear()
    zone.add_ptr(CLIENT_IP, "home.fibre.isp.example")
    zone.add("home.fibre.isp.example", "A", CLIENT_IP)
    default = run(make_message(), context())
    custom = run(make_message(), context(technology={"dynamic_ptr_patterns": [r"\.fibre\."]}))
    assert default == []
    assert names(custom) == ["C22_TECH_DYNAMIC_PTR"]


def test_ipv6_client_with_forward_confirmed_ptr(
    context: ContextFactory, zone: TestDnsServer
) -> None:
    zone.add_ptr("2001:db8::25", "mail6.shop.example")
    zone.add("mail6.shop.example", "AAAA", "2001:db8::25")
    assert run(make_message(client_ip="2001:db8::25"), context()) == []


@pytest.mark.parametrize("spelling", ["IPv6:2001:db8::25", "[2001:db8::25]"])
def test_client_address_in_literal_form_is_still_forward_confirmed(
    context: ContextFactory, zone: TestDnsServer, spelling: str
) -> None:
    # Sendmail's {client_addr} writes IPv6 as "IPv6:..."; message.is_internal accepts both forms.
    zone.add_ptr("2001:db8::25", "mail6.shop.example")
    zone.add("mail6.shop.example", "AAAA", "2001:db8::25")
    assert run(make_message(client_ip=spelling), context()) == []


@pytest.mark.parametrize("mode", ["servfail", "blackhole"])
def test_dns_failure_on_reverse_lookup_says_nothing_about_the_sender(
    context: ContextFactory, zone: TestDnsServer, mode: str
) -> None:
    zone.mode = mode  # type: ignore[assignment]
    assert run(make_message(), context(timeout=0.2, budget=0.5)) == []


def test_reverse_dns_can_be_switched_off(context: ContextFactory, zone: TestDnsServer) -> None:
    zone.clear()
    assert run(make_message(), context(technology={"check_ptr": False})) == []
    assert zone.queries == []


def test_unparsable_client_address_is_not_looked_up(
    context: ContextFactory, zone: TestDnsServer
) -> None:
    assert run(make_message(client_ip="unknown"), context()) == []
    assert zone.queries == []


# -- transport and mailer ---------------------------------------------------------------------


def test_plain_text_smtp_without_tls(context: ContextFactory) -> None:
    found = run(make_message(tls_version=None), context())
    assert names(found) == ["C22_TECH_NO_TLS"]
    assert found[0].score == pytest.approx(0.5)


def test_missing_tls_is_ignored_when_not_required(context: ContextFactory) -> None:
    ctx = context(technology={"require_tls": False})
    assert run(make_message(tls_version=None), ctx) == []


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Mailer", "PHPMailer 6.8.0 (https://github.com/PHPMailer/PHPMailer)"),
        ("X-Mailer", "Atomic Mail Sender 9.41"),
        ("User-Agent", "SendBlaster 4"),
        ("x-mailer", "MASS MAILER pro"),
    ],
)
def test_bulk_mailer_fingerprint(context: ContextFactory, header: str, value: str) -> None:
    found = run(make_message(extra_headers=[(header, value)]), context())
    assert names(found) == ["C22_TECH_MAILER"]
    assert found[0].reason.startswith(f"{header.title()} {value!r} matches ")


@pytest.mark.parametrize("value", ["Mozilla Thunderbird 115.3", "Microsoft Outlook 16.0",
                                   "Roundcube Webmail/1.6"])
def test_ordinary_mail_clients_are_not_bulk_mailers(context: ContextFactory, value: str) -> None:
    assert run(make_message(extra_headers=[("User-Agent", value)]), context()) == []


def test_mailer_patterns_written_in_yaml_replace_the_defaults(context: ContextFactory) -> None:
    section = yaml.safe_load(r"""
technology:
  mailer_patterns:
    - '\bBulk ?Blaster\b'
""")
    ctx = context(make_settings(section))
    blaster = run(make_message(extra_headers=[("X-Mailer", "bulkblaster 2.0")]), ctx)
    phpmailer = run(make_message(extra_headers=[("X-Mailer", "PHPMailer 6.8.0")]), ctx)
    assert names(blaster) == ["C22_TECH_MAILER"]
    assert phpmailer == []


def test_long_mailer_value_is_shortened_in_the_reason(context: ContextFactory) -> None:
    value = "PHPMailer " + "x" * 5000
    found = run(make_message(extra_headers=[("X-Mailer", value)]), context())
    assert len(only(found, "C22_TECH_MAILER").reason) < 200


# -- recipients -------------------------------------------------------------------------------


def test_bulk_mail_hiding_every_recipient_in_bcc(context: ContextFactory) -> None:
    message = make_message(recipients=local_users(10), to=["list@shop.example"])
    found = run(message, context())
    assert names(found) == ["C22_TECH_BCC_BULK"]
    assert found[0].reason == "10 envelope recipients >= 10, none in To/Cc"


def test_fewer_hidden_recipients_than_the_threshold_is_not_bulk(context: ContextFactory) -> None:
    message = make_message(recipients=local_users(9), to=["list@shop.example"])
    assert run(message, context()) == []


def test_one_visible_recipient_means_it_is_not_blind_bulk(context: ContextFactory) -> None:
    users = local_users(30)
    message = make_message(recipients=users, to=["list@shop.example"], cc=[users[7].upper()])
    assert run(message, context()) == []


def test_open_distribution_list_exposing_many_addresses(context: ContextFactory) -> None:
    found = run(make_message(recipients=local_users(20)), context())
    assert names(found) == ["C22_TECH_OPEN_LIST"]
    assert found[0].reason == "20 addresses in To/Cc >= 20"


def test_addresses_in_to_and_cc_are_counted_together(context: ContextFactory) -> None:
    users = local_users(20)
    just_under = make_message(recipients=users[:19], to=users[:10], cc=users[10:19])
    at_limit = make_message(recipients=users, to=users[:10], cc=users[10:])
    assert run(just_under, context()) == []
    assert names(run(at_limit, context())) == ["C22_TECH_OPEN_LIST"]


def test_bulk_thresholds_come_from_yaml(context: ContextFactory) -> None:
    ctx = context(technology={"bcc_bulk_recipients": 3, "open_list_addresses": 3})
    hidden = make_message(recipients=local_users(3), to=["list@shop.example"])
    exposed = make_message(recipients=local_users(3))
    assert names(run(hidden, ctx)) == ["C22_TECH_BCC_BULK"]
    assert names(run(exposed, ctx)) == ["C22_TECH_OPEN_LIST"]


# -- header hygiene ---------------------------------------------------------------------------


def test_message_without_message_id(context: ContextFactory) -> None:
    found = run(make_message(without=["Message-ID"]), context())
    assert names(found) == ["C22_TECH_NO_MESSAGE_ID"]


def test_malformed_message_id_counts_as_missing(context: ContextFactory) -> None:
    message = make_message(without=["Message-ID"], extra_headers=[("Message-ID", "not-an-id")])
    assert names(run(message, context())) == ["C22_TECH_NO_MESSAGE_ID"]


def test_message_without_date(context: ContextFactory) -> None:
    assert names(run(make_message(without=["Date"]), context())) == ["C22_TECH_NO_DATE"]


def test_every_trait_of_a_crude_bulk_sender_adds_up(
    context: ContextFactory, zone: TestDnsServer
) -> None:
    zone.clear()
    message = make_message(
        recipients=local_users(25),
        to=["friends@shop.example"],
        helo="localhost",
        tls_version=None,
        extra_headers=[("X-Mailer", "PHPMailer 5.2")],
        without=["Message-ID", "Date"],
    )
    assert sorted(names(run(message, context()))) == [
        "C22_TECH_BCC_BULK", "C22_TECH_HELO_NOT_FQDN", "C22_TECH_MAILER", "C22_TECH_NO_DATE",
        "C22_TECH_NO_MESSAGE_ID", "C22_TECH_NO_PTR", "C22_TECH_NO_TLS",
    ]


def test_disabled_check_finds_nothing(context: ContextFactory, zone: TestDnsServer) -> None:
    message = make_message(helo="localhost", tls_version=None, without=["Date"])
    assert run(message, context(technology={"enabled": False})) == []
    assert zone.queries == []
