"""YAML → validated settings. A mistake stops thurac at start-up with file, key path and what was
expected; the shipped config/thurac.yaml validates and agrees with the code and the catalogue."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from thurac.config import ENV_VAR, Settings, load, parse_settings, resolve_path
from thurac.errors import ConfigError
from thurac.symbols import CATALOGUE, default_scores

SHIPPED = Path(__file__).resolve().parents[1] / "config" / "thurac.yaml"
SOURCE = "/etc/thurac/thurac.yaml"
C22_GROUPS = {"c22_complaints", "c22_frequency", "c22_one_way", "c22_unrelated",
              "c22_technology"}
# Keys whose value in the shipped file is a site example rather than the default.
EXAMPLE_VALUES = {"local.domains"}


def error_of(data: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, SOURCE)
    return str(caught.value)


# -- mistakes an admin makes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"frequency": {"windos": []}},
         f"{SOURCE}: frequency.windos: unknown key"),
        ({"unrelated": {"ratio": 0.5}},
         f"{SOURCE}: unrelated: unknown key"),
        ({"actions": {"add_header": "five"}},
         f"{SOURCE}: actions.add_header: Input should be a valid number"),
        ({"one_way_source": {"min_messages": 5.5}},
         f"{SOURCE}: one_way_source.min_messages: Input should be a valid integer"),
        ({"local": {"internal_networks": ["10.0.0.0/8", "10.0.0.0/33"]}},
         f"{SOURCE}: local.internal_networks[1]: expected an IP network such as 192.0.2.0/24"),
        ({"local": {"addresses": ["mx.example.com"]}},
         f"{SOURCE}: local.addresses[0]: expected an IP address"),
        ({"technology": {"mailer_patterns": ["PHPMailer", "(unclosed"]}},
         f"{SOURCE}: technology.mailer_patterns: invalid regular expression '(unclosed'"),
        ({"technology": {"dynamic_ptr_patterns": ["[a-"]}},
         f"{SOURCE}: technology.dynamic_ptr_patterns: invalid regular expression '[a-'"),
        ({"scores": {"C22_FREQ_SENDR": 1.0}},
         f"{SOURCE}: scores: unknown symbol(s) C22_FREQ_SENDR"),
        ({"scores": {"C22_NO_MX": "high"}},
         f"{SOURCE}: scores.C22_NO_MX: Input should be a valid number"),
        ({"actions": {"quarantine": 10, "reject": 8}},
         f"{SOURCE}: actions: reject must not be below quarantine"),
        ({"actions": {"add_header": 12}},
         f"{SOURCE}: actions: quarantine must not be below add_header"),
        ({"actions": {"mode": "tagonly"}},
         f"{SOURCE}: actions.mode: Input should be 'enforce' or 'tag-only'"),
        ({"database": {"header_log_days": 90}},
         f"{SOURCE}: database.header_log_days: Input should be greater than or equal to 180"),
        ({"database": {"header_log_days": 365, "event_days": 200}},
         f"{SOURCE}: database.event_days: must be at least database.header_log_days (365)"),
        ({"database": {"header_log_days": 500}},  # event_days left at its default, 400
         f"{SOURCE}: database.event_days: must be at least database.header_log_days (500)"),
        ({"database": {"correspondent_days": 0}},
         f"{SOURCE}: database.correspondent_days: Input should be greater than or equal to 1"),
        ({"database": {"correspondent_days": "a year"}},
         f"{SOURCE}: database.correspondent_days: Input should be a valid integer"),
        ({"frequency": {"windows": [{"seconds": 600}, {"seconds": 0}]}},
         f"{SOURCE}: frequency.windows[1].seconds: Input should be greater than 0"),
        ({"unrelated_recipients": {"ratio": 80}},
         f"{SOURCE}: unrelated_recipients.ratio: Input should be less than or equal to 1"),
        ({"milter": {"socket": "127.0.0.1:8894"}},
         f"{SOURCE}: milter.socket: expected inet:PORT@HOST"),
        ({"dns": {"nameservers": ["ns1.example.net"]}},
         f"{SOURCE}: dns.nameservers: invalid nameserver 'ns1.example.net'"),
        ({"database": {"url": "mysql://thurac@db/thurac"}},
         f"{SOURCE}: database.url: expected a SQLAlchemy URL"),
    ],
)
def test_a_mistake_names_the_file_the_key_path_and_the_expectation(
    data: dict[str, Any], expected: str
) -> None:
    assert error_of(data).startswith(expected)


def test_the_bad_value_is_quoted_back() -> None:
    assert "(got '10.0.0.0/33')" in error_of({"local": {"internal_networks": ["10.0.0.0/33"]}})
    assert "(got 'five')" in error_of({"actions": {"add_header": "five"}})


def test_every_mistake_is_reported_at_once_one_line_each() -> None:
    message = error_of({"frequency": {"windos": []}, "actions": {"add_header": "five"}})
    lines = message.splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{SOURCE}: ") for line in lines)


def test_a_file_that_is_not_a_mapping_is_refused() -> None:
    expected = f"{SOURCE}: (top level): expected a mapping of sections"
    assert error_of(["milter", "socket"]) == expected


def test_invalid_yaml_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "thurac.yaml"
    path.write_text("actions:\n  mode: enforce\n   reject: 15\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: line 3, column ")
    assert "invalid YAML" in str(caught.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError, match=rf"^{path}: cannot read: "):
        load(path)


def test_errors_from_a_file_name_that_file(tmp_path: Path) -> None:
    path = tmp_path / "thurac.yaml"
    path.write_text("one_way_source:\n  min_mesages: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: one_way_source.min_mesages: unknown key")


# -- what a valid file gives --------------------------------------------------------------------


def test_an_empty_file_means_every_default(tmp_path: Path) -> None:
    path = tmp_path / "thurac.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    assert load(path).actions == Settings().actions
    assert load(path).scores == default_scores()


def test_overriding_one_score_keeps_the_other_defaults() -> None:
    settings = parse_settings({"scores": {"C22_NO_MX": 9.5}})
    assert settings.score("C22_NO_MX") == 9.5
    assert settings.score("C22_ONE_WAY") == CATALOGUE["C22_ONE_WAY"].default_score
    assert settings.scores == {**default_scores(), "C22_NO_MX": 9.5}


def test_local_domains_are_matched_whatever_their_case() -> None:
    settings = parse_settings({"local": {"domains": ["Example.COM."]}})
    assert settings.local.domains == ("example.com",)
    assert settings.local.is_local_address("Alice@Sub.Example.com")
    assert not settings.local.is_local_address("alice@notexample.com")
    assert not settings.local.is_local_address("example.com")


def test_settings_cannot_be_changed_after_validation() -> None:
    settings = parse_settings({})
    with pytest.raises(Exception, match="frozen"):
        settings.actions.reject = 1.0  # type: ignore[misc]


def test_config_path_comes_from_the_option_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = tmp_path / "env.yaml"
    monkeypatch.setenv(ENV_VAR, str(chosen))
    assert resolve_path(None) == chosen
    assert resolve_path(tmp_path / "cli.yaml") == tmp_path / "cli.yaml"


# -- the shipped config/thurac.yaml -------------------------------------------------------------


def shipped_data() -> dict[str, Any]:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_shipped_config_validates() -> None:
    settings = load(SHIPPED)
    assert settings.actions.mode == "enforce"


def test_every_score_in_the_shipped_config_is_the_catalogue_default() -> None:
    listed = shipped_data()["scores"]
    differing = {name: (score, CATALOGUE[name].default_score)
                 for name, score in listed.items()
                 if score != CATALOGUE[name].default_score}
    assert differing == {}


def test_every_circular_22_symbol_is_listed_in_the_shipped_config() -> None:
    listed = set(shipped_data()["scores"])
    c22 = {name for name, info in CATALOGUE.items() if info.group in C22_GROUPS}
    assert c22 - listed == set()
    assert {name for name in CATALOGUE if name.startswith("C22_")} == c22


def _leaves(data: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and key != "scores":
            paths.extend(_leaves(value, f"{path}."))
        else:
            paths.append(path)
    return paths


def _value(settings: BaseModel, path: str) -> Any:
    value: Any = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


def test_every_value_in_the_shipped_config_is_the_documented_default() -> None:
    # The file promises "the value shown is the default unless noted".
    shipped = load(SHIPPED)
    defaults = Settings()
    paths = [p for p in _leaves(shipped_data()) if p not in EXAMPLE_VALUES]
    differing = {p: (_value(shipped, p), _value(defaults, p)) for p in paths
                 if _value(shipped, p) != _value(defaults, p)}
    assert differing == {}


def test_every_section_and_every_scored_symbol_is_in_the_shipped_config() -> None:
    data = shipped_data()
    assert set(Settings.model_fields) - set(data) == set()
    scored = {name for name, info in CATALOGUE.items() if info.group != "thurac"}
    assert scored - set(data["scores"]) == set()


# -- any file an admin (or an editor crash) can produce --------------------------------------

_SECTIONS = sorted(Settings.model_fields)
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(
    max_size=20)
_keys = st.text(max_size=12) | st.integers() | st.booleans()  # YAML keys need not be text
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    _keys, inner, max_size=4), max_leaves=12)
_documents = st.dictionaries(st.sampled_from(_SECTIONS) | _keys, _values, max_size=5)


def test_a_number_among_the_score_names_is_a_config_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "thurac.yaml"
    path.write_text("scores:\n  1: 2\n  C22_NO_MX: 3\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value) == (
        f"{path}: scores: unknown symbol(s) 1; see docs/symbols.md for the list")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400) | _documents.map(lambda d: yaml.safe_dump(d, allow_unicode=True)))
def test_any_file_content_loads_or_names_the_file_in_a_config_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "thurac.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        try:
            loaded = load(path)
        except ConfigError as exc:
            lines = str(exc).splitlines()
            assert lines and all(line.startswith(f"{path}: ") for line in lines), lines
        else:
            assert isinstance(loaded, Settings)


def test_a_single_value_where_a_list_is_expected_is_a_list_of_one() -> None:
    settings = parse_settings({"local": {"domains": "Example.org",
                                         "internal_networks": "10.0.0.0/8"}}, "t.yaml")
    assert settings.local.domains == ("example.org",)
    assert [str(n) for n in settings.local.internal_networks] == ["10.0.0.0/8"]
    with pytest.raises(ConfigError) as err:
        parse_settings({"local": {"domains": 5}}, "t.yaml")
    assert "t.yaml: local.domains: expected a list such as [a, b]" in str(err.value)
    assert "valid tuple" not in str(err.value)
