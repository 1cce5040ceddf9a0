"""A corpus of hostile mail, generated: everything a sender can put into one SMTP transaction
to crash, stall or fool a milter, for tests that show thurac answers every message and never
lets a sender write a header line through a value thurac echoes.

    for message in hostile_messages(2000, seed=7):
        message.publish(dns)            # SPF loops, DKIM keys, PTR names it needs
        ... send message.sender, message.recipients, message.raw, message.helo ...
        problems = header_problems(header_fields(delivered_raw), message)

The generator is deterministic for a seed (a seeded `random.Random`; DKIM and ARC signatures
carry a fixed t=, made with a key derived from the seed), so a failing message can be rebuilt
by name. It cycles through KINDS, each a named kind of hostility (NUL bytes, bare CR/LF,
invalid UTF-8, 10,000-character lines, 1,000 headers, unterminated and 100-deep MIME, RFC 2047
display names that decode to fake header lines, IDN homographs, absurd DKIM tags, huge keys,
ARC chains of 60 sets, SPF include loops, our own Authentication-Results in odd case and
folding, ...), with "mutation" (byte flips, truncation, duplicated or removed header lines,
CR/LF/NUL insertion into realistic messages) weighted heaviest. `smtp=True` keeps only what
can be said over SMTP (no CR/LF/NUL in HELO or envelope; at most 40 Received lines, so that
Postfix does not bounce for hop count; bodies of at most 3 MB).

The expensive ones are separate: huge_body_message (50 MB), many_recipients_message (1,000
RCPT TO) and huge_dkim_key_message (a 16,384-bit key, served in DNS as a modulus of that size:
OpenSSL takes minutes to make a real one, and what matters is that thurac refuses it by its
size before any RSA work). hostile_strategy() gives the same kinds as a hypothesis strategy.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import math
import random
import re
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from unittest import mock

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import strategies as st
from tests.support.dkim_keys import PUBLIC_EXPONENT, TestKey, probable_prime

CORPUS_ZONE = "corpus.test"  # every name the corpus publishes lives under it
LOCAL_DOMAIN = "example.test"
AUTHSERV_ID = "mx.example.test"
INJECTED = "X-Injected"  # the header name every injection attempt tries to create
SELECTOR = "sel"
SIGNED_AT = 1_700_000_000  # t= of every corpus signature (in the past: not "from the future")
SMTP_MAX_BODY = 3 * 1024 * 1024
SMTP_MAX_RECEIVED = 40  # Postfix bounces above hopcount_limit (50) Received lines

# What thurac writes, and what an MTA on the way may add to a message.
SPAM_HEADERS = ("X-Spam-Flag", "X-Spam-Score", "X-Spam-Status", "X-Thurac-Report")
AUTHRES = "Authentication-Results"
OUR_HEADERS = frozenset(h.lower() for h in (*SPAM_HEADERS, AUTHRES))
MTA_HEADERS = frozenset({"received", "x-mailbox-line"})  # Postfix: a leading mbox "From "
MAX_OUR_LINE = 900  # bytes in one line of a header thurac writes
CRLF = "\r\n"


# -- the values -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DnsRecord:
    """One record a message needs published (TestDnsServer.add's arguments)."""

    name: str
    rdtype: str
    value: str | bytes | list[bytes]


class Zone(Protocol):
    def add(self, name: str, rdtype: str, value: Any, ttl: int = 60) -> None: ...


@dataclass(frozen=True)
class Hostile:
    """One hostile SMTP transaction: envelope, HELO, the bytes after DATA, the DNS it needs."""

    name: str  # "<kind>-<index>": unique in one corpus
    kind: str
    sender: str
    recipients: tuple[str, ...]
    raw: bytes
    helo: str = "mail.remote.test"
    client_ip: str | None = None  # None: the test uses its usual external address
    dns: tuple[DnsRecord, ...] = ()
    # Header names the sender tries to create through a value thurac may echo (an encoded
    # display name, a HELO, a DNS record...): none may appear in the delivered message.
    forbidden: tuple[str, ...] = ()
    note: str = ""  # what is hostile about it, in words

    @property
    def smtputf8(self) -> bool:
        """The envelope needs SMTPUTF8 (MAIL FROM:<...> SMTPUTF8)."""
        return not all(a.isascii() for a in (self.sender, *self.recipients))

    @property
    def smtp_safe(self) -> bool:
        """HELO and envelope can be said over SMTP as they are."""
        def ok(text: str) -> bool:
            return not any(c in text for c in "\r\n\x00<>") and text.isprintable()
        return (self.helo.isascii() and ok(self.helo) and " " not in self.helo
                and ok(self.sender) and all(ok(r) and r for r in self.recipients))

    def publish(self, zone: Zone) -> None:
        for record in self.dns:
            zone.add(record.name, record.rdtype, record.value)

    def __repr__(self) -> str:  # the bytes can be 50 MB: name it, do not print it
        return f"Hostile({self.name!r}, {self.note!r}, {len(self.raw)} bytes)"

    def describe(self) -> str:
        return (f"{self.name} [{self.note}] helo={self.helo[:60]!r} from={self.sender[:80]!r} "
                f"rcpts={len(self.recipients)} ip={self.client_ip} bytes={len(self.raw)} "
                f"head={self.raw[:160]!r}")


# -- keys and signatures ----------------------------------------------------------------------

def _prime(rng: random.Random, bits: int) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if probable_prime(candidate):
            return candidate


@functools.lru_cache(maxsize=8)
def corpus_key(seed: int = 0, bits: int = 1024) -> TestKey:
    """An RSA key derived from `seed` (the same key every run), and its DKIM record."""
    rng = random.Random(f"thurac-corpus-key-{seed}-{bits}")
    while True:
        p, q = _prime(rng, bits // 2), _prime(rng, bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and math.gcd(PUBLIC_EXPONENT, phi) == 1:
            break
    d = pow(PUBLIC_EXPONENT, -1, phi)
    key = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p),
                                rsa.RSAPublicNumbers(PUBLIC_EXPONENT, p * q)).private_key()
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    record = f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
    return TestKey(private, record, b"rsa-sha256", bits)


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    encoded = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(encoded)]) + encoded + content


def _der_int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def rsa_key_record_of_size(bits: int, rng: random.Random) -> str:
    """A DKIM key record whose RSA modulus has exactly `bits` bits (not a usable key: it is
    what a verifier reads to learn the size, built without searching for primes)."""
    modulus = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
    rsa_oid = _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
    public = _der(0x30, _der_int(modulus) + _der_int(PUBLIC_EXPONENT))
    spki = _der(0x30, rsa_oid + _der(0x03, b"\x00" + public))
    return f"v=DKIM1; k=rsa; p={base64.b64encode(spki).decode()}"


class _FixedClock:
    """dkimpy's view of time while the corpus signs: t= is the same every run."""

    @staticmethod
    def time() -> float:
        return float(SIGNED_AT)


def dkim_sign(raw: bytes, key: TestKey, domain: str, selector: str = SELECTOR, *,
              length: bool = False, canonicalize: tuple[bytes, bytes] = (b"relaxed", b"relaxed"),
              ) -> bytes:
    """`raw` with a real DKIM-Signature prepended (t= fixed, so the bytes are reproducible)."""
    with mock.patch.object(dkim, "time", _FixedClock):
        header: bytes = dkim.sign(raw, selector.encode(), domain.encode(), key.private,
                                  canonicalize=canonicalize, length=length)
    return header + raw


def arc_seal(raw: bytes, key: TestKey, domain: str, hop: int) -> bytes:
    """`raw` with one more real ARC set, sealed by `domain` (an A-R of that hop first)."""
    arc = "" if hop == 1 else " arc=pass;"  # the first sealer has no chain to judge
    stamped = f"Authentication-Results: {domain};{arc} spf=pass\r\n".encode() + raw
    lines: list[bytes] = dkim.arc_sign(stamped, SELECTOR.encode(), domain.encode(), key.private,
                                       domain.encode(), timestamp=SIGNED_AT)
    return b"".join(lines) + stamped


# -- reading headers the way an MTA does ------------------------------------------------------

_NAME = re.compile(r"^([!-9;-~]+)[ \t]*:")  # printable ASCII but colon, optional WSP, colon
_ANY_NAME = re.compile(rb"^([^\s:]+)[ \t]*:")


def split_message(raw: bytes, *, refolded: bool = False,
                  ) -> tuple[list[tuple[str, str]], bytes]:
    """Header fields (name, value as sent, continuation lines joined by LF) and the body.

    Lines end at LF (a CR before it dropped), as in Postfix; bare CR stays in the line. The
    header section ends at an empty line or at the first line that is neither a header nor
    a continuation, which then starts the body. Values keep their leading white space.

    `refolded`: read a copy an MTA delivered, which folds every line over 998 octets
    (Postfix's smtp_line_length_limit), a header name too: a line without a colon that
    continuation lines follow is joined to them first, and the name read without the
    white space the fold put in it."""
    fields: list[tuple[str, str]] = []
    pending = ""  # refolded: a colon-less line waiting for its continuation
    pos = 0
    size = len(raw)
    while pos < size:
        end = raw.find(b"\n", pos)
        stop = size if end < 0 else end
        line = raw[pos:stop]
        line = line[:-1] if line.endswith(b"\r") else line
        following = size if end < 0 else end + 1
        if not line:
            return fields, raw[following:]
        text = line.decode("utf-8", "surrogateescape")
        if pending and text[0] in " \t":
            text = pending + text
            pending = ""
            name, colon, value = text.partition(":")
            if colon and name.split() and "".join(name.split()).isprintable():
                fields.append(("".join(name.split()), value))
                pos = following
                continue
        elif pending:
            break
        if text[0] in " \t":
            if not fields:
                break
            name, value = fields[-1]
            fields[-1] = (name, f"{value}\n{text}")
        else:
            match = _NAME.match(text)
            if match is None:
                if refolded and not pending:
                    pending = text
                    pos = following
                    continue
                break
            fields.append((match.group(1), text[match.end():]))
        pos = following
    return fields, raw[pos:]


def header_fields(raw: bytes, *, refolded: bool = False) -> list[tuple[str, str]]:
    return split_message(raw, refolded=refolded)[0]


_BLANK_LINE = re.compile(rb"\n\r?\n")


def _sent_names(raw: bytes) -> frozenset[str]:
    """Every name that starts any line of `raw`, however lines are cut (CR, LF, NUL) and
    whether NUL or bare CR bytes are dropped or blanked on the way: a generous list of what
    the sender wrote itself."""
    names = set()
    blank = _BLANK_LINE.search(raw)  # an MTA's header section ends before the first one
    raw = raw[:blank.end()] if blank else raw
    for variant in (raw, raw.replace(b"\x00", b""), raw.replace(b"\x00", b" "),
                    re.sub(rb"\r(?!\n)", b"", raw)):
        for line in re.split(rb"\r\n|\r|\n|\x00", variant):
            match = _ANY_NAME.match(line)
            if match:
                names.add(match.group(1).decode("utf-8", "surrogateescape").lower())
    return frozenset(names)


def _skip_cfws(text: str, index: int) -> int:
    depth = 0
    while index < len(text):
        char = text[index]
        if depth and char == "\\":
            index += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth and not char.isspace():
            return index
        index += 1
    return index


def claimed_authserv_id(value: str) -> str:
    """The authserv-id an Authentication-Results value starts with (RFC 8601 2.2: CFWS, then
    a token or a quoted-string), lowercased, a trailing dot dropped; "" when there is none.
    Written apart from thurac.authresults on purpose: the oracle that judges thurac's
    removal of forged copies must not share its parser."""
    start = _skip_cfws(value, 0)
    if start >= len(value):
        return ""
    if value[start] == '"':
        end = value.find('"', start + 1)
        found = value[start + 1:end if end > 0 else len(value)]
    else:
        match = re.match(r"[^\s;()\"]+", value[start:])
        found = match.group(0) if match else ""
    return found.strip().rstrip(".").lower()


def _line_problems(name: str, value: str) -> list[str]:
    problems = []
    lines = re.split(r"\r?\n", value)
    for number, line in enumerate(lines):
        if number and line[:1] not in (" ", "\t"):
            problems.append(f"{name}: line {number + 1} starts a new header: {line[:80]!r}")
        if "\r" in line or "\x00" in line:
            problems.append(f"{name}: CR or NUL in line {number + 1}: {line[:80]!r}")
        if len(line.encode("utf-8", "surrogateescape")) > MAX_OUR_LINE:
            problems.append(f"{name}: line {number + 1} is {len(line.encode())} bytes")
    return problems


def header_problems(fields: Sequence[tuple[str, str]], message: Hostile, *,
                    authserv_id: str = AUTHSERV_ID, scored: bool = True) -> list[str]:
    """What is wrong with the header of `message` as delivered (`fields`), in words:

    - a header thurac writes missing or twice (X-Spam-*, X-Thurac-Report; one
      Authentication-Results naming our authserv-id, in any case or spelling);
    - a header name the sender only smuggled in an echoed value (message.forbidden), or any
      name the sender never wrote that neither thurac nor the MTA adds;
    - a line of ours that starts a new header, carries CR or NUL, or is over 900 bytes.
    """
    problems: list[str] = []
    sent = _sent_names(message.raw)
    counts: dict[str, int] = {}
    ours_claimed = 0
    for name, value in fields:
        key = name.strip().lower()
        counts[key] = counts.get(key, 0) + 1
        if key == AUTHRES.lower() and claimed_authserv_id(value) == authserv_id.lower():
            ours_claimed += 1
            problems += _line_problems(name, value)
        elif key in OUR_HEADERS - {AUTHRES.lower()}:
            problems += _line_problems(name, value)
        if key in {f.lower() for f in message.forbidden} and key not in sent:
            problems.append(f"injected header line {name}: {value[:120]!r}")
        elif key not in sent and key not in OUR_HEADERS and key not in MTA_HEADERS:
            problems.append(f"header {name!r} that the sender never wrote: {value[:120]!r}")
    wanted = 1 if scored else 0
    for name in SPAM_HEADERS:
        if counts.get(name.lower(), 0) != wanted:
            problems.append(f"{name} {counts.get(name.lower(), 0)} times, expected {wanted}")
    if scored and ours_claimed != 1:
        problems.append(f"{ours_claimed} Authentication-Results claim {authserv_id}, "
                        "expected exactly ours")
    return problems


# -- building blocks --------------------------------------------------------------------------

INJECTIONS = (
    "\r\nX-Injected: yes",
    "\nX-Injected: lf",
    "\rX-Injected: cr",
    "\r\n\r\nX-Injected: after-blank-line",
    "\x00\r\nX-Injected: nul",
    "\u2028X-Injected: line-separator",
    "\u0085X-Injected: nel",
    "\r\nX-Spam-Flag: NO",
    "\r\nX-Spam-Status: No, score=-100",
    f"\r\nAuthentication-Results: {AUTHSERV_ID}; dkim=pass; spf=pass",
    "\r\nBcc: victim@example.test",
)
INJECTED_NAMES = (INJECTED, "Bcc")
_VIETNAMESE = "Thư rác: khuyến mãi đặc biệt, nhận quà ngay hôm nay! Xin chào Nguyễn Văn Ánh"
_INVALID_UTF8 = (b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\x80\x80", b"\xf5\xff",
                 b"\xf8\x88\x80\x80\x80", b"\xfe\xfe\xff\xff", b"\xc3", b"\xef\xbf\xbe",
                 b"\xf4\x90\x80\x80")
_HOMOGRAPHS = ("pаypal.com", "аррӏе.com", "gооgle.com", "mісrosoft.com", "vіetcombank.com.vn",
               "xn--pypal-4ve.com", "xn--80ak6aa92e.com", "xn--", "xn--zz", "xn--a.xn--b",
               "paypal。com", "ｐａｙｐａｌ.com", "ex\u200dample.com", "b\u00fccher.de",
               "xn--bcher-kva.de", "\u202eevil\u202c.com", "münchen.test",
               "a" * 64 + ".com", ".".join(["x" * 60] * 6))
_HEADER_POOL = ("From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
                "Reply-To", "Sender", "X-Mailer", "User-Agent", "MIME-Version", "Content-Type",
                "Content-Transfer-Encoding", "DKIM-Signature", "ARC-Seal",
                "ARC-Message-Signature", "ARC-Authentication-Results", "Authentication-Results",
                "X-Spam-Flag", "X-Spam-Status", "X-Thurac-Report", "List-Unsubscribe",
                "Return-Path", "X-Priority", "Comments", "Keywords")
_JUNK_BYTES = b"\x00\x01\x08\t\n\r \"(),:;<>@[\\]\x7f\x80\x85\xa0\xc3\xe2\xed\xfe\xff="
_CONTROLS = ("\r", "\n", "\r\n", "\x00", "\r\r\n", "\n\r", "\r\n\r\n", "\r\n \r\n", "\t", "\x0b")


def in_header(text: str) -> str:
    """`text` made fit for a raw header line: its line breaks become folds (CRLF + space),
    so the sender writes one field, which an MTA unfolds into a value with LF in it."""
    return re.sub(r"\r\n|\r|\n", "\r\n ", text)


def encoded_word(text: str, rng: random.Random, charset: str = "utf-8") -> str:
    """`text` as one RFC 2047 encoded word, B or Q, in random case."""
    data = text.encode(charset, "replace")
    if rng.random() < 0.5:
        payload = base64.b64encode(data).decode()
        word = f"=?{charset}?{rng.choice('bB')}?{payload}?="
    else:
        payload = "".join(chr(b) if chr(b) in string.ascii_letters + string.digits
                          else "_" if b == 32 else f"={b:02X}" for b in data)
        word = f"=?{charset}?{rng.choice('qQ')}?{payload}?="
    return word.upper() if rng.random() < 0.2 else word


def _filler(rng: random.Random, size: int, alphabet: bytes = b"") -> bytes:
    """`size` bytes, cheap for any size: a small draw expanded by a local generator."""
    local = random.Random(rng.getrandbits(32))
    if alphabet:
        tile = bytes(local.choices(alphabet, k=min(size, 65536)))
        return (tile * (size // max(1, len(tile)) + 1))[:size]
    return local.randbytes(size)


def _text_lines(rng: random.Random, size: int, width: int = 76) -> bytes:
    chunk = _filler(rng, max(1, size * 3 // 4 + 3))
    encoded = base64.b64encode(chunk)[:size]
    return b"\r\n".join(encoded[i:i + width] for i in range(0, len(encoded), width)) + b"\r\n"


@dataclass
class _Env:
    """What a builder needs: its random source, its index, and where the corpus lives."""

    rng: random.Random
    index: int
    kind: str
    seed: int
    smtp: bool
    local_domain: str
    authserv_id: str
    records: list[DnsRecord] = field(default_factory=list)

    @property
    def domain(self) -> str:
        """The sender's domain: unique to this message, so its records are its own."""
        return f"{self.kind}-{self.index}.{CORPUS_ZONE}"

    @property
    def sender(self) -> str:
        local = self.rng.choice(("news", "info", "noreply", "an.nguyen", "billing", "x"))
        return f"{local}@{self.domain}"

    def rcpt(self) -> str:
        return f"{self.rng.choice(('user', 'bob', 'ann', 'lan'))}{self.rng.randrange(40)}" \
               f"@{self.local_domain}"

    def record(self, name: str, rdtype: str, value: str | bytes | list[bytes]) -> None:
        self.records.append(DnsRecord(name, rdtype, value))

    def key(self) -> TestKey:
        return corpus_key(self.seed)

    def publish_key(self, domain: str, selector: str = SELECTOR) -> TestKey:
        key = self.key()
        self.record(f"{selector}._domainkey.{domain}", "TXT", key.record)
        return key

    def make(self, raw: bytes, note: str, *, sender: str | None = None,
             recipients: Sequence[str] | None = None, helo: str | None = None,
             client_ip: str | None = None, forbidden: Sequence[str] = ()) -> Hostile:
        return Hostile(
            name=f"{self.kind}-{self.index}", kind=self.kind,
            sender=self.sender if sender is None else sender,
            recipients=tuple(recipients) if recipients is not None else (self.rcpt(),),
            raw=raw, helo=f"mail.{self.domain}" if helo is None else helo,
            client_ip=client_ip, dns=tuple(self.records), forbidden=tuple(forbidden),
            note=note,
        )


def _head(env: _Env, sender: str, *, subject: str = "hello", extra: str = "",
          rcpt: str | None = None) -> str:
    """A plain header block (no blank line), CRLF-terminated lines."""
    return (f"From: {sender}\r\nTo: {rcpt or env.rcpt()}\r\nSubject: {subject}\r\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0700\r\n"
            f"Message-ID: <{env.kind}.{env.index}@{env.domain}>\r\n{extra}")


def _plain(env: _Env, sender: str, *, subject: str = "hello", extra: str = "",
           body: bytes = b"Hello.\r\n") -> bytes:
    head = _head(env, sender, subject=subject, extra=extra)
    return head.encode("utf-8", "surrogateescape") + b"\r\n" + body


# -- realistic base messages, for mutations ---------------------------------------------------


def _base_thunderbird(env: _Env, sender: str) -> bytes:
    return (f"Message-ID: <{env.index}.thunderbird@{env.domain}>\r\n"
            "Date: Mon, 23 Nov 2026 10:00:00 +0700\r\nMIME-Version: 1.0\r\n"
            "User-Agent: Mozilla Thunderbird\r\nContent-Language: vi\r\n"
            f"To: {env.rcpt()}\r\n"
            f"From: =?UTF-8?Q?Nguy=e1=bb=85n_V=c4=83n_An?= <{sender}>\r\n"
            "Subject: =?UTF-8?Q?B=c3=a1o_c=c3=a1o_th=c3=a1ng_11?=\r\n"
            "Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            "Chào anh,\r\n\r\nEm gửi báo cáo tháng 11, anh xem giúp em nhé.\r\n\r\n"
            "-- \r\nAn\r\n").encode()


def _base_outlook(env: _Env, sender: str) -> bytes:
    boundary = f"_000_{env.index:08d}PSAPR06MB4421apcp_"
    return (f"Received: from PSAPR06MB4421.apcprd06.prod.outlook.com (2603:1096:301:6f::9)\r\n"
            " by SG2PR06MB3200.apcprd06.prod.outlook.com with HTTPS; Mon, 23 Nov 2026\r\n"
            " 03:00:00 +0000\r\n"
            f"From: Tran Thi Binh <{sender}>\r\nTo: {env.rcpt()}\r\n"
            "Subject: RE: Hop dong so 42/2026\r\nThread-Topic: Hop dong so 42/2026\r\n"
            "Thread-Index: AdnC3ZbK4Zx0N1sERUy5Gq0Dq3J0rA==\r\n"
            "Date: Mon, 23 Nov 2026 03:00:00 +0000\r\n"
            f"Message-ID: <PSAPR06MB44{env.index:06d}@PSAPR06MB4421.apcprd06.prod.outlook.com>\r\n"
            f"In-Reply-To: <prev.{env.index}@{LOCAL_DOMAIN}>\r\n"
            f"References: <first.{env.index}@{LOCAL_DOMAIN}> <prev.{env.index}@{LOCAL_DOMAIN}>\r\n"
            "Accept-Language: en-US, vi-VN\r\nContent-Language: en-US\r\n"
            "X-MS-Has-Attach:\r\nX-MS-TNEF-Correlator:\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/alternative;\r\n\tboundary=\"{boundary}\"\r\n\r\n"
            f"--{boundary}\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            "Dear team,=0D=0A=0D=0APlease find the signed contract attached. Regar=\r\n"
            "ds,=0D=0ABinh\r\n\r\n"
            f"--{boundary}\r\nContent-Type: text/html; charset=\"us-ascii\"\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            "<html><head><meta http-equiv=3D\"Content-Type\" content=3D\"text/html; cha=\r\n"
            "rset=3Dus-ascii\"></head><body><p>Dear team,</p><p>Please find the sign=\r\n"
            "ed contract attached.</p></body></html>\r\n\r\n"
            f"--{boundary}--\r\n").encode()


def _base_attachment(env: _Env, sender: str) -> bytes:
    boundary = f"000000000000{env.index:010x}"
    body = (f"--{boundary}\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\r\n"
            "Gui anh file hoa don.\r\n\r\n"
            f"--{boundary}\r\nContent-Type: application/pdf; name=\"hoa-don.pdf\"\r\n"
            "Content-Disposition: attachment; filename=\"hoa-don.pdf\"\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            f"Content-ID: <f_{env.index}>\r\nX-Attachment-Id: f_{env.index}\r\n\r\n")
    raw = (f"MIME-Version: 1.0\r\nDate: Mon, 23 Nov 2026 10:00:00 +0700\r\n"
           f"Message-ID: <CAG{env.index}x@mail.{env.domain}>\r\n"
           "Subject: Hoa don thang 11\r\n"
           f"From: Le Van Cuong <{sender}>\r\nTo: {env.rcpt()}\r\n"
           f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
           f"{body}").encode() + _text_lines(env.rng, 3000) + f"--{boundary}--\r\n".encode()
    domain = sender.rpartition("@")[2]
    return dkim_sign(raw, env.publish_key(domain), domain)


def _base_mailing_list(env: _Env, sender: str) -> bytes:
    raw = (f"From: Pham Minh <{sender}>\r\nTo: dev@lists.{env.domain}\r\n"
           f"Subject: [dev] Release 2.1 candidate\r\n"
           f"Date: Mon, 23 Nov 2026 10:00:00 +0700\r\n"
           f"Message-ID: <list.{env.index}@{env.domain}>\r\n"
           f"List-Id: Developers <dev.lists.{env.domain}>\r\n"
           f"List-Unsubscribe: <mailto:dev-leave@lists.{env.domain}>\r\n"
           f"List-Post: <mailto:dev@lists.{env.domain}>\r\nPrecedence: list\r\n"
           f"Sender: dev-bounces@lists.{env.domain}\r\n"
           f"Errors-To: dev-bounces@lists.{env.domain}\r\n\r\n"
           "The 2.1 candidate is tagged. Please test.\r\n\r\n"
           "_______________________________________________\r\n"
           f"dev mailing list\r\ndev@lists.{env.domain}\r\n").encode()
    sealer = f"lists.{env.domain}"
    env.publish_key(sealer)
    return arc_seal(raw, env.key(), sealer, 1)


def _base_bounce(env: _Env, sender: str) -> bytes:
    boundary = f"{env.index}.1700000000/mail.{env.domain}"
    return (f"From: MAILER-DAEMON@mail.{env.domain} (Mail Delivery System)\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            f"To: {env.rcpt()}\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status;\r\n"
            f"\tboundary=\"{boundary}\"\r\n"
            f"Message-Id: <{env.index}.bounce@mail.{env.domain}>\r\n"
            "Date: Mon, 23 Nov 2026 10:00:00 +0700\r\n\r\n"
            "This is a MIME-encapsulated message.\r\n\r\n"
            f"--{boundary}\r\nContent-Description: Notification\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            "I'm sorry to have to inform you that your message could not\r\n"
            "be delivered to one or more recipients.\r\n\r\n"
            f"--{boundary}\r\nContent-Description: Delivery report\r\n"
            "Content-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; mail.{env.domain}\r\n\r\n"
            f"Final-Recipient: rfc822; nobody@{env.domain}\r\nAction: failed\r\n"
            "Status: 5.1.1\r\nDiagnostic-Code: X-Postfix; unknown user\r\n\r\n"
            f"--{boundary}\r\nContent-Description: Undelivered Message Headers\r\n"
            "Content-Type: text/rfc822-headers\r\n\r\n"
            f"From: {env.rcpt()}\r\nTo: nobody@{env.domain}\r\nSubject: hi\r\n\r\n"
            f"--{boundary}--\r\n").encode()


def _base_newsletter(env: _Env, sender: str) -> bytes:
    html = ("<html><body><table width=3D\"600\"><tr><td><h1>Khuy=E1=BA=BFn m=C3=A3i</h1>"
            "<img src=3D\"https://track.example/open?id=3D" + str(env.index) + "\" width=3D1>"
            "</td></tr></table></body></html>")
    wrapped = "=\r\n".join(html[i:i + 75] for i in range(0, len(html), 75))
    return (f"Date: Mon, 23 Nov 2026 10:00:00 +0700\r\nTo: {env.rcpt()}\r\n"
            f"From: Shop <{sender}>\r\nSubject: =?UTF-8?B?S2h1eeG6v24gbcOjaQ==?=\r\n"
            f"Message-ID: <{env.index}@shop.{env.domain}>\r\nX-Mailer: PHPMailer 6.9.1\r\n"
            f"List-Unsubscribe: <https://shop.{env.domain}/u?{env.index}>\r\n"
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/html; charset=UTF-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + wrapped + "\r\n").encode()


def _base_forwarded(env: _Env, sender: str) -> bytes:
    inner = (f"From: someone@{env.domain}\r\nTo: {sender}\r\nSubject: original\r\n"
             "Date: Sun, 22 Nov 2026 09:00:00 +0700\r\n"
             f"Message-ID: <inner.{env.index}@{env.domain}>\r\n\r\noriginal text\r\n")
    return (f"From: {sender}\r\nTo: {env.rcpt()}\r\nSubject: Fwd: original\r\n"
            "Date: Mon, 23 Nov 2026 10:00:00 +0700\r\n"
            f"Message-ID: <fwd.{env.index}@{env.domain}>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"fwd\"\r\n\r\n--fwd\r\n"
            "Content-Type: text/plain\r\n\r\nSee below.\r\n--fwd\r\n"
            "Content-Type: message/rfc822\r\n\r\n" + inner + "--fwd--\r\n").encode()


def _base_calendar(env: _Env, sender: str) -> bytes:
    return (f"From: {sender}\r\nTo: {env.rcpt()}\r\nSubject: Invitation: Hop giao ban\r\n"
            "Date: Mon, 23 Nov 2026 10:00:00 +0700\r\n"
            f"Message-ID: <cal.{env.index}@{env.domain}>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/calendar; charset=UTF-8; method=REQUEST\r\n\r\n"
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
            f"UID:{env.index}@{env.domain}\r\nDTSTART:20261124T020000Z\r\n"
            "SUMMARY:Hop giao ban\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n").encode()


BASES: dict[str, Callable[[_Env, str], bytes]] = {
    "thunderbird": _base_thunderbird, "outlook": _base_outlook, "attachment": _base_attachment,
    "mailing-list": _base_mailing_list, "bounce": _base_bounce, "newsletter": _base_newsletter,
    "forwarded": _base_forwarded, "calendar": _base_calendar,
}


# -- mutations --------------------------------------------------------------------------------


def _head_end(raw: bytes) -> int:
    found = raw.find(b"\r\n\r\n")
    return len(raw) if found < 0 else found + 2


def _header_lines(raw: bytes) -> tuple[list[bytes], bytes]:
    end = _head_end(raw)
    return raw[:end].split(b"\r\n")[:-1], raw[end:]


def _join(lines: list[bytes], rest: bytes) -> bytes:
    return b"".join(line + b"\r\n" for line in lines) + rest


def _m_flip(rng: random.Random, raw: bytes, env: _Env) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 20)):
        if data:
            data[rng.randrange(len(data))] = rng.choice(_JUNK_BYTES)
    return bytes(data)


def _m_truncate(rng: random.Random, raw: bytes, env: _Env) -> bytes:
    return raw[: rng.randrange(len(raw) + 1)]


def _m_duplicate(rng: random.Random, raw: bytes, env: _Env) -> bytes:
    lines, rest = _header_lines(raw)
    if not lines:
        return raw
    at = rng.randrange(len(lines))
    times = rng.choice((1, 2, 5, 50, 300))
    if env.smtp and lines[at].lower().startswith((b"received:", b"delivered-to:")):
        times = min(times, 5)
    lines[at:at + 1] = [lines[at]] * (times + 1)
    return _join(lines, rest)


def _m_remove(rng: random.Random, raw: bytes, env: _Env) -> bytes:
    lines, rest = _header_lines(raw)
    for _ in range(rng.randint(1, 3)):
        if lines:
            del lines[rng.randrange(len(lines))]
    return _join(lines, rest)


def _m_control(rng: random.Random, raw: bytes, env: _Env) -> bytes:
    data = raw
    for _ in range(rng.randint(1, 10)):
        at = rng.randrange(len(data) + 1)
        data = data[:at] + rng.choice(_CONTROLS).encode() + data[at:]
    return data


def _m_shuffle(rng: random.Random, raw: bytes, env: _Env) -> bytes:
    lines, rest = _header_lines(raw)
    rng.shuffle(lines)  # continuation lines may now lead: as malformed as intended
    return _join(lines, rest)


def _m_no_separator(rng: random.Random, raw: bytes, env: _Env) -> bytes:
    return raw.replace(b"\r\n\r\n", b"\r\n", 1)


def _m_garbage_line(rng: random.Random, raw: bytes, env: _Env) -> bytes:
    lines, rest = _header_lines(raw)
    garbage = rng.choice((b"this is not a header", b":no name", b"Name With Space: v",
                          b"\xff\xfe: 8bit name", b"X-A\x00B: nul name", b" ", b"\t",
                          b"Subject", b"=?utf-8?q?x?=: v", b"--boundary", b"."))
    lines.insert(rng.randrange(len(lines) + 1), garbage)
    return _join(lines, rest)


def _m_bare_cr_head(rng: random.Random, raw: bytes, env: _Env) -> bytes:
    end = _head_end(raw)
    return raw[:end].replace(b"\r\n", rng.choice((b"\r", b"\n", b"\n\r"))) + raw[end:]


def _m_repeat(rng: random.Random, raw: bytes, env: _Env) -> bytes:
    if not raw:
        return raw
    start = rng.randrange(len(raw))
    chunk = raw[start:start + rng.randint(1, 200)]
    times = min(rng.choice((2, 10, 1000, 5000)), 200_000 // max(1, len(chunk)))
    return raw[:start] + chunk * times + raw[start:]


def _m_encode_value(rng: random.Random, raw: bytes, env: _Env) -> bytes:
    lines, rest = _header_lines(raw)
    named = [i for i, line in enumerate(lines) if b":" in line and line[:1] not in b" \t"]
    if not named:
        return raw
    at = rng.choice(named)
    name = lines[at].split(b":", 1)[0]
    value = rng.choice((encoded_word(rng.choice(INJECTIONS), rng),
                        "=?utf-8?b?/w==?=", "=?x-unknown?q?=FF=FE?=", "=?utf-8?q?=C3?=",
                        "=?utf-8?b?" + "A" * 5000 + "?=", "=?" * 500, "=?utf-8*vi?q?a?="))
    lines[at] = name + b": " + value.encode()
    return _join(lines, rest)


def _m_case(rng: random.Random, raw: bytes, env: _Env) -> bytes:
    lines, rest = _header_lines(raw)
    out = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if colon and line[:1] not in b" \t":
            name = bytes(c ^ 0x20 if chr(c).isalpha() and rng.random() < 0.5 else c
                         for c in name)
        out.append(name + colon + value)
    return _join(out, rest)


def _m_fold(rng: random.Random, raw: bytes, env: _Env) -> bytes:
    lines, rest = _header_lines(raw)
    fold = rng.choice((b"\r\n ", b"\r\n\t", b"\r\n \r\n "))
    folded = [line.replace(b" ", fold) for line in lines]
    return _join(folded, rest)


def _m_splice(rng: random.Random, raw: bytes, env: _Env) -> bytes:
    other = rng.choice(list(BASES.values()))(env, env.sender)
    return raw[:_head_end(raw)] + other[_head_end(other):]


MUTATIONS: dict[str, Callable[[random.Random, bytes, _Env], bytes]] = {
    "flip": _m_flip, "truncate": _m_truncate, "duplicate": _m_duplicate, "remove": _m_remove,
    "control": _m_control, "shuffle": _m_shuffle, "no-separator": _m_no_separator,
    "garbage-line": _m_garbage_line, "bare-cr-head": _m_bare_cr_head, "repeat": _m_repeat,
    "encode-value": _m_encode_value, "case": _m_case, "fold": _m_fold, "splice": _m_splice,
}


def mutate(raw: bytes, rng: random.Random, env: _Env, count: int) -> tuple[bytes, list[str]]:
    applied = []
    for _ in range(count):
        name = rng.choice(list(MUTATIONS))
        raw = MUTATIONS[name](rng, raw, env)
        applied.append(name)
    return raw, applied


# -- the kinds --------------------------------------------------------------------------------


def k_mutation(env: _Env) -> Hostile:
    rng = env.rng
    sender = env.sender
    base = rng.choice(list(BASES))
    raw, applied = mutate(BASES[base](env, sender), rng, env, rng.randint(1, 4))
    if base == "bounce":
        sender = ""
    return env.make(raw, f"{base} mutated by {'+'.join(applied)}", sender=sender)


def k_nul(env: _Env) -> Hostile:
    rng = env.rng
    sender = env.sender
    places = rng.sample(("subject", "name", "from", "line", "body", "after-head", "zeros"),
                        rng.randint(1, 3))
    subject = "nul\x00here" if "subject" in places else "nul"
    extra = "X-Nul\x00Name: v\r\n" if "name" in places else ""
    extra += "\x00\r\n" if "line" in places else ""
    shown_from = f"An\x00 <{sender}>" if "from" in places else sender
    body = b"body\x00with\x00nuls\r\n" if "body" in places else b"body\r\n"
    if "after-head" in places:
        body = b"\x00" + body
    if "zeros" in places:
        body += b"\x00" * rng.choice((1, 1000, 65536))
    head = (f"From: {shown_from}\r\nTo: {env.rcpt()}\r\nSubject: {subject}\r\n"
            f"Message-ID: <nul.{env.index}@{env.domain}>\r\n{extra}").encode()
    return env.make(head + b"\r\n" + body, f"NUL in {','.join(places)}", sender=sender)


def k_bare_cr_lf(env: _Env) -> Hostile:
    rng = env.rng
    raw = _plain(env, env.sender, body=b"line one\r\nline two\rline three\nline four\r\n")
    style = rng.choice(("lf", "cr", "mixed", "cr-cr-lf", "lf-cr", "cr-in-values", "cr-header"))
    if style == "lf":
        raw = raw.replace(b"\r\n", b"\n")
    elif style == "cr":
        raw = raw.replace(b"\r\n", b"\r")
    elif style == "mixed":
        raw = b"".join(part + rng.choice((b"\r\n", b"\n", b"\r"))
                       for part in raw.split(b"\r\n"))
    elif style == "cr-cr-lf":
        raw = raw.replace(b"\r\n", b"\r\r\n")
    elif style == "lf-cr":
        raw = raw.replace(b"\r\n", b"\n\r")
    elif style == "cr-in-values":
        raw = raw.replace(b"Subject: hello", b"Subject: hel\rlo\rX-Injected: cr")
    else:
        raw = raw.replace(b"\r\nSubject:", b"\rX-Bare: cr\r\nSubject:")
    return env.make(raw, f"line endings: {style}")


def k_8bit_headers(env: _Env) -> Hostile:
    rng = env.rng
    sender = env.sender
    charset = rng.choice(("utf-8", "latin-1", "cp1258", "utf-16-le", "shift_jis"))
    text = _VIETNAMESE.encode(charset, "replace")
    head = (b"From: " + text[:40] + b" <" + sender.encode() + b">\r\n"
            b"To: " + env.rcpt().encode() + b"\r\nSubject: " + text + b"\r\n"
            b"X-Mailer: " + rng.choice((text[:20], b"\xe9\xe8\xff PHPMailer")) + b"\r\n"
            b"Message-ID: <8bit." + str(env.index).encode() + b"@" + env.domain.encode()
            + b">\r\n")
    if rng.random() < 0.5:
        head += b"X-8bit-\xe9: name with 8-bit\r\n"
    if rng.random() < 0.5:
        head += b"Comments: " + _filler(rng, 200, bytes(range(128, 256))) + b"\r\n"
    return env.make(head + b"\r\n" + text + b"\r\n", f"8-bit {charset} in headers",
                    sender=sender)


def k_invalid_utf8(env: _Env) -> Hostile:
    rng = env.rng
    sender = env.sender
    junk = b"".join(rng.choice(_INVALID_UTF8) for _ in range(rng.randint(1, 12)))
    where = rng.choice(("subject", "from", "address", "name", "encoded", "all"))
    subject = b"bad " + junk if where in ("subject", "all") else b"bad"
    display = b"Bad" + junk if where in ("from", "all") else b"Bad"
    address = (b"x" + junk + b"@" + env.domain.encode()) if where in ("address", "all") \
        else sender.encode()
    head = (b"From: " + display + b" <" + address + b">\r\nTo: " + env.rcpt().encode()
            + b"\r\nSubject: " + subject + b"\r\n")
    if where in ("name", "all"):
        head += b"X-" + junk + b": invalid name\r\n"
    if where in ("encoded", "all"):
        head += b"Subject: =?utf-8?b?" + base64.b64encode(junk) + b"?=\r\n"
        head += b"Comments: =?utf-8?q?" + b"".join(b"=%02X" % c for c in junk) + b"?=\r\n"
    return env.make(head + b"\r\n" + junk + b"\r\n", f"invalid UTF-8 ({where})", sender=sender)


def k_long_header_line(env: _Env) -> Hostile:
    rng = env.rng
    sender = env.sender
    name = rng.choice(("Subject", "X-Mailer", "To", "Message-ID", "References", "X-Long",
                       "DKIM-Signature", "Authentication-Results", "From", "Received"))
    size = rng.choice((998, 999, 2048, 2049, 10_000, 10_000, 50_000, 102_400, 150_000))
    shape = rng.choice(("letters", "words", "addresses", "encoded", "no-space", "folded"))
    if shape == "letters":
        value = "A" * size
    elif shape == "words":
        value = " ".join("word" for _ in range(size // 5))
    elif shape == "addresses":
        value = ", ".join(f"u{i}@{env.domain}" for i in range(size // 16))
    elif shape == "encoded":
        value = " ".join(encoded_word("Thư rác " * 4, rng) for _ in range(size // 60))
    elif shape == "no-space":
        value = f"<{'x' * size}@{env.domain}>"
    else:
        value = "\r\n\t".join("folded" for _ in range(size // 8))
    if name == "X-Mailer":
        value = "PHPMailer " + value
    if name == "From":
        value = f"{value[:size]} <{sender}>"
    extra = f"{name}: {value}\r\n"
    return env.make(_plain(env, sender, extra=extra), f"{size}-char {name} ({shape})",
                    sender=sender)


def k_many_headers(env: _Env) -> Hostile:
    rng = env.rng
    sender = env.sender
    count = rng.choice((999, 1000, 1001, 1500, 3000))
    style = rng.choice(("distinct", "same-subject", "from", "to", "dkim", "arc-seal",
                        "our-authres", "spam-flag", "mixed"))
    lines = []
    for i in range(count):
        if style == "distinct":
            lines.append(f"X-Header-{i}: value {i}")
        elif style == "same-subject":
            lines.append(f"Subject: subject {i}")
        elif style == "from":
            lines.append(f"From: u{i}@{env.domain}")
        elif style == "to":
            lines.append(f"To: r{i}@{env.local_domain}")
        elif style == "dkim":
            lines.append(f"DKIM-Signature: v=1; a=rsa-sha256; d={env.domain}; s=s{i}; "
                         "h=from; bh=AAAA; b=AAAA")
        elif style == "arc-seal":
            lines.append(f"ARC-Seal: i={i % 60 + 1}; a=rsa-sha256; cv=pass; d={env.domain}; "
                         "s=sel; b=AAAA")
        elif style == "our-authres":
            lines.append(f"Authentication-Results: {env.authserv_id}; spf=pass")
        elif style == "spam-flag":
            lines.append("X-Spam-Flag: NO")
        else:
            name = rng.choice(_HEADER_POOL)
            if env.smtp and name == "Return-Path":
                name = "X-Return-Path"
            lines.append(f"{name}: {rng.choice(('v', '', 'a' * 80, sender))}")
    extra = "".join(line + CRLF for line in lines)
    return env.make(_plain(env, sender, extra=extra), f"{count} headers ({style})",
                    sender=sender)


def k_mime_unterminated(env: _Env) -> Hostile:
    rng = env.rng
    sender = env.sender
    style = rng.choice(("never-closed", "no-boundary", "empty-boundary", "long-boundary",
                        "unclosed-quote", "part-without-blank", "bad-base64", "bad-qp",
                        "rfc822-truncated", "thousand-params", "rfc2231-broken"))
    ctype = 'multipart/mixed; boundary="b1"'
    body = "--b1\r\nContent-Type: text/plain\r\n\r\npart one\r\n--b1\r\n" \
           "Content-Type: text/html\r\n\r\n<b>two</b>\r\n"
    if style == "no-boundary":
        ctype = "multipart/mixed"
    elif style == "empty-boundary":
        ctype = 'multipart/mixed; boundary=""'
        body = "--\r\n\r\nx\r\n--\r\n"
    elif style == "long-boundary":
        boundary = "b" * 5000
        ctype = f'multipart/mixed; boundary="{boundary}"'
        body = f"--{boundary}\r\n\r\nx\r\n"
    elif style == "unclosed-quote":
        ctype = 'multipart/mixed; boundary="b1'
    elif style == "part-without-blank":
        body = "--b1\r\nContent-Type: text/plain\r\npart text right after headers\r\n"
    elif style == "bad-base64":
        body = "--b1\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!====@@@@\r\nAAA\r\n"
    elif style == "bad-qp":
        body = "--b1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nend=\r\n=Z=\r\n="
    elif style == "rfc822-truncated":
        body = "--b1\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y\r\nSubject: inner"
    elif style == "thousand-params":
        ctype += "".join(f"; p{i}=v{i}" for i in range(1000))
    else:
        body = "--b1\r\nContent-Disposition: attachment; filename*0*=utf-8''%FF%;\r\n" \
               " filename*1=\"unterminated; filename*99*=x\r\n\r\ndata\r\n"
    extra = f"MIME-Version: 1.0\r\nContent-Type: {ctype}\r\n"
    return env.make(_plain(env, sender, extra=extra, body=body.encode()), f"MIME {style}",
                    sender=sender)


def _nested(depth: int, rng: random.Random, closed: bool) -> bytes:
    parts = []
    for level in range(depth):
        if rng.random() < 0.1:
            parts.append("Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n")
        parts.append(f"Content-Type: multipart/mixed; boundary=\"n{level}\"\r\n\r\n--n{level}\r\n")
    parts.append("Content-Type: text/plain\r\n\r\ndeepest\r\n")
    if closed:
        parts.extend(f"--n{level}--\r\n" for level in reversed(range(depth)))
    return "".join(parts).encode()


def k_mime_deep(env: _Env) -> Hostile:
    rng = env.rng
    sender = env.sender
    depth = rng.choice((50, 99, 100, 100, 101, 200))
    closed = rng.random() < 0.6
    head = _head(env, sender, extra="MIME-Version: 1.0\r\n").encode()
    return env.make(head + _nested(depth, rng, closed),
                    f"MIME nested {depth} deep, {'closed' if closed else 'unterminated'}",
                    sender=sender)


def k_many_recipients(env: _Env) -> Hostile:
    rng = env.rng
    sender = env.sender
    count = rng.choice((2, 10, 11, 49, 50, 51, 100))
    rcpts = [f"r{i}.{env.index}@{env.local_domain}" for i in range(count)]
    shown = rng.choice(("all", "none", "undisclosed"))
    to = {"all": ", ".join(rcpts), "none": f"list@{env.domain}",
          "undisclosed": "undisclosed-recipients:;"}[shown]
    raw = (f"From: {sender}\r\nTo: {to}\r\nSubject: to many\r\n"
           f"Message-ID: <rc.{env.index}@{env.domain}>\r\n\r\nhi all\r\n").encode()
    return env.make(raw, f"{count} recipients, To: {shown}", sender=sender, recipients=rcpts)


def k_rfc2047_injection(env: _Env) -> Hostile:
    rng = env.rng
    sender = env.sender
    payload = rng.choice(INJECTIONS)
    word = encoded_word(f"Service{payload}", rng, rng.choice(("utf-8", "iso-8859-1")))
    form = rng.choice(("display", "quoted", "no-address", "split", "unterminated", "address"))
    if form == "display":
        from_value = f"{word} <{sender}>"
    elif form == "quoted":
        from_value = f"\"{word}\" <{sender}>"
    elif form == "no-address":
        from_value = word
    elif form == "split":
        half = len(payload) // 2
        from_value = (f"{encoded_word('Service' + payload[:half], rng)} "
                      f"{encoded_word(payload[half:], rng)} <{sender}>")
    elif form == "unterminated":
        from_value = f"{word[:-2]} <{sender}>"
    else:
        from_value = f"<{word}@{env.domain}>"
    extra = ""
    if rng.random() < 0.5:
        extra += f"X-Mailer: PHPMailer {encoded_word(payload, rng)}\r\n"
    if rng.random() < 0.5:
        extra += f"User-Agent: MassMailer{encoded_word(payload, rng)}\r\n"
    if rng.random() < 0.3:
        extra += f"Reply-To: {encoded_word(payload, rng)} <r@{env.domain}>\r\n"
    raw = (f"From: {from_value}\r\nTo: {env.rcpt()}\r\n"
           f"Subject: {encoded_word('Invoice' + payload, rng)}\r\n"
           f"Message-ID: <inj.{env.index}@{env.domain}>\r\n{extra}\r\nbody\r\n").encode()
    return env.make(raw, f"RFC 2047 {form} carrying {payload!r}", sender=sender,
                    forbidden=INJECTED_NAMES)


def k_echo_injection(env: _Env) -> Hostile:
    """Values thurac quotes in its headers (HELO, envelope sender, X-Mailer, DKIM d=/s=, ARC
    d=) carrying CR/LF, NUL, line separators or header syntax, as far as the channel lets."""
    rng = env.rng
    payload = rng.choice(INJECTIONS)
    domain = env.domain
    sender = env.sender
    helo = f"mail.{domain}"
    where = rng.choice(("helo", "sender", "x-mailer", "dkim-d", "dkim-s", "arc-d", "from"))
    if where == "helo":
        helo = (rng.choice(("x;dkim=pass", "\"quoted\"", "(comment)", "a=b;c", "x\\y",
                            f"{AUTHSERV_ID};spf=pass", "%0d%0aX-Injected:1"))
                if env.smtp else f"mail{payload}")
    elif where == "sender":
        sender = (rng.choice((f"\"a;dkim=pass\"@{domain}", f"\"x\\\"y\"@{domain}",
                              f"a+%0d%0aX-Injected@{domain}", f"\"(c)\"@{domain}"))
                  if env.smtp else f"a{payload}@{domain}")
    extra = ""
    if where == "x-mailer":
        extra = f"X-Mailer: PHPMailer{in_header(payload)}\r\n"
    elif where in ("dkim-d", "dkim-s"):
        tricky = f"{domain};{in_header(payload)}" if rng.random() < 0.5 else \
            f"{domain}\" dkim=pass (x"
        d_tag, s_tag = (tricky, SELECTOR) if where == "dkim-d" else (domain, tricky)
        extra = (f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={d_tag};\r\n"
                 f" s={s_tag}; h=from:to; bh=AAAA; b=AAAA\r\n")
    elif where == "arc-d":
        extra = (f"ARC-Seal: i=1; a=rsa-sha256; cv=none; d={domain}{in_header(payload)};"
                 f" s=sel; b=AAAA\r\nARC-Message-Signature: i=1; a=rsa-sha256; d={domain};"
                 " s=sel; h=from; bh=AAAA; b=AAAA\r\n"
                 f"ARC-Authentication-Results: i=1; {domain}; spf=pass\r\n")
    from_value = f"{in_header(payload)} <x@>" if where == "from" else sender
    raw = (f"From: {from_value}\r\nTo: {env.rcpt()}\r\nSubject: echo\r\n"
           f"Message-ID: <echo.{env.index}@{domain}>\r\n{extra}\r\nbody\r\n").encode()
    return env.make(raw, f"echoed {where} carrying {payload!r}", sender=sender, helo=helo,
                    forbidden=INJECTED_NAMES)


def k_idn_homograph(env: _Env) -> Hostile:
    rng = env.rng
    look = rng.choice(_HOMOGRAPHS)
    where = rng.choice(("from", "from", "envelope", "helo", "dkim", "both"))
    sender = env.sender
    helo = f"mail.{env.domain}"
    if where in ("envelope", "both"):
        # Over SMTP a UTF-8 envelope needs SMTPUTF8 (the test asks for it).
        sender = f"sérvice@pаypal-{env.index}.{CORPUS_ZONE}" if env.smtp else f"sérvice@{look}"
    if where == "helo":
        helo = look if not env.smtp else "xn--80ak6aa92e.com"
    display = rng.choice(("PayPal", "Vietcombank", "\u202eLaPyaP", "Apple Support",
                          "Ｍｉｃｒｏｓｏｆｔ"))
    extra = ""
    if where == "dkim":
        extra = (f"DKIM-Signature: v=1; a=rsa-sha256; d={look}; s=sel; h=from; bh=AAAA; "
                 "b=AAAA\r\n")
    raw = (f"From: {display} <service@{look}>\r\nTo: {env.rcpt()}\r\n"
           f"Subject: Your account is locked\r\nMessage-ID: <idn.{env.index}@{env.domain}>\r\n"
           f"{extra}\r\nVerify at https://{look}/login\r\n").encode()
    return env.make(raw, f"homograph {look!r} in {where}", sender=sender, helo=helo)


_ABSURD_TAGS = (
    ("v", ("2", "", "1; v=1", "DKIM1")),
    ("a", ("rsa-sha1024", "", "ed25519-sha256", "rsa-sha1", "RSA-SHA256", "x" * 300)),
    ("c", ("bogus/bogus", "relaxed/relaxed/relaxed", "", "simple/", "/")),
    ("d", ("", ".", "d" * 300, LOCAL_DOMAIN, "a;b", "münchen.test", "..", "[127.0.0.1]")),
    ("s", ("", "../../etc/passwd", "s" * 300, "a.b.c.d.e.f.g.h", "s\r\n\tb")),
    ("h", ("", "x-none", ":".join(["from"] * 10_000), "from:" * 3, "to")),
    ("l", ("-1", "0", "99999999999999999999999999", "abc", "1e9", "")),
    ("t", ("99999999999999999999", "-5", "now", "")),
    ("x", ("1", "0", "-1", "99999999999999999999")),
    ("q", ("dns/zzz", "", "http", "dns/txt:dns/txt")),
    ("i", ("@other.test", "x", "@" + "i" * 300, "")),
    ("bh", ("!!!!", "", "A" * 100_000, "=" * 20)),
    ("b", ("", "!!!", "A" * 65_536, "A===")),
    ("z", ("From:a|To:b" * 500, "", "|||")),
)
_ABSURD_KEYS = ("v=DKIM1; k=rsa; p=!!!notbase64!!!", "v=DKIM1; k=xyz; p=AAAA",
                "v=DKIM1; h=md5; k=rsa; p=MIGfMA0G", "v=DKIM1; t=y:s; p=", "v=DKIM2; p=AAAA",
                ";" * 4000, "v=DKIM1; k=ed25519; p=AAAA", "v=DKIM1; k=rsa; p=" + "A" * 8000,
                "v=DKIM1\x00; p=AAAA", "v=DKIM1; k=rsa; p=MA==", "v=DKIM1; p=" + "/" * 400)


def _signature_value(env: _Env, domain: str, changes: dict[str, str]) -> str:
    tags = {"v": "1", "a": "rsa-sha256", "c": "relaxed/relaxed", "d": domain, "s": SELECTOR,
            "t": str(SIGNED_AT), "h": "from:to:subject", "bh": "AAAA", "b": "AAAA"}
    tags.update(changes)
    return "; ".join(f"{k}={v}" for k, v in tags.items())


def k_dkim_absurd(env: _Env) -> Hostile:
    rng = env.rng
    domain = env.domain
    sender = env.sender
    key_kind = rng.choice(("real", "absurd", "none"))
    if key_kind == "real":
        env.publish_key(domain)
    elif key_kind == "absurd":
        env.record(f"{SELECTOR}._domainkey.{domain}", "TXT", rng.choice(_ABSURD_KEYS))
    signatures = []
    for _ in range(rng.randint(1, 4)):
        changes = dict((tag, rng.choice(values))
                       for tag, values in rng.sample(_ABSURD_TAGS, rng.randint(1, 4)))
        form = rng.random()
        if form < 0.1:
            signatures.append(rng.choice(("garbage without tags", "=;=;=;", "v1 a b c",
                                          "d=a; d=b; d=c", "\xff\xfe=\x00")))
        elif form < 0.2:
            signatures.append(_signature_value(env, domain, changes) + "".join(
                f"; zz{i}=1" for i in range(rng.choice((100, 1000)))))
        else:
            signatures.append(_signature_value(env, domain, changes))
    raw = _plain(env, sender)
    if key_kind == "real" and rng.random() < 0.5:
        raw = dkim_sign(raw, env.key(), domain)  # one good signature among the absurd ones
    extra = "".join(f"DKIM-Signature: {value}\r\n" for value in signatures)
    return env.make(extra.encode("utf-8", "surrogateescape") + raw,
                    f"{len(signatures)} absurd DKIM signature(s), key {key_kind}", sender=sender)


def k_dkim_huge_key(env: _Env) -> Hostile:
    rng = env.rng
    bits = rng.choice((4097, 8192, 16384, 16384, 32768, 65536))
    return _huge_key_message(env, bits)


def _huge_key_message(env: _Env, bits: int) -> Hostile:
    domain = env.domain
    sender = env.sender
    env.record(f"{SELECTOR}._domainkey.{domain}", "TXT",
               rsa_key_record_of_size(bits, env.rng))
    raw = _plain(env, sender, subject=f"{bits}-bit key")
    signature = _signature_value(env, domain, {"b": base64.b64encode(
        _filler(env.rng, bits // 8)).decode()})
    return env.make(f"DKIM-Signature: {signature}\r\n".encode() + raw,
                    f"DKIM key of {bits} bits in DNS", sender=sender)


def k_dkim_many_signatures(env: _Env) -> Hostile:
    rng = env.rng
    domain = env.domain
    sender = env.sender
    env.publish_key(domain)
    raw = _plain(env, sender)
    real = rng.choice((0, 1, 6, 20))
    for _ in range(real):
        raw = dkim_sign(raw, env.key(), domain)
    junk = rng.choice((5, 50, 200))
    extra = "".join(f"DKIM-Signature: {_signature_value(env, f'j{i}.{domain}', {})}\r\n"
                    for i in range(junk))
    return env.make(extra.encode() + raw, f"{real} real and {junk} junk DKIM signatures",
                    sender=sender)


def _arc_set(instance: int | str, domain: str, cv: str = "pass") -> str:
    return (f"ARC-Seal: i={instance}; a=rsa-sha256; t={SIGNED_AT}; cv={cv}; d={domain};"
            f" s={SELECTOR}; b=AAAA\r\n"
            f"ARC-Message-Signature: i={instance}; a=rsa-sha256; c=relaxed/relaxed; d={domain};"
            f" s={SELECTOR}; h=from:to:subject; bh=AAAA; b=AAAA\r\n"
            f"ARC-Authentication-Results: i={instance}; {domain}; spf=pass\r\n")


@functools.lru_cache(maxsize=4)
def _real_arc_chain(seed: int, hops: int) -> bytes:
    """A message with `hops` real ARC sets (expensive to seal: made once per seed)."""
    key = corpus_key(seed)
    raw = (f"From: list@arc-chain.{CORPUS_ZONE}\r\nTo: user@{LOCAL_DOMAIN}\r\n"
           "Subject: sealed many times\r\nDate: Mon, 23 Nov 2026 10:00:00 +0700\r\n"
           f"Message-ID: <arc.chain.{seed}@{CORPUS_ZONE}>\r\n\r\nforwarded and forwarded\r\n"
           ).encode()
    for hop in range(1, hops + 1):
        raw = arc_seal(raw, key, f"hop{hop}.arc-chain.{CORPUS_ZONE}", hop)
    return raw


def k_arc_chain(env: _Env) -> Hostile:
    rng = env.rng
    domain = env.domain
    sender = env.sender
    style = rng.choice(("sixty", "sixty-cycling", "real-fifty-plus-ten", "real-three-mutated",
                        "odd-instances", "two-hundred", "missing-parts"))
    body = _plain(env, sender)
    if style == "sixty":
        sets = "".join(_arc_set(i, f"s{i}.{domain}") for i in range(60, 0, -1))
    elif style == "sixty-cycling":
        sets = "".join(_arc_set(i % 50 + 1, f"s{i}.{domain}") for i in range(60))
    elif style == "two-hundred":
        sets = "".join(_arc_set(i % 50 + 1, f"s{i}.{domain}") for i in range(200))
    elif style == "odd-instances":
        sets = "".join(_arc_set(i, domain, cv) for i, cv in zip(
            ("0", "-1", str(2 ** 64), "abc", "", "1; i=2"),
            ("pass", "fail", "absurd", "", "none", "pass"), strict=True))
    elif style == "missing-parts":
        sets = "".join(_arc_set(i, domain).split("\r\n", 1)[rng.randrange(2)].rstrip()
                       + "\r\n" for i in range(1, 11))
    else:
        key = env.key()
        hops = 50 if style == "real-fifty-plus-ten" else 3
        chain = _real_arc_chain(env.seed, hops)
        for hop in range(1, hops + 1):
            env.record(f"{SELECTOR}._domainkey.hop{hop}.arc-chain.{CORPUS_ZONE}", "TXT",
                       key.record)
        if style == "real-fifty-plus-ten":
            extra = "".join(_arc_set(i, f"s{i}.{domain}") for i in range(60, 50, -1))
            return env.make(extra.encode() + chain, "50 real ARC sets and 10 more",
                            sender=f"list@arc-chain.{CORPUS_ZONE}")
        mutated, applied = mutate(chain, rng, env, 1)
        return env.make(mutated, f"3 real ARC sets, {applied[0]}",
                        sender=f"list@arc-chain.{CORPUS_ZONE}")
    return env.make(sets.encode() + body, f"ARC {style}", sender=sender)


def k_spf_loop(env: _Env) -> Hostile:
    rng = env.rng
    domain = env.domain
    style = rng.choice(("self-include", "mutual", "redirect-self", "redirect-ring",
                        "include-redirect", "deep-chain", "too-many-includes", "many-mx"))
    other = f"b.{domain}"
    if style == "self-include":
        env.record(domain, "TXT", f"v=spf1 include:{domain} -all")
    elif style == "mutual":
        env.record(domain, "TXT", f"v=spf1 include:{other} -all")
        env.record(other, "TXT", f"v=spf1 include:{domain} -all")
    elif style == "redirect-self":
        env.record(domain, "TXT", f"v=spf1 redirect={domain}")
    elif style == "redirect-ring":
        ring = [domain, other, f"c.{domain}"]
        for here, there in zip(ring, ring[1:] + ring[:1], strict=True):
            env.record(here, "TXT", f"v=spf1 redirect={there}")
    elif style == "include-redirect":
        env.record(domain, "TXT", f"v=spf1 include:{other} redirect={other}")
        env.record(other, "TXT", f"v=spf1 redirect={domain}")
    elif style == "deep-chain":
        for level in range(30):
            env.record(f"l{level}.{domain}" if level else domain, "TXT",
                       f"v=spf1 include:l{level + 1}.{domain} -all")
    elif style == "too-many-includes":
        env.record(domain, "TXT", "v=spf1 " + " ".join(
            f"include:i{i}.{domain}" for i in range(15)) + " -all")
        for i in range(15):
            env.record(f"i{i}.{domain}", "TXT", "v=spf1 a mx -all")
    else:
        env.record(domain, "TXT", "v=spf1 mx -all")
        for i in range(25):
            env.record(domain, "MX", f"{i} mx{i}.{domain}")
    return env.make(_plain(env, env.sender), f"SPF {style}")


def k_spf_absurd(env: _Env) -> Hostile:
    rng = env.rng
    domain = env.domain
    sender = env.sender
    style = rng.choice(("void-lookups", "macros", "long-name", "huge-record", "two-records",
                        "8bit", "crlf-injection", "exp-injection", "bad-cidr", "empty-include",
                        "many-strings"))
    record: str | bytes | list[bytes]
    if style == "void-lookups":
        record = "v=spf1 " + " ".join(f"a:n{i}.{domain}" for i in range(8)) + " -all"
    elif style == "macros":
        record = ("v=spf1 exists:%{l}.%{l}.%{l}.%{l}.%{d}.%{i}.%{h}.%{v}.%{p}."
                  f"{domain} exists:%{{l500r-}}.{domain} exists:%{{ir}}.%{{d2}}.x -all")
        sender = f"{'very.long.local.part.' * 3}x@{domain}"
    elif style == "long-name":
        record = "v=spf1 include:" + ".".join(["a" * 63] * 5) + " -all"
    elif style == "huge-record":
        record = "v=spf1 " + " ".join(f"ip4:10.{i // 256}.{i % 256}.0/24"
                                      for i in range(300)) + " -all"
    elif style == "two-records":
        env.record(domain, "TXT", "v=spf1 -all")
        record = "v=spf1 +all"
    elif style == "8bit":
        record = b"v=spf1 a:\xff\xfe." + domain.encode() + b" include:\xc3\x28 -all"
    elif style == "crlf-injection":
        record = f"v=spf1 ip4:192.0.2.1\r\nX-Injected: spf\r\n -all include:x\r\ny.{domain}"
    elif style == "exp-injection":
        env.record(f"exp.{domain}", "TXT", "Denied\r\nX-Injected: exp %{l}\r\n")
        record = f"v=spf1 -all exp=exp.{domain}"
    elif style == "bad-cidr":
        record = "v=spf1 ip4:999.1.1.1 ip4:1.2.3.4/99 ip6:::/129 a/33 mx//200 -all"
    elif style == "empty-include":
        record = "v=spf1 include: include:.. redirect= -all"
    else:
        record = [b"v=spf1"] + [b" ip4:10.0.0.%d" % i for i in range(60)] + [b" -all"]
    env.record(domain, "TXT", record)
    return env.make(_plain(env, sender), f"SPF {style}", sender=sender,
                    forbidden=INJECTED_NAMES)


def k_dmarc_absurd(env: _Env) -> Hostile:
    rng = env.rng
    domain = env.domain
    record = rng.choice((
        "v=DMARC1; p=reject; pct=99999999999999999999; sp=zz; adkim=x; aspf=y",
        "v=DMARC1; p=reject; rua=mailto:" + "a" * 5000 + "@x.test",
        "v=DMARC1; p=quarantine\r\nX-Injected: dmarc",
        "v=dmarc1; P=REJECT", "v=DMARC1", "v=DMARC1; p=", "p=reject; v=DMARC1",
        "v=DMARC1; p=reject; p=none; p=quarantine", "v=DMARC1\x00; p=reject",
        "v=DMARC1; p=r\xe9ject", "v=DMARC1;;;;;;;;;;;;;;p=reject", "v=DMARC1; fo=:::::; ri=-1"))
    env.record(f"_dmarc.{domain}", "TXT", record)
    if rng.random() < 0.3:
        env.record(f"_dmarc.{domain}", "TXT", "v=DMARC1; p=none")
    if rng.random() < 0.5:
        env.record(domain, "TXT", "v=spf1 -all")
    return env.make(_plain(env, env.sender), f"DMARC record {record[:40]!r}",
                    forbidden=INJECTED_NAMES)


def k_authres_own(env: _Env) -> Hostile:
    rng = env.rng
    sender = env.sender
    ours = env.authserv_id
    spellings = (ours.upper(), ours.title(), f"{ours}.", f"\"{ours}\"", f"(comment) {ours}",
                 f"(nested (comment)) {ours.upper()}", f"{ours} 1", f"{ours}(c)", f" {ours}",
                 f"\r\n\t{ours}\r\n\t", f"(\\) escaped) {ours}")
    decoys = (f"{ours}.evil.test", f"x{ours}", f"{ours}x", f"\"{ours} \"", "other.test")
    lines = []
    for _ in range(rng.randint(1, 12)):
        name = rng.choice(("Authentication-Results", "authentication-results",
                           "AUTHENTICATION-RESULTS", "Authentication-RESULTS"))
        spelling = rng.choice(spellings + decoys)
        results = rng.choice(("spf=pass smtp.mailfrom=x", "dkim=pass header.d=x",
                              "dmarc=pass", "arc=pass", "none", "spf=pass;\r\n dkim=pass"))
        folded = rng.choice(("; ", ";\r\n\t", "\r\n ;\r\n  "))
        lines.append(f"{name}:{rng.choice((' ', '', chr(9)))}{spelling}{folded}{results}")
    rng.shuffle(lines)
    extra = "".join(line + CRLF for line in lines)
    return env.make(_plain(env, sender, extra=extra),
                    f"{len(lines)} Authentication-Results claiming {ours} or nearly",
                    sender=sender)


def k_forged_spam_headers(env: _Env) -> Hostile:
    rng = env.rng
    sender = env.sender
    lines = []
    for _ in range(rng.randint(1, 20)):
        name = rng.choice(SPAM_HEADERS)
        name = rng.choice((name, name.lower(), name.upper(), name + " ", name + "\t"))
        value = rng.choice(("NO", "", "No, score=-100.0 required=5.0 tests=none",
                            "\r\n NO", "score=-100 action=accept", "\xff\xfe", "A" * 3000))
        lines.append(f"{name}:{value}")
    extra = "".join(line + CRLF for line in lines)
    where = rng.choice(("top", "bottom"))
    raw = (extra.encode("utf-8", "surrogateescape") + _plain(env, sender)) if where == "top" \
        else _plain(env, sender, extra=extra)
    return env.make(raw, f"{len(lines)} forged X-Spam/X-Thurac headers at {where}",
                    sender=sender)


def k_header_syntax(env: _Env) -> Hostile:
    rng = env.rng
    sender = env.sender
    style = rng.choice(("no-colon-middle", "empty-name", "space-in-name", "header-only",
                        "body-only", "empty", "continuation-first", "blank-continuations",
                        "thousand-char-name", "mbox-from", "tab-lines", "no-final-newline",
                        "huge-continuation", "only-blank-lines", "colon-only"))
    plain = _plain(env, sender)
    raw = {
        "no-colon-middle": plain.replace(b"\r\nSubject", b"\r\nnot a header line\r\nSubject"),
        "empty-name": b": empty name\r\n" + plain,
        "space-in-name": b"Sub ject: spaced\r\n" + plain,
        "header-only": plain.split(b"\r\n\r\n")[0] + b"\r\n",
        "body-only": b"\r\njust a body\r\n",
        "empty": b"",
        "continuation-first": b" continuation first\r\n" + plain,
        "blank-continuations": plain.replace(b"Subject: hello", b"Subject: hello\r\n \r\n\t\r\n "),
        "thousand-char-name": b"X-" + b"N" * 1000 + b": v\r\n" + plain,
        "mbox-from": b"From someone@x Mon Nov 23 10:00:00 2026\r\n" + plain + b">From x\r\n",
        "tab-lines": b"\t\r\n\t\r\n" + plain,
        "no-final-newline": plain.rstrip(b"\r\n"),
        "huge-continuation": plain.replace(b"Subject: hello",
                                           b"Subject: hello" + b"\r\n x" * 20_000),
        "only-blank-lines": b"\r\n" * 1000,
        "colon-only": b":\r\n:\r\n::\r\n" + plain,
    }[style]
    return env.make(raw, f"header syntax: {style}", sender=sender)


def k_address_pathology(env: _Env) -> Hostile:
    rng = env.rng
    sender = env.sender
    style = rng.choice(("huge-to", "nested-comments", "angles", "unclosed-quote", "groups",
                        "at-signs", "route", "thousand-from", "encoded-address", "backslashes",
                        "comment-in-domain", "nested-then-long"))
    from_value = sender
    to_value = env.rcpt()
    if style == "huge-to":
        to_value = ", ".join(f"user{i}@{env.local_domain}" for i in range(3000))
    elif style == "nested-comments":
        depth = rng.choice((100, 1000))
        from_value = "(" * depth + "c" + ")" * depth + f" <{sender}>"
    elif style == "angles":
        from_value = "<" * 5000 + sender + ">" * rng.choice((0, 5000))
    elif style == "unclosed-quote":
        from_value = "\"unclosed " * 500 + f"<{sender}>"
    elif style == "groups":
        to_value = "".join(f"g{i}: a{i}@{env.local_domain};, " for i in range(1000)) + ";;;:::"
    elif style == "at-signs":
        from_value = "@".join(["a"] * 2000)
    elif style == "route":
        from_value = "<" + ",".join(f"@r{i}.test" for i in range(500)) + f":{sender}>"
    elif style == "thousand-from":
        from_value = ", ".join(f"f{i}@{env.domain}" for i in range(1000))
    elif style == "encoded-address":
        from_value = f"=?utf-8?q?admin?=@{env.domain}, {encoded_word(sender, rng)}"
    elif style == "nested-then-long":
        # Deep enough for the standard parser to give up, then one long word to rescan.
        from_value = "(" * 1000 + "a" * rng.choice((5000, 30_000)) + ")" * 1000 + f" <{sender}>"
    elif style == "backslashes":
        from_value = "\\" * 5000 + f" <{sender}>"
    else:
        from_value = f"x@(comment){env.domain}(more) , y@[{'1.' * 2000}]"
    raw = (f"From: {from_value}\r\nTo: {to_value}\r\nCc: {to_value[:20_000]}\r\n"
           f"Subject: addresses\r\nMessage-ID: <addr.{env.index}@{env.domain}>\r\n\r\nx\r\n"
           ).encode()
    return env.make(raw, f"address {style}", sender=sender)


def k_ids_pathology(env: _Env) -> Hostile:
    rng = env.rng
    sender = env.sender
    style = rng.choice(("long-id", "many-in-reply-to", "many-references", "nested-brackets",
                        "8bit-ids", "absurd-dates", "many-dates", "references-headers"))
    extra = ""
    if style == "long-id":
        extra = f"Message-ID: <{'i' * 10_000}@{env.domain}>\r\n"
    elif style == "many-in-reply-to":
        extra = "In-Reply-To: " + " ".join(f"<r{i}@x>" for i in range(5000)) + "\r\n"
    elif style == "many-references":
        extra = "References: " + "\r\n ".join(f"<r{i}@x.test>" for i in range(15_000)) + "\r\n"
    elif style == "references-headers":
        extra = "".join("References: " + " ".join(f"<h{j}.{i}@x>" for i in range(400)) + "\r\n"
                        for j in range(20))
    elif style == "nested-brackets":
        extra = "Message-ID: " + "<" * 3000 + "x@y" + ">" * 3000 + "\r\n"
    elif style == "8bit-ids":
        extra = "Message-ID: <\udcff\udcfe\x00@\u00e9.test>\r\nIn-Reply-To: <\x00>\r\n"
    elif style == "absurd-dates":
        extra = "Date: " + rng.choice(("Mon, 99 Zzz 99999 99:99:99 +9999", "0", "-" * 2000,
                                       "Mon, 1 Jan 0000 00:00:00 +0000",
                                       "99999999999999999999999999")) + "\r\n"
    else:
        extra = "".join("Date: Mon, 23 Nov 2026 10:00:00 +0700\r\n" for _ in range(300))
    raw = (f"From: {sender}\r\nTo: {env.rcpt()}\r\nSubject: ids\r\n{extra}\r\nx\r\n"
           ).encode("utf-8", "surrogateescape")
    return env.make(raw, f"ids {style}", sender=sender)


def k_hostile_ptr(env: _Env) -> Hostile:
    rng = env.rng
    ip = f"127.{10 + env.index // 62500 % 200}.{env.index // 250 % 250}.{env.index % 250 + 2}"
    reverse = ".".join(reversed(ip.split("."))) + ".in-addr.arpa"
    style = rng.choice(("crlf", "header-like", "dynamic", "long", "many", "idn", "loop",
                        "our-name"))
    domain = env.domain
    if style == "crlf":
        env.record(reverse, "PTR", f"evil\r\nX-Injected: ptr.{domain}")
    elif style == "header-like":
        env.record(reverse, "PTR", f"X-Spam-Flag:NO.{domain}")
    elif style == "dynamic":
        name = f"dyn-{ip.replace('.', '-')}.pool.{domain}"
        env.record(reverse, "PTR", name)
        env.record(name, "A", "192.0.2.1")
    elif style == "long":
        env.record(reverse, "PTR", ".".join(["p" * 50] * 4) + "." + domain)
    elif style == "many":
        for i in range(20):
            env.record(reverse, "PTR", f"h{i}.{domain}")
    elif style == "idn":
        env.record(reverse, "PTR", f"\xe9vil-\xfcn\xefcode.{domain}")  # served as xn--
    elif style == "loop":
        env.record(reverse, "CNAME", f"l1.{domain}")
        env.record(f"l1.{domain}", "CNAME", reverse)
    else:
        env.record(reverse, "PTR", AUTHSERV_ID)
        env.record(AUTHSERV_ID, "A", "192.0.2.25")
    return env.make(_plain(env, env.sender), f"PTR {style} for {ip}", client_ip=ip,
                    forbidden=INJECTED_NAMES)


def k_envelope(env: _Env) -> Hostile:
    rng = env.rng
    domain = env.domain
    safe_senders = ("", "postmaster", "a@[127.0.0.1]", "a@[IPv6:::1]", f"\"a b\"@{domain}",
                    f"{'l' * 200}@{domain}", f"a@{'d' * 63}.{'e' * 63}.{'f' * 63}.test",
                    f"forged@{env.local_domain}", f"UPPER@{domain.upper()}", f"a@{domain}.",
                    f"a@@{domain}", f"a.@{domain}",
                    f"{AUTHSERV_ID}@{AUTHSERV_ID}")
    # Not over SMTP: Postfix refuses the first two at MAIL FROM (501 5.1.7), the rest cannot
    # be said at all. For Milter.testctx.
    raw_senders = ("@", f"a@-{domain}", "\x00", "a\r\n@x", "<<>>", "a\x00b@x.test",
                   "\udcff@x.test", " ", "a@b@c", "\u202e@x.test", "x" * 5000)
    safe_helos = ("[127.0.0.1]", "[IPv6:::1]", "127.0.0.1", "localhost", AUTHSERV_ID,
                  env.local_domain, "a", "x" * 255, "_under_score.test", "-dash-.test",
                  "a..b", ".", "[999.1.1.1]", "[IPv6:zz]", "xn--80ak6aa92e.com", "0")
    raw_helos = ("", "\x00", "a\r\nb", "a b c", "\t", "\udcff", "мх.пример.рф", "[" * 1000)
    sender = rng.choice(safe_senders + (() if env.smtp else raw_senders))
    helo = rng.choice(safe_helos + (() if env.smtp else raw_helos))
    recipients = [env.rcpt()]
    if not env.smtp and rng.random() < 0.3:
        recipients = [rng.choice(("", "\x00", "a\r\nb@x", f"UPPER@{env.local_domain.upper()}",
                                  "<>", "x" * 5000))]
    raw = _plain(env, sender or f"MAILER-DAEMON@{domain}")
    return env.make(raw, f"envelope from={sender[:40]!r} helo={helo[:40]!r}", sender=sender,
                    helo=helo, recipients=recipients)


def k_big_body(env: _Env) -> Hostile:
    rng = env.rng
    sizes = (256 * 1024, 1024 * 1024, SMTP_MAX_BODY) if env.smtp else \
        (256 * 1024, 1024 * 1024, SMTP_MAX_BODY, 11 * 1024 * 1024)
    size = rng.choice(sizes)
    shape = rng.choice(("one-line", "short-lines", "base64", "dots", "spaces", "crs"))
    if shape == "one-line":
        body = _filler(rng, size, b"abcdefghij ") + b"\r\n"
    elif shape == "short-lines":
        body = b"x\r\n" * (size // 3)
    elif shape == "base64":
        body = _text_lines(rng, size)
    elif shape == "dots":
        body = b".\r\n..\r\n. .\r\n" * (size // 12)
    elif shape == "spaces":
        body = (b" \t" * 500 + b"\r\n") * (size // 1002)
    else:
        body = b"\r" * size + b"\r\n"
    raw = _plain(env, env.sender, body=body)
    return env.make(raw, f"{size // 1024} KB body ({shape})")


def k_random_structure(env: _Env) -> Hostile:
    """Random header names and values, as the adapter's fuzz test draws them."""
    rng = env.rng
    lines = []
    for _ in range(rng.randint(0, 30)):
        if rng.random() < 0.7:
            name = rng.choice(_HEADER_POOL)
        else:
            name = "".join(rng.choice(string.ascii_letters + string.digits + "-_.!#")
                           for _ in range(rng.randint(1, 30)))
        if env.smtp and name == "Return-Path":
            name = "X-Return-Path"
        shape = rng.random()
        if shape < 0.4:
            value = "".join(rng.choice(string.printable + "é€ư\u2028\u202e\x00\x85")
                            for _ in range(rng.randint(0, 200)))
        elif shape < 0.6:
            value = _filler(rng, rng.randint(0, 200)).decode("utf-8", "surrogateescape")
        elif shape < 0.8:
            value = "".join(rng.choice("<>@.,;:\"()[]\\ \t\r\n\x00abc=-?")
                            for _ in range(rng.randint(0, 200)))
        else:
            value = "A" * rng.randint(900, 20_000)
        lines.append(f"{name}: {value}")
    head = "\r\n".join(lines).encode("utf-8", "surrogateescape")
    body = _filler(rng, rng.randint(0, 5000))
    sender = env.sender if env.smtp or rng.random() < 0.7 else \
        "".join(rng.choice("ab@.\r\n\x00\t %") for _ in range(rng.randint(0, 20)))
    return env.make(head + b"\r\n\r\n" + body, f"{len(lines)} random headers", sender=sender)


# Kind → (builder, weight): the schedule repeats every sum(weights) messages.
KINDS: dict[str, tuple[Callable[[_Env], Hostile], int]] = {
    "mutation": (k_mutation, 12),
    "random-structure": (k_random_structure, 3),
    "nul": (k_nul, 1),
    "bare-cr-lf": (k_bare_cr_lf, 1),
    "8bit-headers": (k_8bit_headers, 1),
    "invalid-utf8": (k_invalid_utf8, 1),
    "long-header-line": (k_long_header_line, 1),
    "many-headers": (k_many_headers, 1),
    "mime-unterminated": (k_mime_unterminated, 1),
    "mime-deep": (k_mime_deep, 1),
    "many-recipients": (k_many_recipients, 1),
    "rfc2047-injection": (k_rfc2047_injection, 2),
    "echo-injection": (k_echo_injection, 2),
    "idn-homograph": (k_idn_homograph, 1),
    "dkim-absurd": (k_dkim_absurd, 2),
    "dkim-huge-key": (k_dkim_huge_key, 1),
    "dkim-many-signatures": (k_dkim_many_signatures, 1),
    "arc-chain": (k_arc_chain, 1),
    "spf-loop": (k_spf_loop, 1),
    "spf-absurd": (k_spf_absurd, 1),
    "dmarc-absurd": (k_dmarc_absurd, 1),
    "authres-own": (k_authres_own, 2),
    "forged-spam-headers": (k_forged_spam_headers, 1),
    "header-syntax": (k_header_syntax, 1),
    "address-pathology": (k_address_pathology, 1),
    "ids-pathology": (k_ids_pathology, 1),
    "hostile-ptr": (k_hostile_ptr, 1),
    "envelope": (k_envelope, 1),
    "big-body": (k_big_body, 1),
}
SCHEDULE: tuple[str, ...] = tuple(kind for kind, (_, weight) in KINDS.items()
                                  for _ in range(weight))


_RECEIVED_LINE = re.compile(rb"(?im)^received[ \t]*:")


def within_hop_limit(raw: bytes) -> bytes:
    """`raw` with the Received lines past the SMTP_MAX_RECEIVED-th renamed, so that Postfix
    does not refuse it for too many hops (a mutation may repeat one a thousand times)."""
    count = 0

    def rename(match: re.Match[bytes]) -> bytes:
        nonlocal count
        count += 1
        return match.group(0) if count <= SMTP_MAX_RECEIVED else b"X-Was-Received:"

    return _RECEIVED_LINE.sub(rename, raw)


def build(kind: str, rng: random.Random, index: int, *, seed: int = 0, smtp: bool = False,
          local_domain: str = LOCAL_DOMAIN, authserv_id: str = AUTHSERV_ID) -> Hostile:
    """One message of `kind`, drawn from `rng`."""
    builder, _ = KINDS[kind]
    message = builder(_Env(rng, index, kind, seed, smtp, local_domain, authserv_id))
    return dataclasses.replace(message, raw=within_hop_limit(message.raw)) if smtp else message


def hostile_messages(n: int, seed: int = 0, *, smtp: bool = False,
                     local_domain: str = LOCAL_DOMAIN, authserv_id: str = AUTHSERV_ID,
                     kinds: Sequence[str] | None = None) -> Iterator[Hostile]:
    """`n` hostile messages, the same for the same arguments; every kind once per
    len(SCHEDULE) messages (or only `kinds`, in turn)."""
    schedule = tuple(kinds) if kinds else SCHEDULE
    for index in range(n):
        rng = random.Random(f"thurac-corpus-{seed}-{index}")
        message = build(schedule[index % len(schedule)], rng, index, seed=seed, smtp=smtp,
                        local_domain=local_domain, authserv_id=authserv_id)
        if smtp and not message.smtp_safe:  # a builder forgot the channel: say it plainly
            raise AssertionError(f"corpus message not sendable over SMTP: {message.describe()}")
        yield message


def hostile_strategy(*, smtp: bool = False, kinds: Sequence[str] | None = None,
                     local_domain: str = LOCAL_DOMAIN, authserv_id: str = AUTHSERV_ID,
                     ) -> st.SearchStrategy[Hostile]:
    """The same kinds as a hypothesis strategy: its randoms shrink a failure to a small case."""
    return st.builds(
        lambda kind, rng, index: build(kind, rng, index, smtp=smtp, local_domain=local_domain,
                                       authserv_id=authserv_id),
        st.sampled_from(tuple(kinds) if kinds else tuple(KINDS)),
        st.randoms(use_true_random=False),
        st.integers(min_value=100_000, max_value=999_999),
    )


# -- the expensive ones -----------------------------------------------------------------------


def huge_body_message(size: int = 50 * 1024 * 1024, *, local_domain: str = LOCAL_DOMAIN,
                      seed: int = 0) -> Hostile:
    """A message with a `size`-byte base64 attachment (76-character lines), DKIM-"signed"
    with a signature no verifier can check without the whole body."""
    env = _Env(random.Random(f"huge-body-{seed}"), 0, "huge-body", seed, True, local_domain,
               AUTHSERV_ID)
    sender = env.sender
    env.publish_key(env.domain)
    head = (_head(env, sender, subject=f"{size // (1024 * 1024)} MB attachment",
                  extra="MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"big\"\r\n")
            .encode())
    line = base64.b64encode(_filler(env.rng, 57)) + b"\r\n"  # 78 bytes a line
    body = (b"--big\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + line * (size // len(line))
            + b"--big--\r\n")
    signature = _signature_value(env, env.domain, {"bh": "A" * 44, "b": "A" * 172})
    raw = f"DKIM-Signature: {signature}\r\n".encode() + head + b"\r\n" + body
    return env.make(raw, f"{len(raw) // (1024 * 1024)} MB message", sender=sender)


def many_recipients_message(count: int = 1000, *, local_domain: str = LOCAL_DOMAIN,
                            seed: int = 0) -> Hostile:
    """One message to `count` envelope recipients, all of them also listed in To."""
    env = _Env(random.Random(f"many-rcpts-{seed}"), 0, "many-rcpts", seed, True, local_domain,
               AUTHSERV_ID)
    rcpts = [f"member{i}@{local_domain}" for i in range(count)]
    raw = (f"From: {env.sender}\r\nTo: {', '.join(rcpts)}\r\nSubject: to {count}\r\n"
           f"Message-ID: <many.{seed}@{env.domain}>\r\n\r\nhello everyone\r\n").encode()
    return env.make(raw, f"{count} recipients", recipients=rcpts)


def huge_dkim_key_message(bits: int = 16384, *, local_domain: str = LOCAL_DOMAIN,
                          seed: int = 0) -> Hostile:
    """A DKIM-signed message whose key record in DNS holds a `bits`-bit RSA modulus."""
    env = _Env(random.Random(f"huge-key-{seed}-{bits}"), 0, "huge-key", seed, True,
               local_domain, AUTHSERV_ID)
    return _huge_key_message(env, bits)
