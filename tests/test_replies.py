"""Reject and tempfail texts: the criterion in words with its measured value and limit, the
queue id, in English or Vietnamese without diacritics; ASCII and bounded whatever the
sender sent; templates checked at load."""

from __future__ import annotations

import pytest
from tests.builders import make_settings

from thurac.errors import ConfigError
from thurac.replies import REPLY_MAX_BYTES, reply_text
from thurac.symbols import Measure, Symbol
from thurac.verdict import Verdict, decide

FREQ = Symbol("C22_FREQ_SENDER", 12.0, "sender x: 120 msgs/1h > 30",
              Measure(120, 30, "messages", "1h"))


def verdict(*symbols: Symbol, action_at: float = 10.0) -> Verdict:
    settings = make_settings(actions={"add_header": 1, "quarantine": None, "reject": action_at})
    return decide(symbols, settings.actions)


def text(v: Verdict, language: str = "en", queue_id: str = "D1442160024", **replies: object) -> str:
    settings = make_settings(replies={"language": language, **replies})
    return reply_text(v, queue_id, settings.replies)


def test_english_names_the_article_the_measure_and_the_queue_id() -> None:
    assert text(verdict(FREQ)) == ("Rejected as spam (Circular 22/2021 art. 4.3a, send "
                                   "frequency: 120 messages/1h > 30) [queue id D1442160024]")


def test_vietnamese_without_diacritics() -> None:
    assert text(verdict(FREQ), "vi") == (
        "Thu bi tu choi la thu rac (Thong tu 22/2021 dieu 4.3a, tan suat gui: 120 thu/1h > 30)"
        " [ma hang doi D1442160024]")


def test_the_top_symbol_decides_and_other_criteria_are_worded() -> None:
    ratio = Symbol("C22_UNRELATED_RATIO", 20.0, "...", Measure(0.9, 0.8, "ratio", "1d", ">="))
    assert "art. 4.3b, recipients with no prior exchange: 0.9/1d >= 0.8" in text(
        verdict(FREQ, ratio))
    block = Symbol("BLOCKLIST", 20.0, "block ip 192.0.2.0/24")
    assert "Decree 91/2020 art. 10.3, block list: BLOCKLIST" in text(verdict(block))
    assert "Nghi dinh 91/2020 dieu 10.3, danh sach chan" in text(verdict(block), "vi")
    spf = Symbol("SPF_FAIL", 20.0, "SPF fail")
    assert "(sender authentication: SPF_FAIL)" in text(verdict(spf))
    dnsbl = Symbol("DNSBL_LOCAL", 20.0, "listed")
    assert "block list: DNSBL_LOCAL" in text(verdict(dnsbl))


def test_a_hostile_queue_id_or_override_cannot_break_the_reply() -> None:
    reply = text(verdict(FREQ), queue_id="Q1\r\n250 ok\x00 \u00e9" + "x" * 2000)
    assert "\r" not in reply and "\n" not in reply and "\x00" not in reply
    assert reply.isascii() and len(reply.encode()) <= REPLY_MAX_BYTES
    assert "%" not in text(verdict(FREQ), queue_id="100%")


def test_templates_are_checked_at_load() -> None:
    assert text(verdict(FREQ), en={"reject": "No ({criterion}) {score} {queue_id}",
                                   "tempfail": "Later"}).startswith("No (Circular")
    for bad, words in (("Thư bị từ chối {criterion}", "must be ASCII"),
                       ("Rejected {sender}", "unknown placeholder"),
                       ("two\nlines", "one line")):
        with pytest.raises(ConfigError) as err:
            make_settings(replies={"vi": {"reject": bad, "tempfail": "x"}})
        assert "replies.vi.reject" in str(err.value) and words in str(err.value)
    with pytest.raises(ConfigError, match=r"replies\.language"):
        make_settings(replies={"language": "fr"})
