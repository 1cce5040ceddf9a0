"""Started as root with milter.user set: give that user its folders, then become it for good.

The store, the spool, the pid file and a unix socket live in folders the user must write.
thurac creates the missing ones for it, and gives it an existing one only if nothing but
thurac's own files is in it: a folder shared with other files (/var/lib, /tmp) is never
given away; thurac says what is wrong instead (exit 2). Files an earlier run as root left
there (the SQLite file, its -wal and -shm, the spool) are given to the user too. Then the
group list, the group and the user change, real, effective and saved ids alike, and thurac
checks that it cannot become root again. The store is opened only after this.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from thurac import pidfile
from thurac.config import Settings
from thurac.errors import ConfigError
from thurac.store.engine import database_file
from thurac.store.spool import spool_path_for

log = logging.getLogger("thurac.privileges")

SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")  # made beside the store by SQLite
FOLDER_MODE = 0o750  # a folder made for the user: the user and its group only
SHOWN_FOREIGN = 3  # files named when a folder is refused for holding others


@dataclass(frozen=True)
class Identity:
    """Whom thurac serves as."""

    user: str
    uid: int
    gid: int
    groups: tuple[int, ...]  # the gid, the user's own groups, the unix socket's group


@dataclass(frozen=True)
class _Folder:
    key: str  # the setting that puts thurac's files there
    path: Path
    gid: int  # the group the folder gets (Postfix's for the unix socket's)
    names: frozenset[str]  # thurac's own files in it


def identity(settings: Settings, source: str) -> Identity | None:
    """milter.user and milter.group resolved; None when there is nothing to change."""
    milter = settings.milter
    if not milter.user:
        if milter.group:
            raise ConfigError(f"{source}: milter.group: needs milter.user (the user thurac "
                              "serves as)")
        return None
    try:
        account = pwd.getpwnam(milter.user)
    except KeyError:
        raise ConfigError(f"{source}: milter.user: no user {milter.user!r} on this system "
                          f"(adduser --system --group {milter.user})") from None
    gid = account.pw_gid
    if milter.group:
        try:
            gid = grp.getgrnam(milter.group).gr_gid
        except KeyError:
            raise ConfigError(f"{source}: milter.group: no group {milter.group!r} on this "
                              "system") from None
    if account.pw_uid == 0 or gid == 0:
        raise ConfigError(f"{source}: milter.user/milter.group: root is what thurac drops; "
                          "leave them empty to stay root")
    groups = set(os.getgrouplist(account.pw_name, gid))
    if _unix_socket(settings) is not None:
        # thurac hands its socket to this group (milter.socket_group): it must belong to it.
        # (No such group: the socket keeps its own, and server.py says so.)
        groups.add(_group_id(milter.socket_group))
    groups -= {0, -1}
    wanted = Identity(milter.user, account.pw_uid, gid, (gid, *sorted(groups - {gid})))
    if os.geteuid() != 0:
        if (os.getuid(), os.getgid()) == (wanted.uid, wanted.gid):
            return None  # already that user (the systemd unit's User=, say)
        raise ConfigError(f"{source}: milter.user: thurac runs as uid {os.geteuid()}, not "
                          f"root, and cannot become {milter.user!r}: start it as root, or "
                          "leave milter.user empty")
    return wanted


def become(settings: Settings, source: str) -> Identity | None:
    """Give the user its folders and drop to it; no-op when milter.user is empty."""
    who = identity(settings, source)
    if who is None:
        return None
    for folder in _folders(settings):
        _give(folder, who, source)
    _drop(who)
    log.info("serving as user %s (uid %d, gid %d, groups %s)", who.user, who.uid, who.gid,
             ",".join(map(str, who.groups)))
    if not os.access(source, os.R_OK):
        log.warning("user %s cannot read %s: a reload (SIGHUP) will be refused; let it "
                    "read the file (chgrp %d %s; chmod g+r %s)", who.user, source, who.gid,
                    source, source)
    return who


def _unix_socket(settings: Settings) -> Path | None:
    spec = settings.milter.socket
    for prefix in ("unix:", "local:"):
        if spec.startswith(prefix):
            return Path(spec[len(prefix):])
    return None


def _group_id(name: str) -> int:
    """The group's id, or -1 (chown's "no change") when there is no such group."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return -1


def _folders(settings: Settings) -> list[_Folder]:
    """The folders of thurac's files, each once, with the names of its files there."""
    wanted: dict[Path, tuple[str, set[str]]] = {}
    socket_folder: Path | None = None

    def add(key: str, file: Path, *extra: str) -> None:
        folder = file.parent
        names = {file.name, *(file.name + suffix for suffix in extra)}
        if folder in wanted:
            wanted[folder][1].update(names)
        else:
            wanted[folder] = (key, names)

    database = database_file(settings.database.url)
    if database is not None:
        add("database.url", database, *SQLITE_SIDE_FILES)
    add("database.spool_path", spool_path_for(settings.database))
    pid_path = pidfile.path_for(settings.milter)
    if pid_path is not None:
        add("milter.pid_file", pid_path)
    socket_path = _unix_socket(settings)
    if socket_path is not None:
        add("milter.socket", socket_path)
        socket_folder = socket_path.parent
    socket_gid = _group_id(settings.milter.socket_group)  # Postfix passes through that folder
    return [_Folder(key, folder, socket_gid if folder == socket_folder else -1,
                    frozenset(names)) for folder, (key, names) in wanted.items()]


def _may(info: os.stat_result, who: Identity, bits: int) -> bool:
    """Whether `who` has permission `bits` (rwx as 4/2/1) by the owner, group, other rule."""
    if info.st_uid == who.uid:
        shift = 6
    elif info.st_gid in who.groups:
        shift = 3
    else:
        shift = 0
    return (info.st_mode >> shift) & bits == bits


def _described(path: Path, info: os.stat_result) -> str:
    try:
        owner = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        owner = str(info.st_uid)
    return f"{path} (owner {owner}, mode {stat.S_IMODE(info.st_mode):03o})"


def _give(folder: _Folder, who: Identity, source: str) -> None:
    gid = who.gid if folder.gid == -1 else folder.gid
    where = f"{source}: {folder.key}"
    try:
        missing = [p for p in (folder.path, *folder.path.parents) if not p.exists()]
        for made in reversed(missing):
            made.mkdir(mode=FOLDER_MODE)
            os.chown(made, who.uid, gid)
        info = folder.path.stat()
        if not stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"{where}: {folder.path} is not a folder")
        if not _may(info, who, 0o3):
            foreign = sorted(set(os.listdir(folder.path)) - folder.names)
            if foreign:
                raise ConfigError(
                    f"{where}: user {who.user} cannot write {_described(folder.path, info)}, "
                    f"which holds other files ({', '.join(foreign[:SHOWN_FOREIGN])}"
                    f"{', …' if len(foreign) > SHOWN_FOREIGN else ''}): give thurac a "
                    "folder of its own (it makes a missing one), or let the user write it")
            os.chown(folder.path, who.uid, gid)
            os.chmod(folder.path, stat.S_IMODE(info.st_mode) | 0o700)
        for name in folder.names:
            file = folder.path / name
            if file.exists() and not file.is_symlink() and not file.is_socket():
                os.chown(file, who.uid, who.gid)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot prepare {folder.path} for user {who.user}: "
                          f"{exc.strerror or exc}") from exc
    for parent in folder.path.parents:
        info = parent.stat()
        if not _may(info, who, 0o1):
            raise ConfigError(f"{where}: user {who.user} cannot reach {folder.path}: "
                              f"{_described(parent, info)} does not let it through")


def _drop(who: Identity) -> None:
    os.setgroups(list(who.groups))
    os.setresgid(who.gid, who.gid, who.gid)
    os.setresuid(who.uid, who.uid, who.uid)
    if os.getresuid() != (who.uid,) * 3 or os.getresgid() != (who.gid,) * 3:
        raise RuntimeError(f"privileges not dropped: uids {os.getresuid()}, "
                           f"gids {os.getresgid()}")
    try:
        os.setresuid(0, 0, 0)
    except PermissionError:
        return
    raise RuntimeError("privileges not dropped: thurac could become root again")
