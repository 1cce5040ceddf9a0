"""The machine-readable part of a provider's ARF report (RFC 5965 3), read leniently: a missing
or garbled field is a problem string, never a failure."""

from __future__ import annotations

from thurac.feedback.arf import parse_feedback_fields

FIELDS = b"""Feedback-Type: Abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <somespammer@example.net>
Original-Rcpt-To: <user@example.com>
Original-Rcpt-To: <other@example.com>
Arrival-Date: Thu, 8 Mar 2005 14:00:00 EDT
Reporting-MTA: dns; mail.example.com
Source-IP: 192.0.2.1
Authentication-Results: mail.example.com;
        spf=fail smtp.mailfrom=example.net
Reported-Domain: Example.NET.
Reported-Uri: http://example.net/earn_money.html
Reported-Uri: mailto:user@example.com
Incidents: 3
"""


def test_every_field_of_the_rfc_example_is_read() -> None:
    fields = parse_feedback_fields(FIELDS)
    assert fields.feedback_type == "abuse"
    assert fields.user_agent == "SomeGenerator/1.0"
    assert fields.version == "1"
    assert fields.original_mail_from == "somespammer@example.net"
    assert fields.original_rcpt_to == ("user@example.com", "other@example.com")
    assert fields.arrival_date == "Thu, 8 Mar 2005 14:00:00 EDT"
    assert fields.reporting_mta == "dns; mail.example.com"
    assert fields.source_ip == "192.0.2.1"
    assert fields.authentication_results == (
        "mail.example.com; spf=fail smtp.mailfrom=example.net",)
    assert fields.reported_domains == ("example.net",)
    assert fields.reported_uris == ("http://example.net/earn_money.html",
                                    "mailto:user@example.com")
    assert fields.incidents == "3"
    assert fields.problems == ()


def test_crlf_and_ipv6_and_the_null_sender() -> None:
    fields = parse_feedback_fields(b"Feedback-Type: not-spam\r\nUser-Agent: x\r\nVersion: 1\r\n"
                                   b"Source-IP: 2001:DB8::0:1\r\nOriginal-Mail-From: <>\r\n")
    assert (fields.feedback_type, fields.source_ip, fields.original_mail_from) == (
        "not-spam", "2001:db8::1", "")


def test_the_draft_name_received_date_is_the_arrival_date() -> None:
    fields = parse_feedback_fields(b"Feedback-Type: abuse\nReceived-Date: Mon, 7 Jun 2021\n")
    assert fields.arrival_date == "Mon, 7 Jun 2021"


def test_missing_required_fields_are_problems() -> None:
    fields = parse_feedback_fields(b"Source-IP: 192.0.2.1\n")
    assert fields.source_ip == "192.0.2.1"
    assert fields.problems == ("feedback report without a readable Feedback-Type",
                               "feedback report without User-Agent",
                               "feedback report without Version")


def test_garbage_is_no_fields_and_no_exception() -> None:
    fields = parse_feedback_fields(bytes(range(256)) * 4)
    assert fields.feedback_type == ""
    assert "feedback report without a readable Feedback-Type" in fields.problems


def test_an_unreadable_source_ip_or_feedback_type_is_dropped_with_a_problem() -> None:
    fields = parse_feedback_fields(b"Feedback-Type: abuse\x00\rX-Injected: yes\n"
                                   b"Source-IP: 192.0.2.1\rX-Injected: yes\n")
    assert (fields.feedback_type, fields.source_ip) == ("", "")
    assert "feedback report with an unreadable Source-IP" in fields.problems


def test_values_are_bounded_and_repeats_capped() -> None:
    fields = parse_feedback_fields(b"Feedback-Type: abuse\nUser-Agent: " + b"x" * 10_000
                                   + b"\n" + b"Reported-Uri: http://a.test/\n" * 100)
    assert len(fields.user_agent) == 998
    assert len(fields.reported_uris) == 20
