"""Advertising mail (Decree 91/2020 arts. 13, 20), end to end through the scanner and a real
store: the 4th labelled advertisement in 24 h from one advertiser to one address is flagged
and the 3rd is not, each recipient counts alone; opt-out is found in English, Vietnamese
and List-Unsubscribe; the protected-domain rule needs the absence of a prior exchange."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from tests.builders import RECEIVED_AT, make_message, make_settings

from thurac.adverts import advertisement, opt_out
from thurac.config import Settings
from thurac.dns import Resolver
from thurac.message import Message
from thurac.scanner import Scanner
from thurac.store.engine import make_engine, upgrade

DNS = {"nameservers": ["127.0.0.1:9"], "timeout": 0.1, "budget": 0.2}


def advert(rcpt: str = "alice@example.com", *, subject: str = "[QC] Spring sale",
           body: bytes = b"Buy now.\r\nTo stop: unsubscribe at https://shop.example/u\r\n",
           extra: tuple[tuple[str, str], ...] = (), seconds: int = 0,
           sender: str = "news@shop.example") -> Message:
    message = make_message(sender, (rcpt,), extra_headers=extra)
    headers = tuple((n, subject if n == "Subject" else v) for n, v in message.headers)
    return replace(message, headers=headers, body=body,
                   received_at=RECEIVED_AT + timedelta(seconds=seconds))


@pytest.fixture
def scanner(tmp_path: Path) -> Scanner:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    settings = make_settings(dns=DNS, advertising={"protected_domains": ["pec.example.com"]})
    return Scanner(settings, engine, Resolver(["127.0.0.1:9"], timeout=0.1), None)


def scan_and_record(scanner: Scanner, message: Message) -> set[str]:
    outcome = scanner.scan(message)
    scanner.record_now(message, outcome)
    assert outcome.verdict is not None
    return {s.name for s in outcome.verdict.symbols}


def test_the_fourth_advert_in_a_day_is_flagged_and_each_recipient_counts_alone(
    scanner: Scanner,
) -> None:
    # A second apart: every one counts.
    seen = [scan_and_record(scanner, advert(seconds=n)) for n in range(4)]
    assert ["ADV_OVER_DAILY_LIMIT" in names for names in seen] == [False, False, False, True]
    assert "ADV_OVER_DAILY_LIMIT" not in scan_and_record(scanner, advert("bob@example.com",
                                                                          seconds=5))
    # Another advertiser to the same recipient has its own count.
    other = advert(sender="deals@other.example", seconds=6)
    assert "ADV_OVER_DAILY_LIMIT" not in scan_and_record(scanner, other)
    # A day later the count starts again.
    assert "ADV_OVER_DAILY_LIMIT" not in scan_and_record(scanner, advert(seconds=86400 + 60))


def test_ordinary_mail_is_not_counted(scanner: Scanner) -> None:
    for n in range(5):
        plain = advert(subject="Minutes", body=b"hello\r\n", seconds=n)
        assert not {s for s in scan_and_record(scanner, plain) if s.startswith("ADV_")}


@pytest.mark.parametrize(("body", "extra", "found"), [
    (b"Mua ngay!\r\nDe tu choi nhan thu, bam vao day.\r\n", (), True),
    ("Mua ngay!\r\nNhấn vào đây để hủy đăng ký.\r\n".encode(), (), True),
    ("Mua ngay!\r\nBạn có thể từ chối nhận thư.\r\n".encode(), (), True),
    (b"Buy now! Click to Opt-Out.\r\n", (), True),
    (b"Buy now!\r\n", (("List-Unsubscribe", "<mailto:u@shop.example>"),), True),
    (b"Buy now!\r\n", (), False),
])
def test_opt_out_in_english_vietnamese_or_list_unsubscribe(
    body: bytes, extra: tuple[tuple[str, str], ...], found: bool,
) -> None:
    settings = make_settings().advertising
    message = advert(body=body, extra=extra)
    assert advertisement(message, settings) is not None
    assert (opt_out(message, settings) is not None) == found


def test_labels_and_bulk_headers_make_an_advert() -> None:
    settings = make_settings().advertising
    assert advertisement(advert(subject="[ADV] x"), settings) == "Subject label '[ADV]'"
    assert advertisement(advert(subject="=?utf-8?B?W1FDXSBLaHV54bq/biBtw6Np?="),
                         settings) == "Subject label '[QC]'"
    assert advertisement(advert(subject="hi", extra=(("Precedence", "bulk"),)), settings)
    assert advertisement(advert(subject="Re: [QC] meeting"), settings) is None  # not at start
    off = make_settings(advertising={"enabled": False}).advertising
    assert advertisement(advert(), off) is None


def test_protected_recipients_need_a_prior_exchange(scanner: Scanner) -> None:
    to_pec = advert("office@pec.example.com")
    assert "ADV_UNSOLICITED_PROTECTED" in scan_and_record(scanner, to_pec)
    # Our user writes to the advertiser first: from then on it is not unsolicited.
    reply = replace(make_message("office@pec.example.com", ("news@shop.example",),
                                 direction="outbound", client_ip="127.0.0.1"))
    scanner.record_now(reply, scanner.scan(reply))
    assert "ADV_UNSOLICITED_PROTECTED" not in scan_and_record(scanner, advert(
        "office@pec.example.com", seconds=10))
    assert "ADV_UNSOLICITED_PROTECTED" not in scan_and_record(scanner, advert(seconds=11))


def test_settings_validate_patterns_and_domains() -> None:
    from thurac.errors import ConfigError

    with pytest.raises(ConfigError, match=r"advertising\.optout_patterns"):
        make_settings(advertising={"optout_patterns": ["(unclosed"]})
    with pytest.raises(ConfigError, match=r"advertising\.protected_domains"):
        make_settings(advertising={"protected_domains": ["not a domain"]})
    assert isinstance(make_settings(), Settings)
