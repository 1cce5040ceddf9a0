"""Run a command as the unit's sandbox would, for the parts the kernel offers without systemd
as PID 1: `python -m tests.support.sandbox COMMAND…`.

- NoNewPrivileges=yes: prctl(PR_SET_NO_NEW_PRIVS).
- MemoryDenyWriteExecute=yes: prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN), Linux 6.3 and
  later, what systemd 253 and later use for it (older ones refuse the same mappings with a
  seccomp filter): no memory both writable and executable, none made executable later.
Both are kept across execve, so the command runs under them from its first instruction."""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

PR_SET_NO_NEW_PRIVS = 38
PR_SET_MDWE = 65
PR_GET_MDWE = 66
PR_MDWE_REFUSE_EXEC_GAIN = 1
UNSUPPORTED = 3  # exit code: this kernel cannot do it (the test skips)


def main(argv: list[str]) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        print(f"sandbox: PR_SET_NO_NEW_PRIVS: {os.strerror(ctypes.get_errno())}",
              file=sys.stderr)
        return UNSUPPORTED
    if (libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0
            or libc.prctl(PR_GET_MDWE, 0, 0, 0, 0) != PR_MDWE_REFUSE_EXEC_GAIN):
        print(f"sandbox: PR_SET_MDWE: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return UNSUPPORTED
    os.execvp(argv[0], argv)


PROBE = """
import mmap, sys
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except PermissionError:
    sys.exit(0)
sys.exit(1)
"""


def supported() -> bool:
    """Whether this kernel runs a command so: there, a writable and executable mapping is
    refused (PR_SET_MDWE came with Linux 6.3)."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-m", "tests.support.sandbox", sys.executable,
                           "-c", PROBE], capture_output=True, check=False,
                          cwd=root).returncode == 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
