"""Whose outbound mail it is: the account its counts, limits and suspension are kept under."""

from __future__ import annotations

import ipaddress
import re

from thurac.lists import EntryError, normal_value
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


_LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._+=-]*$")


def parse_account(text: str) -> str:
    """An account an operator typed (`thurac account …`): a login name, an address or an IP
    address, in the form the store keys it by; ValueError says what was expected."""
    expected = "expected a login name (alice), an address (alice@example.com) or an IP address"
    value = text.strip()
    if not value or len(value) > ACCOUNT_MAX or not value.isprintable() or " " in value:
        raise ValueError(f"{text!r} is not an account: {expected}")
    if "@" in value:
        if value.count("@") != 1:
            raise ValueError(f"{text!r} is not an account: {expected}")
        try:
            return normal_value("address", value)
        except EntryError as exc:
            raise ValueError(f"{exc}: {expected}") from None
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        pass
    account = stored_account(value)
    if not _LOGIN_RE.match(account):
        raise ValueError(f"{text!r} is not an account: {expected}")
    return account
