"""Text that is safe to store and print, whatever bytes the sender put in."""

from __future__ import annotations


def printable_text(value: str) -> str:
    """Valid UTF-8 text: raw 8-bit bytes smuggled in as surrogates become U+FFFD."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
