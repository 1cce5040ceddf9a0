"""milter.user and milter.group: who thurac becomes, and the folders it gives that user first.
Mistakes stop it at start with the key named; a folder shared with other files is never given
away. (The drop itself, through a real Postfix: tests/integration/test_privileges.py.)"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.users import reachable

from thurac import privileges
from thurac.config import parse_settings
from thurac.errors import ConfigError

SOURCE = "/etc/thurac/thurac.yaml"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving folders away needs root")


def settings(tmp: Path | None = None, **milter: Any) -> Any:
    data: dict[str, Any] = {"milter": milter}
    if tmp is not None:
        data["database"] = {"url": f"sqlite:///{tmp}/state/thurac.db"}
        data["milter"].setdefault("pid_file", f"{tmp}/run/thurac.pid")
    return parse_settings(data, SOURCE)


def refusal(config: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        privileges.become(config, SOURCE)
    return str(caught.value)


def test_no_user_means_no_change() -> None:
    assert privileges.become(settings(), SOURCE) is None


def test_an_unknown_user_is_named_with_how_to_make_it() -> None:
    assert refusal(settings(user="no-such-thurac")) == (
        f"{SOURCE}: milter.user: no user 'no-such-thurac' on this system "
        "(adduser --system --group no-such-thurac)")


def test_an_unknown_group_is_named() -> None:
    assert refusal(settings(user="nobody", group="no-such-group")) == (
        f"{SOURCE}: milter.group: no group 'no-such-group' on this system")


def test_a_group_without_a_user_is_refused() -> None:
    assert refusal(settings(group="nogroup")) == (
        f"{SOURCE}: milter.group: needs milter.user (the user thurac serves as)")


def test_root_is_not_a_user_to_drop_to() -> None:
    assert "root is what thurac drops" in refusal(settings(user="root"))


def test_only_root_can_become_another_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(os, "getuid", lambda: 1000)
    assert refusal(settings(user="nobody")) == (
        f"{SOURCE}: milter.user: thurac runs as uid 1000, not root, and cannot become "
        "'nobody': start it as root, or leave milter.user empty")


def test_a_thurac_already_running_as_that_user_has_nothing_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nobody = pwd.getpwnam("nobody")
    monkeypatch.setattr(os, "geteuid", lambda: nobody.pw_uid)
    monkeypatch.setattr(os, "getuid", lambda: nobody.pw_uid)
    monkeypatch.setattr(os, "getgid", lambda: nobody.pw_gid)
    assert privileges.identity(settings(user="nobody"), SOURCE) is None


def test_a_unix_socket_keeps_its_group_among_the_users_groups() -> None:
    who = privileges.identity(settings(user="nobody", socket="unix:/run/x/milter.sock",
                                       socket_group="nogroup"), SOURCE)
    assert who is not None and 65534 in who.groups and 0 not in who.groups


@pytest.fixture
def open_tmp(tmp_path: Path) -> Iterator[Path]:
    """tmp_path, which user nobody can reach."""
    with reachable(tmp_path):
        yield tmp_path


@as_root
def test_missing_folders_are_made_for_the_user(open_tmp: Path) -> None:
    tmp_path = open_tmp
    folders = privileges._folders(settings(tmp_path, user="nobody"))
    who = privileges.identity(settings(tmp_path, user="nobody"), SOURCE)
    assert who is not None
    for folder in folders:
        privileges._give(folder, who, SOURCE)
    for made in (tmp_path / "state", tmp_path / "run"):
        info = made.stat()
        assert (info.st_uid, info.st_mode & 0o777) == (who.uid, 0o750)


@as_root
def test_files_an_earlier_root_run_left_are_given_to_the_user(open_tmp: Path) -> None:
    tmp_path = open_tmp
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    for name in ("thurac.db", "thurac.db-wal", "thurac.db-shm", "thurac.spool.jsonl"):
        (state / name).write_text("")
    config = settings(tmp_path, user="nobody")
    who = privileges.identity(config, SOURCE)
    assert who is not None
    for folder in privileges._folders(config):
        privileges._give(folder, who, SOURCE)
    assert {p.stat().st_uid for p in [state, *state.iterdir()]} == {who.uid}


@as_root
def test_a_folder_shared_with_other_files_is_not_given_away(open_tmp: Path) -> None:
    tmp_path = open_tmp
    (tmp_path / "state").mkdir(mode=0o755)
    (tmp_path / "state" / "someone-elses.conf").write_text("")
    config = settings(tmp_path, user="nobody")
    who = privileges.identity(config, SOURCE)
    assert who is not None
    (store,) = [f for f in privileges._folders(config) if f.key == "database.url"]
    with pytest.raises(ConfigError) as caught:
        privileges._give(store, who, SOURCE)
    assert str(caught.value) == (
        f"{SOURCE}: database.url: user nobody cannot write {tmp_path}/state (owner root, mode "
        "755), which holds other files (someone-elses.conf): give thurac a folder of its own "
        "(it makes a missing one), or let the user write it")
    assert (tmp_path / "state").stat().st_uid == 0


@as_root
def test_a_folder_the_user_cannot_reach_is_named_with_the_one_in_the_way(
    open_tmp: Path,
) -> None:
    tmp_path = open_tmp
    tmp_path.chmod(0o700)
    config = settings(tmp_path, user="nobody")
    who = privileges.identity(config, SOURCE)
    assert who is not None
    (store,) = [f for f in privileges._folders(config) if f.key == "database.url"]
    with pytest.raises(ConfigError) as caught:
        privileges._give(store, who, SOURCE)
    assert str(caught.value) == (
        f"{SOURCE}: database.url: user nobody cannot reach {tmp_path}/state: {tmp_path} "
        "(owner root, mode 700) does not let it through")
