"""`thurac complaints`: ingest .eml files and an mbox as reports, list them (by source, as
JSON), remove one made by mistake; forward without a destination says so."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

import pytest
import yaml

from thurac.cli import main

SPAM = (b"Return-Path: <promo@bulk.test>\r\nReceived: from mail.bulk.test (mail.bulk.test "
        b"[203.0.113.9])\r\n\tby mx.example.test (Postfix) with ESMTP id D1442160024\r\n\t"
        b"for <bob@example.test>; Mon, 23 Nov 2026 10:00:00 +0700\r\n"
        b"From: promo@bulk.test\r\nTo: bob@example.test\r\nSubject: offer\r\n"
        b"Message-ID: <offer.1@bulk.test>\r\n\r\nBuy!\r\n")


def report(reporter: str, spam: bytes = SPAM) -> bytes:
    message = EmailMessage()
    message["From"] = reporter
    message["To"] = "spam@example.test"
    message["Subject"] = "Fwd: offer"
    message.set_content("spam")
    message.add_attachment(spam, maintype="message", subtype="rfc822")
    return message.as_bytes()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "thurac.yaml"
    path.write_text(yaml.safe_dump({
        "database": {"url": f"sqlite:///{tmp_path}/thurac.db"},
        "local": {"domains": ["example.test"]},
        "reports": {"addresses": ["spam@example.test"]},
    }))
    return path


def listed(config: Path, capsys: pytest.CaptureFixture[str],
           *extra: str) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main(["complaints", "list", "--json", *extra, "--config", str(config)]) == 0
    return list(json.loads(capsys.readouterr().out))


def test_ingest_list_remove(config: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    eml = tmp_path / "one.eml"
    eml.write_bytes(report("bob@example.test"))
    mbox = tmp_path / "reports.mbox"
    mbox.write_bytes(b"From carol@example.test Mon Nov 23 10:00:00 2026\n"
                     + report("carol@example.test").replace(b"\r\n", b"\n")
                     + b"\nFrom dave@example.test Mon Nov 23 10:01:00 2026\n"
                     + report("dave@example.test").replace(b"\r\n", b"\n") + b"\n")
    assert main(["complaints", "ingest", str(eml), str(mbox), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.count("against sender=promo@bulk.test ip=203.0.113.9") == 3, out
    found = listed(config, capsys)
    assert sorted(c["reporter"] for c in found) == [  # type: ignore[type-var]
        "bob@example.test", "carol@example.test", "dave@example.test"]
    assert all(c["trusted"] and c["client_ip"] == "203.0.113.9" for c in found)
    assert len(listed(config, capsys, "--source", "bulk.test")) == 3
    assert listed(config, capsys, "--source", "198.51.100.1") == []
    first = found[0]["id"]
    assert main(["complaints", "remove", str(first), "--config", str(config)]) == 0
    assert len(listed(config, capsys)) == 2
    assert main(["complaints", "remove", str(first), "--config", str(config)]) == 1
    assert main(["complaints", "forward", str(found[1]["id"]), "--config", str(config)]) == 1
    assert "reports.forward_to is not set" in capsys.readouterr().err


def test_a_file_that_reports_nothing_says_so_and_exits_1(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    empty = tmp_path / "empty.eml"
    empty.write_bytes(b"From: bob@example.test\r\nSubject: hi\r\n\r\njust text\r\n")
    assert main(["complaints", "ingest", str(empty), "--config", str(config)]) == 1
    assert "nothing extracted" in capsys.readouterr().out
    assert main(["complaints", "ingest", str(tmp_path / "missing.eml"),
                 "--config", str(config)]) == 1
