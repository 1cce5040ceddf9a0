"""What an operator's Prometheus and syslog see of a real Postfix run: the endpoint counts each
answer Postfix got, by action, with its symbols and latency; a refused reload is counted; with
`log.syslog` on, the line for a message reaches syslog as mail.info beside Postfix's."""

from __future__ import annotations

import re
import socket
import tempfile
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.integration.conftest import INTERNAL_IP, Stack, message
from tests.integration.test_e2e_core import BURST_CONFIG, SPAMMER_IP, send_burst
from tests.support.net import free_port

pytestmark = pytest.mark.postfix

SYSLOG_TIMEOUT = 15.0  # seconds a recv may wait: a datagram on loopback arrives at once
_ACTION = re.compile(r" direction=(\w+) .* action=(\w+)")
_SYMBOLS = re.compile(r" symbols=(\S+)")


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the endpoint: (name, sorted labels) → value."""
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with no_proxy.open(f"http://127.0.0.1:{port}/metrics") as reply:
        text = reply.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def messages(direction: str, action: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("thurac_messages_total", (("action", action), ("direction", direction)))


def message_lines(stack: Stack) -> list[str]:
    return [line for line in stack.thurac.log().splitlines() if " direction=" in line]


def test_the_endpoint_counts_what_postfix_was_told_by_action_symbol_and_latency(
    stack_factory: Callable[..., Stack],
) -> None:
    port = free_port()
    stack = stack_factory({**BURST_CONFIG, "metrics": {"listen": f"127.0.0.1:{port}"}})
    results = send_burst(stack, 8)
    out = stack.send("alice@example.test", ["carol@partner.test"],
                     message("alice@example.test", "carol@partner.test", "question"),
                     source_ip=INTERNAL_IP, helo="ws1.example.test")
    assert out.ok

    # What Postfix said: delivered, held, refused with 550.
    held = [r for r in results if r.ok and r.queue_id in stack.postfix.hold_queue()]
    rejected = [r for r in results if r.code == 550]
    assert held and rejected, [(r.code, r.message) for r in results]
    # thurac's lines, one per message, written before its reply: what the endpoint must say.
    lines = message_lines(stack)
    assert len(lines) == len(results) + 1
    by_action = Counter(m.groups() for m in map(_ACTION.search, lines) if m)
    symbols = Counter(name.split("(")[0] for m in map(_SYMBOLS.search, lines) if m
                      for name in set(m[1].split(",")) if name != "-")

    got = scrape(port)
    assert got[messages("inbound", "quarantine")] == len(held) == by_action[
        ("inbound", "quarantine")]
    assert got[messages("inbound", "reject")] == len(rejected) == by_action[("inbound", "reject")]
    assert got[messages("outbound", "accept")] == 1
    for action in ("accept", "add_header", "tempfail", "on_error_accept", "on_error_tempfail"):
        assert got[messages("inbound", action)] == by_action[("inbound", action)], action
    assert sum(v for (name, _), v in got.items() if name == "thurac_messages_total") == len(lines)
    assert symbols["C22_FREQ_SENDER"] > 0
    for name, count in symbols.items():
        assert got[("thurac_symbols_total", (("symbol", name),))] == count, name
    assert got[("thurac_verdict_seconds_count", ())] == len(lines)
    assert got[("thurac_history_unavailable_total", ())] == 0

    # A typo in the file: refused, counted, and the endpoint still answers.
    stack.thurac.reload("actions: {reject: [oops\n", expect="reload refused")
    after = scrape(port)
    assert after[("thurac_config_reloads_total", (("result", "refused"),))] == 1
    assert after[("thurac_config_reloads_total", (("result", "ok"),))] == 0


def test_a_listen_address_already_taken_stops_thurac_with_the_reason(
    stack_factory: Callable[..., Stack],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(AssertionError, match="thurac did not start") as caught:
            stack_factory({"metrics": {"listen": f"127.0.0.1:{port}"}})
    assert (f"cannot serve metrics on 127.0.0.1:{port} (metrics.listen in "
            in str(caught.value))
    assert "Address already in use" in str(caught.value)


@pytest.fixture
def syslog_socket() -> Iterator[tuple[Path, socket.socket]]:
    """A unix datagram socket standing in for /dev/log (short path: sun_path is 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="thurac-syslog-") as folder:
        path = Path(folder) / "log"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
            server.bind(str(path))
            server.settimeout(SYSLOG_TIMEOUT)
            yield path, server


def test_with_syslog_on_the_message_line_reaches_syslog_as_mail_info(
    stack_factory: Callable[..., Stack], syslog_socket: tuple[Path, socket.socket],
) -> None:
    path, server = syslog_socket
    stack = stack_factory({"log": {"syslog": True, "syslog_socket": str(path)}})
    result = stack.send("promo@bulk.test", ["bob@example.test"],
                        message("promo@bulk.test", "bob@example.test", "to the mail log"),
                        source_ip=SPAMMER_IP, helo="mail.bulk.test")
    assert result.ok and result.queue_id
    pid = stack.thurac.process.pid if stack.thurac.process else 0
    wanted = f"<22>thurac[{pid}]: INFO {result.queue_id}: direction=inbound ".encode()
    seen: list[bytes] = []
    while not any(line.startswith(wanted) for line in seen):
        seen.append(server.recv(65536))  # socket.timeout ends a test that waits in vain
    line = next(line for line in seen if line.startswith(wanted))
    assert b" action=" in line and b" symbols=" in line
    # The start-up lines came the same way, at their own levels.
    assert any(b"thurac starting: socket=" in line and line.startswith(b"<22>thurac[")
               for line in seen)


def test_a_reload_turns_syslog_on_without_a_restart(
    stack_factory: Callable[..., Stack], syslog_socket: tuple[Path, socket.socket],
) -> None:
    path, server = syslog_socket
    stack = stack_factory()
    config = stack.thurac.config()
    config["log"] = {"syslog": True, "syslog_socket": str(path)}
    stack.thurac.reload(config, expect="configuration reloaded")
    result = stack.send("promo@bulk.test", ["bob@example.test"],
                        message("promo@bulk.test", "bob@example.test", "after the reload"),
                        source_ip=SPAMMER_IP, helo="mail.bulk.test")
    assert result.ok and result.queue_id
    seen = [server.recv(65536)]
    assert b"logging to syslog at" in seen[0]  # the first line it sends
    while not any(f" {result.queue_id}: direction=inbound ".encode() in line for line in seen):
        seen.append(server.recv(65536))
