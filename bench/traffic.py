"""What the bench sends and what its DNS server knows, in two variants.

* ``nxdomain``: the server knows no name; every lookup is NXDOMAIN with an SOA, so a
  resolver caches the negative answer (for ``NEGATIVE_TTL``), as real resolvers do. The
  messages are smtp-source's own (``-l SIZE``).
* ``realistic``: the sender's domain has an MX, an SPF record that passes for the client
  (127.0.0.1, where smtp-source connects from), a DKIM key and a DMARC record; the client has
  a PTR that confirms forward; every message carries a real dkimpy signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.support.dkim_keys import rsa_key, sign
from tests.support.dns_server import TestDnsServer

NEGATIVE_TTL = 600  # seconds: the SOA minimum of the bench's zones (a common value)
TTL = 600
CLIENT_IP = "127.0.0.1"  # smtp-source cannot choose its source address
RECIPIENT = "user@example.com"  # the shipped config's local domain
SENDER_DOMAIN = "sender.test"
SELECTOR = "bench"
DKIM_KEY_BITS = 2048
FILLER = "The quick brown fox jumps over the lazy dog, and the bench counts it.\n"


@dataclass(frozen=True)
class Traffic:
    """One variant: envelope, HELO and, if the messages are ours, a file per size."""

    name: str
    sender: str
    helo: str
    recipient: str = RECIPIENT
    files: dict[int, Path] = field(default_factory=dict)  # size → smtp-source -F file

    def file_for(self, size: int) -> Path | None:
        """The message of `size` body bytes, or None: smtp-source's own (-l size)."""
        return self.files.get(size)


def nxdomain() -> Traffic:
    """For a DNS server that knows no name."""
    return Traffic("nxdomain", sender=f"bulk@{SENDER_DOMAIN}", helo=f"client.{SENDER_DOMAIN}")


def message_text(sender: str, size: int) -> str:
    """A plain message of about `size` bytes of body, LF line ends (smtp-source adds CR)."""
    body = FILLER * max(1, size // len(FILLER))
    return (f"From: Bench Sender <{sender}>\nTo: <{RECIPIENT}>\nSubject: bench {size}\n"
            f"Date: Wed, 02 Dec 2026 10:00:00 +0700\nMessage-ID: <bench.{size}@{SENDER_DOMAIN}>\n"
            f"MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n{body}")


def realistic(dns: TestDnsServer, folder: Path, sizes: list[int]) -> Traffic:
    """Fills `dns` (a server of its own) with the sender's zone; signs one file per size."""
    helo = f"mail.{SENDER_DOMAIN}"
    sender = f"news@{SENDER_DOMAIN}"
    dns.add(SENDER_DOMAIN, "MX", f"10 {helo}", ttl=TTL)
    dns.add(SENDER_DOMAIN, "TXT", f"v=spf1 ip4:{CLIENT_IP} -all", ttl=TTL)
    dns.add(helo, "A", CLIENT_IP, ttl=TTL)
    dns.add(helo, "TXT", f"v=spf1 ip4:{CLIENT_IP} -all", ttl=TTL)
    dns.add_ptr(CLIENT_IP, helo, ttl=TTL)
    dns.add(f"_dmarc.{SENDER_DOMAIN}", "TXT", "v=DMARC1; p=none", ttl=TTL)
    key = rsa_key(DKIM_KEY_BITS)
    dns.add(f"{SELECTOR}._domainkey.{SENDER_DOMAIN}", "TXT", key.record, ttl=TTL)
    files: dict[int, Path] = {}
    for size in sizes:
        raw = message_text(sender, size).replace("\n", "\r\n").encode()
        signed = sign(raw, key, SENDER_DOMAIN, SELECTOR)
        path = folder / f"message-{size}.eml"
        path.write_bytes(signed.replace(b"\r\n", b"\n"))
        files[size] = path
    return Traffic("realistic", sender=sender, helo=helo, files=files)
