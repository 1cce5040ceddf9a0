"""YAML → frozen, validated settings. Unknown keys are errors; errors name file and key path."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_origin

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from thurac.errors import ConfigError
from thurac.lists import EntryError, Kind, ListEntry, ListName, normal_value
from thurac.symbols import CATALOGUE, default_scores

ENV_VAR = "THURAC_CONFIG"
DEFAULT_PATHS = (Path("config/thurac.yaml"), Path("/etc/thurac/thurac.yaml"))

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _network(value: Any) -> Network:
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise ValueError("expected an IP network such as 192.0.2.0/24 or 2001:db8::/32") from None


def _address(value: Any) -> Address:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise ValueError("expected an IP address such as 192.0.2.1") from None


NetworkField = Annotated[Network, BeforeValidator(_network)]
AddressField = Annotated[Address, BeforeValidator(_address)]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Ratio = Annotated[float, Field(ge=0, le=1)]


def _compilable(patterns: tuple[str, ...]) -> tuple[str, ...]:
    """Regular expressions from YAML, each checked to compile."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return patterns


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _one_item_list(cls, value: Any, info: ValidationInfo) -> Any:
        """`domains: example.com` means a list of one: YAML writers drop the brackets."""
        if isinstance(value, str) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            if get_origin(annotation) is tuple:
                return [value]
        return value


_SOCKET_RE = re.compile(r"^(inet:\d{1,5}(@\S+)?|inet6:\d{1,5}(@\S+)?|unix:/\S+|local:/\S+)$")


class MilterSettings(_Section):
    socket: str = "inet:8894@127.0.0.1"
    on_error: Literal["accept", "tempfail"] = "accept"
    timeout: PositiveInt = 600  # seconds libmilter waits on an idle MTA connection
    max_body_bytes: PositiveInt = 10 * 1024 * 1024  # body kept for checks; the rest is not buffered
    max_headers: PositiveInt = 1000  # header fields kept for checks and the header log
    deadline: PositiveFloat = 20.0  # seconds for all checks of one message
    # Threads that compute verdicts (history read, DNS, checks): messages scored at once.
    # Most of a verdict's time is DNS waiting, so more threads than cores pay off.
    workers: Annotated[int, Field(ge=1, le=512)] = 32
    # unix sockets only: the MTA (Postfix runs as user postfix) must be able to connect.
    socket_group: str = "postfix"
    socket_mode: Annotated[str, Field(pattern=r"^0?[0-7]{3}$")] = "0660"
    # Started as root: serve as this user and group (group empty: the user's own), after
    # giving it the store's, the spool's, the socket's and the pid file's folders. Empty:
    # stay who started thurac (under systemd the unit's User= does it).
    user: str = ""
    group: str = ""
    # Empty: /run/thurac/thurac.pid when /run/thurac exists (systemd's RuntimeDirectory=),
    # else none. `thurac reload` reads it.
    pid_file: Annotated[str, Field(pattern=r"^(/.*)?$")] = ""

    @field_validator("socket")
    @classmethod
    def _socket_form(cls, value: str) -> str:
        if not _SOCKET_RE.match(value):
            raise ValueError("expected inet:PORT@HOST, inet6:PORT@HOST or unix:/PATH")
        return value


class DatabaseSettings(_Section):
    url: str = "sqlite:////var/lib/thurac/thurac.db"
    header_log_days: Annotated[int, Field(ge=180)] = 180  # Decree 91/2020 art. 10.6: at least 180
    # Events outlive their header blocks for the statistics reports; deleting an event
    # deletes its header-log row, so events are kept at least as long.
    event_days: Annotated[int, Field(gt=0, validate_default=True)] = 400
    # Correspondents (who wrote to whom), inbound senders' totals and the Message-IDs our
    # users sent are forgotten when not seen for this long: a year covers a yearly exchange.
    correspondent_days: Annotated[int, Field(ge=1, le=36500)] = 365
    # PostgreSQL: seconds to wait for a connection before the message goes on without history.
    connect_timeout: Annotated[int, Field(ge=1, le=60)] = 3
    # History the database could not take waits here and is replayed when it answers.
    # Empty: derived from the database in use (beside a SQLite file, as <name>.spool.jsonl;
    # under /var/lib/thurac for a server), so two daemons never share one spool.
    spool_path: str = ""
    spool_max_bytes: PositiveInt = 100 * 1024 * 1024
    # Seconds between attempts to replay the spool (and to migrate a store that was away
    # at start) while the database is away.
    spool_replay_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    # Seconds a sender's, domain's or IP's window sums stay in memory between reads, with
    # this process's own messages added at once (store/window_cache.py). What another
    # writer adds meanwhile is missed for that long. None: 1 on SQLite, 0 (off) on PostgreSQL.
    window_cache_seconds: Annotated[float, Field(ge=0, le=60)] | None = None

    @field_validator("url")
    @classmethod
    def _url_form(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError("expected a SQLAlchemy URL: sqlite:///PATH or postgresql://...")
        return value

    @field_validator("event_days")
    @classmethod
    def _events_outlive_headers(cls, value: int, info: ValidationInfo) -> int:
        headers = info.data.get("header_log_days")
        if headers is not None and value < headers:
            raise ValueError(f"must be at least database.header_log_days ({headers}), as "
                             "deleting an event deletes its header-log row")
        return value


class DnsSettings(_Section):
    nameservers: tuple[str, ...] = ()
    timeout: PositiveFloat = 2.0  # one query
    budget: PositiveFloat = 8.0  # all lookups of one message together
    cache_size: PositiveInt = 10000
    # Queries in a row without an answer that mark a nameserver down; while every one is
    # down, lookups give TEMPERROR at once instead of waiting their timeout.
    down_after: Annotated[int, Field(ge=1, le=100)] = 3
    probe_every: Annotated[float, Field(gt=0, le=3600)] = 10.0  # seconds between probes

    @field_validator("nameservers")
    @classmethod
    def _nameserver_form(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from thurac.dns import parse_nameserver

        for entry in value:
            parse_nameserver(entry)
        return value


def default_authserv_id() -> str:
    """This host's name: the FQDN, unless the resolver only knows it as 'localhost'."""
    fqdn = socket.getfqdn()
    return socket.gethostname() if fqdn.startswith("localhost") else fqdn


class LocalSettings(_Section):
    domains: tuple[str, ...] = ()
    internal_networks: tuple[NetworkField, ...] = (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
    )
    authserv_id: str = Field(default_factory=lambda: default_authserv_id())
    # Our own MX addresses: a HELO naming one of them from outside is forged.
    addresses: tuple[AddressField, ...] = ()

    @field_validator("domains")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(d.strip().rstrip(".").lower() for d in value)

    @field_validator("authserv_id")
    @classmethod
    def _token(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9.-]{1,253}$", value):
            raise ValueError("expected a host name (letters, digits, dots, hyphens)")
        return value

    def is_local_address(self, address: str) -> bool:
        domain = address.rpartition("@")[2].lower()
        return "@" in address and any(
            domain == d or domain.endswith("." + d) for d in self.domains
        )


class ActionSettings(_Section):
    mode: Literal["enforce", "tag-only"] = "enforce"
    add_header: float = 5.0  # X-Spam-Flag: YES from this score
    quarantine: float | None = 10.0  # Postfix hold queue
    reject: float | None = 15.0  # 550 5.7.1
    tempfail: float | None = None  # 451 4.7.1 band; off unless set

    @model_validator(mode="after")
    def _ordered(self) -> ActionSettings:
        quarantine, reject = self.quarantine, self.reject
        if reject is not None and quarantine is not None and reject < quarantine:
            raise ValueError("reject must not be below quarantine")
        if self.quarantine is not None and self.quarantine < self.add_header:
            raise ValueError("quarantine must not be below add_header")
        if self.tempfail is not None and not (
            self.add_header <= self.tempfail <= min(t for t in (quarantine, reject, self.tempfail)
                                                      if t is not None)
        ):
            raise ValueError("tempfail must lie between add_header and quarantine/reject")
        return self


class WindowLimits(_Section):
    sender: PositiveInt | None = None
    domain: PositiveInt | None = None
    ip: PositiveInt | None = None


class FrequencyWindow(_Section):
    seconds: PositiveInt
    messages: WindowLimits = WindowLimits()
    recipients: WindowLimits = WindowLimits()


class FrequencySettings(_Section):
    enabled: bool = True
    windows: tuple[FrequencyWindow, ...] = (
        FrequencyWindow(seconds=600, messages=WindowLimits(sender=20, domain=60, ip=60),
                        recipients=WindowLimits(sender=100, domain=300, ip=300)),
        FrequencyWindow(seconds=3600, messages=WindowLimits(sender=60, domain=200, ip=200),
                        recipients=WindowLimits(sender=300, domain=1000, ip=1000)),
        FrequencyWindow(seconds=86400, messages=WindowLimits(sender=300, domain=1000, ip=1000),
                        recipients=WindowLimits(sender=1500, domain=5000, ip=5000)),
    )
    max_factor: Annotated[float, Field(ge=1)] = 3.0  # score grows with count/limit up to this
    ignore_domains: tuple[str, ...] = ()  # shared providers whose domain total means nothing


class OneWaySettings(_Section):
    enabled: bool = True
    min_messages: PositiveInt = 5
    check_mx: bool = True


class UnrelatedSettings(_Section):
    enabled: bool = True
    window: PositiveInt = 86400
    min_recipients: PositiveInt = 10
    ratio: Ratio = 0.8


class TechnologySettings(_Section):
    enabled: bool = True
    check_ptr: bool = True
    dynamic_ptr_patterns: tuple[str, ...] = (
        r"(\d{1,3}[-.]){3}\d{1,3}",
        r"\b(dyn|dynamic|dhcp|dsl|adsl|cable|ppp|pool|dialup|broadband|cust|client)[-.\d]",
    )
    require_tls: bool = True
    mailer_patterns: tuple[str, ...] = (
        r"(?i)\bPHPMailer\b",
        r"(?i)\bMass ?Mailer\b",
        r"(?i)\bAtomic ?Mail\b",
        r"(?i)\bSendBlaster\b",
        r"(?i)\bGroupMail\b",
        r"(?i)\bMaxBulk\b",
    )
    bcc_bulk_recipients: PositiveInt = 10
    open_list_addresses: PositiveInt = 20

    @field_validator("dynamic_ptr_patterns", "mailer_patterns")
    @classmethod
    def _regexes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _compilable(value)


class SpfSettings(_Section):
    enabled: bool = True


class DkimSettings(_Section):
    enabled: bool = True
    min_key_bits: PositiveInt = 1024  # RFC 8301: smaller RSA keys are a failure
    max_key_bits: PositiveInt = 4096  # larger keys are refused: bounds verification cost
    # l= signatures: "count" them as valid but add DKIM_BODY_LENGTH; "ignore" them entirely.
    body_length: Literal["count", "ignore"] = "count"
    max_signatures: PositiveInt = 5  # signatures verified per message


class DmarcSettings(_Section):
    enabled: bool = True
    # Follow the domain owner's policy: p=reject failures are rejected, p=quarantine ones held.
    honor_reject: bool = False
    honor_quarantine: bool = False


class ArcSettings(_Section):
    enabled: bool = True
    # Sealers (d= of ARC-Seal) whose passing chain overrides a DMARC failure (mailing lists).
    trusted_sealers: tuple[str, ...] = ()


class ListEntrySettings(_Section):
    """One `lists.allow` / `lists.block` entry of the YAML file."""

    kind: Kind
    value: str
    reason: str = ""
    expires: date | datetime | None = None  # a date; past it the entry no longer applies

    @model_validator(mode="after")
    def _value_form(self) -> ListEntrySettings:
        try:
            object.__setattr__(self, "value", normal_value(self.kind, self.value))
        except EntryError as exc:
            raise ValueError(str(exc)) from None
        return self

    def entry(self, list_name: ListName) -> ListEntry:
        expires = self.expires
        if isinstance(expires, date) and not isinstance(expires, datetime):
            expires = datetime(expires.year, expires.month, expires.day, tzinfo=UTC)
        elif isinstance(expires, datetime) and expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return ListEntry(list_name, self.kind, self.value, self.reason, "",
                         None, expires, "yaml")


DnsListName = Annotated[str, Field(pattern=r"^[A-Z0-9_]{1,32}$")]


class DnsListSettings(_Section):
    """A list kept by others, asked over DNS: a DNSBL (client IPs) or an RHSBL (domains)."""

    name: DnsListName  # the symbol is DNSBL_<name>
    zone: str
    kind: Literal["ip", "domain"] = "ip"
    # RHSBL: which domains are looked up
    identities: tuple[Literal["sender", "from", "helo"], ...] = ("sender", "from")
    # Answers that count as listed; empty: any 127.0.0.0/8 answer except 127.255.255.0/24
    # (what Spamhaus and others answer for refused or over-quota queries).
    codes: tuple[AddressField, ...] = ()
    score: float = 3.0

    @field_validator("zone")
    @classmethod
    def _zone_form(cls, value: str) -> str:
        try:
            return normal_value("domain", value).lstrip(".")
        except EntryError as exc:
            raise ValueError(str(exc)) from None

    @property
    def symbol(self) -> str:
        return f"DNSBL_{self.name}"


class ListsSettings(_Section):
    # Seconds between reads of the store's `thurac list` entries (a change applies within it).
    refresh_seconds: Annotated[float, Field(gt=0, le=5)] = 5.0
    allow: tuple[ListEntrySettings, ...] = ()
    block: tuple[ListEntrySettings, ...] = ()
    dns: tuple[DnsListSettings, ...] = ()

    @field_validator("dns")
    @classmethod
    def _unique_names(cls, value: tuple[DnsListSettings, ...]) -> tuple[DnsListSettings, ...]:
        names = [zone.name for zone in value]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"name(s) used twice: {', '.join(doubled)}")
        return value

    def entries(self) -> list[ListEntry]:
        return ([e.entry("allow") for e in self.allow] + [e.entry("block") for e in self.block])


class ActionOverrides(_Section):
    """The `actions:` keys a recipient policy may change; the rest come from `actions:`."""

    mode: Literal["enforce", "tag-only"] | None = None
    add_header: float | None = None
    quarantine: float | None = None
    reject: float | None = None
    tempfail: float | None = None


# Sections a recipient policy may switch off (their `enabled` key).
SWITCHABLE_CHECKS = ("frequency", "one_way_source", "unrelated_recipients", "technology",
                     "spf", "dkim", "dmarc", "arc")


class RecipientPolicy(_Section):
    """`policies.<recipient>`: a stricter or looser way to judge mail to some recipients."""

    actions: ActionOverrides = ActionOverrides()
    scores: dict[str, float] = Field(default_factory=dict)
    disable: tuple[Literal[SWITCHABLE_CHECKS], ...] = ()  # type: ignore[valid-type]

    @field_validator("scores", mode="before")
    @classmethod
    def _known(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - set(CATALOGUE), key=str)
            if unknown:
                raise ValueError(f"unknown symbol(s) {', '.join(_shown(n) for n in unknown)}")
        return value


def policy_actions(actions: ActionSettings, policy: RecipientPolicy) -> ActionSettings:
    """`actions:` with the policy's changes on top (validated like `actions:` itself)."""
    changed = policy.actions.model_dump(exclude_none=True)
    return ActionSettings.model_validate({**actions.model_dump(), **changed})


def _policy_key(key: str) -> str:
    kind = "address" if "@" in key else "domain"
    try:
        return normal_value(kind, key)
    except EntryError as exc:
        raise ValueError(f"policy key {key!r}: {exc}") from None


REPLY_PLACEHOLDERS = frozenset({"criterion", "queue_id", "score"})
REPLY_TEMPLATE_MAX = 300  # characters: room left for the criterion within SMTP's line


def _template_form(value: str) -> str:
    if not value.isascii():
        raise ValueError("must be ASCII (write Vietnamese without diacritics: SMTP replies "
                         "are 7-bit unless the client asked for SMTPUTF8)")
    if not value.isprintable():
        raise ValueError("must be one line of printable text")
    if len(value) > REPLY_TEMPLATE_MAX:
        raise ValueError(f"longer than {REPLY_TEMPLATE_MAX} characters")
    unknown = set(re.findall(r"\{(\w*)\}", value)) - REPLY_PLACEHOLDERS
    if unknown:
        known = ", ".join("{" + p + "}" for p in sorted(REPLY_PLACEHOLDERS))
        raise ValueError(f"unknown placeholder(s) "
                         f"{', '.join('{' + u + '}' for u in sorted(unknown))}; known: {known}")
    return value


ReplyTemplate = Annotated[str, AfterValidator(_template_form)]


class ReplyTemplates(_Section):
    reject: ReplyTemplate
    tempfail: ReplyTemplate


class RepliesSettings(_Section):
    """Reject and tempfail texts; {criterion} names the criterion with what was measured."""

    language: Literal["en", "vi"] = "en"
    en: ReplyTemplates = ReplyTemplates(
        reject="Rejected as spam ({criterion}) [queue id {queue_id}]",
        tempfail="Deferred as suspected spam ({criterion}), try again later "
                 "[queue id {queue_id}]")
    vi: ReplyTemplates = ReplyTemplates(
        reject="Thu bi tu choi la thu rac ({criterion}) [ma hang doi {queue_id}]",
        tempfail="Thu tam hoan vi nghi la thu rac ({criterion}), vui long gui lai sau "
                 "[ma hang doi {queue_id}]")


class PostfixSettings(_Section):
    # The instance `thurac quarantine` works on, as Postfix's MAIL_CONFIG names it
    # (MAIL_CONFIG in the environment wins). Empty: Postfix's default.
    config_directory: Annotated[str, Field(pattern=r"^(/.*)?$")] = ""


def _addresses(value: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return tuple(normal_value("address", v) for v in value)
    except EntryError as exc:
        raise ValueError(str(exc)) from None


def _domains(value: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return tuple(normal_value("domain", v).lstrip(".") for v in value)
    except EntryError as exc:
        raise ValueError(str(exc)) from None


def _optional_address(value: str) -> str:
    return _addresses((value,))[0] if value else ""


def _relay(value: str) -> str:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected HOST:PORT such as 127.0.0.1:25")
    return value


class ReportsSettings(_Section):
    """Report mailboxes (Circular 22/2021 art. 5.3: users report spam by forwarding it)."""

    addresses: tuple[str, ...] = ()  # mail to these is a report, not ordinary mail
    deliver: Literal["keep", "discard"] = "keep"  # keep: a person can still read abuse mail
    # Mailbox providers whose ARF feedback loops are trusted (envelope sender or From domain,
    # with SPF or DKIM passing for it).
    feedback_sources: tuple[str, ...] = ()
    # Forward trusted reports as ARF (e.g. chongthurac@vncert.vn); empty: never.
    forward_to: str = ""
    forward_from: str = ""  # empty: postmaster@<first local domain>
    smtp_relay: str = "127.0.0.1:25"
    # Seconds before a failed forward is tried again (doubling up to 30 min, for 5 days).
    forward_retry_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0

    @field_validator("addresses")
    @classmethod
    def _address_form(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _addresses(value)

    @field_validator("feedback_sources")
    @classmethod
    def _domain_form(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _domains(value)

    @field_validator("forward_to", "forward_from")
    @classmethod
    def _one_address(cls, value: str) -> str:
        return _optional_address(value)

    @field_validator("smtp_relay")
    @classmethod
    def _relay_form(cls, value: str) -> str:
        return _relay(value)

    def is_report_address(self, address: str) -> bool:
        return address.strip().strip("<>").lower() in self.addresses


class ComplaintsSettings(_Section):
    """Complaints raise a source's score: C22_COMPLAINTS (Circular 22/2021 art. 5)."""

    enabled: bool = True
    window: PositiveInt = 30 * 86400  # seconds of complaints that count
    # Weight of a report from someone who is neither a local user nor a listed feedback
    # source: 0 so that a spammer cannot report a competitor.
    untrusted_weight: Ratio = 0.0
    # The score is C22_COMPLAINTS × distinct reporters, up to this many.
    max_factor: Annotated[float, Field(ge=1)] = 3.0
    # Shared providers: complaints against one user of them say nothing about the domain.
    ignore_domains: tuple[str, ...] = ("gmail.com", "yahoo.com", "outlook.com",
                                       "hotmail.com", "icloud.com")
    hash_reporters: bool = False  # store a SHA-256 of the reporter instead of the address
    # An opt-out (ARF opt-out/unsubscribe, or a user's report) blocks that sender for that
    # reporter from then on.
    opt_out_blocks: bool = True


class AdvertisingSettings(_Section):
    """Decree 91/2020 arts. 13 and 20: advertising mail rules."""

    enabled: bool = True
    # Subject labels that say "advertisement" (regular expressions, case-insensitive).
    subject_labels: tuple[str, ...] = (r"^\s*\[\s*(QC|ADV|AD|QUANG CAO)\s*\]",)
    # Header fields (name: value pattern) that make a message look like advertising.
    bulk_headers: tuple[str, ...] = (r"List-Unsubscribe:.*", r"Precedence:\s*bulk",
                                     r"X-Campaign(-Id)?:.*", r"X-Mailchimp-.*:.*",
                                     r"X-SG-EID:.*", r"X-Mailgun-.*:.*", r"X-MC-User:.*")
    daily_limit: PositiveInt = 3  # per advertiser and recipient in 24 h, without agreement
    # Opt-out wording looked for in the last text part (regular expressions, any case).
    optout_patterns: tuple[str, ...] = (r"từ chối nhận", r"tu choi nhan",
                                        r"h(ủ|u|ư)[yỷ] đăng ký", r"huy dang ky",
                                        r"ngừng nhận", r"unsubscribe", r"opt[ -]?out")
    # Recipient domains that must not get unsolicited advertising (certified-mail/PEC-
    # style and government domains).
    protected_domains: tuple[str, ...] = ()

    @field_validator("subject_labels", "bulk_headers", "optout_patterns")
    @classmethod
    def _regexes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _compilable(value)

    @field_validator("protected_domains")
    @classmethod
    def _domain_form(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _domains(value)


class OutboundWindow(_Section):
    """One window of an account's outbound mail; omit a limit to not check it."""

    seconds: PositiveInt
    messages: PositiveInt | None = None
    recipients: PositiveInt | None = None
    unrelated: PositiveInt | None = None  # recipients the account never exchanged mail with


class OutboundActions(_Section):
    tag: float = 5.0  # X-Spam-* headers from this score (only with outbound.add_headers)
    hold: float | None = 10.0  # Postfix hold queue
    tempfail: float | None = None  # 451 4.7.1 with outbound.replies' text; off unless set

    @model_validator(mode="after")
    def _ordered(self) -> OutboundActions:
        if self.hold is not None and self.hold < self.tag:
            raise ValueError("hold must not be below tag")
        if self.tempfail is not None and not (
                self.tag <= self.tempfail <= (self.hold if self.hold is not None
                                              else self.tempfail)):
            raise ValueError("tempfail must lie between tag and hold")
        return self


class OutboundReplies(_Section):
    tempfail: ReplyTemplate
    suspended: ReplyTemplate


class OutboundRepliesSettings(_Section):
    """What our own users' mail clients show (the language is replies.language)."""

    en: OutboundReplies = OutboundReplies(
        tempfail="Your message was not sent ({criterion}); try again later or contact "
                 "support [queue id {queue_id}]",
        suspended="Your account is suspended for sending suspected spam ({criterion}); "
                  "please contact support [queue id {queue_id}]")
    vi: OutboundReplies = OutboundReplies(
        tempfail="Thu chua duoc gui ({criterion}); vui long thu lai sau hoac lien he bo "
                 "phan ho tro [ma hang doi {queue_id}]",
        suspended="Tai khoan cua ban bi tam khoa vi gui thu nghi la thu rac ({criterion}); "
                  "vui long lien he bo phan ho tro [ma hang doi {queue_id}]")


class OutboundSettings(_Section):
    """Decree 91/2020 art. 10.4: our own users' mail, judged per account (docs/outbound.md)."""

    enabled: bool = True
    add_headers: bool = False  # X-Spam-* on outbound mail; off: nothing is added
    actions: OutboundActions = OutboundActions()
    windows: tuple[OutboundWindow, ...] = (
        OutboundWindow(seconds=600, messages=100, recipients=300, unrelated=50),
        OutboundWindow(seconds=3600, messages=300, recipients=1000, unrelated=150),
        OutboundWindow(seconds=86400, messages=1000, recipients=3000, unrelated=500),
    )
    max_factor: Annotated[float, Field(ge=1)] = 3.0  # score grows with count/limit up to this
    # Past any of these the account is suspended (hard limits, same form as windows).
    suspend_limits: tuple[OutboundWindow, ...] = (OutboundWindow(seconds=600, unrelated=100),)
    # What a suspended account's mail gets: 550 5.7.1, 451 4.7.1, or the hold queue.
    suspend_answer: Literal["reject", "tempfail", "hold"] = "reject"
    suspend_for: PositiveInt | None = None  # seconds; unset: until `thurac account release`
    # Seconds between reads of the suspensions (every host sharing the store sees a change
    # within it).
    refresh_seconds: Annotated[float, Field(gt=0, le=5)] = 2.0
    technology: bool = True  # OUT_TECH_*: mailer fingerprints, BCC bulk, open lists
    complaints: bool = True  # OUT_COMPLAINTS: reports about the account's mail
    suppression: bool = True  # OUT_SUPPRESSED: hold mail to a recipient who complained
    notify: str = ""  # postmaster address told of each automatic suspension; empty: nobody
    notify_from: str = ""  # empty: thurac@<local.authserv_id>
    smtp_relay: str = "127.0.0.1:25"  # where the notice is sent (a durable queue retries)
    replies: OutboundRepliesSettings = OutboundRepliesSettings()

    @field_validator("notify", "notify_from")
    @classmethod
    def _one_address(cls, value: str) -> str:
        return _optional_address(value)

    @field_validator("smtp_relay")
    @classmethod
    def _relay_form(cls, value: str) -> str:
        return _relay(value)


class MetricsSettings(_Section):
    # The Prometheus endpoint, IP:PORT ([IPv6]:PORT); empty: not served (docs/metrics.md).
    listen: str = ""

    @field_validator("listen")
    @classmethod
    def _listen_form(cls, value: str) -> str:
        from thurac.metrics import parse_listen

        if value:
            parse_listen(value)
        return value


class LogSettings(_Section):
    # Besides standard error, every record to syslog (facility mail, ident thurac).
    syslog: bool = False
    syslog_socket: Annotated[str, Field(pattern=r"^/\S+$")] = "/dev/log"


class Settings(_Section):
    milter: MilterSettings = MilterSettings()
    database: DatabaseSettings = DatabaseSettings()
    dns: DnsSettings = DnsSettings()
    local: LocalSettings = LocalSettings()
    actions: ActionSettings = ActionSettings()
    scores: dict[str, float] = Field(default_factory=default_scores)
    frequency: FrequencySettings = FrequencySettings()
    one_way_source: OneWaySettings = OneWaySettings()
    unrelated_recipients: UnrelatedSettings = UnrelatedSettings()
    technology: TechnologySettings = TechnologySettings()
    spf: SpfSettings = SpfSettings()
    dkim: DkimSettings = DkimSettings()
    dmarc: DmarcSettings = DmarcSettings()
    arc: ArcSettings = ArcSettings()
    lists: ListsSettings = ListsSettings()
    replies: RepliesSettings = RepliesSettings()
    postfix: PostfixSettings = PostfixSettings()
    reports: ReportsSettings = ReportsSettings()
    complaints: ComplaintsSettings = ComplaintsSettings()
    advertising: AdvertisingSettings = AdvertisingSettings()
    metrics: MetricsSettings = MetricsSettings()
    log: LogSettings = LogSettings()
    outbound: OutboundSettings = OutboundSettings()
    # Keyed by recipient address, domain, or .domain (it and its subdomains).
    policies: dict[str, RecipientPolicy] = Field(default_factory=dict)

    @field_validator("policies", mode="before")
    @classmethod
    def _policy_keys(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {_policy_key(str(key)): policy for key, policy in value.items()}

    @field_validator("policies", mode="after")
    @classmethod
    def _policies_apply(cls, value: dict[str, RecipientPolicy],
                        info: ValidationInfo) -> dict[str, RecipientPolicy]:
        # Each policy's thresholds, merged onto actions:, must make sense on their own.
        actions = info.data.get("actions")
        if actions is None:
            return value  # actions: itself is wrong; that error is reported
        for key, policy in value.items():
            try:
                policy_actions(actions, policy)
            except ValidationError as exc:
                problem = " ".join(exc.errors()[0]["msg"].removeprefix("Value error, ").split())
                raise ValueError(f"{key}.actions: {problem}") from None
        return value

    @field_validator("scores", mode="before")
    @classmethod
    def _known_symbols(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        unknown = sorted(set(value) - set(CATALOGUE), key=str)  # YAML keys may be numbers
        if unknown:
            raise ValueError(f"unknown symbol(s) {', '.join(_shown(n) for n in unknown)}; "
                             "see docs/symbols.md for the list")
        return {**default_scores(), **value}

    def score(self, name: str) -> float:
        if name in self.scores:
            return self.scores[name]
        if name in CATALOGUE:
            return CATALOGUE[name].default_score
        for zone in self.lists.dns:  # DNSBL_<name>: declared by the config itself
            if zone.symbol == name:
                return zone.score
        raise KeyError(name)


def _shown(name: object) -> str:
    """A key as an error shows it: quoted when it is not plain printable text, so that a
    control character in a mistyped key cannot break the one-line-per-problem form."""
    text = str(name)
    return text if text.isprintable() and text.strip() == text and text else repr(text)


def _key(part: object) -> str:
    return f"[{part}]" if isinstance(part, int) else f".{_shown(part)}"


def _format_errors(path: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = "".join(_key(p) for p in err["loc"])
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
        msg = " ".join(err["msg"].removeprefix("Value error, ").split())  # one line, always
        if err["type"] == "extra_forbidden":
            msg, shown = "unknown key (see docs/configuration.md for the keys)", ""
        elif err["type"] in ("tuple_type", "list_type"):
            msg = "expected a list such as [a, b] (a single value may stand alone)"
        lines.append(f"{path}: {loc.lstrip('.') or '(top level)'}: {msg}{shown}")
    return "\n".join(lines)


def parse_settings(data: Any, source: str = "<config>") -> Settings:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: (top level): expected a mapping of sections")
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from None


def resolve_path(explicit: str | os.PathLike[str] | None) -> Path:
    """--config, then $THURAC_CONFIG, then config/thurac.yaml, then /etc/thurac/thurac.yaml."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    for candidate in DEFAULT_PATHS:
        if candidate.exists():
            return candidate
    return DEFAULT_PATHS[0]


def load(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read and validate the YAML file; raise ConfigError naming file, key path and expectation."""
    where = resolve_path(path)
    try:
        text = where.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        # One line per problem, as every config error: PyYAML's own text spans several.
        raise ConfigError(f"{where}: {at}invalid YAML: {' '.join(str(problem).split())}") from None
    return parse_settings(data, str(where))


def internal_networks(settings: Settings) -> Sequence[Network]:
    return settings.local.internal_networks
