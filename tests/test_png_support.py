"""The PNG reader the browser tests use (tests/support/png.py): every row filter decodes to
the pixels that were encoded, and a cut-short or foreign file is refused with a reason."""

from __future__ import annotations

import struct
import zlib

import pytest
from tests.support.png import SIGNATURE, PngError, read_png

WIDTH, BPP = 3, 3  # RGB
PIXELS = [bytes([10 * y + x * 40, 200 - x * 50, (x * y * 70) % 256])
          for y in range(6) for x in range(WIDTH)]
ROWS = [b"".join(PIXELS[y * WIDTH:(y + 1) * WIDTH]) for y in range(6)]


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _filtered(kind: int, row: bytes, prior: bytes) -> bytes:
    """What an encoder writes for `row` with filter `kind` (RFC 2083 section 6)."""
    out = bytearray()
    for i, value in enumerate(row):
        left = row[i - BPP] if i >= BPP else 0
        corner = prior[i - BPP] if i >= BPP else 0
        guess = (0, left, prior[i], (left + prior[i]) // 2, _paeth(left, prior[i], corner))[kind]
        out.append((value - guess) & 0xFF)
    return bytes([kind]) + bytes(out)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body))


def _png(rows: list[bytes], kinds: list[int]) -> bytes:
    prior, data = bytes(len(rows[0])), b""
    for row, kind in zip(rows, kinds, strict=True):
        data += _filtered(kind, row, prior)
        prior = row
    return (SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", WIDTH, len(rows), 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(data)) + _chunk(b"IEND", b""))


def test_every_row_filter_decodes_to_the_encoded_pixels() -> None:
    png = read_png(_png(ROWS, [0, 1, 2, 3, 4, 4]))
    assert (png.width, png.height) == (WIDTH, 6)
    assert png.rows == ROWS
    assert png.colours() == {tuple(p) for p in PIXELS}


def test_a_one_colour_image_has_one_colour() -> None:
    assert read_png(_png([b"\xff" * 9] * 4, [0, 1, 2, 4])).colours() == {(255, 255, 255)}


@pytest.mark.parametrize(("data", "reason"), [
    (b"GIF89a", "no PNG signature"),
    (_png(ROWS, [0] * 6)[:-20], "cut short"),
])
def test_a_file_that_is_not_a_whole_png_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(PngError, match=reason):
        read_png(data)
