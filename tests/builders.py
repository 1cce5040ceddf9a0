"""Hand-made values for unit tests: Settings from dict overrides, and well-formed messages."""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from thurac.checks.base import Check, CheckContext
from thurac.config import Settings, parse_settings
from thurac.history import History
from thurac.message import Connection, Direction, Message
from thurac.symbols import Symbol

# What every test site looks like unless a test says otherwise: one local domain, one public MX.
BASE_CONFIG: dict[str, Any] = {
    "local": {
        "domains": ["example.com"],
        "addresses": ["192.0.2.25"],
        "authserv_id": "mx.example.com",
    },
}

SENDER = "news@shop.example"
CLIENT_IP = "198.51.100.7"
RECEIVED_AT = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of mappings; lists and scalars in `extra` replace those in `base`."""
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def make_settings(overrides: Mapping[str, Any] | None = None, /, **sections: Any) -> Settings:
    """Settings as the YAML would give them: BASE_CONFIG, then `overrides`, then `sections`.

    make_settings(frequency={"max_factor": 2}) changes one key and keeps every other default.
    """
    data = _merge(_merge(BASE_CONFIG, overrides or {}), sections)
    return parse_settings(data, "test.yaml")


def make_message(
    sender: str = SENDER,
    recipients: Sequence[str] = ("alice@example.com",),
    *,
    to: Sequence[str] | None = None,
    cc: Sequence[str] = (),
    extra_headers: Sequence[tuple[str, str]] = (),
    without: Collection[str] = (),
    client_ip: str = CLIENT_IP,
    helo: str = "mail.shop.example",
    tls_version: str | None = "TLSv1.3",
    auth_user: str | None = None,
    direction: Direction = "inbound",
    queue_id: str = "4TQ1D2",
) -> Message:
    """A well-formed message (From, To, Date, Message-ID, Subject) unless told otherwise.

    `to` defaults to the envelope recipients; `without` names default fields to leave out;
    `extra_headers` are appended after them.
    """
    visible_to = list(recipients) if to is None else list(to)
    headers: list[tuple[str, str]] = [
        ("From", f"Shop <{sender or 'mailer-daemon@shop.example'}>"),
        ("To", ", ".join(visible_to) or "undisclosed-recipients:;"),
        ("Date", "Mon, 06 May 2024 07:08:09 +0000"),
        ("Message-ID", "<20240506070809.1234@shop.example>"),
        ("Subject", "Spring sale"),
    ]
    if cc:
        headers.append(("Cc", ", ".join(cc)))
    dropped = {name.lower() for name in without}
    headers = [(n, v) for n, v in headers if n.lower() not in dropped]
    headers.extend(extra_headers)
    return Message(
        connection=Connection(
            client_ip=client_ip, helo=helo, tls_version=tls_version, auth_user=auth_user
        ),
        sender=sender,
        recipients=tuple(recipients),
        headers=tuple(headers),
        body=b"Hello.\r\n",
        queue_id=queue_id,
        received_at=RECEIVED_AT,
        direction=direction,
    )


def local_users(count: int, domain: str = "example.com") -> tuple[str, ...]:
    """`count` distinct recipient addresses in one of our domains."""
    return tuple(f"user{i}@{domain}" for i in range(count))


def names(symbols: Sequence[Symbol]) -> list[str]:
    """Symbol names in the order they were found."""
    return [s.name for s in symbols]


def only(symbols: Sequence[Symbol], name: str) -> Symbol:
    """The one symbol called `name` (fails the test if it is absent or repeated)."""
    found = [s for s in symbols if s.name == name]
    assert len(found) == 1, f"expected exactly one {name}, got {names(symbols)}"
    return found[0]


def run_check(check: Check, message: Message, ctx: CheckContext,
              history: History | None = None) -> list[Symbol]:
    """The check's symbols, after making sure it emitted only symbols it declares."""
    found = check.check(message, History() if history is None else history, ctx)
    assert set(names(found)) <= set(check.symbols)
    return found
