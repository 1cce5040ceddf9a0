"""DKIM keys made in the tests: RSA of any size (512 bits too), ed25519; signing with dkimpy.

`cryptography` refuses to generate RSA keys below 1024 bits, and a 512-bit key is exactly what
the weak-key tests need, so small keys are built here from two random primes (Miller-Rabin) and
handed to `cryptography` only to be serialised.
"""

from __future__ import annotations

import base64
import math
import secrets
from dataclasses import dataclass

import dkim
import nacl.signing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from thurac.message import Connection, Message, parse_rfc822

PUBLIC_EXPONENT = 65537
_MILLER_RABIN_ROUNDS = 40  # error below 4**-40: plenty for a throwaway test key
_SMALL_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)
_CRYPTOGRAPHY_MIN_BITS = 1024


@dataclass(frozen=True)
class TestKey:
    """A private key as dkimpy's sign() takes it, and the TXT record that publishes it."""

    __test__ = False  # not a pytest class

    private: bytes  # PEM (RSA) or base64 seed (ed25519)
    record: str  # "v=DKIM1; k=...; p=..."
    algorithm: bytes  # dkimpy's signature_algorithm
    bits: int


def probable_prime(n: int) -> bool:
    """Miller-Rabin; for test keys (the corpus makes its odd-sized ones with it too)."""
    if n < 2:
        return False
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(_MILLER_RABIN_ROUNDS):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int) -> int:
    while True:
        # Top two bits set so that p*q has exactly 2*bits bits; odd.
        candidate = secrets.randbits(bits) | (3 << (bits - 2)) | 1
        if probable_prime(candidate):
            return candidate


def _small_rsa(bits: int) -> rsa.RSAPrivateKey:
    while True:
        p, q = _prime(bits // 2), _prime(bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and math.gcd(PUBLIC_EXPONENT, phi) == 1:
            break
    d = pow(PUBLIC_EXPONENT, -1, phi)
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p),
        rsa.RSAPublicNumbers(PUBLIC_EXPONENT, p * q),
    )
    return numbers.private_key()


def rsa_key(bits: int) -> TestKey:
    """A fresh RSA key of exactly `bits` bits (even below 1024)."""
    if bits < _CRYPTOGRAPHY_MIN_BITS:
        key = _small_rsa(bits)
    else:
        key = rsa.generate_private_key(PUBLIC_EXPONENT, bits)
    assert key.key_size == bits
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
    return TestKey(private, record, b"rsa-sha256", bits)


def ed25519_key() -> TestKey:
    """A fresh ed25519 key (RFC 8463)."""
    signing = nacl.signing.SigningKey.generate()
    record = f"v=DKIM1; k=ed25519; p={base64.b64encode(bytes(signing.verify_key)).decode()}"
    return TestKey(base64.b64encode(bytes(signing)), record, b"ed25519-sha256", 256)


def sign(
    raw: bytes,
    key: TestKey,
    domain: str,
    selector: str,
    *,
    canonicalize: tuple[bytes, bytes] = (b"relaxed", b"relaxed"),
    length: bool = False,
) -> bytes:
    """`raw` with a DKIM-Signature by `key` prepended, as a signing MTA would send it."""
    header: bytes = dkim.sign(
        raw, selector.encode(), domain.encode(), key.private,
        canonicalize=canonicalize, signature_algorithm=key.algorithm, length=length,
    )
    return header + raw


def to_message(raw: bytes, sender: str = "alice@example.test",
               recipient: str = "bob@example.com") -> Message:
    """The Message the milter would build from `raw`."""
    headers, body = parse_rfc822(raw, exact=True)
    return Message(Connection("203.0.113.5"), sender, (recipient,), headers, body,
                   exact_header_values=True)
