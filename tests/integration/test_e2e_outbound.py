"""Outbound monitoring through a real Postfix with real SMTP AUTH (a private Dovecot):
an account bursting to fresh recipients is held, then suspended (550 for its client, a log
line, `thurac account show`), and `thurac account release` lets it send again; an account
writing to its regular correspondents is never touched; mail to a recipient who reported an
account's mail is held (suppression)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.integration.conftest import Stack, message
from tests.support.reports import attached
from tests.support.sasl import DovecotAuth, dovecot_available
from tests.support.smtp_sink import SmtpSink
from tests.support.thurac import ROOT

pytestmark = pytest.mark.postfix

SPAMMER = ("mallory@example.test", "stolen-password")
ALICE = ("alice@example.test", "alice-pw")
CAROL = ("carol@example.test", "carol-pw")
CLIENT_IP = "127.0.0.40"  # a user's laptop out on the Internet: not an internal network
OUTSIDE_IP = "127.0.0.41"  # a remote MX writing to our users
BATCH = 20  # fresh recipients per message of the burst
WAIT = 30.0  # seconds: a bound on waiting for the recorder and the refresh, never a limit
REFRESH = 0.5  # outbound.refresh_seconds
REPORTS = {"reports": {"addresses": ["spam@example.test"]}}


@pytest.fixture(scope="module")
def dovecot() -> Iterator[DovecotAuth]:
    if not dovecot_available():
        pytest.skip("SMTP AUTH tests need Debian's dovecot-core (make test installs it)")
    with DovecotAuth(dict([SPAMMER, ALICE, CAROL])) as auth:
        yield auth


def start(stack_factory: Callable[..., Stack], dovecot: DovecotAuth,
          overrides: dict[str, Any] | None = None) -> Stack:
    config: dict[str, Any] = {"outbound": {"refresh_seconds": REFRESH}}
    for key, value in (overrides or {}).items():
        config[key] = {**config.get(key, {}), **value}
    return stack_factory(config, sasl=dovecot.postfix_params())


def account(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "thurac", "account", *args, "--config",
                           str(stack.thurac.config_path)], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, check=False)


def wait_recorded(stack: Stack, count: int) -> None:
    """The recorder writes behind the reply: the next verdict must see this one's counts."""
    deadline = time.monotonic() + WAIT
    while stack.thurac.events() < count:
        assert time.monotonic() < deadline, f"fewer than {count} events recorded"
        time.sleep(0.05)


def wait_log(stack: Stack, text: str) -> str:
    deadline = time.monotonic() + WAIT
    while True:
        found = [line for line in stack.thurac.log().splitlines() if text in line]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no {text!r} in:\n{stack.thurac.log()[-3000:]}"
        time.sleep(0.05)


def send_as(stack: Stack, login: tuple[str, str], rcpts: list[str], subject: str) -> Any:
    return stack.send(login[0], rcpts, message(login[0], rcpts[0], subject), CLIENT_IP,
                      helo="laptop.example.net", auth=login)


@pytest.fixture
def notices() -> Iterator[SmtpSink]:
    """The relay the postmaster's notices go through (outbound.smtp_relay)."""
    with SmtpSink(hostname="relay.example.test") as sink:
        yield sink


def test_a_burst_to_fresh_recipients_is_held_then_suspended_until_released(
    stack_factory: Callable[..., Stack], dovecot: DovecotAuth, notices: SmtpSink,
) -> None:
    stack = start(stack_factory, dovecot, {"outbound": {
        "notify": "postmaster@example.test", "smtp_relay": f"127.0.0.1:{notices.port}"}})
    results = []
    for n in range(10):  # 200 recipients it never exchanged mail with, 20 a message
        rcpts = [f"r{n}-{i}@fresh.test" for i in range(BATCH)]
        results.append(send_as(stack, SPAMMER, rcpts, f"burst {n}"))
        wait_recorded(stack, n + 1)

    # 20 and 40 fresh recipients in 10 minutes: delivered, nothing added to them.
    assert all(r.ok for r in results[:2]), [(r.code, r.message) for r in results[:2]]
    mail = stack.sink.wait_for(lambda m: m.subject == "burst 0")
    assert mail.headers("X-Spam-Status") == [] and mail.headers("X-Spam-Flag") == []
    # 60, 80, 100 (more than 50): accepted for the client, held in Postfix's hold queue.
    held = [r.queue_id for r in results[2:5]]
    assert all(r.ok for r in results[2:5]), [(r.code, r.message) for r in results[2:5]]
    for queue_id in held:
        stack.postfix.wait_hold(queue_id)
    line = stack.thurac.log_line_for(held[0])
    assert "action=quarantine" in line and "OUT_UNRELATED" in line
    # 120 (more than 100): the account is suspended; its client sees why, in words.
    tripped = results[5]
    assert (tripped.stage, tripped.code) == ("data", 550), (tripped.code, tripped.message)
    assert "5.7.1 Your account is suspended for sending suspected spam (120 new " \
           "recipients/10min > 100); please contact support" in tripped.message
    # And everything after, whatever it is, until someone lifts it.
    assert all(r.code == 550 and "account suspended since" in r.message
               for r in results[6:]), [(r.code, r.message) for r in results[6:]]
    normal = send_as(stack, SPAMMER, ["friend@remote.test"], "a normal one")
    assert normal.code == 550
    logged = wait_log(stack, "account=<mallory@example.test> suspended")
    assert "by thurac: account mallory@example.test: 120 unrelated rcpts/10min > 100" in logged
    assert logged.split(": account=")[0].endswith(str(tripped.message.split()[-1]).strip("]"))

    shown = account(stack, "show", SPAMMER[0])
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == "suspended"
    assert "by thurac: account mallory@example.test: 120 unrelated rcpts/10min > 100" \
        in shown.stdout
    as_json = json.loads(account(stack, "show", SPAMMER[0], "--json").stdout)
    assert as_json["suspended"] is True and as_json["suspended_by"] == "thurac"
    # The postmaster is told, off the reply path, through the configured relay.
    notice = notices.wait_for(lambda m: m.rcpt_tos == ("postmaster@example.test",))
    assert notice.subject == "thurac: account mallory@example.test suspended"
    body = notice.message.get_payload(decode=True).decode()
    assert "Why: account mallory@example.test: 120 unrelated rcpts/10min > 100" in body
    assert f"queue id {as_json['queue_id']}" in body
    assert "thurac account release mallory@example.test" in body

    released = account(stack, "release", SPAMMER[0], "--reason", "password changed",
                       "--by", "helpdesk")
    assert released.returncode == 0, released.stderr
    assert account(stack, "show", SPAMMER[0]).stdout.splitlines()[0] == "active"
    time.sleep(REFRESH)  # a release reaches every daemon within outbound.refresh_seconds
    # Its windows start afresh: the same burst does not suspend it again.
    again = send_as(stack, SPAMMER, [f"after-{i}@fresh.test" for i in range(BATCH)], "after")
    assert again.ok, (again.code, again.message)
    stack.sink.wait_for(lambda m: m.subject == "after")
    line = wait_log(stack, "account=<mallory@example.test> released")
    assert "by helpdesk: password changed" in line


def test_an_account_writing_to_its_correspondents_is_never_touched(
    stack_factory: Callable[..., Stack], dovecot: DovecotAuth,
) -> None:
    # Tight limits, so that only the relationships keep alice's mail flowing.
    stack = start(stack_factory, dovecot, {"outbound": {
        "windows": [{"seconds": 600, "messages": 3, "recipients": 6, "unrelated": 3}],
        "suspend_limits": [{"seconds": 600, "unrelated": 6}]}})
    friends = [f"friend{i}@remote.test" for i in range(4)]
    for i, friend in enumerate(friends):  # each has written to alice before
        result = stack.send(friend, [ALICE[0]], message(friend, ALICE[0], f"hi {i}"),
                            OUTSIDE_IP)
        assert result.ok, (result.code, result.message)
    wait_recorded(stack, len(friends))
    sent = []
    for n in range(8):  # 8 messages, 32 recipients: past every limit but the unrelated ones
        sent.append(send_as(stack, ALICE, friends, f"reply {n}"))
        wait_recorded(stack, len(friends) + n + 1)
    assert all(r.ok for r in sent), [(r.code, r.message) for r in sent]
    for n in range(8):
        mail = stack.sink.wait_for(lambda m, n=n: m.subject == f"reply {n}")
        assert mail.headers("X-Spam-Status") == []
    assert stack.postfix.hold_queue() == []
    for result in sent:
        line = stack.thurac.log_line_for(str(result.queue_id))
        assert "direction=outbound" in line and "action=accept" in line
        assert "symbols=-" in line
    assert account(stack, "show", ALICE[0]).stdout.splitlines()[0] == "active"


def test_mail_to_a_recipient_who_reported_the_account_is_held(
    stack_factory: Callable[..., Stack], dovecot: DovecotAuth,
) -> None:
    stack = start(stack_factory, dovecot, REPORTS)
    first = send_as(stack, ALICE, [CAROL[0]], "offer")
    assert first.ok, (first.code, first.message)
    offer = stack.sink.wait_for(lambda m: m.subject == "offer")
    # carol, one of our users, reports it: forwarded as an attachment to the report address.
    forwarded = stack.send(CAROL[0], ["spam@example.test"],
                           attached(offer.raw, reporter=CAROL[0]), CLIENT_IP,
                           helo="laptop.example.net", auth=CAROL)
    assert forwarded.ok, (forwarded.code, forwarded.message)
    wait_log(stack, "against sender=<alice@example.test>")

    to_carol = send_as(stack, ALICE, [CAROL[0]], "second offer")
    to_dave = send_as(stack, ALICE, ["dave@remote.test"], "to someone else")
    assert to_carol.ok and to_dave.ok
    stack.postfix.wait_hold(str(to_carol.queue_id))
    line = stack.thurac.log_line_for(str(to_carol.queue_id))
    assert "action=quarantine" in line and "OUT_SUPPRESSED" in line
    stack.sink.wait_for(lambda m: m.subject == "to someone else")
    assert str(to_dave.queue_id) not in stack.postfix.hold_queue()
