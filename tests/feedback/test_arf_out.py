"""A spam report we forward is an RFC 5965 feedback report any ARF reader takes, and nothing
the spammer put in the reported mail can add a header field to it."""

from __future__ import annotations

import email
import email.header
import email.message
import email.policy
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from thurac import __version__
from thurac.feedback.arf_out import build_arf

SPAM = (b"Return-Path: <promo@spam.test>\r\n"
        b"From: Khuyen mai <promo@spam.test>\r\n"
        b"To: lan@example.vn\r\n"
        b"Subject: Mua ngay!\r\n"
        b"Message-ID: <run-1@spam.test>\r\n"
        b"DKIM-Signature: v=1; a=rsa-sha256; d=spam.test; s=s1;\r\n"
        b"\th=from:to:subject; bh=abc=; b=def=\r\n"
        b"\r\n"
        b"Gi\xe1\xba\xa3m gi\xc3\xa1 50%!\r\n")
ARRIVED = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


def report(**overrides: Any) -> bytes:
    fields: dict[str, Any] = dict(
        reported=SPAM, reported_headers="", source_ip="192.0.2.7",
        original_mail_from="promo@spam.test", arrival_date=ARRIVED,
        reported_domain="spam.test", reporter_note="reported by lan@example.vn",
        from_address="thurac <abuse@example.vn>", to_address="chongthurac@vncert.vn")
    fields.update(overrides)
    return build_arf(**fields)


def parse(raw: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def parts(message: email.message.EmailMessage) -> list[email.message.EmailMessage]:
    return list(message.iter_parts())  # type: ignore[arg-type]


def feedback_fields(message: email.message.EmailMessage) -> email.message.Message:
    """The message/feedback-report fields (the email package reads them as a header block)."""
    second = parts(message)[1]
    assert second.get_content_type() == "message/feedback-report"
    inner = second.get_payload(0)
    assert isinstance(inner, email.message.Message)
    return inner


def all_headers(message: email.message.Message) -> Iterator[tuple[str, str]]:
    """Every header field of the report: its own, each part's, and the report fields."""
    yield from message.items()
    for part in message.walk():
        if part is not message:
            yield from part.items()
    inner = message.get_payload()
    if isinstance(inner, list) and len(inner) > 1:
        yield from feedback_fields(message).items()  # type: ignore[arg-type]


def test_a_report_is_multipart_report_with_the_rfc5965_fields_and_the_message() -> None:
    message = parse(report())
    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "feedback-report"
    assert [p.get_content_type() for p in parts(message)] == [
        "text/plain", "message/feedback-report", "message/rfc822"]
    fields = feedback_fields(message)
    assert fields["Feedback-Type"] == "abuse"
    assert fields["User-Agent"] == f"thurac/{__version__}"
    assert fields["Version"] == "1"
    assert fields["Source-IP"] == "192.0.2.7"
    assert fields["Original-Mail-From"] == "<promo@spam.test>"
    assert fields["Arrival-Date"] == "Wed, 01 May 2024 08:30:00 +0000"
    assert fields["Reported-Domain"] == "spam.test"
    assert fields["Reporting-MTA"] == "dns; example.vn"
    attached = parts(message)[2].get_payload(0)
    assert isinstance(attached, email.message.Message)
    assert attached["Message-ID"] == "<run-1@spam.test>"


def test_the_reported_message_is_attached_byte_for_byte() -> None:
    raw = report()
    start = raw.index(b"Content-Type: message/rfc822")
    body = raw[raw.index(b"\r\n\r\n", start) + 4:]
    assert body[: len(SPAM)] == SPAM  # the DKIM signature of the evidence still verifies
    assert body[len(SPAM):].startswith(b"\r\n--thurac-arf-")


def test_the_report_has_the_outer_fields_a_mail_system_expects() -> None:
    message = parse(report(date=datetime(2024, 5, 2, 9, 0, tzinfo=UTC)))
    assert message["From"] == "thurac <abuse@example.vn>"
    assert message["To"] == "chongthurac@vncert.vn"
    assert message["Date"] == "Thu, 02 May 2024 09:00:00 +0000"
    assert message["Message-ID"].endswith("@example.vn>")
    assert message["Subject"] == "Spam report / Báo cáo thư rác: <promo@spam.test>"
    assert message["MIME-Version"] == "1.0"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.defects == [] and all(p.defects == [] for p in parts(message))


def test_the_human_part_says_who_forwards_it_and_under_which_law_in_two_languages() -> None:
    text = parts(parse(report(reporting_host="mx1.example.vn")))[0].get_content()
    assert "spam report (Feedback-Type: abuse) forwarded by mx1.example.vn" in text
    assert "Circular 22/2021/TT-BTTTT art. 5.3 and Decree 91/2020/ND-CP" in text
    assert "Đây là báo cáo thư rác do mx1.example.vn chuyển tiếp" in text
    assert "khoản 3 Điều 5 Thông tư 22/2021/TT-BTTTT và Nghị định 91/2020/NĐ-CP" in text
    assert "Note / Ghi chú: reported by lan@example.vn" in text
    assert "Source IP / Địa chỉ IP nguồn: 192.0.2.7" in text


def test_empty_fields_are_left_out() -> None:
    message = parse(report(source_ip="", original_mail_from="<>", arrival_date=None,
                           reported_domain="", reporter_note=""))
    fields = feedback_fields(message)
    assert sorted(fields.keys()) == ["Feedback-Type", "Reporting-MTA", "User-Agent", "Version"]
    assert "Note" not in parts(message)[0].get_content()
    assert message["Subject"] == "Spam report / Báo cáo thư rác: message"


def test_without_the_message_its_header_is_attached_as_text_rfc822_headers() -> None:
    headers = "From: promo@spam.test\nSubject: Mua ngay!\n"
    raw = report(reported=None, reported_headers=headers)
    third = parts(parse(raw))[2]
    assert third.get_content_type() == "text/rfc822-headers"
    assert b"\r\n\r\nFrom: promo@spam.test\r\nSubject: Mua ngay!\r\n\r\n--thurac-arf-" in raw


def test_a_message_over_the_bound_is_attached_by_its_header_and_the_text_says_so() -> None:
    message = parse(report(max_reported=100))
    third = parts(message)[2]
    assert third.get_content_type() == "text/rfc822-headers"
    headers = third.get_payload(decode=True)
    assert isinstance(headers, bytes)
    assert headers.startswith(b"Return-Path: <promo@spam.test>\r\n")
    assert headers.endswith(b"b=def=\r\n") and b"50%" not in headers
    assert "larger than 100 bytes: only its header is attached" in parts(message)[0].get_content()


def test_an_envelope_sender_is_written_as_a_path() -> None:
    def mail_from(value: str) -> str | None:
        return feedback_fields(parse(report(original_mail_from=value))).get("Original-Mail-From")

    assert mail_from("<Promo@SPAM.test.>") == "<Promo@spam.test>"
    assert mail_from("promo@[192.0.2.7]") == "<promo@[192.0.2.7]>"
    assert mail_from("postmaster") == "<postmaster>"
    assert mail_from("promo@not a domain") is None
    assert mail_from("@spam.test") is None


def test_a_naive_arrival_date_is_utc() -> None:
    fields = feedback_fields(parse(report(arrival_date=datetime(2024, 5, 1, 8, 30))))
    assert fields["Arrival-Date"] == "Wed, 01 May 2024 08:30:00 +0000"


def test_line_breaks_in_the_reported_values_cannot_add_header_fields() -> None:
    raw = report(source_ip="192.0.2.7\r\nBcc: victim@example.net",
                 original_mail_from="promo@spam.test\r\nFeedback-Type: not-spam\r\nX-Evil: 1",
                 reported_domain="spam.test\nX-Evil: 2",
                 reporter_note="spam\r\n\r\n--boundary\r\nX-Evil: 3\x00",
                 reporting_host="mx1.example.vn\r\nX-Evil: 4")
    message = parse(raw)
    names = [name.lower() for name, _ in all_headers(message)]
    assert "bcc" not in names and "x-evil" not in names
    fields = feedback_fields(message)
    assert fields.get_all("Feedback-Type") == ["abuse"]
    assert "Source-IP" not in fields  # not an IP address once it has a tail
    assert "Reported-Domain" not in fields  # not a domain name either
    assert "Original-Mail-From" not in fields  # its "domain" has spaces and colons now
    assert fields["Reporting-MTA"] == "dns; example.vn"  # our own name, not the tail
    assert b"\x00" not in raw and len(parts(message)) == 3


def test_non_ascii_values_are_encoded_and_a_domain_becomes_a_labels() -> None:
    raw = report(original_mail_from="khuyếnmãi@bán-hàng.vn", reported_domain="bán-hàng.vn",
                 source_ip="2001:DB8::7")
    header_end = raw.index(b"\r\n\r\n")
    assert raw[:header_end].isascii()
    report_part = raw[raw.index(b"Content-Type: message/feedback-report"):]
    report_part = report_part[: report_part.index(b"\r\n--thurac-arf-")]
    assert report_part.isascii()
    fields = feedback_fields(parse(raw))
    assert fields["Reported-Domain"] == "xn--bn-hng-ltae.vn"
    assert fields["Source-IP"] == "2001:db8::7"
    decoded = str(email.header.make_header(email.header.decode_header(
        fields["Original-Mail-From"])))
    assert decoded == "<khuyếnmãi@xn--bn-hng-ltae.vn>"


def test_an_8bit_message_makes_an_8bit_report_and_a_7bit_one_stays_7bit() -> None:
    assert b"\r\nContent-Transfer-Encoding: 8bit\r\n" in report()
    ascii_spam = SPAM.replace(b"Gi\xe1\xba\xa3m gi\xc3\xa1", b"Giam gia")
    plain = report(reported=ascii_spam)
    assert plain.isascii() and b"Content-Transfer-Encoding: 8bit" not in plain


def test_nul_bytes_and_bare_line_ends_of_the_reported_message_become_crlf_text() -> None:
    raw = report(reported=b"From: a@spam.test\nSubject: x\r\rbody\x00 line\n")
    assert b"\r\n\r\nFrom: a@spam.test\r\nSubject: x\r\n\r\nbody line\r\n\r\n--thurac-arf-" \
        in raw


def test_a_reported_message_holding_the_boundary_cannot_end_the_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = iter(["guessed", "fresh"])
    monkeypatch.setattr(secrets, "token_hex", lambda _n: next(tokens))
    spam = SPAM + b"--thurac-arf-guessed--\r\n"
    raw = report(reported=spam)
    message = parse(raw)
    assert message.get_boundary() == "thurac-arf-fresh"
    assert [p.get_content_type() for p in parts(message)][2] == "message/rfc822"
    attached = parts(message)[2].get_payload(0)
    assert isinstance(attached, email.message.Message)
    assert b"--thurac-arf-guessed--" in attached.as_bytes()


def test_the_compat32_reader_sees_the_same_report() -> None:
    message = email.message_from_bytes(report(), policy=email.policy.compat32)
    assert message.get_content_type() == "multipart/report"
    second = message.get_payload(1)
    assert isinstance(second, email.message.Message)
    fields = second.get_payload(0)
    assert isinstance(fields, email.message.Message)
    assert fields["Feedback-Type"] == "abuse"


@pytest.mark.parametrize("feedback_type", ["fraud", "virus", "other", "not-spam"])
def test_each_rfc5965_feedback_type_is_accepted(feedback_type: str) -> None:
    fields = feedback_fields(parse(report(feedback_type=feedback_type)))
    assert fields["Feedback-Type"] == feedback_type


def test_an_unknown_feedback_type_or_a_bad_address_of_ours_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="feedback type 'spam'"):
        report(feedback_type="spam")
    with pytest.raises(ValueError, match=re.escape("to address 'a@b.vn, c@d.vn'")):
        report(to_address="a@b.vn, c@d.vn")
    with pytest.raises(ValueError, match="from address 'thurac'"):
        report(from_address="thurac")
