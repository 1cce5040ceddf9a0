"""A corpus of spam reports, built in code: what a report mailbox receives, from mailbox
providers' ARF feedback to users' forwards in every common client, English and Vietnamese, and
the malformed and hostile ones. Each case says what thurac must extract, or that nothing is.

    for case in report_corpus():
        result = extract(case.raw, our_hosts=OUR_HOSTS, internal_networks=INTERNAL_NETWORKS,
                         **case.options)
        assert (result.reported.sender, result.reported.client_ip, result.method) == \\
            (case.sender, case.ip, case.method)

The site: our MX is mx.example.test, mail leaves by relay.example.test, both Postfix; our
networks are 10.0.0.0/8 and 2001:db8:1::/48. Every report reaches us through our MX too, with a
queue id of its own (REPORT_QUEUE_ID) that must never be taken for the reported message's.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

OUR_MX = "mx.example.test"
OUR_RELAY = "relay.example.test"
OUR_HOSTS = (OUR_MX, OUR_RELAY)
INTERNAL_NETWORKS = (ipaddress.ip_network("10.0.0.0/8"),
                     ipaddress.ip_network("2001:db8:1::/48"))
USER = "user@example.test"
REPORT_QUEUE_ID = "9A8B7C6D5E"  # the report's own arrival at our MX
SPAMMER_IP = "203.0.113.9"
QUEUE_ID = "D1442160024"
DATE = "Mon, 07 Jun 2021 09:15:02 +0700"

Fields = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class ReportCase:
    """One report and what must be extracted from it (None: not asserted)."""

    name: str
    raw: bytes
    method: str  # "arf" | "attachment" | "inline" | "trace" | "none"
    sender: str = ""
    ip: str = ""
    queue_ids: tuple[str, ...] | None = None
    message_id: str | None = None
    feedback_type: str | None = None
    problem: str = ""  # words one of the problems must contain
    options: dict[str, Any] = field(default_factory=dict)  # extra keywords for extract()


# ---- building blocks -------------------------------------------------------------------------


def message(headers: Fields, body: bytes | str = b"") -> bytes:
    """A message or MIME entity with CRLF line ends. Values may hold "\\r\\n\\t" folds."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    data = body.encode("utf-8") if isinstance(body, str) else body
    return head.encode("utf-8", "surrogateescape") + b"\r\n" + data


def part(content_type: str, body: bytes | str, *, encoding: str = "",
         disposition: str = "", headers: Fields = ()) -> bytes:
    """A MIME part, its body transfer-encoded as `encoding` says (base64, quoted-printable)."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    fields = [("Content-Type", content_type), *headers]
    if encoding == "base64":
        data = base64.encodebytes(data).replace(b"\n", b"\r\n")
    elif encoding == "quoted-printable":
        data = binascii.b2a_qp(data).replace(b"\n", b"\r\n")
    if encoding:
        fields.append(("Content-Transfer-Encoding", encoding))
    if disposition:
        fields.append(("Content-Disposition", disposition))
    return message(fields, data)


def multipart_body(parts: Sequence[bytes], boundary: str) -> bytes:
    delimiter = f"--{boundary}".encode()
    inner = b"".join(delimiter + b"\r\n" + p + b"\r\n" for p in parts)
    return b"This is a multi-part message in MIME format.\r\n" + inner + delimiter + b"--\r\n"


def multipart(subtype: str, parts: Sequence[bytes], boundary: str, params: str = "") -> bytes:
    """A multipart entity (as a part: Content-Type and body only)."""
    return message([("Content-Type", f'multipart/{subtype}; boundary="{boundary}"{params}')],
                   multipart_body(parts, boundary))


def our_hop(client: str, client_ip: str, queue_id: str, *, by: str = OUR_MX,
            protocol: str = "ESMTPS", date: str = DATE) -> tuple[str, str]:
    """A Received line as our Postfix writes it."""
    return ("Received", f"from {client} ({client} [{client_ip}])\r\n\tby {by} (Postfix) "
                        f"with {protocol} id {queue_id}\r\n\tfor <{USER}>; {date}")


def spam(*, envelope: str = "bounce@lottery.test",
         header_from: str = "Lottery Team <win@lottery.test>",
         client_ip: str = SPAMMER_IP, queue_id: str = QUEUE_ID,
         message_id: str = "<20210607.4711@lottery.test>", hops: Fields | None = None,
         body: str = "Claim your prize at http://lottery.test/claim\r\n") -> bytes:
    """A spam as our MX delivered it to a mailbox: our hop on top, then the spammer's own
    (which may be forged: a reader must not go below ours)."""
    received = list(hops) if hops is not None else [
        our_hop("mail.lottery.test", client_ip, queue_id)]
    headers = [
        ("Return-Path", f"<{envelope}>"),
        ("Delivered-To", USER),
        *received,
        ("Received", "from [10.9.8.7] (unknown [192.168.1.20]) by mail.lottery.test "
                     "with ESMTPSA id 77AA; Mon, 07 Jun 2021 02:15:00 +0000"),
        ("X-Spam-Status", "Yes, score=9.1 required=5.0 tests=FREQUENCY,ONE_WAY_SOURCE"),
        ("From", header_from),
        ("To", USER),
        ("Subject", "You won"),
        ("Date", "Mon, 07 Jun 2021 02:15:00 +0000"),
        ("Message-ID", message_id),
        ("MIME-Version", "1.0"),
        ("Content-Type", "text/plain; charset=utf-8"),
    ]
    return message(headers, body)


def headers_of(raw: bytes) -> bytes:
    """The header section of a message, as text/rfc822-headers carries it."""
    return raw.partition(b"\r\n\r\n")[0] + b"\r\n"


def report(content: bytes, *, subject: str = "Fwd: You won", reporter: str = USER,
           extra: Fields = ()) -> bytes:
    """What reaches the report mailbox: `content` (a part: its Content-* fields and body)
    under the reporter's header, with our MX's hop and queue id for the report itself."""
    headers = [
        our_hop("laptop.example.test", "10.1.2.3", REPORT_QUEUE_ID, protocol="ESMTPSA"),
        ("From", f"Nguyen Van A <{reporter}>"),
        ("To", "abuse@example.test"),
        ("Subject", subject),
        ("Date", "Mon, 07 Jun 2021 10:00:00 +0700"),
        ("Message-ID", "<report-1@example.test>"),
        ("MIME-Version", "1.0"),
        *extra,
    ]
    # `content` brings its own Content-* fields: it continues the header section.
    return message(headers).removesuffix(b"\r\n") + content


def text_report(text: str, *, charset: str = "utf-8", encoding: str = "",
                subtype: str = "plain", **kw: Any) -> bytes:
    """A report whose body is `text` (in `charset`, or UTF-8 when that is no real charset)."""
    codec = charset if charset in ("utf-8", "iso-8859-1") else "utf-8"
    return report(part(f"text/{subtype}; charset={charset}", text.encode(codec),
                       encoding=encoding), **kw)


def attached(raw: bytes, *, note: str = "Spam, please block.\r\n",
             content_type: str = "message/rfc822", **kw: Any) -> bytes:
    """A user's forward as attachment."""
    return report(multipart("mixed", [
        part("text/plain; charset=utf-8", note),
        part(content_type, raw, disposition='attachment; filename="spam.eml"'),
    ], "att-boundary-1"), **kw)


def arf(fields: Fields, reported: bytes | None, *,
        reported_type: str = "message/rfc822", report_params: str =
        '; report-type=feedback-report', subtype: str = "report",
        fields_part: bytes | None = None) -> bytes:
    """A mailbox provider's ARF report (RFC 5965 2): human part, fields, reported message."""
    parts = [part("text/plain; charset=us-ascii",
                  "This is an email abuse report for an email message received from IP\r\n"
                  "203.0.113.9 on Mon, 07 Jun 2021 09:15:02 +0700.\r\n")]
    parts.append(fields_part if fields_part is not None else part(
        "message/feedback-report", "".join(f"{n}: {v}\r\n" for n, v in fields)))
    if reported is not None:
        parts.append(part(reported_type, reported, disposition="inline"))
    return message([
        ("From", "Feedback Loop <fbl@provider.test>"),
        ("To", "abuse@example.test"),
        ("Subject", "FW: You won"),
        ("Date", "Tue, 08 Jun 2021 01:00:00 +0000"),
        ("Message-ID", "<fbl-8812@provider.test>"),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/{subtype}{report_params}; boundary="arf-b"'),
    ], multipart_body(parts, "arf-b"))


ARF_FIELDS: Fields = (
    ("Feedback-Type", "abuse"),
    ("User-Agent", "ProviderFBL/2.1"),
    ("Version", "1"),
    ("Original-Mail-From", "<bounce@lottery.test>"),
    ("Original-Rcpt-To", f"<{USER}>"),
    ("Arrival-Date", "Mon, 07 Jun 2021 02:15:03 +0000"),
    ("Reporting-MTA", "dns; mx.provider.test"),
    ("Source-IP", "198.51.100.77"),
    ("Reported-Domain", "lottery.test"),
    ("Authentication-Results", "mx.provider.test; spf=pass smtp.mailfrom=lottery.test"),
)


def arf_fields(**changes: str | None) -> list[tuple[str, str]]:
    """ARF_FIELDS with fields changed (Source_IP="...") or removed (Source_IP=None)."""
    names = {k.replace("_", "-").lower(): v for k, v in changes.items()}
    changed = ((n, names.get(n.lower(), v)) for n, v in ARF_FIELDS)
    return [(n, v) for n, v in changed if v is not None]


def provider_spam(ip: str = "203.0.113.20", **kw: Any) -> bytes:
    """The spam as a mailbox provider received it: its hop on top, none of ours."""
    return spam(hops=[("Received", f"from mail.lottery.test (mail.lottery.test [{ip}])\r\n"
                                   f"\tby mx.provider.test with ESMTP id a1b2c3d4e5; {DATE}")],
                **kw)


VIETNAMESE_TONES = "\u0300\u0301\u0303\u0309\u0323"  # grave, acute, tilde, hook, dot below


def cp1258(text: str) -> bytes:
    """Vietnamese in windows-1258 as Windows writes it: the letter (ư, ê, ơ ...) precomposed
    where the code page has it, the tone mark combining after it."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            marks = unicodedata.normalize("NFD", ch)
            letter = "".join(m for m in marks if m not in VIETNAMESE_TONES)
            tones = "".join(m for m in marks if m in VIETNAMESE_TONES)
            out += (unicodedata.normalize("NFC", letter) + tones).encode("cp1258")
    return bytes(out)


def nested_multipart(total: int = 10_000_000) -> bytes:
    """About `total` bytes of multiparts nested in each other, thousands deep (fast to make)."""
    depth = 4000
    opening = b"".join(b"Content-Type: multipart/mixed; boundary=\"n%d\"\r\n\r\n--n%d\r\n"
                       % (i, i) for i in range(depth))
    closing = b"".join(b"\r\n--n%d--\r\n" % i for i in reversed(range(depth)))
    filler = b"Content-Type: text/plain\r\n\r\n" + b"x" * 998 + b"\r\n"
    room = max(total - len(opening) - len(closing), 0) // len(filler)
    return report(opening + filler * room + closing)


def report_of_reports(levels: int) -> bytes:
    """A spam attached to a forward, attached to a forward ... `levels` attachments deep."""
    raw = spam()
    for level in range(levels - 1):
        raw = message([
            ("From", f"Colleague {level} <colleague{level}@partner.test>"),
            ("Subject", "Fwd: You won"),
            ("Message-ID", f"<fwd-{level}@partner.test>"),
            ("MIME-Version", "1.0"),
            ("Content-Type", f'multipart/mixed; boundary="lvl{level}"'),
        ], multipart_body([part("text/plain", "see attached\r\n"),
                           part("message/rfc822", raw)], f"lvl{level}"))
    return attached(raw)


# ---- inline forwards, as each client writes them ------------------------------------------

GMAIL_EN = """Please look at this spam.

---------- Forwarded message ---------
From: Lottery Team <win@lottery.test>
Date: Mon, Jun 7, 2021 at 9:15 AM
Subject: You won
To: <user@example.test>


Claim your prize at http://lottery.test/claim
"""

OUTLOOK_EN = """Spam again.

-----Original Message-----
From: Fake Bank [mailto:alert@fakebank.test]
Sent: Monday, June 7, 2021 9:15 AM
To: user@example.test
Subject: Verify your account

Click here to verify.
"""

OUTLOOK_ONE_LINE = """Another one.

-----Original Message-----
From: Fake Bank [mailto:alert@fakebank.test] Sent: Monday, June 7, 2021 9:15 AM To: \
user@example.test Subject: Verify your account

Click here to verify.
"""

OUTLOOK_RULE = """FYI

________________________________
From: Fake Bank <alert@fakebank.test>
Sent: Monday, June 7, 2021 9:15 AM
To: Nguyen Van A <user@example.test>
Subject: Verify your account

Click here to verify.
"""

THUNDERBIRD_EN = """

-------- Forwarded Message --------
Subject: \tCheap watches
Date: \tMon, 7 Jun 2021 09:15:00 +0700
From: \tWatch Shop <sales@watches.test>
To: \tuser@example.test

Best prices!
"""

APPLE_QUOTED = """Spam.

> Begin forwarded message:
>
> From: Pharmacy <rx@pharmacy.test>
> Subject: Pills
> Date: 7 June 2021 at 09:15:00 GMT+7
> To: user@example.test
>
> Buy now.
"""

GMAIL_VI = """Thư rác, xin chặn giúp.

---------- Thư đã chuyển tiếp ---------
Từ: Khuyến mãi <khuyenmai@quangcao.test>
Ngày: Th 2, 7 thg 6, 2021 lúc 09:15
Tiêu đề: Trúng thưởng iPhone
Đến: <user@example.test>


Nhấn vào đây để nhận thưởng.
"""

OUTLOOK_VI = """Lừa đảo.

-----Thư gốc-----
Từ: Ngân hàng [mailto:canhbao@nganhang-gia.test]
Đã gửi: Thứ Hai, ngày 7 tháng 6 năm 2021 9:15 SA
Đến: user@example.test
Chủ đề: Tài khoản của bạn bị khóa

Đăng nhập để mở khóa.
"""

THUNDERBIRD_VI = """Quảng cáo không mong muốn.

-------- Thư chuyển tiếp --------
Tiêu đề: \tVay vốn nhanh
Ngày: \tMon, 7 Jun 2021 09:15:00 +0700
Từ: \tTài chính Nhanh <vayvon@taichinh.test>
Đến: \tuser@example.test

Vay 100 triệu trong 5 phút.
"""

APPLE_VI = """> Bắt đầu thư được chuyển tiếp:
>
> Từ: Sòng bạc <casino@songbac.test>
> Chủ đề: Thưởng 500%
> Ngày: 7 tháng 6, 2021 lúc 09:15
> Đến: user@example.test
"""

GMAIL_HTML = (
    '<div dir="ltr"><br><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
    "---------- Forwarded message ---------<br>From: <strong class=\"gmail_sendername\" "
    'dir="auto">Lottery Team</strong> <span dir="auto">&lt;<a href="mailto:win@lottery.test">'
    "win@lottery.test</a>&gt;</span><br>Date: Mon, Jun 7, 2021 at 9:15 AM<br>Subject: You "
    'won<br>To: &lt;<a href="mailto:user@example.test">user@example.test</a>&gt;<br></div>'
    "<br><br><p>Claim&nbsp;your prize</p></div></div>"
)

WITH_TRACE_LINES = f"""See below, full headers included.

-------- Forwarded Message --------
Subject: You won
Date: Mon, 07 Jun 2021 02:15:00 +0000
From: Lottery Team <win@lottery.test>
To: user@example.test
Message-ID: <20210607.4711@lottery.test>
Received: from mail.lottery.test (mail.lottery.test [{SPAMMER_IP}])
\tby mx.example.test (Postfix) with ESMTPS id {QUEUE_ID}
\tfor <user@example.test>; {DATE}

Claim your prize.
"""

PASTED_HEADERS = f"""Hi abuse desk, here are the full headers of the spam:

Return-Path: <bounce@lottery.test>
Delivered-To: user@example.test
Received: from mail.lottery.test (mail.lottery.test [{SPAMMER_IP}])
        by mx.example.test (Postfix) with ESMTPS id {QUEUE_ID}
        for <user@example.test>; {DATE}
From: Lottery Team <win@lottery.test>
Subject: You won
Message-ID: <20210607.4711@lottery.test>

Thanks
"""

LATIN1 = """Encore du spam.

---------- Forwarded message ---------
From: Zoë Café <zoe@cafe.test>
Date: Mon, Jun 7, 2021 at 9:15 AM
Subject: Crème brûlée
To: <user@example.test>
"""


FILTER_HOPS = (  # a content filter on our MX: mail re-injected from localhost
    ("Received", f"from localhost (localhost [127.0.0.1]) by {OUR_MX} (Postfix) with ESMTP "
                 f"id 5B0C3160031; {DATE}"),
    our_hop("mail.lottery.test", SPAMMER_IP, QUEUE_ID),
)


def _seeded_garbage(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


# ---- the corpus --------------------------------------------------------------------------------


def report_corpus() -> list[ReportCase]:
    """Every case, named; the names are unique."""
    lottery = "bounce@lottery.test"
    cases = [
        # Mailbox providers' ARF reports.
        ReportCase("arf-abuse-message-source-ip-wins",
                   arf(ARF_FIELDS, provider_spam()), "arf", lottery, "198.51.100.77",
                   message_id="20210607.4711@lottery.test", feedback_type="abuse"),
        ReportCase("arf-abuse-headers-only-no-source-ip",
                   arf(arf_fields(Source_IP=None), headers_of(provider_spam()),
                       reported_type="text/rfc822-headers"),
                   "arf", lottery, "203.0.113.20", feedback_type="abuse"),
        ReportCase("arf-opt-out-sender-from-return-path",
                   arf(arf_fields(Feedback_Type="opt-out", Original_Mail_From=None,
                                  Source_IP=None), provider_spam(envelope="list@news.test")),
                   "arf", "list@news.test", "203.0.113.20", feedback_type="opt-out"),
        ReportCase("arf-fraud-ipv6-source-redacted-recipient",
                   arf(arf_fields(Feedback_Type="fraud", Source_IP="2001:DB8:BAD::25",
                                  Original_Rcpt_To="<redacted@provider.test>"),
                       headers_of(provider_spam()), reported_type="text/rfc822-headers"),
                   "arf", lottery, "2001:db8:bad::25", feedback_type="fraud"),
        ReportCase("arf-about-our-outbound-mail-source-ip-is-our-relay",
                   arf(arf_fields(Source_IP="10.0.0.25", Original_Mail_From=f"<{USER}>"),
                       spam(envelope=USER, header_from=f"<{USER}>", hops=[
                           ("Received", "from relay.example.test (relay.example.test "
                                        "[10.0.0.25]) by mx.provider.test with ESMTPS id "
                                        f"zz9; {DATE}"),
                           our_hop("[100.70.1.2]", "100.70.1.2", "4Fq1Nq3Z2nz9sVt",
                                   by=OUR_RELAY, protocol="ESMTPSA")])),
                   "arf", USER, "100.70.1.2", queue_ids=("4Fq1Nq3Z2nz9sVt",)),
        ReportCase("arf-garbled-feedback-part",
                   arf((), provider_spam(), fields_part=part(
                       "message/feedback-report", _seeded_garbage(600, 1), encoding="base64")),
                   "arf", lottery, "203.0.113.20", feedback_type="", problem="Feedback-Type"),
        ReportCase("arf-without-the-reported-message",
                   arf(ARF_FIELDS, None), "arf", lottery, "198.51.100.77",
                   problem="without the reported message"),
        ReportCase("arf-in-multipart-mixed-without-report-type",
                   arf(ARF_FIELDS, provider_spam(), subtype="mixed", report_params=""),
                   "arf", lottery, "198.51.100.77", problem="not sent as multipart/report"),
        # Users' forwards as attachment.
        ReportCase("attachment-with-our-queue-id-and-message-id",
                   attached(spam()), "attachment", lottery, SPAMMER_IP, queue_ids=(QUEUE_ID,),
                   message_id="20210607.4711@lottery.test"),
        # Loopback is a client like any other unless internal or ignore_private says not.
        ReportCase("attachment-through-a-content-filter-loopback-counts",
                   attached(spam(hops=FILTER_HOPS)), "attachment", lottery, "127.0.0.1",
                   queue_ids=("5B0C3160031",)),
        ReportCase("attachment-through-a-content-filter-two-queue-ids",
                   attached(spam(hops=FILTER_HOPS)), "attachment", lottery, SPAMMER_IP,
                   queue_ids=(QUEUE_ID, "5B0C3160031"), options={"ignore_private": True}),
        ReportCase("attachment-forged-hop-of-ours-below-the-real-one",
                   attached(spam(hops=[
                       our_hop("mail.lottery.test", SPAMMER_IP, QUEUE_ID),
                       our_hop("innocent.test", "198.51.100.200", "FA4ED0000")])),
                   "attachment", lottery, SPAMMER_IP, queue_ids=(QUEUE_ID,)),
        ReportCase("attachment-via-an-internal-relay",
                   attached(spam(hops=[
                       our_hop(OUR_MX, "10.0.0.5", "7C1D2E3F40", by="store.example.test",
                               protocol="LMTP"),
                       our_hop("mail.lottery.test", SPAMMER_IP, QUEUE_ID)])),
                   "attachment", lottery, SPAMMER_IP, queue_ids=(QUEUE_ID,)),
        ReportCase("attachment-ipv6-client",
                   attached(spam(hops=[("Received",
                                        "from mail.lottery.test (mail.lottery.test "
                                        "[IPv6:2001:DB8:BAD::25]) by mx.example.test "
                                        f"(Postfix) with ESMTPS id {QUEUE_ID}; {DATE}")])),
                   "attachment", lottery, "2001:db8:bad::25", queue_ids=(QUEUE_ID,)),
        ReportCase("attachment-headers-only",
                   attached(headers_of(spam()), content_type="text/rfc822-headers"),
                   "attachment", lottery, SPAMMER_IP, queue_ids=(QUEUE_ID,)),
        ReportCase("attachment-eml-file-in-base64",
                   report(multipart("mixed", [
                       part("text/plain", "spam\r\n"),
                       part('application/octet-stream; name="You won.eml"', spam(),
                            encoding="base64", disposition="attachment")], "eml-b")),
                   "attachment", lottery, SPAMMER_IP, queue_ids=(QUEUE_ID,)),
        ReportCase("attachment-message-rfc822-in-base64",
                   report(multipart("mixed", [
                       part("message/rfc822", spam(), encoding="base64")], "b64-b")),
                   "attachment", lottery, SPAMMER_IP, queue_ids=(QUEUE_ID,)),
        ReportCase("attachment-encoded-word-hides-the-from-address",
                   attached(spam(envelope="", header_from="=?utf-8?b?" + base64.b64encode(
                       "Xổ số <xoso@lottery.test>".encode()).decode() + "?=")),
                   "attachment", "xoso@lottery.test", SPAMMER_IP),
        ReportCase("attachment-spam-carrying-its-own-eml",
                   attached(message([
                       *[(n, v) for n, v in [our_hop("mail.phish.test", "198.51.100.66",
                                                     "AB12CD34EF")]],
                       ("From", "Invoices <billing@phish.test>"),
                       ("Message-ID", "<phish-1@phish.test>"),
                       ("Content-Type", 'multipart/mixed; boundary="ph"')],
                       multipart_body([part("text/plain", "see the invoice\r\n"),
                                       part("message/rfc822", message(
                                           [("From", "ceo@victim.test"), ("Subject", "x")],
                                           "pay\r\n"))], "ph"))),
                   "attachment", "billing@phish.test", "198.51.100.66",
                   queue_ids=("AB12CD34EF",)),
        ReportCase("report-of-a-report-arf-forwarded-by-a-user",
                   attached(arf(ARF_FIELDS, provider_spam())),
                   "arf", lottery, "198.51.100.77", feedback_type="abuse"),
        ReportCase("report-of-a-report-colleague-forward",
                   report_of_reports(2), "attachment", lottery, SPAMMER_IP,
                   queue_ids=(QUEUE_ID,)),
        ReportCase("report-of-reports-too-deep", report_of_reports(6), "none",
                   problem="deeper than 3 levels"),
        # Inline forwards.
        ReportCase("gmail-inline-en", text_report(GMAIL_EN), "inline", "win@lottery.test"),
        ReportCase("outlook-inline-en-quoted-printable",
                   text_report(OUTLOOK_EN, encoding="quoted-printable"), "inline",
                   "alert@fakebank.test"),
        ReportCase("outlook-one-line-block", text_report(OUTLOOK_ONE_LINE), "inline",
                   "alert@fakebank.test"),
        ReportCase("outlook-rule-no-marker", text_report(OUTLOOK_RULE), "inline",
                   "alert@fakebank.test"),
        ReportCase("thunderbird-inline-en", text_report(THUNDERBIRD_EN), "inline",
                   "sales@watches.test"),
        ReportCase("apple-inline-quoted", text_report(APPLE_QUOTED), "inline",
                   "rx@pharmacy.test"),
        ReportCase("gmail-inline-vi-base64", text_report(GMAIL_VI, encoding="base64"),
                   "inline", "khuyenmai@quangcao.test"),
        ReportCase("outlook-inline-vi-quoted-printable",
                   text_report(OUTLOOK_VI, encoding="quoted-printable"), "inline",
                   "canhbao@nganhang-gia.test"),
        ReportCase("thunderbird-inline-vi-windows-1258",
                   report(part("text/plain; charset=windows-1258", cp1258(THUNDERBIRD_VI),
                               encoding="quoted-printable")),
                   "inline", "vayvon@taichinh.test"),
        ReportCase("apple-inline-vi-decomposed-utf8",
                   text_report(unicodedata.normalize("NFD", APPLE_VI)), "inline",
                   "casino@songbac.test"),
        ReportCase("gmail-html-only", text_report(GMAIL_HTML, subtype="html"), "inline",
                   "win@lottery.test"),
        ReportCase("gmail-alternative-plain-and-html",
                   report(multipart("alternative", [
                       part("text/plain; charset=utf-8", GMAIL_EN, encoding="base64"),
                       part("text/html; charset=utf-8", GMAIL_HTML)], "alt-b")),
                   "inline", "win@lottery.test"),
        ReportCase("inline-with-quoted-message-id-and-received",
                   text_report(WITH_TRACE_LINES), "inline", "win@lottery.test", SPAMMER_IP,
                   queue_ids=(QUEUE_ID,), message_id="20210607.4711@lottery.test"),
        ReportCase("latin-1-forward", text_report(LATIN1, charset="iso-8859-1"), "inline",
                   "zoe@cafe.test"),
        ReportCase("unknown-charset-read-as-utf-8",
                   text_report(GMAIL_EN, charset="x-no-such-charset"), "inline",
                   "win@lottery.test", problem="unknown charset"),
        ReportCase("punycode-charset-is-not-run",
                   report(part("text/plain; charset=punycode",
                               GMAIL_EN + "x" * 500_000)), "inline",
                   "win@lottery.test", problem="unknown charset"),
        ReportCase("base64-cut-short-mid-quantum",
                   report(part("text/plain; charset=utf-8",
                               base64.b64encode(GMAIL_EN.encode())[:-3],
                               headers=[("Content-Transfer-Encoding", "base64")])),
                   "inline", "win@lottery.test"),
        # Header lines pasted into the text.
        ReportCase("pasted-full-headers", text_report(PASTED_HEADERS), "trace",
                   lottery, SPAMMER_IP, queue_ids=(QUEUE_ID,),
                   message_id="20210607.4711@lottery.test"),
        # Malformed and hostile.
        ReportCase("no-attachment-no-forward",
                   text_report("This is spam!!! Block them please.\r\n"), "none",
                   problem="no attached message or forward"),
        ReportCase("garbage-bytes", _seeded_garbage(64 * 1024, 7), "none"),
        ReportCase("empty", b"", "none"),
        ReportCase("truncated-mime-keeps-the-attached-header",
                   attached(spam())[:-120], "attachment", lottery, SPAMMER_IP,
                   queue_ids=(QUEUE_ID,), problem="no closing boundary"),
        ReportCase("multipart-without-boundary-read-as-text",
                   report(message([("Content-Type", "multipart/mixed")],
                                  multipart_body([part("message/rfc822", spam())], "lost"))),
                   "trace", lottery, SPAMMER_IP, queue_ids=(QUEUE_ID,),
                   problem="without boundary"),
        ReportCase("ten-megabytes-of-nested-multipart", nested_multipart(), "none",
                   problem="nested deeper than 10"),
        ReportCase("too-large", attached(spam(body="x" * 200_000)), "none",
                   problem="too large", options={"max_bytes": 100_000}),
        ReportCase("delivery-status-notification-is-no-report",
                   report(multipart("report", [
                       part("text/plain", "Delivery failed\r\n"),
                       part("message/delivery-status", "Reporting-MTA: dns; mx\r\n"),
                       part("message/rfc822", spam())], "dsn-b",
                       "; report-type=delivery-status")),
                   "none", problem="not a spam report"),
        ReportCase("nul-and-crlf-injection-in-fields",
                   arf(arf_fields(Feedback_Type="abuse\x00\rX-Injected: yes",
                                  Source_IP="203.0.113.9\rX-Injected: yes",
                                  Original_Mail_From="<evil@inject.test>\x00\u2028X-Injected:",
                                  User_Agent="\x1b[31mRed\u202eevil"),
                       provider_spam()),
                   "arf", "evil@inject.test", "203.0.113.20", problem="Source-IP"),
        ReportCase("injection-in-a-forwarded-from-and-charset",
                   report(part('text/plain; charset="bad\x00\x1b[2J"',
                               GMAIL_EN.replace("Lottery Team <win@lottery.test>",
                                                "Lottery\x00\u2028\u202e <win@lottery.test>"
                                                "\rX-Injected: yes"))),
                   "inline", "win@lottery.test", problem="unknown charset"),
    ]
    names = [case.name for case in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases
