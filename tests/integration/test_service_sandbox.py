"""thurac under the unit's MemoryDenyWriteExecute=yes and NoNewPrivileges=yes (applied by
tests/support/sandbox.py, as systemd would): CPython, pymilter, SQLite and the cffi bindings
that verify ed25519 DKIM signatures (PyNaCl) need no memory that is writable and executable,
so a signed message is scored and its signature verified."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.integration.conftest import Stack, message
from tests.support import sandbox
from tests.support.dkim_keys import ed25519_key, sign

pytestmark = pytest.mark.postfix

DOMAIN = "signed.test"
SELECTOR = "ed2026"
SENDER_IP = "127.0.0.41"


def test_a_signed_message_is_verified_by_thurac_under_memory_deny_write_execute(
    stack_factory: Callable[..., Stack],
) -> None:
    if not sandbox.supported():
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3 and later)")
    stack = stack_factory(wrapper=(sys.executable, "-m", "tests.support.sandbox"))
    assert stack.thurac.process is not None
    status = Path(f"/proc/{stack.thurac.process.pid}/status").read_text()
    assert "NoNewPrivs:\t1" in status
    key = ed25519_key()
    stack.dns.add(f"{SELECTOR}._domainkey.{DOMAIN}", "TXT", key.record)
    signed = sign(message(f"news@{DOMAIN}", "bob@example.test", "sandboxed"), key, DOMAIN,
                  SELECTOR)
    result = stack.send(f"news@{DOMAIN}", ["bob@example.test"], signed, source_ip=SENDER_IP)
    assert result.ok, (result.code, result.message, stack.thurac.log())
    mail = stack.sink.wait_for(lambda m: m.subject == "sandboxed")
    assert "DKIM_VALID" in mail.headers("X-Spam-Status")[0], stack.thurac.log()
    assert "score=" in stack.thurac.log_line_for(result.queue_id)
    assert stack.thurac.stop() == 0
