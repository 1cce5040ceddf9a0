"""Forwards as people's mail clients write them, read line by line."""

from __future__ import annotations

import pytest

from thurac.feedback.forwarded import (
    find_forward,
    find_pasted_header,
    html_to_text,
    unquoted_lines,
)
from thurac.feedback.trace import address_in, header_address


@pytest.mark.parametrize(("value", "address"), [
    ("Name <Spam@Evil.Test>", "spam@evil.test"),
    ("spam@evil.test", "spam@evil.test"),
    ("Fake Bank [mailto:alert@fakebank.test]", "alert@fakebank.test"),
    ('"Fake, Bank" <mailto:alert@fakebank.test>', "alert@fakebank.test"),
    ("alert@fakebank.test<mailto:alert@fakebank.test>", "alert@fakebank.test"),
    ("Name (spam@evil.test).", "spam@evil.test"),
    ("no address here", ""),
    ("a@b@c", ""),
    ("@evil.test", ""),
])
def test_an_address_is_found_as_clients_quote_it(value: str, address: str) -> None:
    assert address_in(value) == address


def test_an_encoded_word_hiding_the_address_is_decoded() -> None:
    assert header_address(["=?utf-8?q?Win_=3Cwin=40lottery.test=3E?="]) == "win@lottery.test"
    assert header_address(["=?bogus?q?broken"]) == ""


def block_of(text: str) -> dict[str, str]:
    block = find_forward(unquoted_lines(text))
    assert block is not None
    return dict(block.fields)


def test_a_gmail_block_gives_its_fields() -> None:
    fields = block_of("hi\n\n---------- Forwarded message ---------\nFrom: A <a@b.test>\n"
                      "Date: Mon, Jun 7, 2021\nSubject: S\nTo: <u@example.test>\n\nbody")
    assert fields == {"From": "A <a@b.test>", "Date": "Mon, Jun 7, 2021", "Subject": "S",
                      "To": "<u@example.test>"}


def test_vietnamese_field_names_map_to_header_names() -> None:
    fields = block_of("-----Thư gốc-----\nTừ: Ngân hàng <nh@gia.test>\nĐã gửi: Thứ Hai\n"
                      "Đến: u@example.test\nChủ đề: Khóa tài khoản\n")
    assert fields == {"From": "Ngân hàng <nh@gia.test>", "Date": "Thứ Hai",
                      "To": "u@example.test", "Subject": "Khóa tài khoản"}


def test_a_wrapped_subject_before_from_does_not_end_the_block() -> None:
    fields = block_of("-------- Forwarded Message --------\nSubject: a very long subject\n"
                      "that the client wrapped\nFrom: W <w@shop.test>\n")
    assert fields["From"] == "W <w@shop.test>"
    assert fields["Subject"] == "a very long subject\n that the client wrapped"


def test_deeply_quoted_and_bold_fields_are_read() -> None:
    fields = block_of("> > Begin forwarded message:\n> >\n> > *From:* P <p@rx.test>\n"
                      "> > *Subject:* Pills\n")
    assert fields["From"] == "P <p@rx.test>"


def test_only_the_first_forward_names_the_sender() -> None:
    fields = block_of("---------- Forwarded message ---------\nFrom: Spam <s@spam.test>\n"
                      "Subject: Re: invoice\n\n-----Original Message-----\n"
                      "From: CEO <ceo@victim.test>\nSubject: invoice\n")
    assert fields["From"] == "Spam <s@spam.test>"


def test_a_marker_without_an_address_is_passed_over() -> None:
    fields = block_of("---------- Forwarded message ---------\nFrom: nobody\n\n"
                      "---------- Forwarded message ---------\nFrom: S <s@spam.test>\n")
    assert fields["From"] == "S <s@spam.test>"


def test_prose_with_a_from_line_is_no_forward() -> None:
    assert find_forward(unquoted_lines("From: me, to whom it may concern.\nPlease block.\n")) \
        is None


def test_pasted_headers_need_a_received_line() -> None:
    assert find_pasted_header(unquoted_lines("From: a@b.test\nSubject: x\n")) is None
    block = find_pasted_header(unquoted_lines(
        "From: a@b.test\n\nReturn-Path: <a@b.test>\nReceived: from x ([192.0.2.1])\n"
        "    by mx.example.test (Postfix) with ESMTP id ABCDEF1; d\n"))
    assert block is not None
    assert dict(block.fields)["Received"] == (
        "from x ([192.0.2.1])\n by mx.example.test (Postfix) with ESMTP id ABCDEF1; d")


def test_html_is_turned_into_lines_of_text() -> None:
    assert html_to_text("<div>From: <b>A</b> &lt;<a href='mailto:a@b'>a@b</a>&gt;<br>"
                        "Date:&nbsp;x</div>") == "\nFrom: A <a@b>\nDate: x\n"
