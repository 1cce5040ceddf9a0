"""What the Prometheus endpoint tells an operator: messages by action, symbols under bounded
labels, latency, and the faults (DNS, store, reloads) counted where they happen."""

from __future__ import annotations

import json
import re
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from prometheus_client import REGISTRY
from tests.builders import make_settings
from tests.support.dns_server import TestDnsServer
from tests.support.net import free_port
from tests.test_milter import PLAIN, feed, make_scanner

from thurac import __version__, metrics
from thurac.config import parse_settings
from thurac.dns import Resolver
from thurac.errors import ConfigError
from thurac.policy.allow_block import AllowBlock
from thurac.server import _Signals
from thurac.store.outage import Outage
from thurac.symbols import Symbol
from thurac.verdict import Action, decide

ROOT = Path(__file__).resolve().parents[1]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """How much each named sample grew inside the `with` block."""

    def __init__(self, *samples: tuple[str, dict[str, str]]) -> None:
        self.samples = samples
        self.grown: list[float] = []

    def __enter__(self) -> Delta:
        self.before = [sample(name, **labels) for name, labels in self.samples]
        return self

    def __exit__(self, *exc: object) -> None:
        self.grown = [sample(name, **labels) - before
                      for (name, labels), before in zip(self.samples, self.before, strict=True)]


def messages(direction: str, action: str) -> tuple[str, dict[str, str]]:
    return ("thurac_messages_total", {"direction": direction, "action": action})


def symbol(name: str) -> tuple[str, dict[str, str]]:
    return ("thurac_symbols_total", {"symbol": name})


LATENCY_COUNT = ("thurac_verdict_seconds_count", {})


# -- one call per message -------------------------------------------------------------------


def test_a_scored_message_counts_its_action_each_symbol_once_and_its_latency() -> None:
    settings = make_settings(actions={"add_header": 2.0, "quarantine": 4.0, "reject": 9.0})
    verdict = decide([Symbol("C22_TECH_MAILER", 2.5, "PHPMailer"),
                      Symbol("C22_TECH_MAILER", 2.5, "PHPMailer again"),
                      Symbol("SPF_NONE", 1.0, "no record")], settings.actions)
    assert verdict.action == "quarantine"
    with Delta(messages("inbound", "quarantine"), symbol("C22_TECH_MAILER"),
               symbol("SPF_NONE"), LATENCY_COUNT,
               ("thurac_verdict_seconds_bucket", {"le": "0.005"})) as grown:
        metrics.message("inbound", verdict, 0.004, settings)
    assert grown.grown == [1, 1, 1, 1, 1]


def test_symbols_thurac_does_not_declare_are_counted_as_other() -> None:
    settings = make_settings(lists={"dns": [{"name": "ZEN", "zone": "zen.example"}]})
    verdict = decide([Symbol("DNSBL_ZEN", 3.0, "listed"), Symbol("DNSBL_GONE", 3.0, "old zone"),
                      Symbol("NOT_A_SYMBOL", 0.0, "?")], settings.actions)
    with Delta(symbol("DNSBL_ZEN"), symbol("other"), symbol("DNSBL_GONE")) as grown:
        metrics.message("inbound", verdict, 0.01, settings)
    assert grown.grown == [1, 2, 0]  # each unknown name once: two of them, both as `other`


def test_list_hits_are_counted_per_list() -> None:
    assert set(metrics.LIST_OF_SYMBOL) == set(AllowBlock.symbols)
    settings = make_settings()
    verdict = decide([Symbol("ALLOWLIST_NOT_AUTHENTICATED", 0.0, "forged"),
                      Symbol("BLOCKLIST", 20.0, "blocked")], settings.actions)
    hits = [("thurac_list_hits_total", {"list": name})
            for name in ("allow", "allow_unauthenticated", "block")]
    with Delta(*hits) as grown:
        metrics.message("inbound", verdict, 0.01, settings)
    assert grown.grown == [0, 1, 1]


def test_outbound_mail_is_learned_and_unscored_mail_is_counted_by_on_error() -> None:
    with Delta(messages("outbound", "learn"), messages("inbound", "on_error_tempfail"),
               LATENCY_COUNT) as grown:
        metrics.message("outbound", None, 0.001, make_settings())
        metrics.unscored("inbound", "tempfail", 28.0)
    assert grown.grown == [1, 1, 2]


def test_a_failing_metric_never_reaches_the_mail_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("registry broke")

    monkeypatch.setattr(metrics.MESSAGES, "labels", broken)
    metrics.message("inbound", None, 0.1, make_settings())
    metrics.unscored("inbound", "accept", 0.1)
    metrics.message("inbound", "not a verdict", 0.1, make_settings())  # type: ignore[arg-type]


def test_known_series_are_there_before_anything_happens() -> None:
    assert REGISTRY.get_sample_value("thurac_build_info", {"version": __version__}) == 1
    for name, labels in (messages("inbound", "reject"), messages("outbound", "learn"),
                         ("thurac_dns_errors_total", {"kind": "budget"}),
                         ("thurac_store_errors_total", {"operation": "lists"}),
                         ("thurac_list_hits_total", {"list": "block"}),
                         ("thurac_config_reloads_total", {"result": "refused"})):
        assert REGISTRY.get_sample_value(name, labels) is not None, (name, labels)


# -- through the milter ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def dns() -> Iterator[TestDnsServer]:
    with TestDnsServer() as server:
        server.add("sender.test", "MX", "10 mail.sender.test")
        server.add("mail.sender.test", "A", "203.0.113.9")
        server.add_ptr("203.0.113.9", "mail.sender.test")
        yield server


def test_the_milter_counts_every_answer_once(tmp_path: Path, dns: TestDnsServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    scanner = make_scanner(tmp_path, dns)
    try:
        with Delta(messages("inbound", "accept"), messages("outbound", "accept"),
                   messages("inbound", "on_error_accept"), LATENCY_COUNT) as grown:
            feed(scanner, PLAIN, "ann@sender.test", "bob@example.test")
            feed(scanner, PLAIN, "bob@example.test", "ann@sender.test", ip="10.1.2.3")

            def broken(_message: Any) -> Any:
                raise RuntimeError("boom")

            monkeypatch.setattr(scanner, "scan", broken)
            feed(scanner, PLAIN, "ann@sender.test", "bob@example.test")
    finally:
        scanner.close()
    assert grown.grown == [1, 1, 1, 3]


def test_an_unreadable_store_counts_a_read_error_and_a_message_without_history(
    tmp_path: Path, dns: TestDnsServer,
) -> None:
    scanner = make_scanner(tmp_path, dns)
    scanner.engine.dispose()
    (tmp_path / "thurac.db").write_bytes(b"this is not a database" * 100)
    try:
        with Delta(("thurac_history_unavailable_total", {}),
                   ("thurac_store_errors_total", {"operation": "read"}),
                   symbol("THURAC_HISTORY_UNAVAILABLE")) as grown:
            feed(scanner, PLAIN, "ann@sender.test", "bob@example.test")
            feed(scanner, PLAIN, "ann@sender.test", "bob@example.test")
    finally:
        scanner.close()
    assert grown.grown == [2, 2, 2]


def test_every_store_failure_counts_though_the_outage_is_logged_once() -> None:
    writes = Outage("writes", "sqlite:///x.db", "history is spooled", "write")
    with Delta(("thurac_store_errors_total", {"operation": "write"})) as grown:
        writes.failed("database is locked")
        writes.failed("database is locked")
    assert grown.grown == [2]


def test_dns_failures_are_counted_by_kind(dns: TestDnsServer) -> None:
    kinds = [("thurac_dns_errors_total", {"kind": kind})
             for kind in ("servfail", "timeout", "budget")]
    # Health tracking would mark the server down first: this is about each lookup's failure.
    resolver = Resolver([dns.address], timeout=0.3, cache_size=0, down_after=100)
    try:
        with Delta(*kinds) as grown:
            dns.mode = "servfail"
            assert resolver.session(5.0).a("a.sender.test").temperror
            dns.mode = "blackhole"
            session = resolver.session(0.3)
            timeouts = 0
            while not session.exhausted and timeouts < 10:  # one or two lookups spend it
                assert session.a(f"b{timeouts}.sender.test").temperror
                timeouts += 1
            assert session.a("c.sender.test").temperror  # nothing left: no query sent
    finally:
        dns.mode = "normal"
    assert grown.grown == [1, timeouts, 1]


def test_reloads_are_counted_applied_or_refused(tmp_path: Path) -> None:
    class Running:
        def reload(self, new: Any) -> list[str]:
            return []

    path = tmp_path / "thurac.yaml"
    signals = _Signals(str(path), "inet:8894@127.0.0.1")
    signals.scanner = Running()  # type: ignore[assignment]
    results = [("thurac_config_reloads_total", {"result": r}) for r in ("ok", "refused")]
    with Delta(*results) as grown:
        path.write_text("actions: {mode: enforce}\n")
        signals.reload()
        path.write_text("actions: {reject: [oops\n")
        signals.reload()
        signals.reload()
    assert grown.grown == [1, 2]


# -- the endpoint ----------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "expected"), [
    ("127.0.0.1:9810", ("127.0.0.1", 9810)),
    ("0.0.0.0:9810", ("0.0.0.0", 9810)),
    ("[::1]:9810", ("::1", 9810)),
    ("[::]:1", ("::", 1)),
])
def test_listen_takes_an_address_and_a_port(spec: str, expected: tuple[str, int]) -> None:
    assert metrics.parse_listen(spec) == expected


@pytest.mark.parametrize(("spec", "why"), [
    ("9810", ""), (":9810", "'' is not an IP address"), ("localhost:9810", "not an IP address"),
    ("::1:9810", ""), ("[127.0.0.1]:9810", ""), ("[::1]", ""), ("127.0.0.1:0", "port '0'"),
    ("127.0.0.1:65536", "port '65536'"), ("127.0.0.1:http", "port 'http'"),
])
def test_a_wrong_listen_is_a_config_error_saying_what_is_expected(spec: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"metrics": {"listen": spec}}, "thurac.yaml")
    text = str(caught.value)
    assert text.startswith("thurac.yaml: metrics.listen: expected IP:PORT such as "
                           "127.0.0.1:9810, or [IPv6]:PORT such as [::1]:9810"), text
    assert why in text


def test_the_endpoint_serves_the_metrics_and_the_spool_size(tmp_path: Path) -> None:
    spool = tmp_path / "spool.jsonl"
    port = free_port()
    assert metrics.start(f"127.0.0.1:{port}", spool) is None
    try:
        def scrape() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as reply:
                return str(reply.read().decode())

        page = scrape()
        assert f'thurac_build_info{{version="{__version__}"}} 1.0' in page
        assert "thurac_spool_bytes 0.0" in page  # no spool file: nothing waiting
        spool.write_text("x" * 1234)
        assert "thurac_spool_bytes 1234.0" in scrape()
    finally:
        metrics.stop()


def test_a_port_already_taken_is_reported_not_raised(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert metrics.start(f"127.0.0.1:{port}", tmp_path / "spool") == "Address already in use"


def test_nothing_is_served_when_listen_is_empty(tmp_path: Path) -> None:
    assert metrics.start("", tmp_path / "spool") is None
    assert metrics._server is None


# -- what the docs and the dashboard promise -------------------------------------------------


def exposed_names() -> dict[str, set[str]]:
    """Each thurac metric as documented (counters with _total) → the sample names it exposes."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"),
                "gauge": ("",)}
    names: dict[str, set[str]] = {}
    for family in REGISTRY.collect():
        if family.name.startswith("thurac_"):
            samples = {family.name + suffix for suffix in suffixes[family.type]}
            names[family.name + ("_total" if family.type == "counter" else "")] = samples
    return names


def test_every_metric_its_labels_and_their_words_are_in_the_metrics_guide() -> None:
    guide = (ROOT / "docs/metrics.md").read_text()
    assert set(exposed_names()) >= {"thurac_messages_total", "thurac_verdict_seconds",
                                    "thurac_spool_bytes", "thurac_build_info"}
    for name in exposed_names():
        assert f"| `{name}` |" in guide, name
    words = [*get_args(Action), metrics.LEARN, *metrics.ON_ERROR_ACTIONS, *metrics.DNS_FAILURES]
    for word in words:
        assert f"| `{word}` |" in guide, word
    for word in (*metrics.STORE_OPERATIONS, *metrics.LIST_OF_SYMBOL.values(),
                 *metrics.RELOAD_RESULTS):
        assert f"`{word}`" in guide, word


def test_the_grafana_dashboard_asks_for_its_data_source_and_queries_real_metrics() -> None:
    dashboard = json.loads((ROOT / "contrib/grafana-thurac.json").read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    samples = set().union(*exposed_names().values())
    queried: set[str] = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            queried.update(re.findall(r"thurac_\w+", target["expr"]))
    assert queried <= samples, queried - samples
    assert {"thurac_messages_total", "thurac_verdict_seconds_bucket", "thurac_dns_errors_total",
            "thurac_store_errors_total", "thurac_spool_bytes", "thurac_list_hits_total"} <= queried
