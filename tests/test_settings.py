"""Settings: one schema, config.json at its defaults, env overrides, errors naming key and file."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from core.schema import PROVIDER_SETTINGS, SETTINGS, default_config
from core.settings import (
    ProviderSettings,
    SettingsError,
    config_path,
    load_settings,
    settings_from_mapping,
)
from tests.helpers import ROOT


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_shipped_config_has_every_key_at_its_default() -> None:
    shipped = json.loads((ROOT / "config.json").read_text())
    assert shipped == default_config()
    assert shipped["server"]["port"] == 8282
    assert shipped["server"]["host"] == "127.0.0.1"


def test_every_setting_has_help_and_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for setting in SETTINGS:
        assert len(setting.help) > 20, setting.key
        row = f"| `{setting.key}` | `{json.dumps(setting.default)}` | {setting.help}"
        assert row in readme, f"README does not document {setting.key} with its default/help"
    for setting in PROVIDER_SETTINGS:
        assert f"`providers[].{setting.key}`" in readme, setting.key


def test_defaults_load_and_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, {}), environ={})
    assert settings["server.port"] == 8282
    assert settings.data_dir == (tmp_path / "data").resolve()
    assert settings.downloads_folder == (tmp_path / "data" / "downloads").resolve()
    assert [p.type for p in settings.providers] == ["sandbox"]


def test_unknown_key_names_the_key_and_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, {"server": {"prot": 1}})
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert "'server.prot'" in str(caught.value)
    assert str(path.resolve()) in str(caught.value)


@pytest.mark.parametrize(("data", "key"), [
    ({"unknown_section": {}}, "unknown_section"),
    ({"server": {"port": "eighty"}}, "server.port"),
    ({"server": {"port": 70000}}, "server.port"),
    ({"server": {"port": True}}, "server.port"),
    ({"server": {"port": 1.5}}, "server.port"),
    ({"server": "x"}, "server"),
    ({"downloads": {"action": "copy"}}, "downloads.action"),
    ({"downloads": {"action": "symlink"}}, "downloads.mount_path"),
    ({"auth": {"username": "has space"}}, "auth.username"),
    ({"auth": {"password": 5}}, "auth.password"),
    ({"qbit": {"persona": "9.9.9"}}, "qbit.persona"),
    ({"providers": {}}, "providers"),
    ({"providers": [{"type": "sandbox"}]}, "providers[0].name"),
    ({"providers": [{"name": "rd", "type": "realdebrid"}]}, "providers[0].api_key"),
    ({"providers": [{"name": "rd", "type": "nodebrid", "api_key": "x"}]}, "providers[0].type"),
    ({"providers": [{"name": "rd", "type": "sandbox", "colour": 1}]}, "providers[0].colour"),
    ({"providers": [{"name": "rd", "type": "sandbox", "base_url": "ftp://x"}]},
     "providers[0].base_url"),
    ({"providers": [{"name": "a", "type": "sandbox"}, {"name": "a", "type": "sandbox"}]},
     "'a'"),
    ({"selection": {"extensions": "mkv"}}, "selection.extensions"),
    ({"selection": {"extensions": ["mkv"]}}, "selection.extensions"),
    ({"selection": {"extra_patterns": ["(unclosed"]}}, "selection.extra_patterns"),
    ({"downloads": {"cached_only_categories": [""]}}, "downloads.cached_only_categories"),
    ({"downloads": {"max_active": -1}}, "downloads.max_active"),
    ({"providers": [{"name": "rd", "type": "sandbox", "download_api_keys": [1]}]},
     "providers[0].download_api_keys"),
    ({"providers": [{"name": "rd", "type": "sandbox", "keep_on_delete": "yes"}]},
     "providers[0].keep_on_delete"),
])
def test_invalid_values_name_the_key(tmp_path: Path, data: dict[str, object],
                                     key: str) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    message = str(caught.value)
    assert key in message
    assert str(path.resolve()) in message


def test_malformed_json_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"not valid JSON \(line 1"):
        load_settings(_write(tmp_path, "{not json"), environ={})
    with pytest.raises(SettingsError, match="config file not found"):
        load_settings(tmp_path / "missing.json", environ={})
    with pytest.raises(SettingsError, match="top level must be a JSON object"):
        load_settings(_write(tmp_path, "[1, 2]"), environ={})


def test_environment_overrides_keys_and_providers(tmp_path: Path) -> None:
    path = _write(tmp_path, {"server": {"port": 9000}})
    settings = load_settings(path, environ={
        "DEBRIDGE__SERVER__PORT": "9100",
        "DEBRIDGE__DOWNLOADS__POLL_INTERVAL_SECONDS": "0.5",
        "DEBRIDGE__PROVIDERS__0__NAME": "rd",
        "DEBRIDGE__PROVIDERS__0__TYPE": "realdebrid",
        "DEBRIDGE__PROVIDERS__0__API_KEY": "secret-token",
        "DEBRIDGE__PROVIDERS__0__TIMEOUT_SECONDS": "12",
        "UNRELATED": "x",
    })
    assert settings["server.port"] == 9100
    assert settings["downloads.poll_interval_seconds"] == 0.5
    provider = settings.providers[0]
    assert (provider.name, provider.type, provider.api_key) == ("rd", "realdebrid",
                                                               "secret-token")
    assert provider.timeout_seconds == 12.0
    assert "secret-token" not in json.dumps(settings.redacted())


@pytest.mark.parametrize(("variable", "value", "fragment"), [
    ("DEBRIDGE__SERVER__PROT", "1", "'server.prot'"),
    ("DEBRIDGE__SERVER__PORT", "abc", "DEBRIDGE__SERVER__PORT"),
    ("DEBRIDGE__PROVIDERS__5__NAME", "x", "skips entries"),
    ("DEBRIDGE__PROVIDERS__0__COLOUR", "x", "providers[0].colour"),
])
def test_bad_environment_variables_are_named(tmp_path: Path, variable: str, value: str,
                                             fragment: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_write(tmp_path, {}), environ={variable: value})
    assert fragment in str(caught.value)


def test_lists_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, {}), environ={
        "DEBRIDGE__SELECTION__EXTENSIONS": ".mkv, .mp4",
        "DEBRIDGE__DOWNLOADS__CACHED_ONLY_CATEGORIES": '["tv-sonarr", "radarr"]',
        "DEBRIDGE__PROVIDERS__0__NAME": "rd",
        "DEBRIDGE__PROVIDERS__0__TYPE": "sandbox",
        "DEBRIDGE__PROVIDERS__0__DOWNLOAD_API_KEYS": "key-one,key-two",
        "DEBRIDGE__PROVIDERS__0__DOWNLOAD_UNCACHED": "false"})
    assert settings["selection.extensions"] == [".mkv", ".mp4"]
    assert settings["downloads.cached_only_categories"] == ["tv-sonarr", "radarr"]
    provider = settings.providers[0]
    assert provider.download_api_keys == ("key-one", "key-two")
    assert provider.download_uncached is False
    assert "key-one" not in json.dumps(settings.redacted())
    with pytest.raises(SettingsError, match="DOWNLOADS__UNCACHED_CATEGORIES"):
        load_settings(_write(tmp_path, {}), environ={
            "DEBRIDGE__DOWNLOADS__UNCACHED_CATEGORIES": "[not json"})


def test_config_path_prefers_cli_then_environment() -> None:
    assert config_path("a.json", {"DEBRIDGE_CONFIG": "b.json"}) == Path("a.json")
    assert config_path(None, {"DEBRIDGE_CONFIG": "b.json"}) == Path("b.json")
    assert config_path(None, {}) == Path("config.json")


def test_empty_provider_list_falls_back_to_the_sandbox() -> None:
    settings = settings_from_mapping({"providers": []})
    assert [(p.name, p.type) for p in settings.providers] == [("sandbox", "sandbox")]


def test_redacted_hides_the_password() -> None:
    settings = settings_from_mapping({"auth": {"password": "hunter2"}})
    assert "hunter2" not in json.dumps(settings.redacted())
    assert re.search(r"\*\*\*", json.dumps(settings.redacted()))


def test_provider_defaults_and_secrets_come_from_the_schema() -> None:
    """One source per default: a provider entry that names only itself gets the schema's
    defaults, and redacted() masks what the schema calls secret."""
    assert [f.name for f in fields(ProviderSettings)] == [s.key for s in PROVIDER_SETTINGS]
    bare = settings_from_mapping({"providers": [{"name": "sb", "type": "sandbox"}]})
    assert asdict(bare.providers[0]) == {
        **{s.key: tuple(s.default) if s.kind == "list" else s.default
           for s in PROVIDER_SETTINGS}, "name": "sb", "type": "sandbox"}
    secret = {s.key: ["x-secret-1", "x-secret-2"] if s.kind == "list" else "x-secret-0"
              for s in PROVIDER_SETTINGS if s.secret}
    entry = {"name": "rd", "type": "realdebrid", **secret}
    redacted = settings_from_mapping({"providers": [entry]}).redacted()
    assert "x-secret" not in json.dumps(redacted)
    shown = redacted["providers"][0]
    assert all(shown[key] == (["***", "***"] if isinstance(value, list) else "***")
               for key, value in secret.items())
    assert shown["name"] == "rd"
