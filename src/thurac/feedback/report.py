"""What a spam report says, as values: the reported message (`Reported`) and the report-level
result (`Extraction`) with the one line a reporter is shown in X-Thurac-Report-Result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from thurac.feedback.mime import MAX_DEPTH, MAX_PARTS, MAX_TEXT_BYTES
from thurac.feedback.received import MAX_RECEIVED
from thurac.text import printable_text, sanitize

# How the reported message was found, most trusted first: a provider's ARF report, a message
# the user attached, a forward quoted in the text, header lines pasted into the text ("trace":
# only our own Received hops and the Message-ID identify it), or not at all.
Method = Literal["arf", "attachment", "inline", "trace", "none"]

MAX_REPORT_BYTES = 10 * 1024 * 1024  # a larger report is not parsed at all
MAX_NESTED_REPORTS = 3  # reports attached to reports followed before giving up
MAX_EVIDENCE = 64 * 1024  # bytes of the reported message's header block kept
MAX_RESULT_LINE = 300  # bytes of result_line(): one header line, well under SMTP's 998
MAX_PROBLEM = 120  # bytes of one problem string
MAX_PROBLEMS = 10  # problem strings kept
_SHOWN = {"sender": 64, "ip": 45, "queue_id": 32, "message_id": 48, "type": 16}


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on the work one report may cost (see each constant for its reason)."""

    max_parts: int = MAX_PARTS
    max_depth: int = MAX_DEPTH
    max_nested_reports: int = MAX_NESTED_REPORTS
    max_received: int = MAX_RECEIVED
    max_evidence: int = MAX_EVIDENCE
    max_text_bytes: int = MAX_TEXT_BYTES


@dataclass(frozen=True, slots=True)
class Reported:
    """What a report says about the message it reports. Every field is '' (or empty) when the
    report does not say; addresses are normalised, lower case."""

    sender: str = ""  # envelope sender (ARF Original-Mail-From, Return-Path), else From
    from_domain: str = ""  # domain of the header From (of `sender` when there is no From)
    client_ip: str = ""  # the originating IP: ARF Source-IP, else from our Received hops
    message_id: str = ""  # lower case, without <>
    queue_ids: tuple[str, ...] = ()  # our Postfix queue ids, oldest first
    method: Method = "none"
    feedback_type: str = ""  # ARF Feedback-Type, lower case: abuse, fraud, not-spam ...
    arrival_date: str = ""  # as given: ARF Arrival-Date, our hop's date, else Date
    reported_domain: str = ""  # ARF Reported-Domain
    recipients: tuple[str, ...] = ()  # ARF Original-Rcpt-To (often redacted by providers)
    evidence: str = ""  # the reported message's header block, valid text, bounded
    problems: tuple[str, ...] = ()  # what was malformed or cut short, a few words each

    @property
    def identified(self) -> bool:
        """Whether anything here can name a sender or find a stored event."""
        return bool(self.sender or self.client_ip or self.message_id or self.queue_ids)


@dataclass(frozen=True, slots=True)
class Extraction:
    """The result for one report message."""

    reported: Reported
    reporter: str = ""  # the report's own From: the user, or the feedback provider
    user_agent: str = ""  # ARF User-Agent: the provider's software ('' for non-ARF)

    @property
    def method(self) -> Method:
        return self.reported.method

    @property
    def problems(self) -> tuple[str, ...]:
        return self.reported.problems

    @property
    def found(self) -> bool:
        return self.reported.method != "none"

    def result_line(self) -> str:
        """For the reporter, in X-Thurac-Report-Result: one ASCII line of at most 300 bytes.
        `extracted sender=a@b.example ip=203.0.113.9 method=arf`, or
        `nothing extracted: no attached message or forward`."""
        reported = self.reported
        if not self.found:
            reason = "; ".join(reported.problems) or "no reported message"
            return _ascii_line(f"nothing extracted: {reason}")
        words = ["extracted"]
        shown = (("sender", reported.sender), ("ip", reported.client_ip),
                 ("queue_id", reported.queue_ids[0] if reported.queue_ids else ""),
                 ("message_id", reported.message_id), ("method", reported.method),
                 ("type", reported.feedback_type))
        words += [f"{key}={token(value, _SHOWN.get(key, 16))}" for key, value in shown if value]
        line = " ".join(words)
        if reported.problems:
            line += f" ({reported.problems[0]})"
        return _ascii_line(line)


def token(value: str, limit: int) -> str:
    """A value as one printable ASCII word of at most `limit` bytes: non-ASCII as backslash
    escapes (an internationalised address stays readable), blanks and controls as '?'."""
    text = printable_text(value).encode("ascii", "backslashreplace").decode("ascii")
    text = "".join(ch if "!" <= ch <= "~" else "?" for ch in text)
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


def _ascii_line(text: str) -> str:
    ascii_text = printable_text(text).encode("ascii", "backslashreplace").decode("ascii")
    return sanitize(ascii_text, MAX_RESULT_LINE)


def problem_text(text: str) -> str:
    """A problem as it is kept: one line, bounded (it may quote what the report said)."""
    return sanitize(text, MAX_PROBLEM)
