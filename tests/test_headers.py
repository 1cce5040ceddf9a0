"""The headers thurac writes, the forged copies it removes, and the sanitising of every value."""

from __future__ import annotations

from tests.builders import make_settings

from thurac.headers import (
    MAX_REPORT_LINES,
    SPAM_HEADERS,
    is_spam_header,
    removals,
    spam_headers,
)
from thurac.symbols import Symbol
from thurac.text import MAX_VALUE, sanitize
from thurac.verdict import Verdict, decide


def verdict(*symbols: Symbol, **actions: object) -> Verdict:
    return decide(symbols, make_settings(actions=actions).actions)


def header(headers: list[tuple[str, str]], name: str) -> str:
    values = [v for n, v in headers if n == name]
    assert len(values) == 1
    return values[0]


# -- spam_headers ---------------------------------------------------------------------------


SPAMMY = (
    Symbol("C22_FREQ_SENDER", 8.2, "sender a@b: 41 msgs/10min > 20"),
    Symbol("C22_TECH_NO_TLS", 0.5, "sent without TLS"),
    Symbol("C22_ONE_WAY", 3.6, "a@b sent 9 messages >= 5; no local user ever wrote to it"),
)


def test_exactly_the_four_spam_headers_are_written_in_order() -> None:
    headers = spam_headers(verdict(*SPAMMY))
    assert [name for name, _ in headers] == list(SPAM_HEADERS)
    assert list(SPAM_HEADERS) == ["X-Spam-Flag", "X-Spam-Score", "X-Spam-Status",
                                  "X-Thurac-Report"]


def test_spam_gets_the_headers_existing_sieve_rules_match() -> None:
    headers = spam_headers(verdict(*SPAMMY))
    assert header(headers, "X-Spam-Flag") == "YES"
    assert header(headers, "X-Spam-Score") == "12.3"
    assert header(headers, "X-Spam-Status") == (
        "Yes, score=12.3 required=5.0 tests=C22_FREQ_SENDER,C22_ONE_WAY,C22_TECH_NO_TLS"
    )


def test_clean_mail_says_no_with_its_score_and_tests() -> None:
    headers = spam_headers(verdict(Symbol("C22_TECH_NO_TLS", 0.5, "sent without TLS")))
    assert header(headers, "X-Spam-Flag") == "NO"
    assert header(headers, "X-Spam-Score") == "0.5"
    assert header(headers, "X-Spam-Status") == (
        "No, score=0.5 required=5.0 tests=C22_TECH_NO_TLS"
    )


def test_mail_without_any_symbol_lists_no_tests() -> None:
    status = header(spam_headers(verdict()), "X-Spam-Status")
    assert status == "No, score=0.0 required=5.0 tests=none"


def test_required_shows_the_configured_header_threshold() -> None:
    status = header(spam_headers(verdict(*SPAMMY, add_header=7.5)), "X-Spam-Status")
    assert status.startswith("Yes, score=12.3 required=7.5 tests=")


def test_report_lists_each_symbol_with_score_and_reason_heaviest_first() -> None:
    report = header(spam_headers(verdict(*SPAMMY)), "X-Thurac-Report")
    assert report.split("\n\t") == [
        "score=12.3 action=quarantine",
        "C22_FREQ_SENDER(8.2): sender a@b: 41 msgs/10min > 20",
        "C22_ONE_WAY(3.6): a@b sent 9 messages >= 5; no local user ever wrote to it",
        "C22_TECH_NO_TLS(0.5): sent without TLS",
    ]


def test_report_in_tag_only_mode_says_what_enforce_would_have_done() -> None:
    report = header(spam_headers(verdict(*SPAMMY, mode="tag-only")), "X-Thurac-Report")
    assert report.startswith("score=12.3 action=quarantine")


def test_reason_with_line_breaks_cannot_escape_the_report_header() -> None:
    evil = Symbol("C22_TECH_MAILER", 2.5, "X-Mailer 'x'\r\nX-Spam-Flag: NO\r\n\r\nbody")
    report = header(spam_headers(verdict(evil)), "X-Thurac-Report")
    assert "\r" not in report
    # Every line break is ours: a fold followed by a tab, never a new header or the body.
    assert all(part.startswith("\t") for part in report.split("\n")[1:])
    assert "C22_TECH_MAILER(2.5): X-Mailer 'x' X-Spam-Flag: NO body" in report


def test_report_of_a_message_with_many_symbols_stays_bounded() -> None:
    many = [Symbol(f"SYM_{i:03}", 1.0, "r" * 1000) for i in range(120)]
    headers = spam_headers(verdict(*many))
    report = header(headers, "X-Thurac-Report").split("\n\t")
    assert len(report) == 1 + MAX_REPORT_LINES + 1
    assert report[-1] == f"... {120 - MAX_REPORT_LINES} more"
    assert max(len(line) for line in report) <= 300
    assert len(header(headers, "X-Spam-Status")) <= MAX_VALUE


# -- removing forged copies -------------------------------------------------------------------


def test_inbound_copies_of_our_headers_are_recognised_in_any_case() -> None:
    for name in ("X-Spam-Flag", "x-spam-flag", "X-SPAM-STATUS", "x-thurac-report",
                 "X-Spam-Score"):
        assert is_spam_header(name, "YES")
    for name in ("X-Spam", "X-Spam-Level", "Subject", "X-Spam-Flagged"):
        assert not is_spam_header(name, "YES")


def test_removals_give_per_name_indexes_last_first_so_each_delete_stays_valid() -> None:
    arrived = [
        ("X-Spam-Flag", "NO"),
        ("Subject", "hi"),
        ("x-spam-flag", "NO"),
        ("X-SPAM-Status", "No, score=-100"),
        ("Received", "from a"),
        ("X-Spam-FLAG", "NO"),
    ]
    assert removals(arrived, is_spam_header) == [
        ("X-Spam-FLAG", 3),
        ("X-SPAM-Status", 1),
        ("x-spam-flag", 2),
        ("X-Spam-Flag", 1),
    ]


def test_index_counts_every_field_of_the_name_not_only_the_removed_ones() -> None:
    arrived = [("Received", "keep"), ("Received", "drop"), ("received", "keep"),
               ("RECEIVED", "drop")]
    doomed = removals(arrived, lambda _name, value: value == "drop")
    assert doomed == [("RECEIVED", 4), ("Received", 2)]


def test_nothing_to_remove_from_a_clean_message() -> None:
    assert removals([("Subject", "hi"), ("From", "a@b")], is_spam_header) == []


def test_vietnamese_text_is_bounded_in_bytes_not_letters() -> None:
    reason = "Thư rác quảng cáo gửi hàng loạt " * 60
    line = sanitize(reason, 300)
    assert len(line.encode("utf-8")) <= 300
    assert line.endswith("...") and line.startswith("Thư rác")


def test_the_report_header_is_seven_bit_clean() -> None:
    verdict = decide([Symbol("C22_TECH_MAILER", 2.5, "X-Mailer 'Gửi thư hàng loạt' matches")],
                     make_settings().actions)
    report = dict(spam_headers(verdict))["X-Thurac-Report"]
    assert report.isascii()
    assert "G\\u1eedi" in report  # still readable as the sender wrote it
