"""thurac.dns against a real DNS server on loopback (tests.support.dns_server).

No mocks: every lookup below is a real UDP (or TCP) exchange with a dnslib
server on 127.0.0.1, so what is tested is what the milter will do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import dns.message
import dns.query
import dns.rdtypes.txtbase
import pytest
from tests.support.dns_server import TestDnsServer

from thurac.dns import (
    MAX_VALUES,
    NULL_MX,
    Lookup,
    Resolver,
    is_null_mx,
    parse_mx,
    parse_nameserver,
)


@pytest.fixture
def dns_server() -> Iterator[TestDnsServer]:
    with TestDnsServer() as server:
        yield server


@pytest.fixture
def resolver(dns_server: TestDnsServer) -> Resolver:
    return Resolver([dns_server.address], timeout=0.5)


# -- configuration ------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        (" 192.0.2.53:53 ", ("192.0.2.53", 53)),
        ("::1", ("::1", 53)),
        ("[::1]", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
        ("[2001:DB8::0:1]:53", ("2001:db8::1", 53)),
    ],
)
def test_parse_nameserver_accepts_ip_and_optional_port(
    spec: str, expected: tuple[str, int]
) -> None:
    assert parse_nameserver(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("localhost", "not an IP address"),
        ("ns1.example.com:53", "not an IP address"),
        ("127.0.0.1:", "not a number"),
        ("127.0.0.1:dns", "not a number"),
        ("127.0.0.1:0", "between 1 and 65535"),
        ("127.0.0.1:65536", "between 1 and 65535"),
        ("[::1", "missing ']'"),
        ("[::1]5353", "expected ':PORT'"),
        ("[127.0.0.1]:53", "not an IPv6 address"),
        ("1.2.3.4.5", "not an IP address"),
    ],
)
def test_parse_nameserver_explains_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as excinfo:
        parse_nameserver(spec)
    assert repr(spec) in str(excinfo.value)


def test_resolver_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        Resolver(["dns.example.com"])
    with pytest.raises(ValueError, match="timeout"):
        Resolver(["127.0.0.1"], timeout=0)
    with pytest.raises(ValueError, match="list of strings"):
        Resolver("127.0.0.1")


def test_empty_nameserver_list_means_system_resolver() -> None:
    # Reads /etc/resolv.conf (or falls back to 127.0.0.1); sends nothing.
    assert Resolver().nameservers


def test_queries_go_to_the_configured_nameserver_and_port(dns_server: TestDnsServer) -> None:
    assert dns_server.port != 53
    dns_server.add("mail.example.test", "A", "192.0.2.25")

    lookup = Resolver([dns_server.address]).session(5).a("mail.example.test")

    assert lookup == Lookup("ok", ("192.0.2.25",))
    assert dns_server.queries == [("mail.example.test", "A")]


# -- answers --------------------------------------------------------------------


def test_address_records(dns_server: TestDnsServer, resolver: Resolver) -> None:
    dns_server.add("Host.Example.test", "A", "192.0.2.1", ttl=300)
    dns_server.add("host.example.test", "A", "192.0.2.2")
    dns_server.add("host.example.test", "AAAA", "2001:db8:0:0::1")
    session = resolver.session(5)

    v4 = session.a("HOST.example.TEST.")
    assert v4.ok and not v4.temperror
    assert v4.values == ("192.0.2.1", "192.0.2.2")
    assert 0 < v4.ttl <= 60  # the smallest TTL of the set
    assert session.aaaa("host.example.test").values == ("2001:db8::1",)
    assert session.addresses("host.example.test").values == (
        "192.0.2.1",
        "192.0.2.2",
        "2001:db8::1",
    )


def test_mx_hosts_are_lowercased_without_trailing_dot(
    dns_server: TestDnsServer, resolver: Resolver
) -> None:
    dns_server.add("example.test", "MX", "10 MX1.Example.TEST.")
    dns_server.add("example.test", "MX", "20 mx2.example.test")

    lookup = resolver.session(5).mx("example.test")

    assert lookup.values == ("10 mx1.example.test", "20 mx2.example.test")
    assert [parse_mx(v) for v in lookup.values] == [
        (10, "mx1.example.test"),
        (20, "mx2.example.test"),
    ]
    assert not is_null_mx(lookup)


def test_null_mx_is_recognisable(dns_server: TestDnsServer, resolver: Resolver) -> None:
    dns_server.add("nomail.example.test", "MX", "0 .")

    lookup = resolver.session(5).mx("nomail.example.test")

    assert lookup.values == (NULL_MX,) == ("0 .",)
    assert is_null_mx(lookup)
    assert parse_mx(lookup.values[0]) == (0, ".")


def test_txt_records(dns_server: TestDnsServer, resolver: Resolver) -> None:
    dns_server.add("example.test", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")
    dns_server.add("example.test", "TXT", ["explicit ", "strings"])
    dns_server.add("bad-utf8.example.test", "TXT", b"v=spf1 \xff -all")
    session = resolver.session(5)

    assert session.txt("example.test").values == (
        "v=spf1 ip4:192.0.2.0/24 -all",
        "explicit strings",
    )
    assert session.txt("bad-utf8.example.test").values == ("v=spf1 \ufffd -all",)


def test_long_txt_is_split_by_the_server_and_joined_by_thurac(
    dns_server: TestDnsServer, resolver: Resolver
) -> None:
    key = "v=DKIM1; k=rsa; p=" + "A" * 580  # longer than one 255-byte string
    dns_server.add("sel._domainkey.example.test", "TXT", key)

    # On the wire it is one record made of several character-strings ...
    raw = dns.query.tcp(
        dns.message.make_query("sel._domainkey.example.test", "TXT"),
        "127.0.0.1",
        port=dns_server.port,
        timeout=2,
    )
    (rdata,) = raw.answer[0]
    assert isinstance(rdata, dns.rdtypes.txtbase.TXTBase)
    assert [len(s) for s in rdata.strings] == [255, 255, 88]

    # ... which thurac hands back as one string.
    assert resolver.session(5).txt("sel._domainkey.example.test").values == (key,)


def test_answers_too_big_for_udp_are_fetched_over_tcp(
    dns_server: TestDnsServer, resolver: Resolver
) -> None:
    big = "x" * 3000  # more than the 1232-byte EDNS buffer thurac offers
    dns_server.add("big.example.test", "TXT", big)

    lookup = resolver.session(5).txt("big.example.test")

    assert lookup.values == (big,)
    assert dns_server.tcp_queries == [("big.example.test", "TXT")]
    assert dns_server.count("big.example.test", "TXT") == 2  # UDP (truncated) + TCP


def test_hostile_answers_are_capped_not_fatal(
    dns_server: TestDnsServer, resolver: Resolver
) -> None:
    for i in range(200):
        dns_server.add("many.example.test", "A", f"10.0.{i // 256}.{i % 256}")
    for i in range(15):
        dns_server.add("huge.example.test", "TXT", f"{i:02d}" + "z" * 3000)
    session = resolver.session(5)

    many = session.a("many.example.test")
    assert many.ok
    assert len(many.values) == MAX_VALUES
    assert many.values[0] == "10.0.0.0"

    huge = session.txt("huge.example.test")
    assert huge.ok
    assert len(huge.values) == 15
    assert all(len(v) == 3002 for v in huge.values)


def test_ptr_for_ipv4_ipv6_and_mapped_addresses(
    dns_server: TestDnsServer, resolver: Resolver
) -> None:
    dns_server.add_ptr("192.0.2.7", "Mail.Example.TEST.")
    dns_server.add_ptr("2001:db8::7", "mail6.example.test")
    session = resolver.session(5)

    assert session.ptr("192.0.2.7").values == ("mail.example.test",)
    assert session.ptr("::ffff:192.0.2.7").values == ("mail.example.test",)
    assert session.ptr("2001:db8::7").values == ("mail6.example.test",)
    assert session.ptr("192.0.2.8").status == "nxdomain"
    assert ("7.2.0.192.in-addr.arpa", "PTR") in dns_server.queries


def test_cname_is_followed(dns_server: TestDnsServer, resolver: Resolver) -> None:
    dns_server.add("www.example.test", "CNAME", "web.example.test")
    dns_server.add("web.example.test", "A", "192.0.2.80")
    session = resolver.session(5)

    assert session.a("www.example.test").values == ("192.0.2.80",)
    assert session.query("www.example.test", "CNAME").values == ("web.example.test",)


def test_nxdomain_versus_nodata(dns_server: TestDnsServer, resolver: Resolver) -> None:
    dns_server.add("example.test", "A", "192.0.2.1")
    dns_server.add("sel._domainkey.example.test", "TXT", "v=DKIM1; p=")
    session = resolver.session(5)

    assert session.a("missing.example.test").status == "nxdomain"
    assert session.mx("example.test").status == "nodata"
    assert session.aaaa("example.test").status == "nodata"
    # A name with only descendants exists, so it is "nodata" too.
    assert session.txt("_domainkey.example.test").status == "nodata"
    assert session.addresses("missing.example.test").status == "nxdomain"
    assert session.addresses("sel._domainkey.example.test").status == "nodata"
    assert session.temperrors == []


def test_internationalised_names_are_idna_encoded(
    dns_server: TestDnsServer, resolver: Resolver
) -> None:
    dns_server.add("xn--bcher-kva.example.test", "A", "192.0.2.9")

    assert resolver.session(5).a("Bücher.example.test").values == ("192.0.2.9",)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "..",
        "a..example.test",
        ".example.test",
        "x" * 64 + ".example.test",
        "a." * 127 + "test",  # 257 octets on the wire
        "bad name.example.test",
        "tab\t.example.test",
        "nul\x00.example.test",
        "\u2603\u0301\ufffd" * 30 + ".test",  # IDNA cannot encode it
    ],
)
def test_malformed_names_are_nxdomain_without_a_query(
    dns_server: TestDnsServer, resolver: Resolver, name: str
) -> None:
    session = resolver.session(5)
    for rdtype in ("A", "MX", "TXT"):
        lookup = session.query(name, rdtype)
        assert lookup.status == "nxdomain"
        assert "malformed name" in lookup.error
    assert session.ptr(name).status == "nxdomain"
    assert session.addresses(name).status == "nxdomain"
    assert dns_server.queries == []
    assert session.temperrors == []


def test_unknown_record_type_is_a_programming_error(resolver: Resolver) -> None:
    with pytest.raises(ValueError, match="unknown DNS record type"):
        resolver.session(5).query("example.test", "NOPE")
    with pytest.raises(ValueError, match="meta type"):
        resolver.session(5).query("example.test", "ANY")


# -- cache ----------------------------------------------------------------------


def test_cache_answers_the_second_lookup(dns_server: TestDnsServer, resolver: Resolver) -> None:
    dns_server.add("example.test", "MX", "10 mx.example.test")

    first = resolver.session(5).mx("example.test")
    second = resolver.session(5).mx("Example.Test.")  # another message, same resolver

    assert first == second == Lookup("ok", ("10 mx.example.test",))
    assert dns_server.count("example.test", "MX") == 1


def test_cache_remembers_negative_answers(dns_server: TestDnsServer, resolver: Resolver) -> None:
    dns_server.add("example.test", "A", "192.0.2.1")
    session = resolver.session(5)

    for _ in range(3):
        assert session.a("missing.example.test").status == "nxdomain"
        assert session.txt("example.test").status == "nodata"

    assert dns_server.count("missing.example.test", "A") == 1
    assert dns_server.count("example.test", "TXT") == 1


def test_cache_honours_ttl(dns_server: TestDnsServer, resolver: Resolver) -> None:
    dns_server.add("short.example.test", "A", "192.0.2.1", ttl=1)
    session = resolver.session(10)

    assert session.a("short.example.test").ok
    assert session.a("short.example.test").ok
    assert dns_server.count("short.example.test", "A") == 1

    deadline = time.monotonic() + 5
    while dns_server.count("short.example.test", "A") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        assert session.a("short.example.test").ok
    assert dns_server.count("short.example.test", "A") == 2


def test_cached_answer_counts_its_ttl_down_and_expires(
    dns_server: TestDnsServer, resolver: Resolver
) -> None:
    dns_server.add("three.example.test", "A", "192.0.2.1", ttl=3)
    session = resolver.session(10)

    first = session.a("three.example.test")
    time.sleep(1.1)
    again = session.a("three.example.test")

    assert first == again and again.ttl < first.ttl <= 3
    deadline = time.monotonic() + 6
    while dns_server.count("three.example.test", "A") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        assert session.a("three.example.test").ok
    assert dns_server.count("three.example.test", "A") == 2


def test_cache_can_be_disabled(dns_server: TestDnsServer) -> None:
    dns_server.add("example.test", "A", "192.0.2.1")
    session = Resolver([dns_server.address], timeout=0.5, cache_size=0).session(5)

    session.a("example.test")
    session.a("example.test")

    assert dns_server.count("example.test", "A") == 2


def test_resolver_is_shared_safely_between_threads(
    dns_server: TestDnsServer, resolver: Resolver
) -> None:
    for i in range(20):
        dns_server.add(f"h{i}.example.test", "A", f"192.0.2.{i}")
    results: list[Lookup] = []
    lock = threading.Lock()

    def worker() -> None:
        session = resolver.session(10)
        for i in range(20):
            lookup = session.a(f"h{i}.example.test")
            with lock:
                results.append(lookup)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(results) == 160
    assert all(r.ok and len(r.values) == 1 for r in results)


# -- failures and the per-message budget ---------------------------------------------


def test_servfail_is_a_temperror(dns_server: TestDnsServer, resolver: Resolver) -> None:
    dns_server.add("example.test", "TXT", "v=spf1 -all")
    dns_server.mode = "servfail"
    session = resolver.session(5)

    lookup = session.txt("example.test")

    assert lookup.temperror and not lookup.ok
    assert "SERVFAIL" in lookup.error
    assert len(session.temperrors) == 1
    assert session.temperrors[0].startswith("example.test/TXT: ")

    dns_server.mode = "normal"  # failures are not cached
    assert session.txt("example.test").values == ("v=spf1 -all",)


def test_unresponsive_dns_gives_temperror_and_the_budget_stops_further_queries(
    dns_server: TestDnsServer,
) -> None:
    # Health tracking would mark the server down first: this is about the budget alone.
    resolver = Resolver([dns_server.address], timeout=0.5, down_after=100)
    dns_server.add("cached.example.test", "A", "192.0.2.1")
    assert resolver.session(5).a("cached.example.test").ok
    dns_server.mode = "blackhole"
    session = resolver.session(budget=1.2)  # per-query timeout is 0.5

    first = session.a("slow.example.test")
    assert first.temperror
    assert "timeout" in first.error
    assert session.temperrors == ["slow.example.test/A: timeout"]
    assert ("slow.example.test", "A") in dns_server.queries

    for i in range(10):  # bounded: the budget allows three queries at most
        if session.exhausted:
            break
        assert session.mx(f"slow{i}.example.test").temperror
    assert session.exhausted

    # From now on nothing is sent: lookups fail at once ...
    after = session.txt("after-budget.example.test")
    assert after.temperror
    assert "budget exhausted" in after.error
    assert session.temperrors[-1] == "after-budget.example.test/TXT: DNS time budget exhausted"
    assert session.addresses("after-budget-2.example.test").temperror
    # ... except what the cache already knows, which costs nothing.
    assert session.a("cached.example.test").values == ("192.0.2.1",)

    time.sleep(0.2)  # give a (wrongly) sent datagram time to arrive
    names = {name for name, _ in dns_server.queries}
    assert "after-budget.example.test" not in names
    assert "after-budget-2.example.test" not in names
    assert dns_server.count("cached.example.test", "A") == 1


def test_a_dead_first_nameserver_does_not_take_the_whole_query(
    dns_server: TestDnsServer,
) -> None:
    dns_server.add("example.test", "A", "192.0.2.1")
    with TestDnsServer() as dead:
        dead.mode = "blackhole"
        resolver = Resolver([dead.address, dns_server.address], timeout=1.0)

        lookup = resolver.session(5).a("example.test")

        assert lookup.values == ("192.0.2.1",)
        assert dead.queries == [("example.test", "A")]


def test_a_failing_nameserver_is_skipped(dns_server: TestDnsServer) -> None:
    dns_server.add("example.test", "A", "192.0.2.1")
    with TestDnsServer() as broken:
        broken.mode = "servfail"
        session = Resolver([broken.address, dns_server.address], timeout=0.5).session(5)

        assert session.a("example.test").values == ("192.0.2.1",)
        assert session.temperrors == []


def test_addresses_is_ok_when_one_family_answers(
    dns_server: TestDnsServer, resolver: Resolver
) -> None:
    dns_server.add("v4only.example.test", "A", "192.0.2.4")

    lookup = resolver.session(5).addresses("v4only.example.test")

    assert lookup == Lookup("ok", ("192.0.2.4",))


def test_test_server_stops_its_threads(dns_server: TestDnsServer) -> None:
    dns_server.mode = "blackhole"
    dns_server.close()
    dns_server.close()  # idempotent
    assert not any(thread.is_alive() for thread in dns_server._threads)


def wait_until_down(resolver: Resolver, expected: list[str]) -> None:
    """The check of a suspect server runs in the background for one query timeout."""
    deadline = time.monotonic() + 5
    while resolver.health.down() != expected:
        assert time.monotonic() < deadline, resolver.health.down()
        time.sleep(0.02)


def test_a_dead_nameserver_is_marked_down_once_then_lookups_fail_at_once(
    dns_server: TestDnsServer, caplog: pytest.LogCaptureFixture,
) -> None:
    resolver = Resolver([dns_server.address], timeout=0.3, down_after=3, probe_every=60)
    dns_server.mode = "blackhole"
    for i in range(3):
        assert resolver.session(5).a(f"dead{i}.example.test").error == "timeout"
    wait_until_down(resolver, [dns_server.address])

    for i in range(20):  # bounded; each would have waited its 0.3 s timeout
        lookup = resolver.session(5).mx(f"fast{i}.example.test")
        assert lookup.temperror
        # Which server is in the log; the words reach headers, so they name no address.
        assert lookup.error == "every nameserver is down"
    time.sleep(0.1)  # a (wrongly) sent datagram would have arrived by now
    assert not any(name.startswith("fast") for name, _ in dns_server.queries)
    downs = [r for r in caplog.records if "marked down" in r.getMessage()]
    assert len(downs) == 1
    assert downs[0].getMessage().startswith(
        f"nameserver {dns_server.address}: no answer to 3 queries in a row (timeout), nor to "
        "a check of the server itself: marked down")


def test_a_nameserver_marked_down_is_probed_and_comes_back(
    dns_server: TestDnsServer, caplog: pytest.LogCaptureFixture,
) -> None:
    dns_server.add("back.example.test", "A", "192.0.2.7")
    resolver = Resolver([dns_server.address], timeout=0.3, down_after=2, probe_every=0.5)
    dns_server.mode = "blackhole"
    for i in range(2):
        resolver.session(5).a(f"dead{i}.example.test")
    wait_until_down(resolver, [dns_server.address])
    dns_server.mode = "normal"
    assert resolver.session(5).a("back.example.test").temperror  # not probed yet

    time.sleep(0.6)
    assert resolver.session(5).a("back.example.test").values == ("192.0.2.7",)
    assert resolver.health.down() == []
    assert resolver.session(5).a("back.example.test").ok
    ups = [r.getMessage() for r in caplog.records if "answers again" in r.getMessage()]
    assert len(ups) == 1 and ups[0].startswith(f"nameserver {dns_server.address} answers again")


def test_a_hostile_name_that_never_answers_does_not_mark_the_nameserver_down(
    dns_server: TestDnsServer, caplog: pytest.LogCaptureFixture,
) -> None:
    # Its timeouts come in a row, but the server answers a check of its own: it is alive.
    dns_server.add("fine.example.test", "A", "192.0.2.8")
    dns_server.delays["never.example.test"] = 5.0
    resolver = Resolver([dns_server.address], timeout=0.3, down_after=2, cache_size=0)
    for _ in range(6):
        assert resolver.session(5).a("never.example.test").error == "timeout"
    assert resolver.health.down() == []
    assert resolver.session(5).a("fine.example.test").values == ("192.0.2.8",)
    assert (".", "NS") in dns_server.queries  # the check: the root's NS
    assert "marked down" not in caplog.text


def test_answers_in_between_keep_a_slow_nameserver_up(dns_server: TestDnsServer) -> None:
    # One hostile name that never answers must not take DNS away from every other message.
    dns_server.add("fine.example.test", "A", "192.0.2.8")
    dns_server.delays["never.example.test"] = 5.0
    resolver = Resolver([dns_server.address], timeout=0.3, down_after=2, cache_size=0)
    for _ in range(4):
        assert resolver.session(5).a("never.example.test").error == "timeout"
        assert resolver.session(5).a("fine.example.test").ok
    assert resolver.health.down() == []


def test_with_two_nameservers_the_dead_one_is_skipped_without_waiting(
    dns_server: TestDnsServer,
) -> None:
    dns_server.add("example.test", "A", "192.0.2.1")
    with TestDnsServer() as dead:
        dead.mode = "blackhole"
        resolver = Resolver([dead.address, dns_server.address], timeout=1.0, down_after=2,
                            probe_every=60, cache_size=0)
        for _ in range(2):
            assert resolver.session(5).a("example.test").ok
        wait_until_down(resolver, [dead.address])
        dead.reset_queries()

        assert resolver.session(5).a("example.test").values == ("192.0.2.1",)
        assert dead.queries == []
