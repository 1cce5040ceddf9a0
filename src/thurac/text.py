"""Text that is safe to store and print, whatever bytes the sender put in."""

from __future__ import annotations

MAX_VALUE = 900  # bytes: keeps one header line under SMTP's 998-octet limit


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
