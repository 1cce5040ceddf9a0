"""One measurement: a fresh private Postfix (delivering to discard:) in front of one filter,
smtp-source at N sessions, and every check that the number may be reported: each message
accepted, delivered and answered by the filter, nothing in Postfix's log about a milter."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from bench.filters import Answered, Filter
from bench.procstat import cpu_seconds, peak_rss_kib, pss_kib
from bench.traffic import Traffic
from tests.support.load import smtp_source
from tests.support.postfix import PrivatePostfix

LOCAL_DOMAIN = "example.com"  # the shipped config's
DRAIN_TIMEOUT = 300.0
SETTLE_SECONDS = 0.3  # a filter still writing behind its replies is waited for ...
SETTLE_MAX = 10.0  # ... this long at most
MIN_CPU_MS = 0.05  # a milter that used less per message was not in the path
# Postfix's own words when a milter fails or is skipped (cleanup/smtpd milter8.c).
_MILTER_TROUBLE = re.compile(r"milter|default_action|Connection reset", re.I)
_DELIVERED = re.compile(r" status=sent \(")
_TROUBLE = re.compile(r"status=(deferred|bounced)|fatal:|panic:")
POSTFIX_OVERRIDES: dict[str, str | None] = {
    # Delivery costs next to nothing and is not what is measured.
    **{name: "discard:bench" for name in ("local_transport", "default_transport",
                                          "relay_transport", "virtual_transport")},
    # A milter that fails makes the message fail (smtp-source stops) instead of letting
    # it through unfiltered, which would flatter the filter.
    "milter_default_action": "tempfail",
    "milter_content_timeout": "60s",
}


@dataclass
class Measurement:
    filter: str
    size: int
    round: int
    messages: int
    seconds: float
    cpu_seconds: float | None  # the filter's process tree; None: no filter process
    answered: Answered | None
    delivered: int
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_ms_per_message(self) -> float | None:
        return None if self.cpu_seconds is None else 1000 * self.cpu_seconds / self.messages


def _settle(pids: list[int]) -> float:
    """CPU seconds of `pids` once they have stopped working (write-behind done)."""
    deadline = time.monotonic() + SETTLE_MAX
    used = cpu_seconds(pids)
    while time.monotonic() < deadline:
        time.sleep(SETTLE_SECONDS)
        now = cpu_seconds(pids)
        if now - used < 0.02:
            return now
        used = now
    return used


def measure(flt: Filter, traffic: Traffic, size: int, messages: int, sessions: int,
            round_number: int) -> Measurement:
    with PrivatePostfix(0, local_domains=[LOCAL_DOMAIN], milter=flt.milter,
                        overrides=POSTFIX_OVERRIDES) as postfix:
        pids = flt.pids()
        flt.mark()
        before = cpu_seconds(pids)
        problems: list[str] = []
        seconds = float("nan")
        try:
            seconds = smtp_source(postfix, messages=messages, sessions=sessions, size=size,
                                  sender=traffic.sender, recipient=traffic.recipient,
                                  helo=traffic.helo, message_file=traffic.file_for(size))
            postfix.wait_queue_empty(timeout=DRAIN_TIMEOUT, include_hold=True)
        except (RuntimeError, TimeoutError) as exc:
            problems.append(str(exc)[:500])
        used = _settle(pids) - before
        answered = flt.answered()
        lines = postfix.log_lines()
    delivered = sum(1 for line in lines if _DELIVERED.search(line))
    found = Measurement(flt.key, size, round_number, messages, seconds,
                        used if pids else None, answered, delivered, problems)
    if delivered != messages:
        problems.append(f"{delivered} of {messages} messages delivered (Postfix's log)")
    for line in lines:
        if _TROUBLE.search(line) or (" warning: " in line and _MILTER_TROUBLE.search(line)):
            problems.append(f"postfix: {line[-300:]}")
            break
    if not flt.alive():
        problems.append(f"{flt.label} is not running")
    if pids and 1000 * used / messages < MIN_CPU_MS:
        problems.append(f"{flt.label} used {1000 * used / messages:.3f} ms CPU a message: "
                        "not in the path")
    if answered is not None:
        if answered.messages != messages:
            problems.append(f"{flt.label} logged {answered.messages} verdicts for {messages}")
        if answered.histogram_count is not None and answered.histogram_count != messages:
            problems.append(f"{flt.label} counted {answered.histogram_count} verdicts "
                            f"(thurac_verdict_seconds_count) for {messages}")
    return found


def memory_kib(flt: Filter) -> tuple[int, int]:
    """(largest peak RSS in the filter's tree, the tree's PSS now), KiB."""
    return peak_rss_kib(flt.pids()), pss_kib(flt.pids())
