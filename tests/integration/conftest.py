"""End-to-end stack: a real private Postfix on loopback, thurac as its milter (a real
`thurac run` process), a DNS server on loopback with the test zones, and an SMTP sink
that receives whatever Postfix delivers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.dns_server import TestDnsServer
from tests.support.net import free_port
from tests.support.postfix import PrivatePostfix, postfix_available
from tests.support.smtp_sink import SmtpSink
from tests.support.thurac import (  # noqa: F401  (re-exported for the tests)
    AUTHSERV_ID,
    INTERNAL_IP,
    LOCAL_DOMAIN,
    Thurac,
    base_config,
    deep_merge,
)


@dataclass
class Stack:
    dns: TestDnsServer
    sink: SmtpSink
    postfix: PrivatePostfix
    thurac: Thurac
    sent: list[str] = field(default_factory=list)

    def send(self, mail_from: str, rcpts: list[str], data: bytes, source_ip: str,
             helo: str = "mail.remote.test", auth: tuple[str, str] | None = None) -> Any:
        return self.postfix.send(mail_from, rcpts, data, source_ip=source_ip, helo=helo,
                                 auth=auth)


@pytest.fixture
def dns_zone() -> Iterator[TestDnsServer]:
    with TestDnsServer() as server:
        yield server


@pytest.fixture
def stack_factory(tmp_path: Path, dns_zone: TestDnsServer) -> Iterator[Callable[..., Stack]]:
    """Start the whole stack with thurac config overrides; everything stops at teardown."""
    if os.geteuid() != 0 or not postfix_available():
        pytest.skip("end-to-end tests need root and Debian's postfix (make test installs it)")
    stacks: list[Stack] = []

    def start(overrides: Mapping[str, Any] | None = None,
              postfix: Mapping[str, str | None] | None = None,
              sasl: Mapping[str, str] | None = None,
              **process: Any) -> Stack:
        """`process`: how the thurac process runs (Thurac's python, wrapper, env);
        `sasl`: SMTP AUTH main.cf parameters (tests/support/sasl.py)."""
        root = tmp_path / f"stack{len(stacks)}"
        root.mkdir()
        port = free_port()
        config = deep_merge(base_config(root, port, dns_zone), overrides or {})
        config_path = root / "thurac.yaml"
        config_path.write_text(yaml.safe_dump(config))
        thurac = Thurac(config_path, root / "thurac.log", config["milter"]["socket"],
                        **process)
        thurac.start()
        sink = SmtpSink().start()
        instance = PrivatePostfix(sink.port, local_domains=[LOCAL_DOMAIN],
                                  milter=thurac.postfix_address, overrides=postfix,
                                  sasl_params=sasl)
        stack = Stack(dns_zone, sink, instance, thurac)
        stacks.append(stack)
        instance.start()
        return stack

    yield start
    for stack in stacks:
        stack.postfix.stop()
        stack.sink.stop()
        stack.thurac.stop()


def message(sender: str, rcpt: str, subject: str, extra: str = "", msgid: str = "") -> bytes:
    """A plain, well-formed message (Date and Message-ID present)."""
    msgid = msgid or f"<{subject.replace(' ', '-')}.{time.monotonic_ns()}@{sender.split('@')[1]}>"
    return (f"From: {sender}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0700\r\nMessage-ID: {msgid}\r\n{extra}"
            f"\r\nHello.\r\n").encode()


def queue_id_of(result: Any) -> str:
    """The Postfix queue id of a sent message: from 250 "queued as", or for a message
    thurac rejected, from its reply ("[queue id X]")."""
    import re

    if result.queue_id:
        return str(result.queue_id)
    found = re.search(r"\[(?:queue id|ma hang doi) (\w+)\]", result.message)
    assert found, f"no queue id in {result.code} {result.message}"
    return found.group(1)
