"""Authentication-Results (RFC 8601): the header we write, parsed back with authres, and the
predicate that finds forged copies claiming our authserv-id."""

from __future__ import annotations

import authres
import pytest
from hypothesis import given
from hypothesis import strategies as st

from thurac.auth import ArcResult, AuthResults, DkimResult, DmarcResult, SpfResult
from thurac.authresults import (
    MAX_DKIM_ENTRIES,
    authentication_results,
    authserv_id_of,
    is_our_authres,
    resinfos,
)

AUTHSERV_ID = "mx.example.test"


def parse(value: str) -> authres.AuthenticationResultsHeader:
    """What a downstream reader sees: the value unfolded, then parsed by authres."""
    assert "\r" not in value and "\x00" not in value
    for line in value.split("\n"):
        assert len(line) < 998
        assert line == value.split("\n")[0] or line.startswith("\t")  # folded, never broken
    return authres.AuthenticationResultsHeader.parse_value(value.replace("\n", ""))


def properties(result: object) -> dict[str, str]:
    return {f"{p.type}.{p.name}": str(p.value) for p in result.properties}  # type: ignore[attr-defined]


FULL = AuthResults(
    spf=SpfResult("pass", "mailfrom", "bank.test", "bounce@bank.test",
                  "192.0.2.25 permitted by bank.test: ip4:192.0.2.25"),
    dkim=[DkimResult("pass", "bank.test", "s2048", key_bits=2048),
          DkimResult("fail", "relay.test", "old", reason="body hash did not verify")],
    dmarc=DmarcResult("pass", "bank.test", "reject", "bank.test p=reject: aligned DKIM pass"),
    arc=ArcResult("pass", "lists.test", trusted=True),
)


def test_header_carries_every_method_with_its_properties() -> None:
    value = authentication_results(FULL, AUTHSERV_ID)
    assert value is not None
    header = parse(value)
    assert header.authserv_id == AUTHSERV_ID
    found = [(r.method, r.result) for r in header.results]
    assert found == [("spf", "pass"), ("dkim", "pass"), ("dkim", "fail"), ("dmarc", "pass"),
                     ("arc", "pass")]
    spf, good, bad, dmarc, _arc = header.results
    assert properties(spf) == {"smtp.mailfrom": "bounce@bank.test"}
    assert properties(good) == {"header.d": "bank.test", "header.s": "s2048"}
    assert properties(bad) == {"header.d": "relay.test", "header.s": "old"}
    assert bad.reason == "body hash did not verify"
    assert properties(dmarc) == {"header.from": "bank.test"}


def test_header_reads_like_other_mtas_headers() -> None:
    value = authentication_results(FULL, AUTHSERV_ID)
    assert value == (
        "mx.example.test;\n"
        '\tspf=pass reason="192.0.2.25 permitted by bank.test: ip4:192.0.2.25"'
        " smtp.mailfrom=bounce@bank.test;\n"
        "\tdkim=pass (2048-bit key) header.d=bank.test header.s=s2048;\n"
        '\tdkim=fail reason="body hash did not verify" header.d=relay.test header.s=old;\n'
        '\tdmarc=pass (p=reject) reason="bank.test p=reject: aligned DKIM pass"'
        " header.from=bank.test;\n"
        "\tarc=pass (sealer lists.test, trusted)"
    )


def test_bounce_is_reported_with_smtp_helo() -> None:
    auth = AuthResults(spf=SpfResult("fail", "helo", "mta.test", "mta.test"))
    header = parse(authentication_results(auth, AUTHSERV_ID) or "")
    assert properties(header.results[0]) == {"smtp.helo": "mta.test"}


def test_nothing_to_report_gives_no_header() -> None:
    assert authentication_results(AuthResults(), AUTHSERV_ID) is None
    assert resinfos(AuthResults()) == []


def test_failed_from_without_domain_has_no_header_from() -> None:
    auth = AuthResults(dmarc=DmarcResult("fail", "", None, "no From header"))
    header = parse(authentication_results(auth, AUTHSERV_ID) or "")
    assert (header.results[0].result, properties(header.results[0])) == ("fail", {})


def test_number_of_dkim_entries_is_bounded() -> None:
    auth = AuthResults(dkim=[DkimResult("fail", f"d{i}.test", "s") for i in range(100)])
    header = parse(authentication_results(auth, AUTHSERV_ID) or "")
    assert len(header.results) == MAX_DKIM_ENTRIES


# -- hostile values ----------------------------------------------------------------------------


def test_crlf_in_a_domain_cannot_inject_a_header() -> None:
    auth = AuthResults(
        spf=SpfResult("pass", "mailfrom", "x.test", "a@x.test\r\nX-Spam-Flag: NO"),
        dkim=[DkimResult("pass", "evil.test\r\nAuthentication-Results: mx.example.test; "
                                 "dmarc=pass", "s\n")],
        dmarc=DmarcResult("fail", "bank.test\r\n\x00", "reject", 'quote " and \\ and )('),
    )
    value = authentication_results(auth, AUTHSERV_ID)
    assert value is not None
    header = parse(value)
    assert [r.method for r in header.results] == ["spf", "dkim", "dmarc"]
    for line in value.split("\n")[1:]:
        assert line.startswith("\t") and ":" not in line.split("=", 1)[0]
    assert "\tX-Spam-Flag" not in value and "\nX-Spam-Flag" not in value
    assert "\nAuthentication-Results" not in value


def test_unusual_addresses_are_quoted_not_left_bare() -> None:
    auth = AuthResults(spf=SpfResult("fail", "mailfrom", "x.test", 'a;b c"@x.test'))
    value = authentication_results(auth, AUTHSERV_ID) or ""
    assert 'smtp.mailfrom="a;b c\\"@x.test"' in value
    assert [r.method for r in parse(value).results] == ["spf"]


def test_hostile_comment_text_is_escaped() -> None:
    auth = AuthResults(arc=ArcResult("pass", "evil) ; dmarc=pass (x", trusted=False))
    value = authentication_results(auth, AUTHSERV_ID) or ""
    assert value.endswith(r"arc=pass (sealer evil\) ; dmarc=pass \(x)")
    assert [r.method for r in parse(value).results] == ["arc"]


def test_results_outside_the_vocabulary_become_permerror() -> None:
    auth = AuthResults(spf=SpfResult("pass; dmarc=pass", "mailfrom", "x.test", "a@x.test"))  # type: ignore[arg-type]
    assert resinfos(auth)[0].startswith("spf=permerror ")


@given(st.text(max_size=300), st.text(max_size=300), st.text(max_size=300))
def test_any_text_gives_a_parsable_single_header(domain: str, address: str, reason: str) -> None:
    auth = AuthResults(
        spf=SpfResult("softfail", "mailfrom", domain, address, reason),
        dkim=[DkimResult("fail", domain, reason, reason)],
        dmarc=DmarcResult("fail", domain, "none", reason),
        arc=ArcResult("fail", domain, reason),
    )
    value = authentication_results(auth, AUTHSERV_ID)
    assert value is not None
    assert [r.method for r in parse(value).results] == ["spf", "dkim", "dmarc", "arc"]


# -- is_our_authres ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Authentication-Results", "mx.example.test; spf=pass smtp.mailfrom=bank.test"),
        ("authentication-results", "MX.Example.TEST; dkim=pass header.d=bank.test"),
        ("AUTHENTICATION-RESULTS", "  mx.example.test 1; none"),
        ("Authentication-Results", "(forged by us (really)) mx.example.test; dmarc=pass"),
        ("Authentication-Results", "mx.example.test(comment);spf=pass"),
        ("Authentication-Results", "\n\tmx.example.test;\n\tspf=pass"),
        ("Authentication-Results", '"mx.example.test"; spf=pass'),
        ("Authentication-Results", "mx.example.test.; spf=pass"),
        ("Authentication-Results", "mx.example.test"),
    ],
)
def test_our_authserv_id_in_any_spelling_is_ours(name: str, value: str) -> None:
    assert is_our_authres(name, value, AUTHSERV_ID)
    assert is_our_authres(name, value, AUTHSERV_ID.upper())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Authentication-Results", "mx.google.com; spf=pass smtp.mailfrom=bank.test"),
        ("Authentication-Results", "mx.example.test.evil.test; spf=pass"),
        ("Authentication-Results", "evil.mx.example.test; spf=pass"),
        ("Authentication-Results", "mx.example.testing; spf=pass"),
        ("X-Authentication-Results", "mx.example.test; spf=pass"),
        ("ARC-Authentication-Results", "i=1; mx.example.test; spf=pass"),
        ("Authentication-Results", ""),
        ("Authentication-Results", "   "),
        ("Authentication-Results", "(never closed mx.example.test; spf=pass"),
        ("Authentication-Results", "; spf=pass"),
        ("Authentication-Results", '"unterminated'),
    ],
)
def test_other_hosts_and_garbage_are_not_ours(name: str, value: str) -> None:
    assert not is_our_authres(name, value, AUTHSERV_ID)


def test_authserv_id_is_read_as_rfc_8601_says() -> None:
    assert authserv_id_of("(a (b) c) host.test 1 (v); spf=pass") == "host.test"
    assert authserv_id_of('"quoted\\"id"; none') == 'quoted"id'
    assert authserv_id_of("(\\) escaped paren) host.test; none") == "host.test"
    assert authserv_id_of("") is None


@given(st.text(max_size=200))
def test_garbage_never_raises(value: str) -> None:
    is_our_authres("Authentication-Results", value, AUTHSERV_ID)
    authserv_id_of(value)
