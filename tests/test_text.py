"""Sanitising: every value thurac writes into a header, a log line or a reply."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from thurac.text import MAX_VALUE, sanitize, terminal_block


def test_sanitize_keeps_an_ordinary_value_as_it_is() -> None:
    assert sanitize("HELO mail.shop.example is not a FQDN") == (
        "HELO mail.shop.example is not a FQDN"
    )


def test_sender_controlled_text_cannot_start_a_new_header_line() -> None:
    cleaned = sanitize("PHPMailer\r\nX-Spam-Flag: NO\x00\rBcc: victim@example.com")
    assert cleaned == "PHPMailer X-Spam-Flag: NO Bcc: victim@example.com"


def test_tabs_controls_and_runs_of_blanks_become_single_spaces() -> None:
    assert sanitize("  a\t\tb\x07c\x7fd \x1b e  ") == "a b c d e"


def test_overlong_values_are_cut_with_an_ellipsis() -> None:
    cleaned = sanitize("x" * 5000)
    assert len(cleaned) == MAX_VALUE
    assert cleaned.endswith("...")
    assert sanitize("y" * 50, limit=20) == "y" * 17 + "..."
    assert sanitize("z" * 20, limit=20) == "z" * 20


@given(st.text(), st.integers(min_value=3, max_value=2000))
def test_sanitized_text_is_one_bounded_line_whatever_the_input(text: str, limit: int) -> None:
    cleaned = sanitize(text, limit)
    assert not {"\r", "\n", "\x00"} & set(cleaned)
    assert len(cleaned) <= limit


@given(st.text())
def test_sanitized_text_fits_the_default_bound_without_any_control_character(text: str) -> None:
    cleaned = sanitize(text)
    assert len(cleaned) <= MAX_VALUE
    assert all(ch >= " " and ch != "\x7f" for ch in cleaned)




def test_c1_controls_never_reach_a_terminal() -> None:
    # U+009B is CSI: "\x9b2J" clears the screen of whoever tails the log.
    assert sanitize("mail\x9b2J.example\x85next\x90") == "mail 2J.example next"


def test_bidi_overrides_zero_width_and_line_separators_become_spaces() -> None:
    assert sanitize("evil\u202egpj.exe\u200bok\u2028line\u2029para\ufeff") == (
        "evil gpj.exe ok line para")


def test_vietnamese_text_is_kept_as_it_is() -> None:
    assert sanitize("Thư đã chuyển tiếp: khuyến mãi") == "Thư đã chuyển tiếp: khuyến mãi"


FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(
    ["\x9b", "\x85", "\u202e", "\u2028", "\u2029", "\u200b", "\x00", "\r", "\n"])))
def test_no_control_format_or_separator_character_survives(text: str) -> None:
    cleaned = sanitize(text)
    assert not [ch for ch in cleaned if unicodedata.category(ch) in FORBIDDEN_CATEGORIES]
    assert len(cleaned.encode("utf-8")) <= MAX_VALUE


def test_a_stored_header_block_reaches_the_terminal_as_stored_with_unix_line_ends() -> None:
    block = ("Subject: =?utf-8?q?Khuy=E1=BA=BFn_m=C3=A3i?=\r\nX-Long: a\r\n\tb\r\n"
             "To: Nguyễn <n@x>\r\n")
    assert terminal_block(block) == (
        "Subject: =?utf-8?q?Khuy=E1=BA=BFn_m=C3=A3i?=\nX-Long: a\n\tb\nTo: Nguyễn <n@x>\n")


def test_a_header_cannot_drive_the_terminal_or_overwrite_another_line() -> None:
    block = "Subject: \x1b[2Jhi\rX-Spam-Flag: NO\r\nX-Csi: \x9b31m\x7f\r\n"
    assert terminal_block(block) == (
        "Subject: \\x1b[2Jhi\\x0dX-Spam-Flag: NO\nX-Csi: \\x9b31m\\x7f\n")


@given(st.text())
def test_only_tabs_and_line_feeds_are_left_of_the_control_characters(text: str) -> None:
    shown = terminal_block(text)
    assert all(ch in "\t\n" or unicodedata.category(ch) != "Cc" for ch in shown)
