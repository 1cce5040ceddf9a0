"""A pymilter milter that does nothing, the floor thurac is compared with: it asks Postfix
for every callback (connect, HELO, MAIL, RCPT, DATA, each header, end of header, each body
chunk, end of message) and answers each one, CONTINUE and finally ACCEPT, so it carries
the protocol's whole cost and none of a verdict's.

pymilter tells the MTA to skip the callbacks a milter does not define (and not to wait for
a reply to those marked @noreply): a milter that defines only eom() is never sent the
header or the body, which is no floor for one that reads them.

    .venv/bin/python bench/noop_milter.py inet:PORT@127.0.0.1
"""

from __future__ import annotations

import sys
from typing import Any

import Milter

TIMEOUT = 60  # seconds libmilter waits on a silent MTA


class Noop(Milter.Base):  # type: ignore[misc]
    def connect(self, hostname: str, family: int, hostaddr: Any) -> int:
        return int(Milter.CONTINUE)

    def hello(self, heloname: str) -> int:
        return int(Milter.CONTINUE)

    def envfrom(self, mailfrom: str, *esmtp: str) -> int:
        return int(Milter.CONTINUE)

    def envrcpt(self, to: str, *esmtp: str) -> int:
        return int(Milter.CONTINUE)

    def data(self) -> int:
        return int(Milter.CONTINUE)

    def header(self, name: str, value: str) -> int:
        return int(Milter.CONTINUE)

    def eoh(self) -> int:
        return int(Milter.CONTINUE)

    def body(self, chunk: bytes) -> int:
        return int(Milter.CONTINUE)

    def eom(self) -> int:
        return int(Milter.ACCEPT)


if __name__ == "__main__":
    Milter.factory = Noop
    Milter.runmilter("noop", sys.argv[1], TIMEOUT)
