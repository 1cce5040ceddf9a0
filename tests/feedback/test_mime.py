"""The bounded MIME tree: boundaries, nesting and transfer encodings as mail readers take
them, and every limit noted as a problem."""

from __future__ import annotations

from thurac.feedback.mime import Entity, Params, Walker, split_entity, split_parts, text_of


def test_parts_lie_between_delimiter_lines_preamble_and_epilogue_dropped() -> None:
    body = b"preamble\n--b\nA\n--bb\n--b \nB\n--b--\nepilogue\n--b\nC\n"
    assert split_parts(body, b"b") == [b"A\n--bb", b"B"]


def test_a_body_cut_before_its_closing_delimiter_keeps_its_parts() -> None:
    problems: list[str] = []
    assert split_parts(b"--b\nA\n--b\nB is cut", b"b", problems.append) == [b"A", b"B is cut"]
    assert problems == ["MIME cut short: no closing boundary"]


def test_a_line_that_is_no_field_ends_the_header() -> None:
    assert split_entity(b"X: y\nnot a field\nZ: w\n\nbody") == (
        (("X", "y"),), b"not a field\nZ: w\n\nbody")
    assert split_entity(b"\nbody") == ((), b"body")


def test_a_header_section_beyond_the_limit_is_cut() -> None:
    walker = Walker()
    entity = walker.entity(b"X: y\n" * 100_000 + b"\nbody")
    assert entity.body == b"body"
    assert walker.problems == ["header section cut at 262144 bytes"]


def test_nesting_and_part_counts_are_bounded() -> None:
    deep = b"".join(b'Content-Type: multipart/mixed; boundary="%d"\n\n--%d\n' % (i, i)
                    for i in range(50))
    walker = Walker(max_depth=5)
    root = walker.entity(deep)
    assert max(e.depth for e in root.walk()) == 5
    assert walker.problems[-1] == "MIME nested deeper than 5 levels"
    many = b'Content-Type: multipart/mixed; boundary="b"\n\n' + b"--b\n\nx\n" * 50 + b"--b--\n"
    walker = Walker(max_parts=10)
    assert len(walker.entity(many).children) == 9
    assert walker.problems == ["more than 10 MIME parts"]


def test_a_multipart_without_boundary_is_read_as_text() -> None:
    walker = Walker()
    entity = walker.entity(b"Content-Type: multipart/mixed\n\nhello")
    assert entity.content_type == "text/plain"
    assert walker.problems == ["multipart/mixed without boundary"]


def test_digest_parts_default_to_messages() -> None:
    entity = Walker().entity(b'Content-Type: multipart/digest; boundary="d"\n\n--d\n\n'
                             b"From: a@b.test\n\nhi\n--d--\n")
    assert entity.children[0].content_type == "message/rfc822"
    assert entity.children[0].children[0].headers == (("From", "a@b.test"),)


def text(body: bytes, encoding: str = "", charset: str = "") -> str:
    return text_of(Entity((), body, 0, Params(encoding=encoding, charset=charset)))


def test_transfer_encodings_are_undone_leniently() -> None:
    assert text(b"aGVsbG8gd29y\nbGQ=", "base64") == "hello world"
    assert text(b"aGVsbG8gd29yb", "base64") == "hello wor"  # cut mid-quantum
    assert text(b"!!aGk=!!", "base64") == "hi"
    assert text(b"caf=C3=A9 =\nlatte", "quoted-printable") == "café latte"


def test_charsets_are_decoded_and_vietnamese_composed() -> None:
    assert text("Từ".encode("utf-16"), charset="utf-16") == "Từ"
    assert text(b"T\xfd\xcc", charset="windows-1258") == "Từ"  # ư + combining grave
    problems: list[str] = []
    assert text_of(Entity((), b"xn--abc", 0, Params(charset="punycode")),
                   problems=problems) == "xn--abc"
    assert problems == ["unknown charset 'punycode'"]
