"""Everything known about one message: parsing a stored message, the milter's builder, and the
facts the checks read (addresses, ids, direction). Mail is messy: nothing here may raise."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from tests.builders import make_message

from thurac.message import (
    Connection,
    Message,
    MessageBuilder,
    classify_direction,
    domain_of,
    message_ids,
    normalize_address,
    parse_rfc822,
)

INTERNAL = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:1::/48"))
WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)

PLAIN = (
    b"From: Shop <news@shop.example>\n"
    b"To: alice@example.com\n"
    b"Subject: Spring sale\n"
    b"\n"
    b"Hello Alice,\n"
    b"\n"
    b"50% off.\n"
)


# -- parse_rfc822 (thurac check on a stored message) ------------------------------------------


def test_stored_message_splits_into_header_fields_and_body() -> None:
    headers, body = parse_rfc822(PLAIN)
    assert headers == (
        ("From", "Shop <news@shop.example>"),
        ("To", "alice@example.com"),
        ("Subject", "Spring sale"),
    )
    assert body == b"Hello Alice,\r\n\r\n50% off.\r\n"


def test_crlf_and_lf_line_ends_give_the_same_message() -> None:
    assert parse_rfc822(PLAIN.replace(b"\n", b"\r\n")) == parse_rfc822(PLAIN)


def test_folded_header_keeps_its_continuation_lines() -> None:
    data = (b"Subject: a very long\r\n\tsubject line\r\n  and more\r\n"
            b"To: alice@example.com\r\n\r\nbody\r\n")
    headers, body = parse_rfc822(data)
    assert headers == (
        ("Subject", "a very long\n\tsubject line\n  and more"),
        ("To", "alice@example.com"),
    )
    assert body == b"body\r\n"


def test_missing_blank_line_starts_the_body_at_the_first_non_header_line() -> None:
    headers, body = parse_rfc822(b"Subject: hi\nTo: a@example.com\nHello there\nBye\n")
    assert headers == (("Subject", "hi"), ("To", "a@example.com"))
    assert body == b"Hello there\r\nBye\r\n"


def test_text_after_a_broken_header_section_is_kept_with_the_body() -> None:
    headers, body = parse_rfc822(b"Subject: hi\nthis is no header\nX: y\n\nreal body\n")
    assert headers == (("Subject", "hi"),)
    assert body == b"this is no header\r\nX: y\r\n\r\nreal body\r\n"


def test_message_without_any_header_is_all_body() -> None:
    assert parse_rfc822(b"just some text\n") == ((), b"just some text\r\n")


def test_message_with_headers_only() -> None:
    assert parse_rfc822(b"Subject: hi\n") == ((("Subject", "hi"),), b"")


def test_empty_input() -> None:
    assert parse_rfc822(b"") == ((), b"")


def test_bytes_that_are_not_utf8_survive_parsing_unchanged() -> None:
    data = b"Subject: \xff\xfe caf\xe9\nX-Bin: \x00\x01\x80\n\n\xc3\x28 body\n"
    headers, body = parse_rfc822(data)
    assert [name for name, _ in headers] == ["Subject", "X-Bin"]
    assert headers[0][1].encode("utf-8", "surrogateescape") == b"\xff\xfe caf\xe9"
    assert body == b"\xc3\x28 body\r\n"


@given(st.binary(max_size=2000))
def test_parse_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    headers, body = parse_rfc822(data)
    assert isinstance(body, bytes)
    for name, value in headers:
        assert isinstance(value, str)
        assert name and ":" not in name and name == name.strip() and " " not in name


@given(st.binary(max_size=500).map(lambda b: b"Subject: x\r\n" + b))
def test_parse_never_raises_after_a_valid_first_header(data: bytes) -> None:
    headers, _ = parse_rfc822(data)
    assert headers[0][0] == "Subject"


_names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True)
_values = st.from_regex(r"[!-~]([ -~]{0,60}[!-~])?", fullmatch=True)
_lines = st.lists(st.from_regex(r"[ -~]{0,60}", fullmatch=True), max_size=5)


@given(st.lists(st.tuples(_names, _values), min_size=1, max_size=10), _lines,
       st.sampled_from([b"\n", b"\r\n"]))
def test_well_formed_messages_parse_back_to_their_fields_and_body(
    fields: list[tuple[str, str]], body_lines: list[str], eol: bytes
) -> None:
    head = b"".join(f"{n}: {v}".encode() + eol for n, v in fields)
    body = b"".join(line.encode() + eol for line in body_lines)
    parsed_fields, parsed_body = parse_rfc822(head + eol + body)
    assert parsed_fields == tuple(fields)
    assert parsed_body == body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_raw_gives_back_the_stored_message_for_signature_checks() -> None:
    headers, body = parse_rfc822(PLAIN)
    message = Message(Connection("198.51.100.7"), "news@shop.example", ("alice@example.com",),
                      headers=headers, body=body)
    assert message.raw() == PLAIN.replace(b"\n", b"\r\n")


# -- the builder the milter fills -------------------------------------------------------------


def builder(max_headers: int = 100, max_body_bytes: int = 1000) -> MessageBuilder:
    return MessageBuilder(max_headers=max_headers, max_body_bytes=max_body_bytes,
                          client_ip="198.51.100.7", helo="mail.shop.example")


def test_header_flood_is_cut_at_max_headers_and_counted() -> None:
    b = builder(max_headers=3)
    for i in range(10):
        b.add_header(f"X-{i}", "v")
    message = b.build("Q1", "inbound", WHEN)
    assert [name for name, _ in message.headers] == ["X-0", "X-1", "X-2"]
    assert b.headers_dropped == 7


def test_body_is_kept_up_to_max_body_bytes_and_marked_truncated() -> None:
    b = builder(max_body_bytes=10)
    b.add_body(b"12345")
    b.add_body(b"67890")
    exact = b.build("Q1", "inbound", WHEN)
    b.add_body(b"more")
    over = b.build("Q1", "inbound", WHEN)
    assert (exact.body, exact.body_truncated) == (b"1234567890", False)
    assert (over.body, over.body_truncated) == (b"1234567890", True)


def test_a_chunk_crossing_the_limit_is_cut_at_the_limit() -> None:
    b = builder(max_body_bytes=4)
    b.add_body(b"abcdef")
    message = b.build("Q1", "inbound", WHEN)
    assert (message.body, message.body_truncated) == (b"abcd", True)


def test_second_message_on_one_connection_starts_clean_but_keeps_the_client() -> None:
    b = builder(max_body_bytes=4)
    b.sender = "first@shop.example"
    b.add_recipients(["a@example.com"])
    b.add_header("Subject", "one")
    b.add_body(b"toolong")
    b.reset_message()
    b.sender = "second@shop.example"
    b.add_recipients(["b@example.com"])
    message = b.build("Q2", "inbound", WHEN)
    assert message.recipients == ("b@example.com",)
    assert message.headers == ()
    assert (message.body, message.body_truncated) == (b"", False)
    assert message.connection == Connection("198.51.100.7", helo="mail.shop.example")


def test_recipients_are_normalised_and_counted_once() -> None:
    b = builder()
    b.add_recipients(["<Alice@Example.COM>", "alice@example.com", " <bob@example.com> "])
    message = b.build("Q1", "inbound", WHEN)
    assert message.recipients == ("alice@example.com", "bob@example.com")
    assert (message.queue_id, message.direction, message.received_at) == ("Q1", "inbound", WHEN)


# -- facts the checks read --------------------------------------------------------------------


def test_addresses_and_domains_have_one_spelling() -> None:
    assert normalize_address(" <News@Shop.Example> ") == "news@shop.example"
    assert domain_of("news@Shop.Example.") == "shop.example"
    assert domain_of("") == ""
    assert domain_of("postmaster") == ""
    assert make_message(sender="").sender_domain == ""


def test_header_lookup_ignores_case_and_keeps_arrival_order() -> None:
    message = make_message(without=["Subject"],
                           extra_headers=[("Received", "a"), ("received", "b"), ("RECEIVED", "c")])
    assert message.header_values("Received") == ["a", "b", "c"]
    assert message.first_header("received") == "a"
    assert message.first_header("Subject") is None


def test_every_from_address_is_seen_even_in_several_fields() -> None:
    message = make_message(without=["From"], extra_headers=[
        ("From", "Shop <News@Shop.Example>, other@elsewhere.example"),
        ("From", "third@shop.example"),
    ])
    assert message.from_addresses == (
        "news@shop.example", "other@elsewhere.example", "third@shop.example",
    )
    assert message.header_from == "news@shop.example"
    assert make_message(without=["From"]).header_from == ""


def test_visible_recipients_are_the_addresses_in_to_and_cc() -> None:
    message = make_message(
        recipients=["alice@example.com"],
        to=["Alice <ALICE@example.com>"],
        cc=["bob@example.com", "undisclosed-recipients:;"],
    )
    assert message.visible_recipients == ("alice@example.com", "bob@example.com")


def test_message_id_is_the_bracketed_token_lowercased() -> None:
    message = make_message(without=["Message-ID"],
                           extra_headers=[("Message-Id", " <ABC.123@Shop.Example> (comment)")])
    assert message.message_id == "abc.123@shop.example"
    broken = make_message(without=["Message-ID"], extra_headers=[("Message-ID", "abc@shop")])
    assert broken.message_id is None


def test_replies_name_the_messages_they_answer_once_each() -> None:
    message = make_message(extra_headers=[
        ("In-Reply-To", "<b@example.com>"),
        ("References", "<a@example.com> <B@example.com>\n\t<c@example.com>"),
    ])
    assert message.referenced_ids == ("b@example.com", "a@example.com", "c@example.com")
    assert message_ids("garbage <> <x y> <ok@x>") == ("ok@x",)


def test_header_block_is_what_the_header_log_keeps() -> None:
    message = make_message(without=["Date", "Message-ID", "Subject", "To"])
    assert message.header_block() == "From: Shop <news@shop.example>\r\n"


# -- direction ----------------------------------------------------------------------------------


def test_authenticated_client_sends_outbound_from_anywhere() -> None:
    conn = Connection("203.0.113.50", auth_user="alice")
    assert classify_direction(conn, INTERNAL) == "outbound"


def test_client_in_an_internal_network_sends_outbound() -> None:
    assert classify_direction(Connection("10.20.30.40"), INTERNAL) == "outbound"
    assert classify_direction(Connection("2001:db8:1::9"), INTERNAL) == "outbound"
    assert classify_direction(Connection("IPv6:2001:db8:1::9"), INTERNAL) == "outbound"


def test_anyone_else_sends_inbound() -> None:
    assert classify_direction(Connection("203.0.113.50"), INTERNAL) == "inbound"
    assert classify_direction(Connection("2001:db8:2::9"), INTERNAL) == "inbound"
    assert classify_direction(Connection("unknown"), INTERNAL) == "inbound"


def test_a_client_with_no_network_address_is_the_mtas_own_local_submission() -> None:
    # Sendmail's `sendmail -bs`: address family unknown, no address. No SMTP client has none.
    assert classify_direction(Connection(""), INTERNAL) == "outbound"


def test_exact_header_values_keep_the_senders_spacing_for_signatures() -> None:
    headers = (("Subject", "x"), ("X-Ref", "   three"), ("To", " bob@example.com"))
    exact = Message(Connection("192.0.2.1"), "a@example.com", ("bob@example.com",), headers,
                    exact_header_values=True)
    assert exact.raw_headers() == b"Subject:x\r\nX-Ref:   three\r\nTo: bob@example.com\r\n"
    # Checks see the values without the leading whitespace either way.
    assert exact.header_values("X-Ref") == ["three"]
    assert exact.visible_recipients == ("bob@example.com",)
    plain = Message(Connection("192.0.2.1"), "a@example.com", (), (("Subject", "x"),))
    assert plain.raw_headers() == b"Subject: x\r\n"


def test_a_from_nested_thousands_of_comments_deep_still_yields_its_address() -> None:
    # The standard parser recurses per comment: this used to raise RecursionError in checks.
    hostile = "(" * 5000 + "spam@bulk.test"
    message = Message(Connection("203.0.113.5"), "spam@bulk.test", ("bob@example.test",),
                      (("From", hostile), ("To", hostile)), b"")
    assert message.from_addresses == ("spam@bulk.test",)
    assert message.visible_recipients == ("spam@bulk.test",)


@given(st.lists(st.text(max_size=300), min_size=1, max_size=3))
def test_any_address_header_gives_normalised_addresses_without_raising(values: list[str]) -> None:
    headers = tuple(("From", v) for v in values) + tuple(("Cc", v) for v in values)
    message = Message(Connection("203.0.113.5"), "", (), headers, b"")
    for address in (*message.from_addresses, *message.visible_recipients):
        assert address == normalize_address(address)
        assert address and "\r" not in address and "\n" not in address
