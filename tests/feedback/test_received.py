"""Received lines in each MTA's dialect: the client's address, the receiving host, the queue
id; the originating IP and our queue ids read only from the hops our own hosts wrote."""

from __future__ import annotations

import ipaddress

import pytest

from thurac.feedback.received import (
    MAX_RECEIVED,
    Hop,
    originating_ip,
    our_arrival,
    parse_hops,
    parse_received,
    queue_ids,
)

INTERNAL = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:1::/48")]
DATE = "Mon, 07 Jun 2021 09:15:02 +0700 (ICT)"


@pytest.mark.parametrize(("value", "hop"), [
    (f"from mail.shop.test (mail.shop.test [203.0.113.9])\n\tby mx.example.test (Postfix) "
     f"with ESMTPS id D1442160024\n\tfor <u@example.test>; {DATE}",
     Hop("203.0.113.9", "mx.example.test", "ESMTPS", "D1442160024", True, DATE)),
    # The HELO is a literal too: the connecting address in the comment is the one.
    ("from [10.9.8.7] (unknown [198.51.100.20]) by mx.example.test (Postfix) with ESMTP "
     "id 4Fq1Nq3Z2nz9sVt; Mon, 7 Jun 2021 02:15:00 +0000",
     Hop("198.51.100.20", "mx.example.test", "ESMTP", "4Fq1Nq3Z2nz9sVt", True,
         "Mon, 7 Jun 2021 02:15:00 +0000")),
    ("from mail.shop.test (mail.shop.test [IPv6:2001:DB8:BAD::25]) by mx.example.test. "
     "(Postfix) with UTF8SMTPSA id 3ABC12; x",
     Hop("2001:db8:bad::25", "mx.example.test", "UTF8SMTPSA", "3ABC12", True, "x")),
    # Exim without reverse DNS.
    ("from [198.51.100.7] (helo=shop.test) by mail.partner.test with esmtps (Exim 4.94) "
     "(envelope-from <a@shop.test>) id 1lnXyz-000abc-Ab; x",
     Hop("198.51.100.7", "mail.partner.test", "esmtps", "1lnXyz-000abc-Ab", False, "x")),
    # Exchange Online: a bare address in a comment (and an id that is no queue id of ours).
    ("from AM0PR01MB1234.eurprd01.prod.exchangelabs.com (2603:10a6:208:12::34) by "
     "AM0PR01MB5678.eurprd01.prod.exchangelabs.com (2603:10a6:208:ab::12) with Microsoft "
     "SMTP Server (version=TLS1_2) id 15.20.4173.20; x",
     Hop("2603:10a6:208:12::34", "am0pr01mb5678.eurprd01.prod.exchangelabs.com", "Microsoft",
         "", False, "x")),
    # Postfix's local pickup: no client at all.
    ("by mx.example.test (Postfix, from userid 1000) id 7D3C2160024; x",
     Hop("", "mx.example.test", "", "7D3C2160024", True, "x")),
    ("garbage ((( unclosed [not an ip] by", Hop()),
    ("", Hop()),
])
def test_each_dialect_is_read(value: str, hop: Hop) -> None:
    assert parse_received(value) == hop


def test_a_word_by_inside_a_comment_is_no_by_clause() -> None:
    hop = parse_received("from x (HELO by [192.0.2.1] by) by mx.example.test (Postfix) with "
                         "ESMTP id ABCDE1; x")
    assert (hop.from_ip, hop.by_host) == ("192.0.2.1", "mx.example.test")


def test_a_queue_id_must_look_like_one() -> None:
    assert parse_received("from a ([192.0.2.1]) by b (Postfix) with ESMTP id <x>; d").queue_id \
        == ""
    assert parse_received("from a ([192.0.2.1]) by b with ESMTP id a; d").queue_id == ""


def hops(*values: str) -> list[Hop]:
    return parse_hops(values)


OURS_FROM_SPAMMER = ("from spam.test (spam.test [203.0.113.9]) by mx.example.test (Postfix) "
                     "with ESMTP id AAAA11111; Mon, 7 Jun 2021 09:00:00 +0700")
INTERNAL_HOP = ("from mx.example.test (mx.example.test [10.0.0.5]) by store.example.test "
                "(Postfix) with LMTP id BBBB22222; Mon, 7 Jun 2021 09:00:01 +0700")
LOOPBACK_HOP = ("from localhost (localhost [127.0.0.1]) by mx.example.test (Postfix) with "
                "ESMTP id CCCC33333; Mon, 7 Jun 2021 09:00:02 +0700")
FORGED = ("from innocent.test (innocent.test [198.51.100.200]) by mx.example.test (Postfix) "
          "with ESMTP id FFFF00000; Mon, 7 Jun 2021 08:00:00 +0700")


def test_the_originating_ip_is_the_first_client_outside_our_networks() -> None:
    chain = hops(INTERNAL_HOP, OURS_FROM_SPAMMER, FORGED)
    assert originating_ip(chain, internal_networks=INTERNAL) == "203.0.113.9"
    assert originating_ip(chain) == "10.0.0.5"  # no networks given: the newest client


def test_loopback_counts_unless_internal_or_ignored() -> None:
    chain = hops(LOOPBACK_HOP, OURS_FROM_SPAMMER)
    assert originating_ip(chain, internal_networks=INTERNAL) == "127.0.0.1"
    assert originating_ip(chain, internal_networks=INTERNAL, ignore_private=True) == \
        "203.0.113.9"
    loopback = [*INTERNAL, ipaddress.ip_network("127.0.0.0/8")]
    assert originating_ip(chain, internal_networks=loopback) == "203.0.113.9"


def test_ignore_private_skips_rfc1918_cgnat_and_ula_not_documentation_ranges() -> None:
    chain = hops(
        "from a (a [192.168.1.5]) by b (Postfix) with ESMTP id AAAAA1; x",
        "from a (a [100.64.0.9]) by b (Postfix) with ESMTP id AAAAA2; x",
        "from a (a [IPv6:fd00::5]) by b (Postfix) with ESMTP id AAAAA3; x",
        "from a (a [192.0.2.44]) by b (Postfix) with ESMTP id AAAAA4; x",
    )
    assert originating_ip(chain, ignore_private=True) == "192.0.2.44"
    assert originating_ip(chain) == "192.168.1.5"


def test_no_client_anywhere_gives_no_ip() -> None:
    assert originating_ip(hops("by mx.example.test (Postfix, from userid 0) id ABCDE1; x")) \
        == ""
    assert originating_ip([]) == ""


def test_queue_ids_are_ours_oldest_first_and_never_below_the_entry_hop() -> None:
    chain = hops(LOOPBACK_HOP, OURS_FROM_SPAMMER, FORGED)
    ours = ["mx.example.test"]
    assert queue_ids(chain, our_hosts=ours, internal_networks=INTERNAL, ignore_private=True) \
        == ("AAAA11111", "CCCC33333")
    # Without ignore_private, the loopback client is where the chain stops.
    assert queue_ids(chain, our_hosts=ours, internal_networks=INTERNAL) == ("CCCC33333",)


def test_named_hosts_decide_which_hops_are_ours() -> None:
    chain = hops(INTERNAL_HOP, OURS_FROM_SPAMMER)
    assert queue_ids(chain, our_hosts=["store.example.test"], internal_networks=INTERNAL) == \
        ("BBBB22222",)
    assert queue_ids(chain, our_hosts=["MX.Example.Test."], internal_networks=INTERNAL) == \
        ("AAAA11111",)
    assert queue_ids(chain, internal_networks=INTERNAL) == ("AAAA11111", "BBBB22222")


def test_without_names_only_postfix_smtp_or_lmtp_hops_count() -> None:
    chain = hops("from a ([10.0.0.1]) by b with ESMTP id NOTPOSTFIX1; x",
                 "from a ([10.0.0.2]) by c (Postfix) with HTTP id NOTSMTP22; x",
                 "from a ([203.0.113.1]) by d (Postfix) with ESMTPSA id YES333333; x")
    assert queue_ids(chain, internal_networks=INTERNAL) == ("YES333333",)


def test_the_arrival_is_the_date_of_our_oldest_hop() -> None:
    chain = hops(INTERNAL_HOP, OURS_FROM_SPAMMER)
    assert our_arrival(chain, our_hosts=["mx.example.test", "store.example.test"],
                       internal_networks=INTERNAL) == "Mon, 7 Jun 2021 09:00:00 +0700"


def test_at_most_fifty_received_lines_are_read() -> None:
    values = [INTERNAL_HOP] * 60 + [OURS_FROM_SPAMMER]
    assert len(parse_hops(values)) == MAX_RECEIVED == 50
    assert originating_ip(parse_hops(values), internal_networks=INTERNAL) == ""


def test_a_huge_received_value_is_read_in_bounded_time() -> None:
    hop = parse_received("from " + "(" * 200_000 + " [203.0.113.9]")
    assert hop.from_ip == ""  # beyond the characters read
