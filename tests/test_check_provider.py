"""`python app.py check-provider NAME` against each provider's fake: the account's status and
limits with a good key, a clear refusal and a non-zero exit with a bad one, and --add-test
leaving the account as it found it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app import main
from core.settings import Settings
from debrid.check import check_provider_command
from debrid.registry import provider_types
from debrid.sandbox import SandboxOptions, SandboxServer
from tests.conftest import make_settings

FAKED = sorted({(t.kind.type, d.dialect) for t in provider_types() if not t.kind.sandbox
                for d in provider_types() if d.kind.sandbox and d.build is t.build})


@pytest.fixture(params=FAKED, ids=[t for t, _ in FAKED])
def fake(request: pytest.FixtureRequest) -> Iterator[tuple[str, SandboxServer]]:
    provider, dialect = request.param
    with SandboxServer(SandboxOptions(tokens=("good-key",)), dialect=dialect) as server:
        yield provider, server


def _settings(tmp_path: Path, provider: str, server: SandboxServer, key: str) -> Settings:
    return make_settings(tmp_path, providers=[
        {"name": "acct", "type": provider, "api_key": key, "base_url": server.api_url}])


def test_a_good_key_prints_the_account_and_the_limits_in_use(
        tmp_path: Path, fake: tuple[str, SandboxServer]) -> None:
    provider, server = fake
    out = io.StringIO()
    code = check_provider_command(_settings(tmp_path, provider, server, "good-key"),
                                  "acct", out=out)
    text = out.getvalue()
    assert code == 0, text
    assert "key: accepted" in text
    assert "premium" in text
    assert "NOT premium" not in text
    assert "request limit:" in text
    assert "/minute in use" in text
    assert "budget acct:" in text
    assert "good-key" not in text


def test_a_bad_key_exits_non_zero_with_a_clear_message(
        tmp_path: Path, fake: tuple[str, SandboxServer],
        capsys: pytest.CaptureFixture[str]) -> None:
    provider, server = fake
    code = check_provider_command(_settings(tmp_path, provider, server, "bad-key"),
                                  "acct", out=io.StringIO())
    assert code == 1
    err = capsys.readouterr().err
    assert "refused the check of 'acct'" in err
    assert "bad-key" not in err


def test_add_test_adds_and_removes_a_magnet(tmp_path: Path,
                                            fake: tuple[str, SandboxServer]) -> None:
    provider, server = fake
    out = io.StringIO()
    code = check_provider_command(_settings(tmp_path, provider, server, "good-key"),
                                  "acct", add_test=True, out=out, sleep=lambda _: None)
    assert code == 0, out.getvalue()
    assert "add test: accepted as" in out.getvalue()
    assert "removed again" in out.getvalue()
    left = requests.get(f"{server.url}/__admin/torrents", timeout=5).json()
    assert [t for t in left if not t["deleted"]] == []


def test_the_command_line_names_an_unknown_account(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"server": {"data_dir": str(tmp_path / "data")},
                                  "providers": [{"name": "rd", "type": "sandbox"}]}))
    assert main(["check-provider", "nope", "--config", str(config)]) == 2
    assert "no provider named 'nope' (providers: rd)" in capsys.readouterr().err
