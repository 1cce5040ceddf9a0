"""DNSBL and RHSBL zones (lists.dns), served by a real DNS server on loopback: listed
sources get the zone's symbol and score, others nothing, and a dead zone costs its timeout
once, not once per message."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from tests.builders import make_message, make_settings
from tests.support.dns_server import TestDnsServer

from thurac.checks.base import CheckContext
from thurac.checks.dns_lists import DnsLists
from thurac.config import Settings
from thurac.dns import Resolver
from thurac.history import History

TIMEOUT = 0.4
ZONES: dict[str, Any] = {"dns": [
    {"name": "LOCALBL", "zone": "bl.test", "kind": "ip", "score": 6.0},
    {"name": "STRICT", "zone": "strict.test", "kind": "ip", "codes": ["127.0.0.9"],
     "score": 2.0},
    {"name": "DBL", "zone": "dbl.test", "kind": "domain",
     "identities": ["sender", "from", "helo"], "score": 4.5},
]}


@pytest.fixture(scope="module")
def zones() -> Iterator[TestDnsServer]:
    with TestDnsServer() as server:
        server.add("7.100.51.198.bl.test", "A", "127.0.0.2")
        server.add("7.100.51.198.strict.test", "A", "127.0.0.2")  # a code STRICT ignores
        server.add("8.100.51.198.strict.test", "A", "127.0.0.9")
        server.add("9.100.51.198.bl.test", "A", "127.255.255.254")  # "you may not ask"
        nibbles = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
        server.add(f"{nibbles}.bl.test", "A", "127.0.0.4")
        server.add("spammy.example.dbl.test", "A", "127.0.1.2")
        yield server


def settings(**lists: Any) -> Settings:
    return make_settings(lists={**ZONES, **lists}, dns={"probe_every": 30})


def scan(server: TestDnsServer, message: Any, config: Settings | None = None,
         check: DnsLists | None = None) -> list[tuple[str, float, str]]:
    ctx = CheckContext(config or settings(),
                       Resolver([server.address], timeout=TIMEOUT).session(3.0))
    return [(s.name, s.score, s.reason)
            for s in (check or DnsLists()).check(message, History(), ctx)]


def test_a_listed_ipv4_client_gets_the_zone_symbol_and_score(zones: TestDnsServer) -> None:
    found = scan(zones, make_message("a@clean.example", client_ip="198.51.100.7"))
    assert found == [("DNSBL_LOCALBL", 6.0, "198.51.100.7 listed in bl.test (127.0.0.2)")]


def test_codes_decide_what_counts_and_refusal_codes_never_list(zones: TestDnsServer) -> None:
    assert [n for n, _, _ in scan(zones, make_message("a@clean.example",
                                                      client_ip="198.51.100.8"))] == [
        "DNSBL_STRICT"]
    assert scan(zones, make_message("a@clean.example", client_ip="198.51.100.9")) == []
    assert scan(zones, make_message("a@clean.example", client_ip="198.51.100.10")) == []


def test_an_ipv6_client_is_looked_up_by_nibbles(zones: TestDnsServer) -> None:
    found = scan(zones, make_message("a@clean.example", client_ip="2001:db8::1"))
    assert [n for n, _, _ in found] == ["DNSBL_LOCALBL"]


@pytest.mark.parametrize("where", ["sender", "from", "helo"])
def test_rhsbl_finds_a_listed_domain_in_each_identity(zones: TestDnsServer, where: str) -> None:
    message = make_message("a@clean.example", client_ip="192.0.2.50")
    if where == "sender":
        message = make_message("a@spammy.example", client_ip="192.0.2.50")
    elif where == "from":
        message = make_message("a@clean.example", client_ip="192.0.2.50",
                               extra_headers=())
        message = type(message)(message.connection, message.sender, message.recipients,
                                (("From", "x <x@spammy.example>"),), message.body,
                                queue_id="Q", received_at=message.received_at)
    else:
        message = make_message("a@clean.example", client_ip="192.0.2.50",
                               helo="mx.spammy.example")  # organisational domain listed
    found = scan(zones, message)
    assert [(n, s) for n, s, _ in found] == [("DNSBL_DBL", 4.5)]
    assert "spammy.example listed in dbl.test" in found[0][2]


def test_a_dead_zone_costs_its_timeout_once(zones: TestDnsServer) -> None:
    config = make_settings(lists={"dns": [{"name": "DEAD", "zone": "dead.test", "score": 9}]},
                           dns={"probe_every": 30})
    zones.faults["dead.test"] = "drop"
    try:
        check = DnsLists()
        started = time.monotonic()
        assert scan(zones, make_message(client_ip="198.51.100.7"), config, check) == []
        first = time.monotonic() - started
        zones.reset_queries()
        for _ in range(5):
            assert scan(zones, make_message(client_ip="198.51.100.7"), config, check) == []
        assert zones.count("7.100.51.198.dead.test", "A") == 0  # not asked again
        assert first >= TIMEOUT * 0.9
    finally:
        del zones.faults["dead.test"]


def test_zone_names_and_codes_are_validated() -> None:
    from thurac.errors import ConfigError

    with pytest.raises(ConfigError, match=r"lists\.dns\[0\]\.name"):
        make_settings(lists={"dns": [{"name": "bad name", "zone": "bl.test"}]})
    with pytest.raises(ConfigError, match=r"lists\.dns\[0\]\.codes\[0\]"):
        make_settings(lists={"dns": [{"name": "X", "zone": "bl.test", "codes": ["nope"]}]})
    with pytest.raises(ConfigError, match="used twice"):
        make_settings(lists={"dns": [{"name": "X", "zone": "a.test"},
                                     {"name": "X", "zone": "b.test"}]})
