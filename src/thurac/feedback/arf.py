"""ARF (RFC 5965): a mailbox provider's feedback report, `multipart/report;
report-type=feedback-report`, with a human-readable part, a `message/feedback-report` part of
fields (Feedback-Type, User-Agent, Version, Source-IP, Original-Mail-From, ...) and the
reported message as `message/rfc822` or, redacted to its header (RFC 6650), as
`text/rfc822-headers`. The provider saw the SMTP session: its Source-IP and Original-Mail-From
win over what the reported message's own header says (a Source-IP in our own networks aside:
that is our relay, in a feedback loop about mail we sent)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from thurac.domains import normal_domain
from thurac.feedback.mime import HEADER_TYPES, Entity, split_entity
from thurac.feedback.report import Limits, Reported
from thurac.feedback.trace import Site, date_text, describe, header_address
from thurac.message import canonical_ip, domain_of, is_internal
from thurac.text import printable_text

FEEDBACK_TYPE = "message/feedback-report"
MAX_FIELD = 998  # characters of one field value kept (RFC 5322's line limit)
MAX_REPEATED = 20  # values kept of a field that may repeat (Original-Rcpt-To, Reported-URI)
# RFC 5965's feedback-type is a token: abuse, fraud, other, virus, not-spam, auth-failure
# (RFC 6591), and older drafts' opt-out and unsubscribe that some providers still send.
_FEEDBACK_TYPE = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")


@dataclass(frozen=True, slots=True)
class FeedbackFields:
    """The machine-readable part of an ARF report, values unfolded and bounded."""

    feedback_type: str = ""  # lower case, '' when absent or unreadable
    user_agent: str = ""
    version: str = ""
    source_ip: str = ""  # canonical, '' when absent or not an address
    original_mail_from: str = ""  # normalised, '' for the null sender
    original_rcpt_to: tuple[str, ...] = ()
    arrival_date: str = ""
    reporting_mta: str = ""
    reported_domains: tuple[str, ...] = ()
    reported_uris: tuple[str, ...] = ()
    authentication_results: tuple[str, ...] = ()
    incidents: str = ""
    problems: tuple[str, ...] = ()


def _value(text: str) -> str:
    return " ".join(printable_text(text).split())[:MAX_FIELD]


def parse_feedback_fields(data: bytes) -> FeedbackFields:
    """Read the fields of a message/feedback-report body. Lenient: a missing or unreadable
    required field is a problem, not a failure; repeated single fields keep the first."""
    headers, _ = split_entity(data.replace(b"\r\n", b"\n"))
    values: dict[str, list[str]] = {}
    for name, value in headers:
        kept = values.setdefault(name.strip().lower(), [])
        if len(kept) < MAX_REPEATED:
            kept.append(_value(value))

    def first(*names: str) -> str:
        for name in names:
            if values.get(name):
                return values[name][0]
        return ""

    problems: list[str] = []
    if not headers:
        problems.append("feedback report part has no fields")
    feedback_type = first("feedback-type").lower()
    if not _FEEDBACK_TYPE.fullmatch(feedback_type):
        problems.append("feedback report without a readable Feedback-Type")
        feedback_type = ""
    for name, label in (("user-agent", "User-Agent"), ("version", "Version")):
        if headers and not first(name):
            problems.append(f"feedback report without {label}")
    source_ip = ""
    if first("source-ip"):
        source_ip = canonical_ip(first("source-ip"))
        try:
            ipaddress.ip_address(source_ip)
        except ValueError:
            problems.append("feedback report with an unreadable Source-IP")
            source_ip = ""
    rcpt_to = tuple(a for a in (header_address([v]) for v in values.get("original-rcpt-to", []))
                    if a)
    return FeedbackFields(
        feedback_type=feedback_type,
        user_agent=first("user-agent"),
        version=first("version"),
        source_ip=source_ip,
        original_mail_from=header_address([first("original-mail-from")]),
        original_rcpt_to=rcpt_to,
        # Received-Date: the field's name in the drafts before RFC 5965.
        arrival_date=date_text(first("arrival-date", "received-date")),
        reporting_mta=first("reporting-mta"),
        reported_domains=tuple(dict.fromkeys(
            d for d in (normal_domain(v) for v in values.get("reported-domain", [])) if d)),
        reported_uris=tuple(values.get("reported-uri", [])),
        authentication_results=tuple(values.get("authentication-results", [])),
        incidents=first("incidents"),
        problems=tuple(problems),
    )


def feedback_part(report: Entity) -> Entity | None:
    """The message/feedback-report part among the report's own parts."""
    return next((c for c in report.children if c.content_type == FEEDBACK_TYPE), None)


def is_arf(entity: Entity) -> bool:
    """A feedback report: a multipart with a message/feedback-report part. Some feedback loops
    send it in multipart/mixed or leave out report-type; the part itself is what counts."""
    return entity.is_multipart and feedback_part(entity) is not None


def reported_headers(part: Entity) -> tuple[tuple[str, str], ...]:
    """The header fields of an attached message or attached header block."""
    if part.content_type in HEADER_TYPES or not part.children:
        headers, _ = split_entity(part.decoded().replace(b"\r\n", b"\n"))
        return headers
    return part.children[0].headers


def reported_part(report: Entity) -> Entity | None:
    """The reported message among the report's own parts (the third, by RFC 5965)."""
    return next((c for c in report.children
                 if c.is_attached_message or c.content_type in HEADER_TYPES), None)


def from_arf(report: Entity, site: Site, limits: Limits) -> tuple[Reported, FeedbackFields]:
    """The reported message of an ARF report, the report's fields winning over its header."""
    part = feedback_part(report)
    fields = parse_feedback_fields(part.decoded()) if part else FeedbackFields()
    problems = list(fields.problems)
    if report.content_type != "multipart/report" or report.params.report_type != \
            "feedback-report":
        problems.append("feedback report not sent as multipart/report; "
                        "report-type=feedback-report")
    message = reported_part(report)
    if message is None:
        problems.append("feedback report without the reported message")
        base = Reported(method="arf")
    else:
        base = describe(reported_headers(message), site, limits, "arf")
    sender = fields.original_mail_from or base.sender
    # A Source-IP in our own networks is our relay, seen by a provider we sent the mail to
    # (a feedback loop about our outbound mail): the client that gave it to us is the one.
    source_ip = "" if fields.source_ip and is_internal(
        fields.source_ip, site.internal_networks) else fields.source_ip
    reported = replace(
        base,
        sender=sender,
        from_domain=base.from_domain or domain_of(sender),
        client_ip=source_ip or base.client_ip,
        feedback_type=fields.feedback_type,
        arrival_date=fields.arrival_date or base.arrival_date,
        reported_domain=fields.reported_domains[0] if fields.reported_domains else "",
        recipients=fields.original_rcpt_to,
        problems=(*problems, *base.problems),
    )
    return reported, fields
