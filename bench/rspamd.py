"""rspamd 3.4's milter proxy (D) as the peer to beat: Debian's rspamd and redis-server, each
a private instance on a free loopback port, with a configuration of the bench's own (nothing
in /etc/rspamd is changed). Only the SPF, DKIM, DMARC and ratelimit modules run: no global
rules (rspamd.lua), no Bayes, every other module disabled. Ratelimit keeps buckets in redis
for the same keys and windows as thurac's shipped frequency check, and only adds a symbol
(no soft reject), as thurac's tag-only mode only tags."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from bench.filters import Answered, Filter
from tests.support.dns_server import TestDnsServer
from tests.support.net import free_port, wait_listening

RSPAMD = "/usr/bin/rspamd"
REDIS = "/usr/bin/redis-server"
SYSTEM_CONFDIR = Path("/etc/rspamd")
KEPT_MODULES = ("spf", "dkim", "dmarc", "ratelimit")
RUN_AS = "_rspamd"  # Debian's rspamd user
START_TIMEOUT = 60.0
# thurac's shipped frequency windows (config/thurac.yaml): seconds → messages per key.
WINDOWS = {600: {"sender": 20, "domain": 60, "ip": 60},
           3600: {"sender": 60, "domain": 200, "ip": 200},
           86400: {"sender": 300, "domain": 1000, "ip": 1000}}
SELECTORS = {"sender": "from('smtp'):addr", "domain": "from('smtp'):domain", "ip": "ip"}


def available() -> bool:
    return all(os.access(path, os.X_OK) for path in (RSPAMD, REDIS))


def _rates() -> str:
    rates = []
    for seconds, limits in WINDOWS.items():
        for key, limit in limits.items():
            rates.append(f'  {key}_{seconds} = {{ selector = "{SELECTORS[key]}"; '
                         f'bucket = {{ burst = {limit}; rate = "{limit} / {seconds}s"; }} }}')
    return "rates {\n" + "\n".join(rates) + "\n}\n"


def write_config(folder: Path, port: int, redis_port: int, dns: TestDnsServer) -> Path:
    """rspamd.conf and its LOCAL_CONFDIR under `folder`; returns the rspamd.conf path."""
    local = folder / "local"
    override = local / "override.d"
    override.mkdir(parents=True)
    (folder / "rules.lua").write_text(  # rspamd.lua's set-up without its global rules
        '-- no global rules: only the kept modules run\nrequire "global_functions" ()\n'
        "config['regexp'] = {}\nrspamd_maps = {}\n")
    modules = sorted(path.stem for path in (SYSTEM_CONFDIR / "modules.d").glob("*.conf"))
    for module in modules:
        if module not in (*KEPT_MODULES, "redis"):
            (override / f"{module}.conf").write_text("enabled = false;\n")
    for module in ("spf", "dkim", "dmarc"):  # smtp-source connects from 127.0.0.1
        (override / f"{module}.conf").write_text("check_local = true;\ncheck_authed = true;\n")
    (override / "ratelimit.conf").write_text(_rates() + 'symbol = "RATELIMITED";\n')
    (override / "redis.conf").write_text(f'servers = "127.0.0.1:{redis_port}";\n')
    (override / "actions.conf").write_text(  # tag only: never reject, never greylist
        "reject = null;\ngreylist = null;\n\"rewrite subject\" = null;\nadd_header = 5;\n")
    (override / "options.inc").write_text(f"""\
filters = "dkim";
dns {{ nameserver = ["{dns.address}"]; timeout = 2s; retransmits = 1; }}
control_socket = "{folder}/rspamd.sock mode=0600";
""")
    config = folder / "rspamd.conf"
    config.write_text(f"""\
lua = "{folder}/rules.lua";
modules {{ path = "${{PLUGINSDIR}}"; }}
.include "$CONFDIR/metrics.conf"
.include "$CONFDIR/actions.conf"
.include "$CONFDIR/groups.conf"
.include "$CONFDIR/modules.conf"
options {{
    pidfile = "{folder}/rspamd.pid";
    .include "$CONFDIR/options.inc"
    .include(priority=10) "{override}/options.inc"
}}
logging {{
    type = "file";
    filename = "{folder}/rspamd.log";
    .include "$CONFDIR/logging.inc"
}}
worker "rspamd_proxy" {{
    bind_socket = "127.0.0.1:{port}";
    .include "$CONFDIR/worker-proxy.inc"
    .include(priority=10) "{override}/worker-proxy.inc"
}}
""")
    (override / "worker-proxy.inc").write_text(  # scan in the proxy: no normal worker
        'upstream "local" { default = yes; self_scan = yes; }\n')
    return config


class RspamdFilter(Filter):
    """rspamd_proxy in milter mode with self_scan, and its private redis."""

    key = "D"
    label = "rspamd 3.4 milter proxy"

    def __init__(self, folder: Path, dns: TestDnsServer) -> None:
        self.folder = folder
        folder.mkdir(parents=True)
        self.port, self.redis_port = free_port(), free_port()
        self.milter = f"inet:127.0.0.1:{self.port}"
        self.config = write_config(folder, self.port, self.redis_port, dns)
        self.log_path = folder / "rspamd.log"
        self.redis: subprocess.Popen[bytes] | None = None
        self.rspamd: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def start(self) -> None:
        for folder in (self.folder.parent, self.folder):  # rspamd's user must get in
            folder.chmod(0o755)
        shutil.chown(self.folder, RUN_AS, RUN_AS)
        self.redis = subprocess.Popen(
            [REDIS, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--protected-mode", "yes"],
            stdout=(self.folder / "redis.log").open("wb"), stderr=subprocess.STDOUT)
        wait_listening("127.0.0.1", self.redis_port, timeout=START_TIMEOUT)
        self.rspamd = subprocess.Popen(
            [RSPAMD, "-f", "-u", RUN_AS, "-g", RUN_AS, "-c", str(self.config),
             f"--var=LOCAL_CONFDIR={self.folder / 'local'}", f"--var=DBDIR={self.folder}",
             f"--var=RUNDIR={self.folder}", f"--var=LOGDIR={self.folder}"],
            stdout=(self.folder / "rspamd.out").open("wb"), stderr=subprocess.STDOUT)
        try:
            wait_listening("127.0.0.1", self.port, timeout=START_TIMEOUT)
        except TimeoutError:
            self.stop()
            out = (self.folder / "rspamd.out").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"rspamd did not start:\n{out}") from None

    def stop(self) -> None:
        for process in (self.rspamd, self.redis):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)

    def pids(self) -> list[int]:
        return [p.pid for p in (self.rspamd, self.redis) if p is not None]

    def alive(self) -> bool:
        return all(p is not None and p.poll() is None for p in (self.rspamd, self.redis))

    def mark(self) -> None:
        # rspamd writes its log through a buffer: let what it holds reach the file first.
        time.sleep(0.5)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0

    def answered(self) -> Answered:
        time.sleep(1.5)  # the log buffer again
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            text = log.read()
        return Answered(text.count(b"(default: "), [])

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")
