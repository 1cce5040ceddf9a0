"""A bounded MIME tree of a report: what `feedback` needs of a message, and no more.

The standard library's parser walks a whole message with no limit on nesting (each level adds
generator frames and an end-of-part matcher that every later line is tested against), so a
report of 10 MB of nested multiparts costs it seconds or a RecursionError. Here the tree is
built by splitting on boundaries with bytes.find, to `max_depth` levels and `max_parts` parts:
each level reads its bytes once, so the work is bounded by depth × size. Header fields are
split by the package's own lenient reader (message.parse_rfc822), and parameters read by the
standard library on one bounded field at a time.
"""

from __future__ import annotations

import binascii
import codecs
import email.message
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from thurac.message import parse_rfc822
from thurac.text import printable_text

MAX_PARTS = 1000  # MIME entities built for one report
MAX_DEPTH = 10  # levels of multipart and attached-message nesting
MAX_TEXT_BYTES = 1024 * 1024  # bytes of one text part decoded and searched for a forward
MAX_PARAM_CHARS = 2000  # characters of a Content-Type or Content-Disposition value read
# Bytes of one header section read (Postfix's header_size_limit is 100 KB; 50 Received lines,
# DKIM and ARC sets take some 30 KB): what lies beyond is dropped, as Postfix drops it.
MAX_HEADER_BYTES = 256 * 1024

# Attached messages, and attached header blocks (RFC 6522 text/rfc822-headers; RFC 6533's
# message/global-headers; message/rfc822-headers, seen from some feedback loops).
MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
HEADER_TYPES = frozenset({"text/rfc822-headers", "message/rfc822-headers",
                          "message/global-headers"})
# Codecs bytes.decode accepts that are no mail charset and cost quadratic time on long input
# (punycode) or turn text into code (the escape codecs).
_UNSAFE_CODECS = frozenset({"punycode", "idna", "unicode_escape", "raw_unicode_escape",
                            "undefined"})
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_B64 = bytes(b for b in range(256) if b not in _B64_ALPHABET)


@dataclass(frozen=True, slots=True)
class Params:
    """What an entity's Content-* fields say."""

    content_type: str = "text/plain"  # lowercase type/subtype
    boundary: str = ""
    charset: str = ""
    report_type: str = ""  # multipart/report's report-type, lowercase
    filename: str = ""
    disposition: str = ""  # inline, attachment or ''
    encoding: str = ""  # Content-Transfer-Encoding, lowercase


@dataclass(frozen=True, slots=True)
class Entity:
    """One MIME entity: its header fields, its body as sent, and its parts."""

    headers: tuple[tuple[str, str], ...]
    body: bytes  # transfer-encoded, LF line ends
    depth: int
    params: Params = Params()
    children: tuple[Entity, ...] = ()

    @property
    def content_type(self) -> str:
        return self.params.content_type

    def header(self, name: str) -> str | None:
        """The first field `name` (case-insensitive), stripped; None when absent."""
        lname = name.lower()
        for n, v in self.headers:
            if n.lower() == lname:
                return v.strip()
        return None

    @property
    def is_multipart(self) -> bool:
        return self.content_type.startswith("multipart/")

    @property
    def is_attached_message(self) -> bool:
        """An attached message: message/rfc822, or a file named .eml sent as octets."""
        return self.content_type in MESSAGE_TYPES or (
            self.content_type == "application/octet-stream"
            and self.params.filename.lower().endswith(".eml"))

    @property
    def is_attachment(self) -> bool:
        return self.params.disposition == "attachment"

    def decoded(self) -> bytes:
        """The body with its transfer encoding undone (lenient: junk is skipped, not fatal)."""
        if self.params.encoding == "base64":
            return _base64(self.body)
        if self.params.encoding == "quoted-printable":
            return binascii.a2b_qp(self.body)
        return self.body

    def walk(self) -> Iterator[Entity]:
        """This entity and those below it, depth first, in order."""
        stack: list[Entity] = [self]
        while stack:
            entity = stack.pop()
            yield entity
            stack.extend(reversed(entity.children))


def _base64(data: bytes) -> bytes:
    """Base64 as a mail reader decodes it: whitespace and junk skipped, a cut end dropped."""
    cleaned = data.translate(None, _NOT_B64)  # padding too: it is put back below
    left = len(cleaned) % 4
    if left == 1:  # half a byte: nothing to decode
        cleaned = cleaned[:-1]
    elif left:
        cleaned += b"=" * (4 - left)
    return binascii.a2b_base64(cleaned) if cleaned else b""


@dataclass
class Walker:
    """Builds entities within the limits, and notes each limit it met (once)."""

    max_parts: int = MAX_PARTS
    max_depth: int = MAX_DEPTH
    parts: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def entity(self, data: bytes, depth: int = 0, default_type: str = "text/plain") -> Entity:
        """Parse `data` (LF line ends) as one entity and, within the limits, its parts."""
        self.parts += 1
        headers, body, cut = _split_entity(data)
        if cut:
            self.problem(f"header section cut at {MAX_HEADER_BYTES} bytes")
        params = _params(headers, default_type)
        if params.content_type.startswith("multipart/") and not params.boundary:
            self.problem(f"{params.content_type} without boundary")
            # Read as text: a forward or pasted header lines may still be found in it.
            params = replace(params, content_type="text/plain")
        entity = Entity(headers=headers, body=body, depth=depth, params=params)
        if not (entity.is_multipart or entity.is_attached_message):
            return entity
        if depth >= self.max_depth:
            self.problem(f"MIME nested deeper than {self.max_depth} levels")
            return entity
        children: tuple[Entity, ...] = ()
        if entity.is_multipart:
            children = self._parts(entity)
        elif self.parts < self.max_parts:
            inner = entity.decoded().replace(b"\r\n", b"\n")
            children = (self.entity(inner, depth + 1),)
        else:
            self.problem(f"more than {self.max_parts} MIME parts")
        return replace(entity, children=children)

    def _parts(self, entity: Entity) -> tuple[Entity, ...]:
        default = "message/rfc822" if entity.content_type == "multipart/digest" else "text/plain"
        children: list[Entity] = []
        boundary = entity.params.boundary.encode("utf-8", "replace")
        for chunk in split_parts(entity.body, boundary, self.problem):
            if self.parts >= self.max_parts:
                self.problem(f"more than {self.max_parts} MIME parts")
                break
            children.append(self.entity(chunk, entity.depth + 1, default))
        return tuple(children)


def split_entity(data: bytes) -> tuple[tuple[tuple[str, str], ...], bytes]:
    """Header fields and body (LF line ends kept) of one entity. The header section ends at the
    first empty line, or, as in Postfix's cleanup, at the first line that is no header field:
    what follows is body. Fields beyond MAX_HEADER_BYTES are dropped."""
    headers, body, _ = _split_entity(data)
    return headers, body


def _split_entity(data: bytes) -> tuple[tuple[tuple[str, str], ...], bytes, bool]:
    """split_entity, and whether the header section was cut."""
    if data.startswith(b"\n"):
        return (), data[1:], False
    end = data.find(b"\n\n", 0, MAX_HEADER_BYTES + 2)
    long = end < 0 and len(data) > MAX_HEADER_BYTES
    if end >= 0:
        head, rest, joint = data[:end], data[end + 2:], b"\n\n"
    elif long:  # read at most MAX_HEADER_BYTES as header, to the last whole line
        cut = max(data.rfind(b"\n", 0, MAX_HEADER_BYTES), 0)
        head, rest, joint = data[:cut], data[cut + 1:], b"\n"
    else:
        head, rest, joint = data, b"", b""
    headers, leftover = parse_rfc822(head)
    if leftover:  # a line that is no field ended the header: it and all after it are body
        return headers, leftover.replace(b"\r\n", b"\n") + (joint + rest if rest else b""), False
    if long:  # the header goes on past the limit: drop it up to its end
        after = rest.find(b"\n\n")
        return headers, (b"" if after < 0 else rest[after + 2:]), True
    return headers, rest, False


def split_parts(body: bytes, boundary: bytes,
                problem: Callable[[str], None] | None = None) -> list[bytes]:
    """The parts of a multipart body between `--boundary` lines (RFC 2046 5.1.1): preamble and
    epilogue dropped; a body cut before its closing delimiter keeps the parts it has."""
    delimiter = b"--" + boundary
    chunks: list[bytes] = []
    start = -1  # where the current part's bytes begin
    pos = 0
    closed = False
    while True:
        found = body.find(delimiter, pos)
        if found < 0:
            break
        line_end = body.find(b"\n", found)
        line_end = len(body) if line_end < 0 else line_end
        pos = line_end
        if found and body[found - 1] != 0x0A:
            continue
        rest = body[found + len(delimiter):line_end]
        is_close = rest.startswith(b"--")
        if not is_close and rest.strip():
            continue  # a longer boundary that begins with this one
        if start >= 0:
            chunks.append(body[start:max(start, found - 1)])
        if is_close:
            closed = True
            break
        start = line_end + 1
    if not closed:
        if problem is not None:
            problem("MIME cut short: no closing boundary")
        if 0 <= start < len(body):
            chunks.append(body[start:])
    return chunks


def _params(headers: tuple[tuple[str, str], ...], default_type: str) -> Params:
    """Content-Type and Content-Disposition parameters and the transfer encoding, read by the
    standard library's Message from copies of those fields only: the first of each, bounded,
    and valid text (so the library never hands back a Header object)."""
    msg = email.message.Message()
    msg.set_default_type(default_type)
    wanted = {"content-type", "content-disposition", "content-transfer-encoding"}
    for name, value in headers:
        lname = name.lower()
        if lname in wanted:
            wanted.discard(lname)
            msg[name] = " ".join(printable_text(value)[:MAX_PARAM_CHARS].split())
    report_type = msg.get_param("report-type")
    return Params(
        content_type=msg.get_content_type(),
        boundary=msg.get_boundary() or "",
        charset=msg.get_content_charset() or "",
        report_type=report_type.lower() if isinstance(report_type, str) else "",
        filename=msg.get_filename() or "",
        disposition=msg.get_content_disposition() or "",
        encoding=str(msg.get("Content-Transfer-Encoding", "")).strip().lower(),
    )


def text_of(entity: Entity, limit: int = MAX_TEXT_BYTES,
            problems: list[str] | None = None) -> str:
    """The entity's body as text: transfer encoding undone, charset decoded (an unknown or
    unsafe one read as UTF-8), NFC-normalised (cp1258 and Apple Mail give Vietnamese in
    combining marks), at most `limit` bytes of it."""
    data = entity.decoded()[:limit]
    charset = entity.params.charset or "utf-8"
    try:
        codec = codecs.lookup(charset).name
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        codec = ""
    if not codec or codec in _UNSAFE_CODECS:
        if problems is not None and f"unknown charset {charset[:40]!r}" not in problems:
            problems.append(f"unknown charset {charset[:40]!r}")
        codec = "utf-8"
    if codec in ("ascii", "us-ascii"):
        codec = "utf-8"  # labelled ASCII, often sent as UTF-8
    try:
        text = data.decode(codec, "replace")
    except (LookupError, ValueError):  # a codec bytes.decode will not run
        text = data.decode("utf-8", "replace")
    return unicodedata.normalize("NFC", text)
