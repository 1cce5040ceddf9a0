"""The reject reply an SMTP client sees through Postfix: the criterion in words with what
was measured and the limit, the queue id, in the configured language; a hostile sender
cannot put its bytes into it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from tests.integration.conftest import Stack, message

pytestmark = pytest.mark.postfix

SENDER_IP = "127.0.0.10"
# Only the frequency criterion can reach the reject threshold: its score is pinned high and
# the limit is two messages in ten minutes.
BURST = {
    "frequency": {"windows": [{"seconds": 600, "messages": {"sender": 2}}], "max_factor": 1},
    "scores": {"C22_FREQ_SENDER": 30.0},
    "unrelated_recipients": {"enabled": False},
    "one_way_source": {"enabled": False},
}


def burst(stack: Stack, sender: str, count: int = 3, **options: Any) -> Any:
    result = None
    for n in range(count):
        result = stack.postfix.send(sender, [f"user{n}@example.test"],
                            message("promo@bulk.test", f"user{n}@example.test", f"offer {n}"),
                            source_ip=SENDER_IP, helo="mail.bulk.test", **options)
    return result


@pytest.mark.parametrize(("language", "expected"), [
    ("en", r"Rejected as spam \(Circular 22/2021 art\. 4\.3a, send frequency: "
           r"3 messages/10min > 2\) \[queue id (\w+)\]"),
    ("vi", r"Thu bi tu choi la thu rac \(Thong tu 22/2021 dieu 4\.3a, tan suat gui: "
           r"3 thu/10min > 2\) \[ma hang doi (\w+)\]"),
])
def test_the_reject_reply_names_the_criterion_and_the_queue_id(
    stack_factory: Callable[..., Stack], language: str, expected: str,
) -> None:
    stack = stack_factory({**BURST, "replies": {"language": language}})
    last = burst(stack, "promo@bulk.test")
    assert last.code == 550, last.message
    reply = last.message
    assert reply.startswith("5.7.1 ")
    found = re.search(expected, reply)
    assert found, reply
    # The queue id in the reply is the one thurac logged the verdict under.
    assert f" {found.group(1)}: direction=inbound" in stack.thurac.log()
    assert "action=reject" in stack.thurac.log_line_for(found.group(1))


def test_a_non_ascii_sender_does_not_reach_the_reply(stack_factory: Callable[..., Stack]) -> None:
    stack = stack_factory(BURST)
    sender = "ng\u01b0\u1eddi.g\u1eedi@bulk.test"  # người.gửi, sent with SMTPUTF8
    last = burst(stack, sender, mail_options=["SMTPUTF8"])
    assert last.code == 550, last.message
    reply = last.message
    assert reply.isascii() and "\r" not in reply and "\n" not in reply
    assert "send frequency: 3 messages/10min > 2" in reply
    assert len(reply.encode()) < 512
