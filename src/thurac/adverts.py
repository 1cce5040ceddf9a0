"""Advertising mail (Decree 91/2020 arts. 13 and 20) as the checks, the history read and the
recorder see it: whether a message is an advertisement, who the advertiser is, and whether
it offers a way to opt out. Pure functions of the message and `advertising:` settings."""

from __future__ import annotations

import email.header
import re
from functools import lru_cache

from thurac.config import AdvertisingSettings
from thurac.domains import normal_domain, organizational_domain
from thurac.feedback.mime import Walker, text_of
from thurac.message import Message, domain_of

MAX_TEXT_CHARS = 200_000  # of the last text part searched for opt-out wording
MAX_PARTS = 200  # MIME parts walked to find it


@lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def decoded_subject(message: Message) -> str:
    raw = message.first_header("Subject") or ""
    try:
        parts = email.header.decode_header(raw)
        return "".join(text.decode(charset or "utf-8", "replace") if isinstance(text, bytes)
                       else text for text, charset in parts)
    except Exception:  # a hostile encoded-word: judge the raw text
        return raw


def advertisement(message: Message, settings: AdvertisingSettings) -> str | None:
    """Why `message` is advertising (its label, or the header that makes it look so), or
    None when it is not."""
    if not settings.enabled:
        return None
    subject = decoded_subject(message)
    for pattern in _compiled(settings.subject_labels):
        found = pattern.search(subject)
        if found:
            return f"Subject label {found.group(0).strip()!r}"
    lines = [f"{name}: {value.strip()}" for name, value in message.headers]
    for pattern in _compiled(settings.bulk_headers):
        for line in lines:
            if pattern.match(line):
                return f"header {line.split(':', 1)[0]}"
    return None


def advertiser(message: Message) -> str:
    """The advertiser: the header From's organisational domain ('' when there is none)."""
    domain = normal_domain(domain_of(message.header_from))
    return organizational_domain(domain) if domain else ""


def _last_text(message: Message) -> str:
    """The last text part, read with feedback/'s bounded MIME walker: the standard parser
    costs seconds (or a RecursionError) on deeply nested MIME a sender can send."""
    walker = Walker(max_parts=MAX_PARTS)
    root = walker.entity(message.raw().replace(b"\r\n", b"\n"))
    last = ""
    for part in root.walk():
        if part.content_type.startswith("text/") and not part.is_multipart:
            last = text_of(part)
    return last[-MAX_TEXT_CHARS:]


def opt_out(message: Message, settings: AdvertisingSettings) -> str | None:
    """How the message lets its recipient refuse more of it, or None when it does not."""
    if message.first_header("List-Unsubscribe"):
        return "List-Unsubscribe header"
    text = _last_text(message)
    for pattern in _compiled(settings.optout_patterns):
        found = pattern.search(text)
        if found:
            return f"opt-out wording {found.group(0)!r}"
    return None
