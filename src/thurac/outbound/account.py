"""Whose outbound mail it is: the account its counts, limits and suspension are kept under."""

from __future__ import annotations

from thurac.message import Message, normalize_address
from thurac.text import printable_text

ACCOUNT_MAX = 320  # characters of an account key, as the store's columns hold them


def stored_account(value: str) -> str:
    """An account as the store keeps it: lower case, no brackets, valid UTF-8, no NUL."""
    return printable_text(normalize_address(value)).replace("\x00", "\ufffd")[:ACCOUNT_MAX]


def account_of(message: Message) -> str:
    """The SASL user ({auth_authen}), else the envelope sender, else the client IP: the
    login is what a compromised password gives a spammer, whatever sender it then writes."""
    conn = message.connection
    return stored_account(conn.auth_user or message.sender or conn.client_ip)
