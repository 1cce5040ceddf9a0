"""Hostile and broken DNS, per sender domain, through the real Postfix: every message gets its
verdict within dns.budget and a small margin, is delivered, and a DNS failure is a
*_TEMPERROR, never an SPF_FAIL or a DKIM_INVALID."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from tests.integration.conftest import LOCAL_DOMAIN, Stack, message
from tests.support.dkim_keys import TestKey, rsa_key, sign
from tests.support.dns_server import TestDnsServer

pytestmark = pytest.mark.postfix

BUDGET = 3.0  # dns.budget in the e2e stack (tests/support/thurac.py)
# The verdict itself, the history read and scheduling on a loaded 2-core machine.
MARGIN = 1.5
SELECTOR = "s1"
SENDER_IP = "127.0.0.40"

# domain label -> how its DNS misbehaves
CASES = ("drop", "slow", "servfail", "refused", "truncated", "hugetxt", "cnameloop", "includes")


def hostile_zone(dns: TestDnsServer, key: TestKey) -> None:
    """One sender domain per fault, each with a DKIM key so that signatures need DNS too."""
    for case in CASES:
        domain = f"{case}.hostile.test"
        dns.add(domain, "MX", f"10 mx.{domain}")
        dns.add(f"mx.{domain}", "A", "192.0.2.25")
        dns.add(domain, "TXT", "v=spf1 ip4:192.0.2.0/24 -all")
        dns.add(f"_dmarc.{domain}", "TXT", "v=DMARC1; p=reject")
        dns.add(f"{SELECTOR}._domainkey.{domain}", "TXT", key.record)
    dns.faults["drop.hostile.test"] = "drop"
    slow = ("slow.hostile.test", "_dmarc.slow.hostile.test",
            f"{SELECTOR}._domainkey.slow.hostile.test")
    dns.delays.update({name: 10.0 for name in slow})
    dns.faults["servfail.hostile.test"] = "servfail"
    dns.faults["refused.hostile.test"] = "refused"
    dns.faults["truncated.hostile.test"] = "truncate-then-hang"
    dns.remove("hugetxt.hostile.test", "TXT")
    dns.add("hugetxt.hostile.test", "TXT", "v=spf1 " + "a" * 60_000)  # over TCP, then junk
    dns.remove(f"{SELECTOR}._domainkey.hugetxt.hostile.test", "TXT")
    dns.add(f"{SELECTOR}._domainkey.hugetxt.hostile.test", "TXT", "k=rsa; p=" + "A" * 60_000)
    for owner in ("cnameloop.hostile.test", f"{SELECTOR}._domainkey.cnameloop.hostile.test"):
        dns.remove(owner)
        dns.add(owner, "CNAME", f"loop-a.{owner}")
        dns.add(f"loop-a.{owner}", "CNAME", f"loop-b.{owner}")
        dns.add(f"loop-b.{owner}", "CNAME", f"loop-a.{owner}")
    dns.add("cnameloop.hostile.test", "MX", "10 mx.cnameloop.hostile.test")
    dns.remove("includes.hostile.test", "TXT")
    includes = " ".join(f"include:i{n}.slow-spf.test" for n in range(20))
    dns.add("includes.hostile.test", "TXT", f"v=spf1 {includes} -all")
    for n in range(20):
        dns.add(f"i{n}.slow-spf.test", "TXT", "v=spf1 -all")
        dns.delays[f"i{n}.slow-spf.test"] = 1.0


def verdict_ms(line: str) -> int:
    found = re.search(r" time=(\d+)ms", line)
    assert found, line
    return int(found.group(1))


def test_every_dns_fault_costs_at_most_the_budget_and_never_condemns_the_message(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory({"actions": {"mode": "tag-only"}})
    key = rsa_key(2048)
    hostile_zone(stack.dns, key)
    worst = 0
    for case in CASES:
        domain = f"{case}.hostile.test"
        raw = sign(message(f"news@{domain}", f"user@{LOCAL_DOMAIN}", f"dns {case}"),
                   key, domain, SELECTOR)
        result = stack.send(f"news@{domain}", [f"user@{LOCAL_DOMAIN}"], raw,
                            source_ip=SENDER_IP, helo=f"mx.{domain}")
        assert result.ok, (case, result)
        line = stack.thurac.log_line_for(result.queue_id or "", timeout=30)
        took = verdict_ms(line)
        worst = max(worst, took)
        print(f"{case:10s} {took:5d} ms  {line.split('symbols=')[1].split(' time=')[0]}")
        assert took <= (BUDGET + MARGIN) * 1000, (case, line)
        symbols = line.split("symbols=")[1]
        # A key or record that arrives but is junk is the domain's permanent error, and
        # may fail DMARC as such; a DNS failure may not.
        condemning = ("SPF_FAIL", "DKIM_INVALID") if case == "hugetxt" else (
            "SPF_FAIL", "DKIM_INVALID", "DMARC_FAIL")
        for name in condemning:
            assert name not in symbols, (case, line)
    print(f"worst verdict time: {worst} ms (dns.budget {BUDGET:.0f} s)")

    delivered = {m.subject: m for m in stack.sink.wait_count(len(CASES), timeout=30)}
    assert set(delivered) == {f"dns {case}" for case in CASES}
    for case in ("drop", "slow", "servfail", "refused", "truncated"):
        status = delivered[f"dns {case}"].headers("X-Spam-Status")[0]
        for temporary in ("SPF_TEMPERROR", "DKIM_TEMPERROR", "DMARC_TEMPERROR"):
            assert temporary in status, (case, status)
    huge = delivered["dns hugetxt"].headers("X-Spam-Status")[0]
    assert "SPF_PERMERROR" in huge and "DKIM_PERMERROR" in huge
    assert stack.thurac.process is not None and stack.thurac.process.poll() is None
    log = stack.thurac.log()
    assert "Traceback" not in log
    assert "marked down" not in log  # hostile names, not a dead nameserver
