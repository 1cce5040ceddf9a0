"""SMTP AUTH for the private Postfix: a private Dovecot that does authentication only, with
its own base_dir, a passwd-file of test users, and an auth socket Postfix's smtpd talks to
(smtpd_sasl_type = dovecot). Started and stopped by the test; never the system's Dovecot
(its own config file, instance name and directories; no IMAP/POP3 listener at all)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

DOVECOT = shutil.which("dovecot", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/dovecot"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

CONFIG = """\
# Written by tests/support/sasl.py -- a private, authentication-only Dovecot.
instance_name = {instance}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols =
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/home
}}
service auth {{
  unix_listener {root}/auth {{
    mode = 0666
  }}
}}
service anvil {{
  chroot =
}}
"""


def dovecot_available() -> bool:
    return Path(DOVECOT).exists()


class DovecotAuth:
    """`users`: login → password. `socket` is the path for Postfix's smtpd_sasl_path."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self.users = dict(users)
        self.root: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        assert self.root is not None, "not started"
        return self.root / "auth"

    def postfix_params(self) -> dict[str, str]:
        """main.cf parameters that make smtpd offer AUTH through this Dovecot."""
        return {"smtpd_sasl_auth_enable": "yes", "smtpd_sasl_type": "dovecot",
                "smtpd_sasl_path": str(self.socket),
                "smtpd_sasl_security_options": "noanonymous",
                "smtpd_tls_auth_only": "no", "broken_sasl_auth_clients": "no"}

    def log(self) -> str:
        if self.root is None or not (self.root / "dovecot.log").exists():
            return ""
        return (self.root / "dovecot.log").read_text(errors="replace")

    def start(self) -> DovecotAuth:
        self.root = Path(tempfile.mkdtemp(prefix="thurac-dovecot-"))
        self.root.chmod(0o755)  # Postfix's smtpd (user postfix) reaches the socket
        for sub in ("run", "state", "home"):
            (self.root / sub).mkdir()
        (self.root / "users").write_text(
            "".join(f"{user}:{{PLAIN}}{password}::::::\n"
                    for user, password in self.users.items()))
        config = self.root / "dovecot.conf"
        config.write_text(CONFIG.format(root=self.root, instance=self.root.name))
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT
        while not self.socket.is_socket():
            if self.process.poll() is not None or time.monotonic() > deadline:
                err = self.process.stderr.read().decode(errors="replace") if \
                    self.process.stderr and self.process.poll() is not None else ""
                self.stop()
                raise RuntimeError(f"private dovecot did not start: {err}\n{self.log()}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Stop our master (SIGTERM: it stops its own children), then remove its files."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None
        if self.root is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.root)
            self.root = None

    def __enter__(self) -> DovecotAuth:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
