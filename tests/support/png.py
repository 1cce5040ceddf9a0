"""Just enough of PNG (RFC 2083) to check a browser's screenshot without a new dependency:
the size from IHDR and the set of colours, decoded with zlib and the five row filters.
8-bit RGB and RGBA, not interlaced: what headless Chromium writes."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {2: 3, 6: 4}  # colour type → bytes per pixel at bit depth 8: RGB, RGBA


class PngError(ValueError):
    """Not a PNG this helper reads, and why."""


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    colour_type: int
    rows: list[bytes]  # unfiltered scanlines, `width * channels` bytes each

    def colours(self) -> set[tuple[int, ...]]:
        """Every distinct pixel value (RGB, or RGBA), in one pass over the rows."""
        n = CHANNELS[self.colour_type]
        found: set[tuple[int, ...]] = set()
        for row in self.rows:
            found.update(zip(*(row[i::n] for i in range(n)), strict=True))
        return found


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(SIGNATURE):
        raise PngError("no PNG signature")
    chunks, pos = [], len(SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise PngError(f"chunk {kind!r} is cut short")
        chunks.append((kind, body))
        pos += 12 + length  # length, type, data, CRC
        if kind == b"IEND":
            return chunks
    raise PngError("no IEND chunk: the file is cut short")


def _add(a: bytes, b: bytes) -> bytes:
    """Byte-wise (a + b) mod 256 of two equal-length rows, on big integers (no carry
    crosses a byte: the low 7 bits are added, the top bit is XORed in)."""
    size = len(a)
    x, y = int.from_bytes(a, "big"), int.from_bytes(b, "big")
    low = int.from_bytes(b"\x7f" * size, "big")
    high = int.from_bytes(b"\x80" * size, "big")
    return (((x & low) + (y & low)) ^ ((x ^ y) & high)).to_bytes(size, "big")


def _unfilter(kind: int, line: bytes, prior: bytes, bpp: int) -> bytes:
    if kind == 0:
        return line
    if kind == 2:  # Up
        return _add(line, prior)
    out = bytearray(line)
    for i in range(len(out)):
        left = out[i - bpp] if i >= bpp else 0
        if kind == 1:  # Sub
            out[i] = (out[i] + left) & 0xFF
        elif kind == 3:  # Average
            out[i] = (out[i] + (left + prior[i]) // 2) & 0xFF
        elif kind == 4:  # Paeth
            up, corner = prior[i], prior[i - bpp] if i >= bpp else 0
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            out[i] = (out[i] + guess) & 0xFF
        else:
            raise PngError(f"unknown row filter {kind}")
    return bytes(out)


def read_png(data: bytes) -> Png:
    chunks = _chunks(data)
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise PngError("the first chunk is not a 13-byte IHDR")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if depth != 8 or colour not in CHANNELS or interlace:
        raise PngError(f"unsupported: bit depth {depth}, colour type {colour}, "
                       f"interlace {interlace} (this helper reads 8-bit RGB/RGBA)")
    bpp = CHANNELS[colour]
    stride = width * bpp
    try:
        raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    except zlib.error as exc:
        raise PngError(f"image data does not inflate: {exc}") from exc
    if len(raw) != height * (stride + 1):
        raise PngError(f"{len(raw)} bytes of image data for {width}x{height}")
    rows, prior = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        prior = _unfilter(raw[start], raw[start + 1:start + 1 + stride], prior, bpp)
        rows.append(prior)
    return Png(width, height, colour, rows)
