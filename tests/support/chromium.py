"""Debian's headless Chromium, to see a page as an operator's browser does: one run writes
a PNG screenshot of the window and prints the DOM the browser built from the page.

The browser is cut off from every network: all host names resolve to nothing and any
request would go to a proxy on loopback where nothing answers. It runs as root in the
tests, hence --no-sandbox, with a fresh profile in a temp folder, in its own process group
so that a run that hangs is killed with all its helpers (and only those).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

BINARY = "chromium"
# Its first start on a cold VM (fonts, profile) can take tens of seconds.
TIMEOUT = 120
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--no-first-run", "--no-default-browser-check", "--disable-extensions",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--hide-scrollbars", "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
)


def unavailable_reason() -> str | None:
    if shutil.which(BINARY) is None:
        return f"{BINARY} is not installed (`make test` installs Debian's chromium package)"
    return None


def render(page: Path, screenshot: Path, width: int, height: int,
           timeout: float = TIMEOUT) -> str:
    """Open `page` in a `width`x`height` window, write its screenshot to `screenshot` and
    return the DOM as the browser parsed it; RuntimeError (with the browser's last words)
    if it fails, times out or writes no screenshot."""
    screenshot.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="thurac-chromium-") as home:
        command = [BINARY, *FLAGS, f"--user-data-dir={home}/profile",
                   f"--window-size={width},{height}", f"--screenshot={screenshot}",
                   "--dump-dom", page.resolve().as_uri()]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
               "XDG_CONFIG_HOME": f"{home}/config", "XDG_CACHE_HOME": f"{home}/cache",
               "LANG": "C.UTF-8"}
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, env=env, cwd=home,
                                   start_new_session=True)
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the group this call started
            out, err = process.communicate()
            raise RuntimeError(f"{BINARY} did not finish within {timeout:.0f} s:\n"
                               f"{_last_words(err)}") from None
    if process.returncode != 0 or not screenshot.is_file():
        raise RuntimeError(f"{BINARY} exited {process.returncode}"
                           f"{'' if screenshot.is_file() else ' without a screenshot'}:\n"
                           f"{_last_words(err)}")
    return out.decode("utf-8", errors="replace")


def _last_words(err: bytes) -> str:
    """The end of the browser's stderr, without the D-Bus complaints of a container."""
    lines = [line for line in err.decode(errors="replace").splitlines() if "dbus" not in line]
    return "\n".join(lines[-20:])
