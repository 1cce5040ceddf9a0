"""With every DNS query failing, nothing of the resolver's trouble (its address, errno text)
reaches the headers a delivered message carries: Authentication-Results says
reason="DNS temporary failure" and the report names no address."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.builders import make_message, make_settings

from thurac.authresults import authentication_results
from thurac.dns import Resolver
from thurac.headers import spam_headers
from thurac.scanner import Scanner
from thurac.store.engine import make_engine, upgrade


def closed_port() -> int:
    """A loopback UDP port nothing listens on: queries get 'connection refused' at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_dns_failures_leave_no_address_or_errno_in_headers(tmp_path: Path) -> None:
    port = closed_port()
    nameserver = f"127.0.0.1:{port}"
    settings = make_settings(dns={"nameservers": [nameserver], "timeout": 0.3, "budget": 2.0})
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    scanner = Scanner(settings, engine, Resolver([nameserver], timeout=0.3), None)
    outcome = scanner.scan(make_message())
    assert outcome.verdict is not None
    assert {"SPF_TEMPERROR", "DMARC_TEMPERROR"} <= {s.name for s in outcome.verdict.symbols}
    written = [value for _, value in spam_headers(outcome.verdict)]
    authres = authentication_results(outcome.auth, "mx.example.com")
    assert authres is not None
    written.append(authres)
    for value in written:
        assert str(port) not in value and "127.0.0.1" not in value and "Errno" not in value, value
    assert 'spf=temperror reason="DNS temporary failure"' in authres
    assert 'dmarc=temperror reason="DNS temporary failure"' in authres
