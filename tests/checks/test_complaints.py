"""C22_COMPLAINTS from the complaints table, through the scanner's one history read: present
from the first trusted complaint, growing with distinct reporters up to the cap; untrusted
reports count at their weight (0 by default); free-mail domains are not blamed whole."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from tests.builders import RECEIVED_AT, make_message, make_settings

from thurac.dns import Resolver
from thurac.scanner import Scanner
from thurac.store.complaints import Complaint, add_complaint
from thurac.store.engine import make_engine, upgrade
from thurac.symbols import Symbol

DNS = {"nameservers": ["127.0.0.1:9"], "timeout": 0.1, "budget": 0.2}


def store(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    return engine


def complain(engine: Engine, reporter: str, *, sender: str = "news@shop.example",
             ip: str = "198.51.100.7", trusted: bool = True, weight: float = 1.0,
             days_ago: float = 1) -> None:
    with engine.begin() as conn:
        add_complaint(conn, Complaint(
            RECEIVED_AT - timedelta(days=days_ago), reporter, trusted, weight, "user",
            "attachment", sender, sender.rpartition("@")[2], ip))


def complaint_symbol(engine: Engine, **sections: Any) -> Symbol | None:
    scanner = Scanner(make_settings(dns=DNS, **sections), engine,
                      Resolver(["127.0.0.1:9"], timeout=0.1), None)
    verdict = scanner.scan(make_message()).verdict
    assert verdict is not None
    found = [s for s in verdict.symbols if s.name == "C22_COMPLAINTS"]
    return found[0] if found else None


def test_one_trusted_complaint_is_enough_and_more_reporters_weigh_more(tmp_path: Path) -> None:
    engine = store(tmp_path)
    assert complaint_symbol(engine) is None
    complain(engine, "alice@example.com")
    first = complaint_symbol(engine)
    assert first is not None and first.score == 3.0
    assert "sender news@shop.example: 1 reporter(s) complained in 30d" in first.reason
    complain(engine, "alice@example.com")  # the same reporter again: still one
    assert complaint_symbol(engine).score == 3.0  # type: ignore[union-attr]
    complain(engine, "bob@example.com")
    assert complaint_symbol(engine).score == 6.0  # type: ignore[union-attr]
    for n in range(5):
        complain(engine, f"user{n}@example.com")
    assert complaint_symbol(engine).score == 9.0  # type: ignore[union-attr]  # max_factor 3


def test_untrusted_reports_count_at_their_weight(tmp_path: Path) -> None:
    engine = store(tmp_path)
    complain(engine, "competitor@rival.example", trusted=False, weight=0.0)
    assert complaint_symbol(engine) is None
    complain(engine, "someone@rival.example", trusted=False, weight=0.5)
    assert complaint_symbol(engine).score == 1.5  # type: ignore[union-attr]


def test_old_complaints_and_other_sources_do_not_count(tmp_path: Path) -> None:
    engine = store(tmp_path)
    complain(engine, "alice@example.com", days_ago=31)
    complain(engine, "bob@example.com", sender="other@elsewhere.example", ip="203.0.113.1")
    assert complaint_symbol(engine) is None


def test_the_ip_and_the_domain_are_blamed_but_not_a_free_mail_domain(tmp_path: Path) -> None:
    engine = store(tmp_path)
    complain(engine, "alice@example.com", sender="x@shop.example", ip="203.0.113.1")
    domain = complaint_symbol(engine)
    assert domain is not None and domain.reason.startswith("domain shop.example")
    engine2 = store(tmp_path / "b")
    complain(engine2, "alice@example.com", sender="x@other.example")
    assert complaint_symbol(engine2).reason.startswith(  # type: ignore[union-attr]
        "client IP 198.51.100.7")
    ignored = complaint_symbol(engine, complaints={"ignore_domains": ["shop.example"]})
    assert ignored is None
