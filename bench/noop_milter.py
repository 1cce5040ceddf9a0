"""A pymilter milter that does nothing (or only adds one header): the floors thurac is
compared with. Adding any header makes Postfix's cleanup rewrite the queue file, so a milter
that tags mail is measured against the floor that also tags."""

from __future__ import annotations

import sys

import Milter


class Noop(Milter.Base):  # type: ignore[misc]
    add_header = False

    def eom(self) -> int:
        if self.add_header:
            self.addheader("X-Noop", "1")
        return int(Milter.ACCEPT)


if __name__ == "__main__":
    Noop.add_header = "--add-header" in sys.argv
    Milter.factory = Noop
    Milter.set_flags(Milter.ADDHDRS)
    Milter.runmilter("noop", sys.argv[1], 60)
