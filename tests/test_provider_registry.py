"""The registry is the one place a provider type lives: a type registered from a test (no
edit under core/) validates in the settings, is built by the app and carries an add through
the engine, with the capabilities it declares."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from app import create_app, stop_app
from core.ports import Capabilities
from core.provider_kinds import KINDS, ProviderKind
from core.settings import SettingsError
from debrid import provider_type, provider_types
from debrid.base import ClientConfig
from debrid.realdebrid import RealDebrid
from debrid.registry import build_provider, provider_table, register, unregister
from debrid.sandbox import SandboxServer
from tests.conftest import make_settings
from tests.helpers import magnet, random_hash, wait_until

KEY = "r" * 32
TEST_KIND = ProviderKind(type="exampledebrid", label="Example Debrid", needs_key=True,
                         per_minute=77,
                         capabilities=Capabilities(file_selection=False, link_step=True),
                         create_limit=(5, 60.0), allow_renew=False,
                         key_help="https://example.invalid/key")


class ExampleDebrid(RealDebrid):
    """Real-Debrid's wire protocol, declared as a provider that downloads every file (the
    engine must not call select_files: the fake would leave it waiting for a selection)."""

    capabilities = TEST_KIND.capabilities
    selections: ClassVar[list[Sequence[str]]] = []

    def select_files(self, torrent_id: str, file_ids: Sequence[str]) -> None:
        self.selections.append(file_ids)


def _build(config: ClientConfig) -> ExampleDebrid:
    client = ExampleDebrid(name=config.name, api_key=config.api_key, base_url=config.base_url,
                        per_minute=config.per_minute, store=config.store, service="Example Debrid")
    client.limit_adds(config)
    return client


@pytest.fixture
def registered() -> Iterator[None]:
    register(TEST_KIND, _build)
    try:
        yield
    finally:
        unregister(TEST_KIND.type)


def test_an_unregistered_type_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"must be one of .*realdebrid"):
        make_settings(tmp_path, providers=[{"name": "x", "type": "exampledebrid",
                                            "api_key": "k"}])


def test_a_registered_type_validates_declares_its_defaults_and_needs_its_key(
        tmp_path: Path, registered: None) -> None:
    assert "exampledebrid" in KINDS.names()
    assert any(t.kind is TEST_KIND for t in provider_types())
    with pytest.raises(SettingsError, match=r"'exampledebrid'.*needs its API key"):
        make_settings(tmp_path, providers=[{"name": "x", "type": "exampledebrid"}])
    settings = make_settings(tmp_path, providers=[
        {"name": "x", "type": "exampledebrid", "api_key": "k", "base_url": "http://127.0.0.1:9"}])
    assert settings.providers[0].allow_renew is False        # the type's declared default
    client = build_provider(settings.providers[0])
    assert isinstance(client, ExampleDebrid)
    assert client.capabilities.file_selection is False


def test_a_registered_type_carries_an_add_without_a_selection_call(
        tmp_path: Path, registered: None) -> None:
    with SandboxServer() as fake:
        settings = make_settings(tmp_path, auth={"api_key": KEY}, providers=[
            {"name": "x", "type": "exampledebrid", "api_key": "k", "base_url": fake.api_url}])
        app = create_app(settings)
        try:
            client = app.test_client()
            client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {KEY}"
            info_hash = random_hash()
            added = client.post("/api/v2/torrents/add", data={
                "urls": magnet(info_hash, "Registry.Movie.2020.1080p", size=1_000_000)})
            assert added.status_code == 200, added.text
            files = wait_until(lambda: client.get(
                f"/api/v2/torrents/files?hash={info_hash}").json, timeout=20,
                what="the files known")
            assert [f["name"] for f in files if f["priority"] > 0] == [
                "Registry.Movie.2020.1080p/Registry.Movie.2020.1080p.mkv"]
            (torrent,) = client.get(f"/api/torrents?hash={info_hash}").json
            assert torrent["provider"] == "x"
            assert ExampleDebrid.selections == []     # never asked to select
        finally:
            stop_app(app)


def test_the_readme_provider_table_is_the_registry_s() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert provider_table() in readme, "regenerate: python tools/settings_doc.py providers"


@pytest.mark.parametrize("sandbox_type", [t.kind.type for t in provider_types()
                                          if t.kind.sandbox])
def test_each_sandbox_type_starts_in_process_and_answers_in_its_dialect(
        tmp_path: Path, sandbox_type: str) -> None:
    app = create_app(make_settings(tmp_path, providers=[{"name": "s", "type": sandbox_type}]),
                     start_background=False)
    try:
        provider = app.extensions["debridge.runtime"].engine.lifecycle.providers["s"]
        assert provider.get_account().premium
        assert provider.capabilities == provider_type(sandbox_type).kind.capabilities
    finally:
        stop_app(app)
