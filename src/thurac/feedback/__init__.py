"""Spam reports → what they report (Circ. 22 art. 5.3: users report spam by forwarding it).

    result = extract(raw, our_hosts=("mx.example.test",), internal_networks=networks)
    result.reported.sender, .client_ip, .queue_ids   # look up the stored event, count a complaint
    result.result_line()                             # for the X-Thurac-Report-Result header

One entry point, pure and bounded: it reads a report message and says which message it reports,
trying the most trusted form first: a provider's ARF report, then a message the user attached,
then a forward quoted in the text, then header lines pasted into it. It never raises and never
parses more than `max_bytes`; every limit met and every malformed piece is a problem string on
the result, for the caller to log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from thurac.feedback.arf import from_arf, is_arf
from thurac.feedback.forwarded import from_attachment, from_text, is_delivery_report
from thurac.feedback.mime import Entity, Walker
from thurac.feedback.received import Network
from thurac.feedback.report import (
    MAX_PROBLEMS,
    MAX_REPORT_BYTES,
    Extraction,
    Limits,
    Method,
    Reported,
    problem_text,
)
from thurac.feedback.trace import Site, header_address
from thurac.text import sanitize

__all__ = ["MAX_REPORT_BYTES", "Extraction", "Limits", "Method", "Reported", "extract"]

NOTHING = "no attached message or forward"
MAX_USER_AGENT = 200  # bytes of the ARF User-Agent kept
DEFAULT_LIMITS = Limits()


def extract(
    raw: bytes,
    *,
    our_hosts: Sequence[str] = (),
    internal_networks: Sequence[Network] = (),
    max_bytes: int = MAX_REPORT_BYTES,
    ignore_private: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> Extraction:
    """What the report `raw` reports. `our_hosts` name our MX and relay hosts as they write
    `by` in Received (none: any Postfix hop counts as ours for queue ids); clients in
    `internal_networks` (and, with `ignore_private`, private and loopback ones) are never the
    originating IP. Never raises: an internal error is method "none" with a problem."""
    try:
        return _extract(raw, Site.of(our_hosts, internal_networks, ignore_private),
                        max_bytes, limits)
    except Exception as error:  # a report must never break the caller
        return Extraction(Reported(problems=(
            problem_text(f"internal error: {type(error).__name__}: {error}"),)))


def _extract(raw: bytes, site: Site, max_bytes: int, limits: Limits) -> Extraction:
    data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else bytes(raw)
    if len(data) > max_bytes:
        return Extraction(Reported(problems=(f"too large: {len(data)} bytes > {max_bytes}",)))
    walker = Walker(max_parts=limits.max_parts, max_depth=limits.max_depth)
    report = walker.entity(data.replace(b"\r\n", b"\n"))
    problems = walker.problems  # the walker's, then the readers', in the order met
    reported, user_agent = _reported(report, site, limits, problems)
    if reported.method != "none" and not reported.identified:
        problems.append("the reported message names no sender, IP, Message-ID or queue id")
        reported = replace(reported, method="none")
    # The reader's conclusion first: it is what result_line() shows a reporter.
    kept = tuple(dict.fromkeys(problem_text(p) for p in (*reported.problems, *problems)))
    return Extraction(
        reported=replace(reported, problems=kept[:MAX_PROBLEMS]),
        reporter=header_address([v for n, v in report.headers if n.lower() == "from"][:1]),
        user_agent=user_agent,
    )


def _reported(report: Entity, site: Site, limits: Limits,
              problems: list[str]) -> tuple[Reported, str]:
    """The reported message and the ARF User-Agent, by the first form that finds one."""
    if is_delivery_report(report):
        return Reported(problems=("a delivery or read report, not a spam report",)), ""
    if is_arf(report):
        reported, fields = from_arf(report, site, limits)
        return reported, sanitize(fields.user_agent, MAX_USER_AGENT)
    found = from_attachment(report, site, limits) or from_text(report, site, limits, problems)
    if found is None:
        return Reported(problems=(NOTHING,)), ""
    return found, ""
