"""What the store knew before a message (the value the checks read), and the keys it is
counted under. Pure values: the SQL that fills them is in store/history.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from thurac.config import Settings
from thurac.message import Message
from thurac.outbound.account import account_of
from thurac.text import printable_text

KEY_KINDS = ("sender", "domain", "ip")
ACCOUNT = "account"  # the rate-key kind of outbound mail (thurac.outbound.account)


@dataclass(frozen=True, slots=True)
class WindowCount:
    messages: int = 0
    recipients: int = 0
    unrelated: int = 0


@dataclass(frozen=True, slots=True)
class History:
    """What the store knew before this message; `available` is False when it could not be read."""

    available: bool = True
    # (key kind, window seconds) -> counts before this message; kinds: sender, domain, ip
    windows: Mapping[tuple[str, int], WindowCount] = field(default_factory=dict)
    sender_messages: int = 0  # inbound messages seen from the envelope sender, ever
    sender_written_to: bool = False  # a local user has written to the envelope sender
    related_recipients: frozenset[str] = frozenset()  # recipients with a prior exchange
    # Complaints within complaints.window: key kind (sender, domain, ip) → distinct
    # reporters, each counted at its weight (1 trusted, complaints.untrusted_weight else).
    complaints: Mapping[str, float] = field(default_factory=dict)
    # Advertising from this message's advertiser in the last 24 h, per recipient.
    ad_counts: Mapping[str, int] = field(default_factory=dict)
    # Outbound: recipients who complained about the account's mail (OUT_SUPPRESSED).
    suppressed: frozenset[str] = frozenset()

    @classmethod
    def unknown(cls) -> History:
        """History when the store is away: no penalties that need the past."""
        return cls(available=False)

    def window(self, kind: str, seconds: int) -> WindowCount:
        return self.windows.get((kind, seconds), WindowCount())

    def unrelated(self, recipients: Sequence[str]) -> tuple[str, ...]:
        """Those of `recipients` with no prior exchange with the sender (the check judges
        them; the recorder counts them)."""
        return tuple(r for r in recipients if r not in self.related_recipients)


def as_utc(when: datetime) -> datetime:
    """A stored time as an aware UTC time (SQLite hands back naive ones, meaning UTC)."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def epoch_minute(when: datetime) -> int:
    return int(when.timestamp() // 60)


def stored_text(value: str, limit: int) -> str:
    """Text as the store keeps it: valid UTF-8, no NUL (PostgreSQL refuses it), bounded.

    Keys are written and looked up in this form, so a sender's 8-bit junk matches its own rows.
    """
    return printable_text(value).replace("\x00", "\ufffd")[:limit]


def keys_of(message: Message) -> dict[str, str]:
    """The rate keys of a message; null senders (bounces) count by client IP only."""
    keys = {"ip": stored_text(message.connection.client_ip, 320)}
    if message.sender:
        keys["sender"] = stored_text(message.sender, 320)
        keys["domain"] = stored_text(message.sender_domain, 320)
    return keys


def rate_keys(message: Message) -> dict[str, str]:
    """The keys a message is counted under: outbound mail by its account only."""
    if message.direction == "outbound":
        return {ACCOUNT: account_of(message)}
    return keys_of(message)


def window_lengths(settings: Settings) -> list[int]:
    lengths = {w.seconds for w in settings.frequency.windows}
    lengths.add(settings.unrelated_recipients.window)
    outbound = settings.outbound
    lengths.update(w.seconds for w in (*outbound.windows, *outbound.suspend_limits))
    return sorted(lengths)


def bucket_minutes(settings: Settings) -> int:
    """Minutes of rate buckets some window still reads: the longest window, plus the minute
    in progress and one for clocks of MX hosts a little apart."""
    return max(window_lengths(settings)) // 60 + 2
