"""`thurac replay`: live verdicts made by the real scanner (real loopback DNS, a real store),
then replayed under another YAML file. The issue's four cases: raising the frequency limits
turns exactly the burst's rejects into accepts; a new weight for a DNS-derived symbol shifts
scores with no DNS query (the DNS server even unreachable); a burst that began after a
message does not change that message's verdict; the live YAML reproduces every verdict."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select
from tests.builders import CLIENT_IP, make_message
from tests.support.dns_server import TestDnsServer

from thurac.cli import main
from thurac.config import parse_settings
from thurac.message import Message
from thurac.scanner import Scanner, make_resolver
from thurac.store import schema
from thurac.store.complaints import Complaint, add_complaint
from thurac.store.engine import make_engine, upgrade

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
BURSTER = "deals@blast.example"


def live_config(url: str, dns: str) -> dict[str, Any]:
    return {
        "database": {"url": url},
        "dns": {"nameservers": [dns], "timeout": 0.5, "budget": 2.0},
        "local": {"domains": ["example.com"], "addresses": ["192.0.2.25"],
                  "authserv_id": "mx.example.com", "internal_networks": ["10.0.0.0/8"]},
        "actions": {"mode": "enforce", "add_header": 5.0, "quarantine": 11.5, "reject": 12.0},
        "frequency": {"windows": [{"seconds": 600, "messages": {"sender": 3, "domain": 1000,
                                                                 "ip": 1000},
                                   "recipients": {"sender": 1000, "domain": 1000,
                                                  "ip": 1000}}]},
        "one_way_source": {"enabled": False},
        "unrelated_recipients": {"enabled": False},
        "scores": {"C22_FREQ_SENDER": 10.0},
    }


class Site:
    """A live store filled by the real scanner, and the YAML files around it."""

    def __init__(self, tmp_path: Path, url: str, zone: TestDnsServer) -> None:
        self.tmp = tmp_path
        self.zone = zone
        self.data = live_config(url, zone.address)
        self.config = tmp_path / "live.yaml"
        self.config.write_text(yaml.safe_dump(self.data))
        self.settings = parse_settings(self.data, str(self.config))
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.scanner = Scanner(self.settings, self.engine, make_resolver(self.settings), None)
        self.actions: dict[str, str] = {}
        self.count = 0
        for domain, ip in (("shop.example", CLIENT_IP), ("blast.example", "203.0.113.9"),
                           ("later.example", "203.0.113.10")):
            zone.add(domain, "TXT", f"v=spf1 ip4:{ip} -all")
            zone.add(domain, "MX", f"10 mx.{domain}")

    def send(self, sender: str, rcpt: str, when: datetime, ip: str = CLIENT_IP,
             direction: str = "inbound") -> str:
        self.count += 1
        queue_id = f"Q{self.count:05d}"
        base = make_message(sender, (rcpt,), client_ip=ip, queue_id=queue_id,
                            direction=direction)  # type: ignore[arg-type]
        headers = tuple((n, f"<{queue_id}@{sender.split('@')[1]}>" if n == "Message-ID" else v)
                        for n, v in base.headers)
        message: Message = replace(base, received_at=when, headers=headers)
        outcome = self.scanner.scan(message)
        self.scanner.record_now(message, outcome)
        if outcome.verdict is not None and direction == "inbound":  # replay judges inbound
            self.actions[queue_id] = outcome.verdict.action
        return queue_id

    def replay(self, change: Callable[[dict[str, Any]], None] | None = None,
               *extra: str) -> dict[str, Any]:
        data = copy.deepcopy(self.data)
        if change is not None:
            change(data)
        new = self.tmp / "new.yaml"
        new.write_text(yaml.safe_dump(data))
        return run_json(["replay", "--with", str(new), "--config", str(self.config),
                         "--until", (T0 + timedelta(days=1)).isoformat(), "--since", "2d",
                         *extra])

    def rows(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in schema.metadata.sorted_tables}


def run_json(argv: list[str]) -> dict[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*argv, "--json"]) == 0
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path: Path, zone: TestDnsServer) -> Iterator[Site]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/live.db"
    else:
        url = request.getfixturevalue("postgres_database")
    made = Site(tmp_path, url, zone)
    yield made
    made.engine.dispose()


def fill(site: Site) -> dict[str, list[str]]:
    """A day of mixed mail: a regular sender, a correspondent our user writes to, a burst
    of 8 in 8 minutes, a complaint, and mail after the complaint."""
    ids: dict[str, list[str]] = {"regular": [], "burst": [], "after_complaint": []}
    for i in range(6):
        ids["regular"].append(site.send("news@shop.example", f"user{i}@example.com",
                                        T0 + timedelta(minutes=20 * i)))
    site.send("user1@example.com", "friend@pals.example", T0 + timedelta(minutes=1),
              ip="10.0.0.5", direction="outbound")
    site.send("friend@pals.example", "user1@example.com", T0 + timedelta(minutes=2),
              ip="198.51.100.99")
    for i in range(8):
        ids["burst"].append(site.send(BURSTER, f"user{i}@example.com",
                                      T0 + timedelta(hours=3, minutes=i), ip="203.0.113.9"))
    with site.engine.begin() as conn:
        add_complaint(conn, Complaint(T0 + timedelta(hours=5), "user2@example.com", True, 1.0,
                                      "user", "trace", "news@shop.example", "shop.example",
                                      CLIENT_IP))
    for i in range(2):
        ids["after_complaint"].append(site.send(
            "news@shop.example", "user3@example.com", T0 + timedelta(hours=6, minutes=30 * i)))
    return ids


def test_the_live_yaml_reproduces_every_stored_verdict(site: Site) -> None:
    fill(site)
    assert {"accept", "reject"} <= set(site.actions.values())  # the burst was refused
    before = site.rows()
    result = site.replay()
    assert result["messages"] == len(site.actions)
    assert result["flips"] == []
    assert all(c["from"] == c["to"] for c in result["changes"])
    assert sum(c["count"] for c in result["changes"]) == len(site.actions)
    shifts = {s["range"]: s["count"] for s in result["score_shift"]}
    assert shifts["0"] == len(site.actions)
    assert result["replayed_from_symbols"] == 0
    assert site.rows() == before  # nothing written to the live store


def test_raising_the_frequency_limits_turns_exactly_the_burst_rejects_into_accepts(
        site: Site) -> None:
    ids = fill(site)
    rejected = {q for q, a in site.actions.items() if a == "reject"}
    assert rejected and rejected <= set(ids["burst"])

    def raise_limits(data: dict[str, Any]) -> None:
        data["frequency"]["windows"][0]["messages"]["sender"] = 100

    result = site.replay(raise_limits)
    flipped = {f["queue_id"]: f for f in result["flips"]}
    assert set(flipped) == rejected
    assert {(f["old_action"], f["new_action"]) for f in flipped.values()} == {("reject",
                                                                                "accept")}
    assert all(f["symbols"][0]["name"] == "C22_FREQ_SENDER" and f["symbols"][0]["new"] == 0
               for f in flipped.values())
    changes = {(c["from"], c["to"]): c["count"] for c in result["changes"]}
    assert changes[("reject", "accept")] == len(rejected)
    assert sum(n for (old, new), n in changes.items() if old != new) == len(rejected)


def test_a_new_weight_for_a_dns_symbol_needs_no_dns(site: Site) -> None:
    fill(site)
    inbound = len(site.actions)
    site.zone.reset_queries()
    site.zone.mode = "blackhole"  # DNS unreachable: a query would time out, not answer

    def weigh_spf(data: dict[str, Any]) -> None:
        data["scores"]["SPF_PASS"] = -4.0  # -1 live

    result = site.replay(weigh_spf)
    assert site.zone.queries == []
    shifts = {s["range"]: s["count"] for s in result["score_shift"]}
    # Every message but the correspondent's (pals.example publishes no SPF) passed SPF:
    # each of those moved by -3, the other not at all.
    assert (shifts["-5..-1"], shifts["0"]) == (inbound - 1, 1)
    assert result["messages"] == inbound


def test_a_burst_after_a_message_does_not_change_its_verdict(site: Site) -> None:
    first = site.send(BURSTER, "user9@example.com", T0 + timedelta(hours=2, minutes=55),
                      ip="203.0.113.9")
    ids = fill(site)  # the burst starts 5 minutes after `first`
    assert site.actions[first] == "accept"

    def stricter(data: dict[str, Any]) -> None:
        data["frequency"]["windows"][0]["messages"]["sender"] = 1

    flipped = {f["queue_id"] for f in site.replay(stricter)["flips"]}
    # Judged on the history as it stood, `first` was the burster's only message: still fine;
    # the burst's first message is now its second in the window and over the new limit.
    assert first not in flipped
    assert ids["burst"][0] in flipped


def test_bad_input(site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({"actions": {"reject": "lots"}}))
    assert main(["replay", "--with", str(broken), "--config", str(site.config)]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml" in err and "actions.reject" in err
    assert main(["replay", "--with", str(site.config), "--config", str(site.config),
                 "--until", "2001-01-01"]) == 0
    assert "nothing to replay" in capsys.readouterr().err


def test_the_live_store_refuses_writes_from_a_replay(site: Site) -> None:
    from sqlalchemy.exc import DBAPIError

    from thurac.replay.source import read_only
    from thurac.store.engine import make_engine as engine_for

    guarded = read_only(engine_for(site.engine.url.render_as_string(hide_password=False),
                                   create=False, readers=1))
    try:
        with pytest.raises(DBAPIError), guarded.begin() as conn:
            conn.execute(schema.senders.insert().values(
                address="x@y.example", first_seen=T0, last_seen=T0, messages=1))
    finally:
        guarded.dispose()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_bar_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from thurac.cli.replay import _progress

    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert _progress(5000, quiet=True) is None  # --json
    bar = _progress(5000, quiet=False)
    assert bar is not None
    bar.update(2500)
    bar.refresh()  # tqdm redraws at most every 0.1 s by itself
    bar.close()
    assert "2500/5000" in terminal.getvalue()
    monkeypatch.setattr("sys.stderr", io.StringIO())  # a pipe or a file
    assert _progress(5000, quiet=False) is None


def test_a_check_switched_off_takes_its_stored_results_away(site: Site) -> None:
    fill(site)
    inbound = len(site.actions)

    def no_spf(data: dict[str, Any]) -> None:
        data["spf"] = {"enabled": False}

    shifts = {s["range"]: s["count"] for s in site.replay(no_spf)["score_shift"]}
    # SPF_PASS (-1) is gone from every message that had it: each rose by 1; the one whose
    # domain publishes no SPF lost its SPF_NONE (a penalty) and fell.
    assert shifts["1..5"] == inbound - 1
    assert sum(shifts[r] for r in ("<= -10", "-10..-5", "-5..-1", "-1..0")) == 1
