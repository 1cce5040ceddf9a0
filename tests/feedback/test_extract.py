"""A report mailbox's day: every report in the corpus gives what it must (the spam's sender,
the originating IP, our queue id) or, for the malformed and hostile ones, says plainly that
nothing was extracted, and the line shown to the reporter is always one short ASCII line."""

from __future__ import annotations

import time
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.reports import (
    INTERNAL_NETWORKS,
    OUR_HOSTS,
    QUEUE_ID,
    REPORT_QUEUE_ID,
    SPAMMER_IP,
    USER,
    ReportCase,
    attached,
    nested_multipart,
    report_corpus,
    spam,
)

import thurac.feedback
from thurac.feedback import MAX_REPORT_BYTES, Extraction, extract

CORPUS = report_corpus()
MAX_LINE = 300


def run(case: ReportCase) -> Extraction:
    return extract(case.raw, our_hosts=OUR_HOSTS, internal_networks=INTERNAL_NETWORKS,
                   **case.options)


def assert_clean_line(line: str) -> None:
    assert line.isascii() and line.isprintable(), line
    assert len(line.encode()) <= MAX_LINE
    assert line.startswith(("extracted ", "nothing extracted: "))


def test_the_corpus_holds_at_least_25_reports_of_every_kind() -> None:
    assert len(CORPUS) >= 25
    assert {case.method for case in CORPUS} == {"arf", "attachment", "inline", "trace", "none"}


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_each_report_gives_what_it_must(case: ReportCase) -> None:
    result = run(case)
    reported = result.reported
    assert (reported.method, reported.sender, reported.client_ip) == (
        case.method, case.sender, case.ip), reported.problems
    if case.queue_ids is not None:
        assert reported.queue_ids == case.queue_ids
    if case.message_id is not None:
        assert reported.message_id == case.message_id
    if case.feedback_type is not None:
        assert reported.feedback_type == case.feedback_type
    if case.problem:
        assert any(case.problem in problem for problem in reported.problems), reported.problems
    assert not any(p.startswith("internal error") for p in reported.problems)
    assert REPORT_QUEUE_ID not in reported.queue_ids  # the report's own trace is not the spam's
    assert_clean_line(result.result_line())
    if case.method == "none":
        assert result.result_line().startswith("nothing extracted: ")
        assert not result.found
    else:
        assert result.result_line().startswith("extracted ")
        assert f"method={case.method}" in result.result_line()


def test_the_whole_corpus_takes_well_under_a_few_seconds() -> None:
    started = time.perf_counter()
    for case in CORPUS:
        run(case)
    assert time.perf_counter() - started < 3.0


def test_ten_megabytes_of_nested_multipart_are_read_to_ten_levels_in_under_a_second() -> None:
    raw = nested_multipart()
    assert 9_000_000 < len(raw) < MAX_REPORT_BYTES
    started = time.perf_counter()
    result = extract(raw)
    assert time.perf_counter() - started < 1.0
    assert result.method == "none"
    assert "MIME nested deeper than 10 levels" in result.problems


def test_the_result_line_reads_as_the_reporter_is_told() -> None:
    result = extract(attached(spam()), our_hosts=OUR_HOSTS, internal_networks=INTERNAL_NETWORKS)
    assert result.result_line() == (
        f"extracted sender=bounce@lottery.test ip={SPAMMER_IP} queue_id={QUEUE_ID} "
        "message_id=20210607.4711@lottery.test method=attachment")
    assert result.reporter == USER
    assert extract(b"Subject: hello\r\n\r\nplease block them\r\n").result_line() == (
        "nothing extracted: no attached message or forward")


def test_without_our_host_names_any_postfix_hop_gives_the_queue_id() -> None:
    reported = extract(attached(spam())).reported
    assert reported.queue_ids == (QUEUE_ID,)
    assert reported.client_ip == SPAMMER_IP


def test_queue_ids_come_only_from_hops_of_the_named_hosts() -> None:
    reported = extract(attached(spam()), our_hosts=["other.example.test"]).reported
    assert reported.queue_ids == ()
    assert reported.client_ip == SPAMMER_IP  # the IP needs no host names
    assert reported.sender == "bounce@lottery.test"


def test_a_report_over_max_bytes_is_not_parsed() -> None:
    raw = attached(spam())
    result = extract(raw, max_bytes=len(raw) - 1)
    assert result.method == "none"
    assert result.problems == (f"too large: {len(raw)} bytes > {len(raw) - 1}",)
    assert extract(raw, max_bytes=len(raw)).method == "attachment"


def test_an_internal_error_is_method_none_with_a_problem_never_an_exception(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("boom\r\nX-Injected: yes")

    monkeypatch.setattr(thurac.feedback, "_reported", broken)
    result = extract(attached(spam()))
    assert result.method == "none"
    assert result.problems == ("internal error: RuntimeError: boom X-Injected: yes",)
    assert_clean_line(result.result_line())


def test_text_instead_of_bytes_is_read_too() -> None:
    raw = attached(spam()).decode()
    assert extract(raw).method == "attachment"  # type: ignore[arg-type]


@cache
def _small_corpus() -> list[bytes]:
    return [case.raw for case in CORPUS if len(case.raw) < 20_000]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_reports_never_reach_the_internal_error_path(data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from(_small_corpus())))
    for _ in range(data.draw(st.integers(1, 8))):
        kind = data.draw(st.sampled_from(["flip", "cut", "insert", "drop-line"]))
        at = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if kind == "flip" and raw:
            raw[at] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            del raw[at:]
        elif kind == "insert":
            raw[at:at] = data.draw(st.sampled_from(
                [b"\x00", b"\r", b"\n", b"\r\n\r\n", b"--att-boundary-1\r\n", b"=?utf-8?b?",
                 b"Content-Type: message/rfc822\r\n\r\n", b"\xff\xfe", b"(", b"<", b">",
                 b"---------- Forwarded message ---------\r\n", "Từ: ".encode()]))
        else:
            end = raw.find(b"\n", at)
            del raw[at:end + 1 if end >= 0 else len(raw)]
    result = extract(bytes(raw), our_hosts=OUR_HOSTS, internal_networks=INTERNAL_NETWORKS)
    assert not any(p.startswith("internal error") for p in result.problems), result.problems
    assert_clean_line(result.result_line())


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=4000))
def test_any_bytes_give_a_result_and_one_clean_line(raw: bytes) -> None:
    result = extract(raw)
    assert not any(p.startswith("internal error") for p in result.problems), result.problems
    assert_clean_line(result.result_line())
