"""Allow and block lists: every kind matches what it names and nothing more; an allow entry
for a name is worth nothing unless that name is authenticated; expiry is honoured."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from tests.builders import RECEIVED_AT, make_message, make_settings, names

from thurac.auth import AuthResults, DkimResult, DmarcResult, SpfResult
from thurac.config import Settings
from thurac.errors import ConfigError
from thurac.lists import EntryError, ListEntry, make_entry, normal_value
from thurac.message import Connection, Message
from thurac.policy import ListIndex, PolicyInput, judge
from thurac.policy.lists import matches
from thurac.symbols import Symbol


def entry(list_name: str, kind: str, value: str, **extra: Any) -> ListEntry:
    return make_entry(list_name, kind, value, now=RECEIVED_AT - timedelta(days=1), **extra)


def hits(entries: list[ListEntry], message: Message, auth: AuthResults | None = None) -> list[str]:
    found = matches(ListIndex(entries), message, auth or AuthResults())
    return [f"{m.entry.list}:{m.entry.kind}:{m.entry.value}:{m.authenticated}" for m in found]


def spf_pass(domain: str = "shop.example") -> AuthResults:
    return AuthResults(spf=SpfResult("pass", "mailfrom", domain, f"news@{domain}"))


def symbols_for(message: Message, entries: list[ListEntry], auth: AuthResults,
                settings: Settings | None = None) -> list[Symbol]:
    said, _ = judge(PolicyInput(message, auth, settings or make_settings(), ListIndex(entries)))
    return [s for j in said for s in j.symbols]


# -- kinds ------------------------------------------------------------------------------

def test_an_exact_domain_does_not_match_its_subdomains_but_a_dotted_one_does() -> None:
    exact = [entry("block", "domain", "shop.example")]
    assert hits(exact, make_message("a@shop.example")) == ["block:domain:shop.example:True"]
    assert hits(exact, make_message("a@mail.shop.example")) == []
    assert hits(exact, make_message("a@badshop.example")) == []
    dotted = [entry("block", "domain", ".shop.example")]
    assert hits(dotted, make_message("a@mail.shop.example"))
    assert hits(dotted, make_message("a@shop.example"))
    assert hits(dotted, make_message("a@badshop.example")) == []
    assert hits(dotted, make_message("a@shop.example.net")) == []


def test_case_and_trailing_dots_do_not_matter() -> None:
    listed = [entry("block", "address", "News@Shop.Example."),
              entry("block", "helo", "MAIL.Shop.example")]
    assert normal_value("address", "News@Shop.Example.") == "news@shop.example"
    message = make_message("news@shop.example", helo="mail.SHOP.example.")
    assert sorted(hits(listed, message)) == ["block:address:news@shop.example:True",
                                             "block:helo:mail.shop.example:True"]
    assert hits(listed, make_message("other@shop.example", helo="x.shop.example")) == []


@pytest.mark.parametrize(("network", "inside", "outside"), [
    ("0.0.0.0/0", ["198.51.100.7", "10.0.0.1"], ["2001:db8::1"]),
    ("198.51.100.7/32", ["198.51.100.7"], ["198.51.100.8", "198.51.100.6"]),
    ("198.51.100.7", ["198.51.100.7", "::ffff:198.51.100.7"], ["198.51.100.70"]),
    ("198.51.100.0/24", ["198.51.100.0", "198.51.100.255"], ["198.51.101.0", "198.51.99.255"]),
    ("2001:db8::/32", ["2001:db8::1", "2001:DB8:0:0:0:0:0:ff", "[IPv6:2001:db8::5]"],
     ["2001:db9::1", "198.51.100.7"]),
    ("2001:db8:0:0:0:0:0:1/128", ["2001:db8::1", "2001:0db8::0001"], ["2001:db8::2"]),
    ("::/0", ["::1", "2001:db8::1"], ["127.0.0.1"]),
])
def test_ip_entries_match_inside_their_network_and_nowhere_else(
    network: str, inside: list[str], outside: list[str],
) -> None:
    listed = [entry("block", "ip", network)]
    for ip in inside:
        assert hits(listed, make_message(client_ip=ip)), ip
    for ip in outside:
        assert hits(listed, make_message(client_ip=ip)) == [], ip


def test_from_domain_is_the_header_from_not_the_envelope() -> None:
    listed = [entry("block", "from-domain", "bank.example")]
    forged = make_message("x@other.example", extra_headers=())
    forged = replace(forged, headers=tuple(
        (n, "Bank <alerts@bank.example>" if n == "From" else v) for n, v in forged.headers))
    assert hits(listed, forged) == ["block:from-domain:bank.example:True"]
    envelope_only = replace(make_message("alerts@bank.example"), headers=(
        ("From", "News <news@shop.example>"),))
    assert hits(listed, envelope_only) == []


def test_an_expired_entry_no_longer_applies() -> None:
    soon = make_entry("block", "address", "news@shop.example",
                      now=RECEIVED_AT - timedelta(hours=2), expires="1h")
    assert hits([soon], make_message()) == []
    later = make_entry("block", "address", "news@shop.example",
                       now=RECEIVED_AT - timedelta(hours=2), expires="3h")
    assert hits([later], make_message())


# -- authentication of allow entries ------------------------------------------------------

def test_a_forged_allow_listed_sender_does_not_get_allowlist() -> None:
    listed = [entry("allow", "address", "news@shop.example", reason="partner")]
    message = make_message()
    failing = AuthResults(spf=SpfResult("fail", "mailfrom", "shop.example", "news@shop.example"))
    forged = symbols_for(message, listed, failing)
    assert names(forged) == ["ALLOWLIST_NOT_AUTHENTICATED"]
    assert forged[0].score == 0
    assert "not authenticated" in forged[0].reason
    passed = symbols_for(message, listed, spf_pass())
    assert names(passed) == ["ALLOWLIST"]
    assert passed[0].score == -20
    assert "allow address news@shop.example (partner)" in passed[0].reason
    assert "SPF pass" in passed[0].reason


def test_spf_pass_for_another_domain_does_not_authenticate_the_sender() -> None:
    listed = [entry("allow", "domain", "shop.example")]
    assert names(symbols_for(make_message(), listed, spf_pass("elsewhere.example"))) == [
        "ALLOWLIST_NOT_AUTHENTICATED"]


def test_from_domain_allow_needs_dmarc_or_aligned_dkim() -> None:
    listed = [entry("allow", "from-domain", "shop.example")]
    message = make_message()
    assert names(symbols_for(message, listed, spf_pass())) == ["ALLOWLIST_NOT_AUTHENTICATED"]
    dmarc = AuthResults(dmarc=DmarcResult("pass", "shop.example"))
    assert names(symbols_for(message, listed, dmarc)) == ["ALLOWLIST"]
    aligned = AuthResults(dkim=[DkimResult("pass", "mail.shop.example")])
    assert names(symbols_for(message, listed, aligned)) == ["ALLOWLIST"]
    other = AuthResults(dkim=[DkimResult("pass", "esp.example")])
    assert names(symbols_for(message, listed, other)) == ["ALLOWLIST_NOT_AUTHENTICATED"]


def test_helo_allow_needs_the_forward_confirmed_name_but_ip_allow_needs_nothing() -> None:
    helo = [entry("allow", "helo", "mail.shop.example")]
    unverified = make_message()
    assert names(symbols_for(unverified, helo, AuthResults())) == ["ALLOWLIST_NOT_AUTHENTICATED"]
    verified = replace(unverified, connection=Connection(
        "198.51.100.7", "mail.shop.example", "mail.shop.example", "TLSv1.3"))
    assert names(symbols_for(verified, helo, AuthResults())) == ["ALLOWLIST"]
    ip = [entry("allow", "ip", "198.51.100.0/24", reason="branch office")]
    assert names(symbols_for(unverified, ip, AuthResults())) == ["ALLOWLIST"]


def test_block_entries_apply_without_authentication_and_are_scored_from_yaml() -> None:
    listed = [entry("block", "domain", ".shop.example", reason="complaints", added_by="ops")]
    settings = make_settings(scores={"BLOCKLIST": 30.0})
    found = symbols_for(make_message(), listed, AuthResults(), settings)
    assert [(s.name, s.score) for s in found] == [("BLOCKLIST", 30.0)]
    assert found[0].reason == "block domain .shop.example (complaints) [store by ops]"


def test_yaml_entries_and_their_errors() -> None:
    settings = make_settings(lists={
        "allow": [{"kind": "ip", "value": "192.0.2.0/24", "reason": "office",
                   "expires": "2030-01-01"}],
        "block": [{"kind": "domain", "value": "Spam.Example."}]})
    found = settings.lists.entries()
    assert [(e.list, e.kind, e.value, e.source) for e in found] == [
        ("allow", "ip", "192.0.2.0/24", "yaml"), ("block", "domain", "spam.example", "yaml")]
    assert found[0].expires_at is not None and found[0].expires_at.year == 2030
    for bad, words in ((("ip", "192.0.2.300/24")), "not an IP"), (("ip", "10.0.0.1/8"),
                       "host bits"), (("domain", ""), "empty domain"), (("address", "nobody"),
                       "not an address"), (("domain", "a b.example"), "not a domain"):
        with pytest.raises(ConfigError) as err:
            make_settings(lists={"block": [{"kind": bad[0], "value": bad[1]}]})
        assert "lists.block[0]" in str(err.value) and words in str(err.value), str(err.value)


def test_a_past_expiry_or_an_unknown_kind_is_refused() -> None:
    with pytest.raises(EntryError, match="in the past"):
        make_entry("block", "ip", "192.0.2.1", expires="2020-01-01")
    with pytest.raises(EntryError, match="unknown kind"):
        make_entry("block", "asn", "64496")
    with pytest.raises(EntryError, match="expected a duration"):
        make_entry("block", "ip", "192.0.2.1", expires="soon")


def test_an_entry_for_one_recipient_decides_only_when_every_recipient_has_one() -> None:
    opted_out = entry("block", "address", "news@shop.example", recipient="Alice@Example.com",
                      reason="opt-out")
    assert opted_out.recipient == "alice@example.com"
    assert "for alice@example.com (opt-out)" in opted_out.describe()
    assert hits([opted_out], make_message(recipients=("alice@example.com",)))
    assert hits([opted_out], make_message(recipients=("bob@example.com",))) == []
    assert hits([opted_out], make_message(recipients=("alice@example.com",
                                                      "bob@example.com"))) == []
