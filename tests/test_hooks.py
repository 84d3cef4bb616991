"""Completion hooks, unit level: entries and their validation, qBittorrent's placeholders, the
calls they make, and the command runner (the outbox: test_hooks_outbox.py)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core.hooks import call_for, cross_seed_url, expand, parse_hooks, placeholders
from core.models import Torrent, TorrentFile, TorrentState
from core.ports import CommandCall, HookFailed, HttpCall
from core.settings import SettingsError, settings_from_mapping
from hooks import HookRunner

HASH = "ab" * 20
CROSS_SEED = {"type": "cross-seed", "url": "http://127.0.0.1:2468", "api_key": "cs-key-123"}


def _torrent(**changes: Any) -> Torrent:
    values: dict[str, Any] = dict(
        id=7, hash=HASH, name="Show S01 1080p", state=TorrentState.FINALIZING,
        category="tv", save_path="/data/tv", folder="Show S01 1080p", total_size=3000,
        size=2000, trackers=("http://tracker/announce", "http://other/announce"),
        tags=("a b", "c"))
    values.update(changes)
    return Torrent(**values)


FILES = [TorrentFile(0, "e1.mkv", 1000, selected=True), TorrentFile(1, "e2.mkv", 1000,
                                                                     selected=True),
         TorrentFile(2, "sample.mkv", 1000)]


# -- placeholders and calls ---------------------------------------------------------------------
def test_placeholders_are_qbittorrents() -> None:
    values = placeholders(_torrent(), FILES)
    assert values == {
        "N": "Show S01 1080p", "L": "tv", "G": "a b,c", "F": "/data/tv/Show S01 1080p",
        "R": "/data/tv/Show S01 1080p", "D": "/data/tv", "C": "3", "Z": "3000",
        "T": "http://tracker/announce", "I": HASH, "J": "-", "K": HASH}
    # a single file without a root folder: content path is the file, no root path
    single = placeholders(_torrent(has_root=False, content_folder="movie.mkv", trackers=(),
                                   total_size=1000, tags=()), FILES[:1])
    assert (single["F"], single["R"], single["T"], single["C"], single["G"]) == \
        ("/data/tv/movie.mkv", "", "", "1", "")


def test_expand_is_one_pass_and_keeps_other_percent_signs() -> None:
    values = {"N": "100% %I", "I": HASH}
    assert expand("%N|%I|%X|%%|%", values) == f"100% %I|{HASH}|%X|%%|%"
    assert expand("%N", values, str.upper) == "100% %I"


def test_a_command_is_split_before_it_is_expanded() -> None:
    (hook,) = parse_hooks([{"type": "command", "command": "/bin/x --name \"%N\" %I '%L'"}])
    call = call_for(hook, placeholders(_torrent(name="it's \"odd\" $(rm -rf)"), FILES))
    assert call == CommandCall(("/bin/x", "--name", "it's \"odd\" $(rm -rf)", HASH, "tv"))


def test_http_values_are_encoded_for_where_they_go() -> None:
    values = placeholders(_torrent(name="A & B \"x\""), FILES)
    form, as_json, plain = parse_hooks([
        {"type": "http", "url": "http://h/n/%N?h=%I", "body": "name=%N&hash=%I",
         "headers": {"Content-Type": "application/x-www-form-urlencoded", "X-Tag": "%G"}},
        {"type": "http", "url": "https://h/", "method": "put",
         "headers": {"content-type": "application/json; charset=utf-8"},
         "body": "{\"name\": \"%N\", \"size\": %Z}"},
        {"type": "http", "url": "http://h/", "body": "%N done"},
    ])
    call = call_for(form, values)
    assert isinstance(call, HttpCall)
    assert call.url == f"http://h/n/A%20%26%20B%20%22x%22?h={HASH}"
    assert call.body == f"name=A+%26+B+%22x%22&hash={HASH}".encode()
    assert dict(call.headers)["X-Tag"] == "a b,c"
    call = call_for(as_json, values)
    assert isinstance(call, HttpCall)
    assert call.method == "PUT"
    assert json.loads(call.body) == {"name": "A & B \"x\"", "size": 3000}
    call = call_for(plain, values)
    assert isinstance(call, HttpCall)
    assert (call.method, call.body) == ("POST", b"A & B \"x\" done")


def test_the_cross_seed_preset_sends_exactly_its_schema() -> None:
    (hook,) = parse_hooks([CROSS_SEED])
    call = call_for(hook, placeholders(_torrent(hash=HASH.upper()), FILES))
    assert call == HttpCall("POST", "http://127.0.0.1:2468/api/webhook",
                            (("Content-Type", "application/x-www-form-urlencoded"),
                             ("X-Api-Key", "cs-key-123")), f"infoHash={HASH}".encode())
    assert "cs-key-123" not in repr(call)
    assert "cs-key-123" not in repr(hook)
    assert hook.label == "cross-seed http://127.0.0.1:2468"
    assert cross_seed_url("http://cs:2468/api/webhook/") == "http://cs:2468/api/webhook"


# -- entries and settings -----------------------------------------------------------------------
@pytest.mark.parametrize(("entry", "why"), [
    ("x", "entry 1 must be an object"),
    ({"type": "exec"}, "'type' must be one of command, http, cross-seed"),
    ({"type": "command", "command": " "}, "entry 1 (command): 'command' must be"),
    ({"type": "command", "command": "/x 'open"}, "cannot be split"),
    ({"type": "http", "url": "ftp://h/"}, "entry 1 (http): 'url' must be an http"),
    ({"type": "http", "url": "http://h/", "method": "TRACE"}, "'method' must be one of"),
    ({"type": "http", "url": "http://h/", "headers": {"X": "a\nb"}}, "one-line"),
    ({"type": "http", "url": "http://h/", "hedaers": {}}, "unknown key 'hedaers'"),
    ({"type": "cross-seed", "url": "http://h:2468"}, "'api_key' must be a non-empty"),
    ({"type": "cross-seed", "url": "http://h:2468?apikey=k", "api_key": "k"}, "without a query"),
    # urllib refuses these only when the URL is used (a ValueError, once a 500 of
    # POST /api/config and a traceback at start-up)
    ({"type": "http", "url": "http://h:x/"}, "'url' is not a usable URL"),
    ({"type": "http", "url": "http://h:99999/"}, "'url' is not a usable URL"),
    ({"type": "cross-seed", "url": "http://[::1", "api_key": "k"}, "not a usable URL"),
    ({"type": "http", "url": "http://user@/"}, "'url' names no host"),
])
def test_bad_entries_are_named_at_start(entry: object, why: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from_mapping({"hooks": {"on_complete": [CROSS_SEED, entry]}})
    message = str(caught.value)
    assert "'hooks.on_complete'" in message
    assert why in message
    assert "cs-key-123" not in message        # the good entry's key is masked in "got"


def test_entries_from_the_environment_and_masked_wherever_shown() -> None:
    entries = [CROSS_SEED, {"type": "http", "url": "https://u:pw@h/x?token=t1",
                            "headers": {"Authorization": "Bearer b1", "Accept": "*/*"}}]
    settings = settings_from_mapping(
        {}, environ={"DEBRIDGE__HOOKS__ON_COMPLETE": json.dumps(entries)})
    assert settings["hooks.on_complete"] == entries
    shown = settings.redacted()["hooks.on_complete"]
    text = json.dumps(shown)
    for secret in ("cs-key-123", ":pw@", "token=t1", "Bearer b1"):
        assert secret not in text
    assert shown[1]["headers"]["Accept"] == "*/*"
    assert shown[0]["url"] == CROSS_SEED["url"]
    with pytest.raises(SettingsError, match="must be a list of objects"):
        settings_from_mapping({}, environ={"DEBRIDGE__HOOKS__ON_COMPLETE": "a,b"})
    for text in (json.dumps([{**CROSS_SEED, "url": "ftp://h"}]), "[{\"api_key\": \"cs-key-123"):
        with pytest.raises(SettingsError) as caught:
            settings_from_mapping({}, environ={"DEBRIDGE__HOOKS__ON_COMPLETE": text})
        assert "cs-key-123" not in str(caught.value)


def test_keys_survive_reordering_and_a_new_secret_but_not_a_new_target() -> None:
    first = parse_hooks([CROSS_SEED, {"type": "command", "command": "/x %I"}])
    again = parse_hooks([{"type": "command", "command": "/x %I"},
                         {**CROSS_SEED, "api_key": "rotated"}])
    assert {h.key for h in first} == {h.key for h in again}
    moved = parse_hooks([{**CROSS_SEED, "url": "http://other:2468"}])
    assert moved[0].key not in {h.key for h in first}
    twice = parse_hooks([CROSS_SEED, CROSS_SEED])
    assert len({h.key for h in twice}) == 2


# -- the command runner ---------------------------------------------------------------------------
def test_the_runner_runs_programs_without_a_shell(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "argv.json"
    script = ("import json, os, sys; json.dump([sys.argv[1:], "
              "sorted(k for k in os.environ if k.startswith('DEBRIDGE'))], "
              f"open({str(out)!r}, 'w'))")
    monkeypatch.setenv("DEBRIDGE__AUTH__API_KEY", "not-for-hooks")
    runner = HookRunner()
    runner.send(CommandCall((sys.executable, "-c", script, "a b", "$(x)")), 10)
    assert json.loads(out.read_text()) == [["a b", "$(x)"], []]
    with pytest.raises(HookFailed, match=r"exit status 3: token=\*\*\*"):
        runner.send(CommandCall((sys.executable, "-c",
                                 "import sys; print('token=abc', file=sys.stderr); "
                                 "sys.exit(3)")), 10)
    with pytest.raises(HookFailed, match="cannot start"):
        runner.send(CommandCall((str(tmp_path / "missing"),)), 10)
    started = time.monotonic()
    with pytest.raises(HookFailed, match=r"still running after 0\.5s"):
        runner.send(CommandCall((sys.executable, "-c", "import time; time.sleep(30)")), 0.5)
    assert time.monotonic() - started < 10
    assert os.environ["DEBRIDGE__AUTH__API_KEY"] == "not-for-hooks"
