"""Reports people send by hand: the spam attached to a message (message/rfc822, an .eml file,
or its header as text/rfc822-headers), a forward quoted in the text, or header lines pasted
into it.

Inline forwards are read as mail clients write them, in English and Vietnamese, with or
without "> " quoting: Gmail's "---------- Forwarded message ---------" (vi: "Thư đã chuyển
tiếp") then From/Date/Subject/To; Outlook's "-----Original Message-----" or a rule, then
From/Sent/To/Subject (vi: Từ/Đã gửi/Đến/Chủ đề), sometimes on one line; Thunderbird's
"-------- Forwarded Message --------" then Subject/Date/From/To; Apple Mail's "Begin forwarded
message:" (vi: "Bắt đầu thư được chuyển tiếp:"). HTML is turned into text crudely first.
Only the first forward is read: a forward quoted inside it may be the spammer's own invention
(a fake "Original Message" thread is a common fraud), so it names nobody.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from thurac.feedback.arf import from_arf, is_arf, reported_headers
from thurac.feedback.mime import HEADER_TYPES, Entity, text_of
from thurac.feedback.report import Limits, Reported
from thurac.feedback.trace import Site, address_in, bounded_text, describe, has_our_trace

MAX_LINES = 20000  # lines of one text part searched for a forward
MAX_BLOCK_LINES = 200  # lines of one forwarded header block (pasted Received lines included)
MAX_CLUSTER_SPAN = 8  # lines after a From line within which Date/Subject/To make a block
MAX_LEADING_BLANKS = 3  # blank lines allowed between a marker and the fields
MAX_ATTEMPTS = 50  # blocks read per text before giving up (each may read MAX_BLOCK_LINES)

_QUOTE = re.compile(r"^(?:[ \t]*>)+ ?")
# A field as clients write it: "From: x", "*From:* x" (bold in HTML), "Chủ đề: x".
# (Each run of blanks is delimited by something else: two runs side by side would let a line of
# a million spaces be split in a million squared ways.)
_FIELD = re.compile(r"[ \t]*(?:\*+[ \t]*)?([^\W\d_][^:\n*]{0,24}?)[ \t]*(?:\*+[ \t]*)?:\**(.*)")
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,60}")
_MARKERS = frozenset({
    "forwarded message", "original message", "forwarded e-mail", "begin forwarded message",
    "thư đã chuyển tiếp", "thư được chuyển tiếp", "thư chuyển tiếp",
    "bắt đầu thư được chuyển tiếp", "bắt đầu thư chuyển tiếp",
    "tin nhắn đã chuyển tiếp", "tin nhắn được chuyển tiếp", "thư gốc", "tin nhắn gốc",
})
# Field names of forward blocks, lower case, to header names.
_NAMES = {
    "from": "From", "từ": "From", "người gửi": "From",
    "date": "Date", "sent": "Date", "ngày": "Date", "gửi": "Date", "đã gửi": "Date",
    "ngày gửi": "Date", "thời gian": "Date",
    "subject": "Subject", "chủ đề": "Subject", "tiêu đề": "Subject",
    "to": "To", "đến": "To", "tới": "To", "người nhận": "To",
    "cc": "Cc", "reply-to": "Reply-To", "message-id": "Message-ID", "received": "Received",
    "return-path": "Return-Path",
}
# Outlook run together on one line: "From: X [mailto:x@y] Sent: Monday ... To: ... Subject:"
_EMBEDDED = re.compile(r"\s(?=(?:sent|date|to|cc|subject|đã gửi|gửi|ngày|đến|tới|chủ đề|"
                       r"tiêu đề)[ \t]?:\s)", re.IGNORECASE)
_BREAK_TAG = re.compile(r"<[ \t]*/?[ \t]*(?:br|p|div|tr|li|h[1-6]|hr|blockquote|table)\b"
                        r"[^<>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]*>")


@dataclass(frozen=True, slots=True)
class Block:
    """A forwarded or pasted header block found in text."""

    fields: tuple[tuple[str, str], ...]
    lines: tuple[str, ...]  # as found, quoting removed: the evidence

    @property
    def sender(self) -> str:
        """The address of the first From field that has one."""
        addresses = (address_in(v) for n, v in self.fields if n == "From")
        return next((a for a in addresses if a), "")


# ---- attached messages ----------------------------------------------------------------------


def _parts_outside_messages(entity: Entity) -> Iterator[Entity]:
    """The parts below `entity`, depth first, not looking inside attached messages."""
    stack = list(reversed(entity.children))
    while stack:
        part = stack.pop()
        yield part
        if not part.is_attached_message:
            stack.extend(reversed(part.children))


def first_attachment(entity: Entity) -> Entity | None:
    """The first attached message or attached header block below `entity`."""
    return next((p for p in _parts_outside_messages(entity)
                 if p.is_attached_message or p.content_type in HEADER_TYPES), None)


def is_delivery_report(entity: Entity) -> bool:
    """A bounce or read receipt (RFC 3464, 8098): it carries a message, and reports nothing."""
    return entity.content_type == "multipart/report" and (
        entity.params.report_type in ("delivery-status", "disposition-notification")
        or any(c.content_type in ("message/delivery-status", "message/disposition-notification")
               for c in entity.children))


def from_attachment(report: Entity, site: Site, limits: Limits) -> Reported | None:
    """The message attached to a report, following reports attached to reports (a user who
    forwards a colleague's forward, or a provider's ARF report) at most
    `limits.max_nested_reports` levels; None when nothing is attached."""
    part = first_attachment(report)
    if part is None:
        return None
    for _level in range(limits.max_nested_reports + 1):
        message = part.children[0] if part.is_attached_message and part.children else None
        if message is not None and is_arf(message):
            return from_arf(message, site, limits)[0]
        inner = first_attachment(message) if message is not None else None
        headers = reported_headers(part)
        if inner is None or (has_our_trace(headers, site, limits)
                             and not has_our_trace(reported_headers(inner), site, limits)):
            # Nothing further attached; or this message passed our hosts and the one inside
            # did not: this is the spam as we received it, the inner one its own attachment.
            return describe(headers, site, limits, "attachment")
        part = inner
    return Reported(problems=(f"reports attached to reports deeper than "
                              f"{limits.max_nested_reports} levels",))


# ---- text: inline forwards and pasted header lines ----------------------------------------


def html_to_text(markup: str) -> str:
    """Crude: line-breaking tags become line breaks, other tags go, entities are decoded."""
    text = _TAG.sub("", _BREAK_TAG.sub("\n", markup))
    return html.unescape(text).replace("\xa0", " ")


def texts(report: Entity, limits: Limits, problems: list[str]) -> Iterator[str]:
    """The report's own text, plain parts first, then HTML parts turned into text (parts
    marked as attachments, and anything inside attached messages, are not the reporter's)."""
    candidates = [report, *_parts_outside_messages(report)]
    inline = [p for p in candidates if not p.is_attachment and not p.children]
    for wanted in ("text/plain", "text/html"):
        for part in inline:
            if part.content_type == wanted:
                text = text_of(part, limits.max_text_bytes, problems)
                yield html_to_text(text) if wanted == "text/html" else text


def unquoted_lines(text: str) -> list[str]:
    """The text's lines (at most MAX_LINES), "> " quoting removed."""
    return [_QUOTE.sub("", line, count=1) for line in text.splitlines()[:MAX_LINES]]


def _field(line: str) -> tuple[str, str] | None:
    """(header name, value) of a field line; None when the line is no field."""
    found = _FIELD.match(line)
    if not found:
        return None
    value = found[2].strip()
    label = " ".join(found[1].split()).lower()
    if label in _NAMES:
        return _NAMES[label], value
    if _HEADER_NAME.fullmatch(found[1]):  # a pasted header field: X-Mailer, DKIM-Signature
        return found[1], value
    return None


def _split_run_together(name: str, value: str) -> list[tuple[str, str]]:
    """Outlook's one-line block, "From: X Sent: ... To: ... Subject: ...", as its fields."""
    if name != "From":
        return [(name, value)]
    pieces = _EMBEDDED.split(value)
    fields = [(name, pieces[0].strip())]
    for piece in pieces[1:]:
        field = _field(piece)
        if field is None:  # defensive: each piece the split made begins with a field name
            last_name, last_value = fields.pop()
            field = (last_name, f"{last_value} {piece}")
        fields.append(field)
    return fields


def block_at(lines: Sequence[str], start: int) -> Block | None:
    """The header block beginning at `start` (blank lines before it skipped): field lines, with
    continuation lines (indented, or a wrapped value) joined to the field before; it ends at a
    blank line."""
    fields: list[tuple[str, str]] = []
    kept: list[str] = []
    blanks = 0
    for line in lines[start:start + MAX_BLOCK_LINES]:
        if not line.strip():
            if fields:
                break
            blanks += 1
            if blanks > MAX_LEADING_BLANKS:
                return None
            continue
        field = None if line[:1] in " \t" and fields else _field(line)
        if field is not None:
            fields.extend(_split_run_together(*field))
        elif fields:
            name, value = fields[-1]
            fields[-1] = (name, f"{value}\n {line.strip()}")
        else:
            return None
        kept.append(line)
    return Block(tuple(fields), tuple(kept)) if fields else None


def _is_marker(line: str) -> bool:
    core = " ".join(line.strip(" \t-_=*:<>[]").split()).lower()
    return core in _MARKERS


def _starts_cluster(lines: Sequence[str], index: int) -> bool:
    """A From line followed closely by at least two of Date, Subject and To (Outlook's block
    after a rule, with no marker), or a From line carrying them run together."""
    field = _field(lines[index])
    if field is None or field[0] != "From":
        return False
    names = {n for n, _ in _split_run_together(*field)}
    for line in lines[index + 1:index + MAX_CLUSTER_SPAN]:
        other = _field(line)
        if other is not None:
            names.add(other[0])
    return len(names & {"Date", "Subject", "To"}) >= 2


def find_forward(lines: Sequence[str], *, unmarked: bool = True) -> Block | None:
    """The first forwarded header block in `lines` that names a sender: after a marker line
    ("---------- Forwarded message ---------"), or, when `unmarked`, a From line with Date,
    Subject or To close below it."""
    attempts = 0
    for index, line in enumerate(lines):
        if attempts >= MAX_ATTEMPTS:
            break
        block = None
        if _is_marker(line):
            attempts += 1
            block = block_at(lines, index + 1)
        elif unmarked and _starts_cluster(lines, index):
            attempts += 1
            block = block_at(lines, index)
        if block is not None and block.sender:
            return block
    return None


def find_pasted_header(lines: Sequence[str]) -> Block | None:
    """Header lines pasted into the text (a user following "send us the full headers"): the
    first block of header fields with a Received line among them."""
    index = 0
    while index < len(lines):
        if _field(lines[index]) is not None:
            block = block_at(lines, index)
            if block is not None:
                if any(n.lower() == "received" for n, _ in block.fields):
                    return block
                index += max(len(block.lines), 1)
                continue
        index += 1
    return None


def from_block(block: Block, site: Site, limits: Limits,
               method: Literal["inline", "trace"]) -> Reported:
    """The reported message a forwarded or pasted block describes."""
    fields = [(n, f"<{address_in(v)}>" if n in ("From", "Return-Path") and address_in(v) else v)
              for n, v in block.fields]
    reported = describe(fields, site, limits, method)
    # The lines as the reporter sent them are the evidence, not our reading of them.
    lines = "".join(f"{line}\r\n" for line in block.lines)
    return replace(reported, evidence=bounded_text(lines, limits.max_evidence))


def from_text(report: Entity, site: Site, limits: Limits,
              problems: list[str]) -> Reported | None:
    """A forward in the report's text, or header lines pasted into it; None if neither. A
    marked forward comes first; pasted lines with a Received line are more than an unmarked
    From/Date/Subject cluster (which may be the top of those very lines)."""
    for text in texts(report, limits, problems):
        lines = unquoted_lines(text)
        forward = find_forward(lines, unmarked=False)
        if forward is not None:
            return from_block(forward, site, limits, "inline")
        pasted = find_pasted_header(lines)
        if pasted is not None:
            return from_block(pasted, site, limits, "trace")
        forward = find_forward(lines)
        if forward is not None:
            return from_block(forward, site, limits, "inline")
    return None
