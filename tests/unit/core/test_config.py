"""Settings: every field is read from its environment variable, `.env.example` lists every
one with its real default, and a bad value names its variable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from core.config import Settings, SettingsError, env_name, from_env, get_settings
from payments_stub.service import ENV_PREFIX as STUB_PREFIX
from payments_stub.service import StubConfig

ENV_EXAMPLE = Path(__file__).resolve().parents[3] / ".env.example"

# Listed in .env.example but read by the test suite (tests/servers.py), not by a Settings.
DOCUMENTED_EXTRAS = {"TEST_DATABASE_URL", "TEST_REDIS_URL"}

# (Struct, prefix of its variables): every settings Struct read from the environment.
CONFIGS: list[tuple[type[msgspec.Struct], str]] = [(Settings, ""), (StubConfig, STUB_PREFIX)]


def all_fields() -> list[tuple[type[msgspec.Struct], str, msgspec.structs.FieldInfo]]:
    return [(cls, prefix, f) for cls, prefix in CONFIGS for f in msgspec.structs.fields(cls)]


def read_env_example() -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f".env.example line {number} is not NAME=value: {line!r}"
        assert name not in entries, f".env.example lists {name} twice"
        entries[name] = value
    return entries


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test reads the environment it sets; the next reader gets the restored one."""
    for _, prefix, f in all_fields():
        monkeypatch.delenv(env_name(f.name, prefix), raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_env_example_lists_every_setting_with_its_default() -> None:
    example = read_env_example()
    expected = {env_name(f.name, prefix): f.default for _, prefix, f in all_fields()}
    assert sorted(set(expected) - set(example)) == [], "settings missing from .env.example"
    assert sorted(set(example) - set(expected) - DOCUMENTED_EXTRAS) == [], ".env.example names no setting"
    for cls, prefix, f in all_fields():
        name = env_name(f.name, prefix)
        listed = msgspec.convert(example[name], f.type, strict=False)
        assert listed == f.default, f"{name}: .env.example {example[name]!r}, {cls.__name__} {f.default!r}"


def test_defaults_apply_when_nothing_is_set() -> None:
    assert get_settings() == Settings()
    assert StubConfig.from_env() == StubConfig()


def distinct_value(f: msgspec.structs.FieldInfo, n: int) -> tuple[str, Any]:
    """(what to put in the environment, what the field must then hold), unlike the default."""
    if f.type is bool:
        return ("0", False) if f.default else ("1", True)
    if f.type is int:
        return str(10_000 + n), 10_000 + n
    if f.type is float:
        return f"{n}.25", n + 0.25
    assert f.type is str, f"add a sample value for {f.type}"
    return f"value-{n}", f"value-{n}"


def test_every_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    wanted: dict[type[msgspec.Struct], dict[str, Any]] = {cls: {} for cls, _ in CONFIGS}
    for n, (cls, prefix, f) in enumerate(all_fields()):
        raw, value = distinct_value(f, n)
        assert value != f.default
        monkeypatch.setenv(env_name(f.name, prefix), raw)
        wanted[cls][f.name] = value
    assert msgspec.structs.asdict(get_settings()) == wanted[Settings]
    assert msgspec.structs.asdict(StubConfig.from_env()) == wanted[StubConfig]


def test_settings_are_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    monkeypatch.setenv("PORT", "9999")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().port == 9999


@pytest.mark.parametrize(
    ("raw", "expected"), [("0", False), ("false", False), ("FALSE", False), ("1", True), ("true", True)]
)
def test_log_json_is_one_zero_true_or_false(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("LOG_JSON", raw)
    assert get_settings().log_json is expected


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "")
    monkeypatch.setenv("DATABASE_URL", "")
    assert get_settings().port == Settings().port
    assert get_settings().database_url == Settings().database_url


@pytest.mark.parametrize(
    ("cls", "prefix", "f"),
    [(cls, prefix, f) for cls, prefix, f in all_fields() if f.type is not str],
    ids=[env_name(f.name, prefix) for _, prefix, f in all_fields() if f.type is not str],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, cls: type[msgspec.Struct], prefix: str, f: msgspec.structs.FieldInfo
) -> None:
    name = env_name(f.name, prefix)
    monkeypatch.setenv(name, "abc")
    with pytest.raises(SettingsError, match=rf"\b{name}='abc' is not a valid {f.type.__name__}"):
        from_env(cls, prefix=prefix)


def test_get_settings_fails_on_a_bad_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "abc")
    with pytest.raises(SettingsError, match=r"\bPORT='abc'"):
        get_settings()
