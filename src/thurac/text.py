"""Text that is safe to store and print, whatever bytes the sender put in."""

from __future__ import annotations

import re

MAX_VALUE = 900  # bytes: keeps one header line under SMTP's 998-octet limit
# C0 controls but TAB and LF, DEL, and the C1 controls (U+009B is a terminal's CSI)
_TERMINAL_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable_text(value: str) -> str:
    """Valid UTF-8 text: raw 8-bit bytes smuggled in as surrogates become U+FFFD."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def sanitize(value: str, limit: int = MAX_VALUE) -> str:
    """One safe line for a header, a log line or an SMTP reply: valid UTF-8, at most `limit`
    bytes (not characters: Vietnamese text takes two or three bytes a letter), and nothing
    a terminal or a mail reader would act on: no CR/LF/NUL, no C0 or C1 control (U+009B is
    a terminal's CSI), no format character (bidi overrides, zero-width), no line or paragraph
    separator. Each of those becomes a space; runs of white space become one."""
    cleaned = printable_text(value)
    if not cleaned.isprintable():
        cleaned = "".join(ch if ch.isprintable() else " " for ch in cleaned)
    cleaned = " ".join(cleaned.split())
    encoded = cleaned.encode("utf-8")
    if len(encoded) <= limit:
        return cleaned
    if limit < 3:
        return encoded[:limit].decode("utf-8", "ignore")
    return encoded[: limit - 3].decode("utf-8", "ignore") + "..."



def terminal_block(value: str) -> str:
    """A stored header block for a terminal, as stored apart from two things: CRLF line ends
    become the terminal's LF, and a control character a terminal would act on (ESC, a lone CR
    that would let one line overwrite another, C1's CSI) is shown as a \\xNN escape. Tabs and
    the folding of header lines are kept."""
    text = printable_text(value).replace("\r\n", "\n")
    return _TERMINAL_CONTROL_RE.sub(lambda found: f"\\x{ord(found[0]):02x}", text)
