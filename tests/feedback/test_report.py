"""The line a reporter is shown: one line of printable ASCII, at most 300 bytes, whatever the
report put in the values it quotes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from thurac.feedback.report import Extraction, Reported


def test_an_extraction_names_what_it_found() -> None:
    line = Extraction(Reported(sender="a@b.example", client_ip="203.0.113.9", method="arf",
                               feedback_type="abuse")).result_line()
    assert line == "extracted sender=a@b.example ip=203.0.113.9 method=arf type=abuse"


def test_the_first_problem_follows_an_extraction() -> None:
    line = Extraction(Reported(sender="a@b.example", method="inline",
                               problems=("unknown charset 'x'", "other"))).result_line()
    assert line == "extracted sender=a@b.example method=inline (unknown charset 'x')"


def test_nothing_extracted_says_why() -> None:
    assert Extraction(Reported(problems=("no attached message or forward",))).result_line() \
        == "nothing extracted: no attached message or forward"
    assert Extraction(Reported()).result_line() == "nothing extracted: no reported message"


def test_non_ascii_and_blanks_in_values_stay_inside_one_word() -> None:
    line = Extraction(Reported(sender="người.gửi@ví-dụ.vn", message_id="a b\r\nX-I: 1@x",
                               method="attachment")).result_line()
    assert line == ("extracted sender=ng\\u01b0\\u1eddi.g\\u1eedi@v\\xed-d\\u1ee5.vn"
                    " message_id=a?b??X-I:?1@x method=attachment")


def test_a_long_value_is_cut_with_an_ellipsis() -> None:
    line = Extraction(Reported(sender="x" * 100 + "@b.example", method="inline")).result_line()
    assert line == f"extracted sender={'x' * 61}... method=inline"


def test_the_longest_values_still_fit_with_the_method() -> None:
    line = Extraction(Reported(sender="s" * 500, client_ip="f" * 100, queue_ids=("Q" * 100,),
                               message_id="m" * 500, method="attachment", feedback_type="t" * 50,
                               problems=("p" * 500,))).result_line()
    assert len(line) <= 300
    assert "method=attachment" in line


@given(st.text(), st.text(), st.lists(st.text(), max_size=3))
def test_whatever_the_values_the_line_is_clean(sender: str, ip: str, problems: list[str]) -> None:
    for method in ("attachment", "none"):
        line = Extraction(Reported(sender=sender, client_ip=ip, method=method,  # type: ignore[arg-type]
                                   problems=tuple(problems))).result_line()
        assert line.isascii() and line.isprintable()
        assert len(line.encode()) <= 300
