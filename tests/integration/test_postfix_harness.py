"""Prove the private-Postfix end-to-end harness works on its own (no milter yet).

If these fail, milter end-to-end failures cannot be trusted, so they check the
plumbing: SMTP in from a chosen loopback source address, relay to the sink for
both local and remote domains, envelope and headers preserved, logs readable,
errors reported as values, and a fresh instance after another one stopped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from tests.support.postfix import PrivatePostfix, postfix_available
from tests.support.smtp_sink import SinkMessage, SmtpSink

pytestmark = pytest.mark.postfix

if not postfix_available():
    pytest.skip("postfix is not installed (apt-get install postfix)", allow_module_level=True)
if os.geteuid() != 0:
    pytest.skip("the private Postfix harness must run as root", allow_module_level=True)

SOURCE_IP = "127.0.0.7"


def _message(subject: str, to: str, sender: str = "alice@remote.test") -> bytes:
    """Build a small RFC 5322 message with LF line endings (send() fixes them)."""
    return (
        f"From: Alice <{sender}>\n"
        f"To: <{to}>\n"
        f"Subject: {subject}\n"
        f"Message-ID: <harness-{subject}@remote.test>\n"
        "Date: Mon, 01 Jan 2024 00:00:00 +0000\n"
        "\n"
        "Hello from the harness.\n"
        ".leading dot must survive dot-stuffing\n"
    ).encode()


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    """One sink for the module's shared Postfix instance."""
    with SmtpSink() as s:
        yield s


@pytest.fixture(scope="module")
def postfix(sink: SmtpSink) -> Iterator[PrivatePostfix]:
    """One private Postfix (no milter) relaying everything to ``sink``."""
    with PrivatePostfix(sink.port, local_domains=["example.test"]) as pf:
        yield pf


def _by_subject(subject: str) -> Callable[[SinkMessage], bool]:
    """Predicate matching a sink message by its Subject header."""

    def pred(m: SinkMessage) -> bool:
        return m.subject == subject

    return pred


def test_local_domain_delivered_with_envelope_and_subject(
    postfix: PrivatePostfix, sink: SmtpSink
) -> None:
    """Mail for a local domain from 127.0.0.7 reaches the sink unchanged."""
    subject = "local-delivery"
    res = postfix.send(
        "alice@remote.test",
        ["user@example.test"],
        _message(subject, "user@example.test"),
        source_ip=SOURCE_IP,
    )
    assert res.ok, res
    assert res.code == 250
    assert res.queue_id

    msg = sink.wait_for(_by_subject(subject), timeout=20)
    assert msg.mail_from == "alice@remote.test"
    assert msg.rcpt_tos == ("user@example.test",)
    assert msg.message["Subject"] == subject
    assert msg.message["Message-ID"] == f"<harness-{subject}@remote.test>"
    assert b"\r\n.leading dot must survive" in msg.raw
    assert msg.helo == "mx.example.test"
    postfix.wait_queue_empty(timeout=10)
    assert postfix.hold_queue() == []
    postfix.wait_for_log(rf"{res.queue_id}: to=<user@example\.test>.*status=sent", timeout=10)


def test_remote_domain_relayed_to_sink(postfix: PrivatePostfix, sink: SmtpSink) -> None:
    """Mail for a non-local domain is relayed (mynetworks) and lands in the sink too."""
    subject = "remote-relay"
    res = postfix.send(
        "user@example.test",
        ["someone@remote.test"],
        _message(subject, "someone@remote.test"),
        source_ip=SOURCE_IP,
    )
    assert res.ok, res
    msg = sink.wait_for(_by_subject(subject), timeout=20)
    assert msg.mail_from == "user@example.test"
    assert msg.rcpt_tos == ("someone@remote.test",)


def test_received_header_shows_source_address(postfix: PrivatePostfix, sink: SmtpSink) -> None:
    """Postfix's own Received: header records the 127.0.0.7 client and the queue id."""
    subject = "received-header"
    res = postfix.send(
        "alice@remote.test",
        ["user@example.test"],
        _message(subject, "user@example.test"),
        source_ip=SOURCE_IP,
        helo="client.example.net",
    )
    assert res.ok, res
    msg = sink.wait_for(_by_subject(subject), timeout=20)
    received = msg.headers("Received")
    assert received, msg.raw
    top = " ".join(received[0].split())
    assert f"[{SOURCE_IP}]" in top
    assert "from client.example.net" in top
    assert "by mx.example.test" in top
    assert f"id {res.queue_id}" in top


def test_rejections_come_back_as_results(postfix: PrivatePostfix) -> None:
    """A refused RCPT is returned as code+text, not raised (XCLIENT fakes an outsider)."""
    res = postfix.send(
        "spammer@elsewhere.test",
        ["someone@remote.test"],
        _message("relay-denied", "someone@remote.test"),
        xclient={"ADDR": "203.0.113.9", "NAME": "[UNAVAILABLE]"},
    )
    assert not res.ok
    assert res.stage == "rcpt"
    assert res.permanent_failure, res
    assert "Relay access denied" in res.message
    assert "someone@remote.test" in res.refused


def test_second_sequential_instance_works() -> None:
    """Two more instances, one after the other, each start, deliver and stop cleanly."""
    for round_no in range(2):
        with SmtpSink() as sink2, PrivatePostfix(sink2.port) as pf:
            root = pf.root
            subject = f"sequential-{round_no}"
            res = pf.send(
                "alice@remote.test",
                ["user@example.test"],
                _message(subject, "user@example.test"),
                source_ip=SOURCE_IP,
            )
            assert res.ok, res
            assert sink2.wait_for(_by_subject(subject), timeout=20)
            assert any("daemon started" in line for line in pf.log_lines())
        assert root is not None and not root.exists()
        assert pf._own_pids() == []
