"""Process life: the milter socket, signals (SIGTERM/SIGINT stop cleanly, SIGHUP reloads)."""

from __future__ import annotations

import faulthandler
import functools
import grp
import logging
import os
import signal
import socket
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import Milter

from thurac import config, metrics, notify, pidfile, privileges
from thurac import log as thurac_log
from thurac.config import MilterSettings, Settings
from thurac.errors import ConfigError, PidFileError, StoreError
from thurac.milter import FLAGS, ThuracMilter
from thurac.scanner import Scanner, open_scanner
from thurac.store.engine import database_file
from thurac.store.spool import spool_path_for
from thurac.workers import VerdictWorkers

log = logging.getLogger("thurac.server")


SOCKET_APPEAR_TIMEOUT = 10.0  # seconds to wait for libmilter to create a unix socket
WAKE_TIMEOUT = 1.0  # seconds for the connection that wakes libmilter's listener at stop
WAKE_INTERVAL = 0.1  # seconds between those connections
WAKE_TRIES = 60  # then libmilter's own poll timeout ends the wait anyway


def _unix_path(spec: str) -> str | None:
    for prefix in ("unix:", "local:"):
        if spec.startswith(prefix):
            return spec[len(prefix):]
    return None


def _clear_stale_unix_socket(path: str) -> None:
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)


def _open_unix_socket_to_mta(path: str, settings: MilterSettings) -> bool:
    """Give the socket libmilter creates the configured group and mode (Postfix must write it).

    libmilter creates the socket inside runmilter, so this waits for it in a thread.
    """
    deadline = time.monotonic() + SOCKET_APPEAR_TIMEOUT
    while time.monotonic() < deadline:
        if os.path.exists(path):
            try:
                gid = grp.getgrnam(settings.socket_group).gr_gid
            except KeyError:
                log.warning("milter.socket_group %r does not exist; %s keeps its group",
                            settings.socket_group, path)
                gid = -1
            try:
                os.chown(path, -1, gid)
                os.chmod(path, int(settings.socket_mode, 8))
            except OSError as exc:
                log.error("cannot set group/mode of %s: %s", path, exc)
            return True
        time.sleep(0.05)
    log.error("unix socket %s did not appear within %.0fs", path, SOCKET_APPEAR_TIMEOUT)
    return False


def _ready_when(listening: Callable[[], bool], spec: str) -> None:
    """READY=1 to systemd once libmilter's socket listens (it opens it inside runmilter)."""
    if listening():
        notify.ready(f"listening on {spec}")


# Files thurac creates (the SQLite store, its WAL, the spool) hold mail headers and addresses:
# no access for other local users. The unix socket gets its own mode (milter.socket_mode).
STATE_UMASK = 0o027


def _warn_if_others_can_read(paths: list[Path]) -> None:
    for path in paths:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue
        if mode & stat.S_IROTH:
            log.warning("%s is readable by every local user (mode %03o) and holds mail "
                        "headers and addresses: chmod o-rwx %s", path, mode & 0o777, path)


STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
WATCHED_SIGNALS = STOP_SIGNALS | {signal.SIGHUP}


def _stop_milter(spec: str) -> None:
    """libmilter's stop: smfi_stop() waits for a lock its listener holds while it polls the
    socket for up to 5 s; a connection of our own ends that poll at once."""
    stopper = threading.Thread(target=Milter.milter.stop, name="thurac-stop", daemon=True)
    stopper.start()
    for _ in range(WAKE_TRIES):
        stopper.join(WAKE_INTERVAL)
        if not stopper.is_alive():
            return
        _wake_listener(spec)


def _wake_listener(spec: str) -> None:
    """Connect to our own socket and hang up at once."""
    path = _unix_path(spec)
    try:
        if path is not None:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(WAKE_TIMEOUT)
                probe.connect(path)
            return
        kind, _, rest = spec.partition(":")
        port, _, host = rest.partition("@")
        family = socket.AF_INET6 if kind == "inet6" else socket.AF_INET
        default = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        target = default if host in ("", "0.0.0.0", "::") else host
        with socket.create_connection((target, int(port)), timeout=WAKE_TIMEOUT):
            pass
    except OSError as exc:  # the listener stops on its own a few seconds later
        log.debug("could not wake the listener on %s: %s", spec, exc)


class _Signals:
    """SIGTERM/SIGINT → libmilter's orderly stop (the main thread sits in C code), and a
    second one → exit at once; SIGHUP → reload the configuration file once the scanner
    exists."""

    def __init__(self, config_path: str, socket_spec: str) -> None:
        self.config_path = config_path
        self.socket_spec = socket_spec
        self.scanner: Scanner | None = None

    def watch(self) -> None:
        stopping = False
        while True:
            signum = signal.sigwait(WATCHED_SIGNALS)
            name = signal.Signals(signum).name
            if signum in STOP_SIGNALS and stopping:
                recorder = self.scanner.recorder if self.scanner else None
                queued = recorder.pending() if recorder else 0
                log.warning("received %s again: exiting now; %d queued history record(s) "
                            "not written", name, queued)
                logging.shutdown()
                os._exit(1)
            if signum in STOP_SIGNALS:
                stopping = True
                log.info("received %s: stopping (send it again to exit at once)", name)
                _stop_milter(self.socket_spec)
                continue
            notify.reloading()
            self.reload()
            notify.reloaded()

    def reload(self) -> None:
        """A bad file is refused whole: the running configuration stays, mail keeps flowing."""
        if self.scanner is None:
            log.warning("received SIGHUP before start-up finished: ignored")
            return
        try:
            new = config.load(self.config_path)
        except ConfigError as exc:
            log.error("reload refused, keeping the running configuration:\n%s", exc)
            metrics.config_reload("refused")
            return
        restart = self.scanner.reload(new)
        thurac_log.apply(new.log)
        metrics.config_reload("ok")
        log.info("configuration reloaded from %s: mode=%s add_header=%s quarantine=%s "
                 "reject=%s", self.config_path, new.actions.mode, new.actions.add_header,
                 new.actions.quarantine, new.actions.reject)
        if restart:
            log.warning("changed %s: takes effect only after a restart", ", ".join(restart))


def _listening_tcp_socket(port: int) -> socket.socket | None:
    """Our listening TCP socket on `port`, found among this process's descriptors (libmilter
    opens it in C and never tells us)."""
    for name in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
            sock = socket.socket(fileno=int(name))
        except OSError:
            continue
        try:
            if (sock.family in (socket.AF_INET, socket.AF_INET6)
                    and sock.type == socket.SOCK_STREAM
                    and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                    and sock.getsockname()[1] == port):
                return socket.socket(fileno=os.dup(sock.fileno()))
        except OSError:
            pass
        finally:
            sock.detach()
    return None


def _no_delay_on_replies(port: int) -> bool:
    """TCP_NODELAY on the listening socket (Linux passes it on to every accepted connection).

    libmilter answers end-of-message with two writes (the header changes, then the verdict);
    with Nagle's algorithm the second waits for the MTA's delayed ACK, about 40 ms a message.
    Measured with bench/run.py: a no-op milter that adds one header went from 42 to 79 msg/s.
    """
    deadline = time.monotonic() + SOCKET_APPEAR_TIMEOUT
    while time.monotonic() < deadline:
        listener = _listening_tcp_socket(port)
        if listener is not None:
            with listener:
                listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return True
        time.sleep(0.05)
    log.warning("listening socket on port %d not found: replies may be delayed by Nagle", port)
    return False


def _socket_problem(spec: str) -> str | None:
    """Why an inet socket cannot be opened (libmilter only says 'cannot opensocket')."""
    kind, _, rest = spec.partition(":")
    if kind not in ("inet", "inet6"):
        return None
    port_text, _, host = rest.partition("@")
    family = socket.AF_INET6 if kind == "inet6" else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host or ("::" if kind == "inet6" else "0.0.0.0"), int(port_text)))
    except OSError as exc:
        return exc.strerror or str(exc)
    finally:
        probe.close()
    return None


def run(settings: Settings, config_path: str) -> int:
    """Serve until SIGTERM/SIGINT; history still queued is written before exit."""
    # A crash in C code leaves every thread's Python stack in the log (standard error).
    faulthandler.enable(all_threads=True)
    os.umask(STATE_UMASK)
    # Block the signals before any thread starts, so every thread inherits the mask and
    # only the watcher (sigwait) sees them: no thread dies of a default signal action.
    signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED_SIGNALS)
    signals = _Signals(config_path, settings.milter.socket)
    threading.Thread(target=signals.watch, name="thurac-signals", daemon=True).start()
    privileges.become(settings, config_path)  # milter.user: before any file is opened
    try:
        pid_path = pidfile.claim(settings.milter)
    except PidFileError as exc:
        log.error("cannot start (%s): %s", config_path, exc)
        return 1
    problem = _socket_problem(settings.milter.socket)
    if problem:
        log.error("cannot listen on %s (milter.socket in %s): %s",
                  settings.milter.socket, config_path, problem)
        return 1
    problem = metrics.start(settings.metrics.listen, spool_path_for(settings.database))
    if problem:
        log.error("cannot serve metrics on %s (metrics.listen in %s): %s",
                  settings.metrics.listen, config_path, problem)
        return 1
    try:
        scanner = open_scanner(settings)
    except StoreError as exc:
        log.error("cannot start (%s): %s", config_path, exc)
        return 2
    signals.scanner = scanner
    database = database_file(settings.database.url)
    _warn_if_others_can_read([p for p in (database, spool_path_for(settings.database)) if p])
    workers = VerdictWorkers(settings.milter.workers)
    Milter.factory = lambda: ThuracMilter(scanner, workers)
    Milter.set_flags(FLAGS)
    path = _unix_path(settings.milter.socket)
    if path is not None:
        _clear_stale_unix_socket(path)
        listening = functools.partial(_open_unix_socket_to_mta, path, settings.milter)
    else:
        port = int(settings.milter.socket.split(":", 1)[1].split("@")[0])
        listening = functools.partial(_no_delay_on_replies, port)
    threading.Thread(target=_ready_when, args=(listening, settings.milter.socket),
                     name="thurac-socket", daemon=True).start()
    log.info("thurac starting: socket=%s config=%s database=%s mode=%s",
             settings.milter.socket, config_path,
             scanner.engine.url.render_as_string(hide_password=True), settings.actions.mode)
    try:
        if pid_path is not None:
            pidfile.write(pid_path)
        Milter.runmilter("thurac", settings.milter.socket, settings.milter.timeout)
    except Milter.milter.error as exc:
        log.error("milter failed on %s: %s", settings.milter.socket, exc)
        return 1
    finally:
        notify.stopping()
        log.info("thurac stopping: writing queued history")
        workers.close()
        scanner.close()
        if pid_path is not None:
            pidfile.remove(pid_path)
    log.info("thurac stopped")
    return 0
