"""A pymilter milter that does nothing: the floor thurac's speed is compared with."""

from __future__ import annotations

import sys

import Milter


class Noop(Milter.Base):  # type: ignore[misc]
    def eom(self) -> int:
        return int(Milter.ACCEPT)


if __name__ == "__main__":
    Milter.factory = Noop
    Milter.runmilter("noop", sys.argv[1], 60)
