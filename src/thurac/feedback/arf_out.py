"""Spam reports we send: one RFC 5965 (ARF) message per reported mail, for the national
reporting address (Circular 22/2021 art. 5.3) or any other abuse desk.

Everything in a report but our own configuration comes from the reported mail, that is from
the spammer: each value is made one bounded line (text.sanitize) before it becomes a header or
a report field, a machine field that is not what its name says (an IP, a domain) is left out,
and the reported message is attached byte for byte inside a MIME boundary it does not contain.
The parts are assembled here rather than by the email package's generator, which refolds the
header of an attached message and so would alter the evidence (and break its DKIM signature).
"""

from __future__ import annotations

import email.policy
import email.utils
import ipaddress
import re
import secrets
from datetime import UTC, datetime
from email.message import MIMEPart

from thurac import __version__
from thurac.domains import normal_domain
from thurac.text import sanitize

MAX_REPORTED = 1024 * 1024  # bytes of a reported message attached whole; above it, its header
MAX_HEADER_BLOCK = 102400  # bytes of an attached header alone (Postfix's header_size_limit)
MAX_NOTE = 2000  # bytes of the reporter's note in the human-readable part
MAX_SUBJECT = 200  # bytes of the report's Subject, before RFC 2047 encoding
FEEDBACK_TYPES = ("abuse", "fraud", "virus", "other", "not-spam")  # RFC 5965 + RFC 6430
# auth-failure (RFC 6591) is left out: it needs fields this builder does not take.

_POLICY = email.policy.SMTP  # CRLF, 7-bit headers (RFC 2047 for anything else)
_DOMAIN_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*")
_WHAT = {  # feedback type: (English, Vietnamese), said in the human-readable part and Subject
    "abuse": ("spam report", "báo cáo thư rác"),
    "fraud": ("fraud report", "báo cáo lừa đảo"),
    "virus": ("virus report", "báo cáo vi-rút"),
    "other": ("email report", "báo cáo thư điện tử"),
    "not-spam": ("not-spam report", "báo cáo thư không phải thư rác"),
}


def build_arf(*, reported: bytes | None, reported_headers: str, source_ip: str,
              original_mail_from: str, arrival_date: datetime | None, reported_domain: str,
              reporter_note: str, from_address: str, to_address: str,
              feedback_type: str = "abuse", reporting_host: str = "",
              max_reported: int = MAX_REPORTED, date: datetime | None = None) -> bytes:
    """The report as it goes on the wire (CRLF line ends): multipart/report with a
    human-readable part in English and Vietnamese, the message/feedback-report fields, and
    the reported message (message/rfc822, when given and at most `max_reported` bytes) or
    its header (text/rfc822-headers: `reported_headers`, or the header of a message too big).

    `reporting_host` names us in the text, Reporting-MTA and Message-ID (default: the domain
    of `from_address`). Empty fields are left out. Raises ValueError for a feedback type RFC
    5965 does not define or a from/to that is not one address: those come from our
    configuration, never from the reported mail.
    """
    if feedback_type not in FEEDBACK_TYPES:
        raise ValueError(f"feedback type {feedback_type!r}: expected one of "
                         f"{', '.join(FEEDBACK_TYPES)}")
    sender, sender_address = _address(from_address, "from")
    recipient, _ = _address(to_address, "to")
    host = _domain(reporting_host) or _domain(sender_address.rpartition("@")[2]) or "localhost"
    ip = _ip(source_ip)
    mail_from = _mail_from(original_mail_from)
    domain = _domain(reported_domain)
    arrived = None if arrival_date is None else email.utils.format_datetime(_aware(arrival_date))

    whole = reported is not None and len(reported) <= max_reported
    if whole:
        assert reported is not None
        attached = _part(["Content-Type: message/rfc822", "Content-Disposition: inline"],
                         _wire_text(reported))
    else:
        headers = _wire_text(reported_headers.encode("utf-8", "surrogateescape"))
        if not headers.strip() and reported is not None:
            headers = _header_block(reported)
        attached = _part(["Content-Type: text/rfc822-headers", "Content-Disposition: inline"],
                         _bounded_lines(headers, MAX_HEADER_BLOCK))

    english, vietnamese = _WHAT[feedback_type]
    facts = [("Source IP / Địa chỉ IP nguồn", ip), ("Sender / Người gửi", mail_from),
             ("Arrival date / Thời điểm nhận", arrived or ""),
             ("Reported domain / Tên miền bị báo cáo", domain)]
    lines = [
        f"This is a {english} (Feedback-Type: {feedback_type}) forwarded by {host} under "
        "Circular 22/2021/TT-BTTTT art. 5.3 and Decree 91/2020/ND-CP: a user of "
        f"{host} reported the attached message.",
        f"Đây là {vietnamese} do {host} chuyển tiếp theo khoản 3 Điều 5 Thông tư "
        f"22/2021/TT-BTTTT và Nghị định 91/2020/NĐ-CP: người dùng của {host} đã báo cáo thư "
        "đính kèm.",
        "",
        *(f"{label}: {value}" for label, value in facts if value),
    ]
    note = sanitize(reporter_note, MAX_NOTE)
    if note:
        lines += ["", f"Note / Ghi chú: {note}"]
    if reported is not None and not whole:
        lines += ["", f"The message was larger than {max_reported} bytes: only its header is "
                      f"attached. / Thư lớn hơn {max_reported} byte: chỉ đính kèm phần đầu thư."]
    lines += ["", "The machine-readable report (RFC 5965) is the second part of this message. "
                  "/ Báo cáo dạng máy đọc (RFC 5965) là phần thứ hai của thư này."]
    human = MIMEPart(policy=_POLICY)
    human.set_content("\n".join(lines) + "\n", charset="utf-8", cte="quoted-printable")

    fields = [("Feedback-Type", feedback_type), ("User-Agent", f"thurac/{__version__}"),
              ("Version", "1"), ("Reporting-MTA", f"dns; {host}"), ("Source-IP", ip),
              ("Original-Mail-From", mail_from), ("Arrival-Date", arrived or ""),
              ("Reported-Domain", domain)]
    report = _part(["Content-Type: message/feedback-report"],
                   b"".join(_header(name, value) for name, value in fields if value))

    parts = [human.as_bytes(policy=_POLICY), report, attached]
    boundary = _boundary(parts)
    eight_bit = not all(part.isascii() for part in parts)
    what = mail_from or domain or ip or "message"
    outer = [
        _header("From", sender), _header("To", recipient),
        _header("Date", email.utils.format_datetime(_aware(date or datetime.now(UTC)))),
        _header("Message-ID", email.utils.make_msgid("thurac.arf", domain=host)),
        _header("Subject", sanitize(f"{english.capitalize()} / {vietnamese.capitalize()}: "
                                    f"{what}", MAX_SUBJECT)),
        b"MIME-Version: 1.0\r\n",
        b"Auto-Submitted: auto-generated\r\n",  # RFC 3834: no auto-reply to a report
        f'Content-Type: multipart/report; report-type=feedback-report;\r\n'
        f' boundary="{boundary}"\r\n'.encode("ascii"),
        b"Content-Transfer-Encoding: 8bit\r\n" if eight_bit else b"",
        b"\r\n",
        b"This is a multi-part message in MIME format (RFC 5965 feedback report).\r\n",
    ]
    body = b"".join(b"\r\n--" + boundary.encode("ascii") + b"\r\n" + part for part in parts)
    return b"".join(outer) + body + b"\r\n--" + boundary.encode("ascii") + b"--\r\n"


def _header(name: str, value: str) -> bytes:
    """One header field, folded, non-ASCII in RFC 2047 words; `value` is one line already."""
    folded: str = _POLICY.header_factory(name, sanitize(value)).fold(policy=_POLICY)
    return folded.encode("ascii")


def _part(headers: list[str], content: bytes) -> bytes:
    """A body part: its header fields, a blank line, `content` (8bit declared if it is)."""
    if not content.isascii():
        headers = [*headers, "Content-Transfer-Encoding: 8bit"]
    return "".join(f"{line}\r\n" for line in headers).encode("ascii") + b"\r\n" + content


def _boundary(parts: list[bytes]) -> str:
    """A boundary no part contains (the reported mail could carry a guessed one)."""
    while True:
        boundary = f"thurac-arf-{secrets.token_hex(12)}"
        marker = b"--" + boundary.encode("ascii")
        if not any(marker in part for part in parts):
            return boundary


def _wire_text(data: bytes) -> bytes:
    """`data` with CRLF line ends, no NUL (SMTP forbids it), ending in a line end."""
    lines = data.replace(b"\x00", b"").replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    text = lines.replace(b"\n", b"\r\n")
    return text if not text or text.endswith(b"\r\n") else text + b"\r\n"


def _header_block(message: bytes) -> bytes:
    """The header of a raw message: everything before its first empty line."""
    text = _wire_text(message)
    end = text.find(b"\r\n\r\n")
    return text if end < 0 else text[: end + 2]


def _bounded_lines(text: bytes, limit: int) -> bytes:
    """At most `limit` bytes of CRLF-ended `text`, cut at a line end."""
    if len(text) <= limit:
        return text
    end = text.rfind(b"\r\n", 0, limit - 1)
    return b"" if end < 0 else text[: end + 2]


def _aware(when: datetime) -> datetime:
    """A naive time is thurac's: UTC."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _ip(value: str) -> str:
    """The address in its usual spelling, or "" when `value` is not an IP address."""
    try:
        return str(ipaddress.ip_address(sanitize(value, 64).strip("[] ")))
    except ValueError:
        return ""


def _domain(value: str) -> str:
    """A domain name in A-labels, or "" when `value` is not one."""
    name = normal_domain(sanitize(value, 300))
    return name if len(name) <= 253 and _DOMAIN_RE.fullmatch(name) else ""


def _mail_from(value: str) -> str:
    """`<local@domain>` with the domain in A-labels; "" for a null or empty sender, or one
    whose domain is not a domain name or an address literal."""
    address = sanitize(value, 400).replace("<", "").replace(">", "").strip()
    if not address:
        return ""
    local, at, domain = address.rpartition("@")
    if not at:
        return f"<{address}>"  # a local name (RFC 5321 allows "postmaster")
    literal = domain.startswith("[") and domain.endswith("]") and _ip(domain)
    if not local or not (literal or _domain(domain)):
        return ""  # not a path: the field would mislead an ARF reader
    return f"<{local}@{domain if literal else _domain(domain)}>"


def _address(value: str, which: str) -> tuple[str, str]:
    """One mailbox for From/To as configured, and its bare address; ValueError if `value` is
    not one address."""
    line = sanitize(value)
    parsed = email.utils.getaddresses([line])
    if len(parsed) != 1 or "@" not in parsed[0][1]:
        raise ValueError(f"{which} address {line!r}: expected one address (name@domain)")
    return line, parsed[0][1]
