"""Pure domain pieces: parsing sources, names on disk, file selection, redaction, deletion."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
import torf

from core.errors import InvalidSource, InvalidTorrentFile
from core.layout import remove_placed_files
from core.models import Torrent, TorrentFile, TorrentState
from core.naming import (
    category_is_valid,
    clean_relpath,
    display_name,
    folder_candidates,
    folder_for,
    has_invisible,
    sanitize_component,
)
from core.redact import RedactingFilter, redact
from core.selection import MIB, Candidate, SelectionRules, is_extra, select_files
from core.sources import parse_magnet, parse_torrent_file
from tests.helpers import make_torrent

HASH = "0123456789abcdef0123456789abcdef01234567"


# -- sources ----------------------------------------------------------------------------------
def test_magnet_hex_base32_name_and_trackers() -> None:
    source = parse_magnet(f"magnet:?xt=urn:btih:{HASH.upper()}&dn=Some.Show.S01E01&xl=5"
                          "&tr=http%3A%2F%2Ft.example%2Fannounce")
    assert (source.hash, source.name) == (HASH, "Some.Show.S01E01")
    assert source.trackers == ("http://t.example/announce",)
    b32 = base64.b32encode(bytes.fromhex(HASH)).decode()
    assert parse_magnet(f"magnet:?xt=urn:btih:{b32}").hash == HASH
    assert parse_magnet(f"magnet:?xt=urn:btih:{HASH}").name == HASH   # no dn: the hash


@pytest.mark.parametrize("uri", [
    "", "not a url", "http://example.com/file.torrent", "magnet:?dn=no-hash",
    "magnet:?xt=urn:btih:1234", "magnet:?xt=urn:btih:" + "g" * 40,
    "magnet:?xt=urn:sha1:" + "a" * 40, "magnet:?xt=urn:btih:" + "a" * 40 + "&dn=" + "x" * 70000,
])
def test_bad_magnets_are_refused(uri: str) -> None:
    with pytest.raises(InvalidSource):
        parse_magnet(uri)


def test_torrent_file_files_and_hash(tmp_path: Path) -> None:
    data, info_hash = make_torrent(tmp_path, "Pack", {"b/E02.mkv": 20, "a/E01.mkv": 10})
    source = parse_torrent_file(data, "pack.torrent")
    assert source.hash == info_hash
    assert source.torrent_file == data
    assert [(f.index, f.path, f.size, f.provider_file_id) for f in source.files] == \
        [(0, "a/E01.mkv", 10, "1"), (1, "b/E02.mkv", 20, "2")]
    assert source.total_size == 30
    assert source.magnet.startswith(f"magnet:?xt=urn:btih:{info_hash}")


@pytest.mark.parametrize("data", [b"", b"junk", b"d4:infoe", b"de", b"l" * 100000,
                                  b"d8:announce3:abc4:infod4:name1:xee"])
def test_invalid_torrent_files(data: bytes) -> None:
    with pytest.raises(InvalidTorrentFile) as caught:
        parse_torrent_file(data, "x.torrent")
    assert caught.value.filename == "x.torrent"


def test_hostile_paths_inside_a_torrent_never_escape(tmp_path: Path) -> None:
    torrent = torf.Torrent()
    torrent.metainfo["info"].update({
        "name": "evil", "piece length": 16384, "pieces": b"\0" * 20,
        "files": [{"length": 10, "path": ["..", "..", "etc", "passwd"]},
                  {"length": 10, "path": ["/abs", "C:\\x", "ok.mkv"]}]})
    source = parse_torrent_file(torrent.dump(validate=False), "evil.torrent")
    paths = [f.path for f in source.files]
    assert paths == ["etc/passwd", "abs/C_/x/ok.mkv"]     # a backslash separates, too
    assert all(".." not in p.split("/") and not p.startswith("/") for p in paths)


# -- naming -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "clean"), [
    ("Show: The <Movie>?", "Show_ The _Movie__"), ("..", ""), ("  trailing. ", "trailing"),
    ("CON", "_CON"), ("nul.txt", "_nul.txt"), ("a\x00b\x1fc", "a_b_c"),
    ("日本語 [1080p] #1 %&", "日本語 [1080p] #1 %&"),
    # format characters would make the tree show another name than the file has
    ("Movie\u202evkm.exe", "Movie_vkm.exe"), ("a\u200eb\u2066c\u2069", "a_b_c_"),
    ("a\u2028b\u2029c\x85d\x7f", "a_b_c_d_"), ("Show\u00a0Name", "Show\u00a0Name"),
])
def test_sanitize_component(raw: str, clean: str) -> None:
    assert sanitize_component(raw) == clean


def test_long_names_keep_their_extension_within_255_bytes() -> None:
    name = sanitize_component("é" * 300 + ".mkv")
    assert name.endswith(".mkv")
    assert len((name + ".debridge-part").encode()) <= 255


def test_clean_relpath_and_folders() -> None:
    assert clean_relpath("/a//b/../c/./d.mkv") == "a/b/c/d.mkv"
    assert clean_relpath("a\\b\\c.mkv") == "a/b/c.mkv"
    assert folder_for("Movie.2020.1080p.mkv") == "Movie.2020.1080p"
    assert folder_for("Show.S01.1080p") == "Show.S01.1080p"
    assert folder_for("..") == "torrent"
    assert folder_candidates("A.mkv", HASH)[1] == f"A [{HASH[:8]}]"


@pytest.mark.parametrize(("name", "valid"), [
    ("tv-sonarr", True), ("a/b", True), ("with space", True), ("", False), ("/x", False),
    ("x/", False), ("a//b", False), ("../up", False), ("a\\b", False), ("x\ny", False),
    ("tv\tsonarr", False), ("tv\u202e", False), ("a\u200eb", False), ("a\u2028b", False),
    ("a\x7fb", False), ("日本語/テレビ", True),
])
def test_category_names(name: str, valid: bool) -> None:
    assert category_is_valid(name) is valid


@pytest.mark.parametrize(("raw", "shown"), [
    ("Some.Show.S01E01", "Some.Show.S01E01"), ("  padded  ", "padded"),
    ("New\r\nName", "New Name"), ("a\tb", "a b"), ("a \t\n b", "a b"),
    ("Movie\u202evkm.exe", "Movie vkm.exe"), ("\u2066a\u2069", "a"), ("a\u200e\u200fb", "a b"),
    ("line\u2028para\u2029end", "line para end"), ("nul\x00byte", "nul byte"),
    ("keeps  double  spaces", "keeps  double  spaces"), ("日本語\u00a0x", "日本語\u00a0x"),
    ("\r\n\t", ""),
])
def test_display_names_lose_invisible_characters(raw: str, shown: str) -> None:
    assert display_name(raw) == shown
    assert not has_invisible(shown)


def test_has_invisible() -> None:
    assert not any(map(has_invisible, ["tv-sonarr", "日本語 [1080p]", "a\u00a0b", ""]))
    assert all(map(has_invisible, ["a\tb", "\u202e", "x\u200b", "\u2029", "\x7f", "\x85"]))


def test_names_from_magnets_and_torrent_files_are_display_names() -> None:
    uri = f"magnet:?xt=urn:btih:{HASH}&dn=Evil%E2%80%AEvkm.exe%0D%0AX%09Y"
    assert parse_magnet(uri).name == "Evil vkm.exe X Y"
    assert parse_magnet(f"magnet:?xt=urn:btih:{HASH}&dn=%E2%80%AE%0A").name == HASH
    torrent = torf.Torrent()
    torrent.metainfo["info"].update({"name": "Show\u2066.S01\r\n.mkv", "length": 10,
                                     "piece length": 16384, "pieces": b"\0" * 20})
    source = parse_torrent_file(torrent.dump(validate=False), "x.torrent")
    assert source.name == "Show .S01 .mkv"
    assert source.files[0].path == "Show_.S01__.mkv"      # a file name, as the tree has it


# -- selection --------------------------------------------------------------------------------
def _candidates(*paths: str) -> list[Candidate]:
    return [Candidate(str(i + 1), p, 1000) for i, p in enumerate(paths)]


def test_videos_selected_samples_and_extras_left_out() -> None:
    files = _candidates("Show.S01E01.mkv", "Show.S01E02.mkv", "Sample/sample.mkv",
                        "Show.S01E01-sample.mkv", "Featurettes/Making.Of.mkv",
                        "Show.nfo", "Subs/eng.srt", "Sample.Show.S01E03.mp4")
    assert select_files(files).ids == ("1", "2", "8")


def test_extras_detection_by_folder_and_name_end() -> None:
    assert is_extra("Extras/a.mkv")
    assert is_extra("Movie.2020.Trailer.mkv")
    assert not is_extra("Sample.Show.S01E01.mkv")
    assert not is_extra("Samples.Of.Life.2021.mkv")


@pytest.mark.parametrize(("paths", "fragment"), [
    (("readme.txt", "cover.jpg"), "no file of a wanted type"),
    (("Sample/sample.mkv",), "samples or extras"),
    ((), "reported no files"),
])
def test_nothing_selectable_says_why(paths: tuple[str, ...], fragment: str) -> None:
    choice = select_files(_candidates(*paths))
    assert choice.ids == ()
    assert fragment in choice.reason


def test_selection_rules_from_settings() -> None:
    files = [Candidate("1", "Show.S01E01.mkv", 700 * MIB), Candidate("2", "Show.S01E02.mkv",
                                                                     40 * MIB),
             Candidate("3", "Show.S01E03.avi", 9000 * MIB), Candidate("4", "Show.nfo", 10),
             Candidate("5", "Sample/show.mkv", 700 * MIB), Candidate("6", "music.flac", 800)]
    sized = SelectionRules.from_settings([".mkv", ".avi"], True, [r"(^|/)sample/"], 50, 8000)
    assert select_files(files, sized).ids == ("1",)
    everything = SelectionRules.from_settings([".mkv", ".FLAC"], False, [], 0, 0)
    assert select_files(files, everything).ids == ("1", "2", "5", "6")
    too_big = SelectionRules.from_settings([".avi"], True, [], 0, 100)
    assert "at most 100 MiB" in select_files(files, too_big).reason


def test_season_packs_keep_every_episode() -> None:
    episodes = [Candidate(str(i), f"Show.S02/Show.S02E{i:02d}.mkv", 500 * MIB)
                for i in range(1, 13)]
    extras = [Candidate("98", "Show.S02/Sample/Show.S02E01.mkv", 20 * MIB),
              Candidate("99", "Show.S02/Show.S02.nfo", 100)]
    assert select_files([*episodes, *extras]).ids == tuple(str(i) for i in range(1, 13))


# -- redaction --------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "secret"), [
    ("GET /api/torrents?apikey=abcd1234&x=1", "abcd1234"),
    ("url http://h/x?token=s3cr3t", "s3cr3t"),
    ("Authorization: Bearer eyJhbGciOi.J9", "eyJhbGciOi"),
    ("headers {'Authorization': 'Bearer tok123'}", "tok123"),
    ("Cookie: SID=abcdefgh", "abcdefgh"),
    ("password=hunter2 retried", "hunter2"),
])
def test_secrets_are_masked(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_filter_rewrites_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redact")
    handler = logging.Handler()
    records: list[logging.LogRecord] = []
    handler.emit = records.append  # type: ignore[method-assign]
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("calling %s", "https://x/y?api_key=topsecret")
    finally:
        logger.removeHandler(handler)
    assert "topsecret" not in records[0].getMessage()


# -- deleting only what Debridge placed -------------------------------------------------------
def test_delete_keeps_files_debridge_did_not_place(tmp_path: Path) -> None:
    content = tmp_path / "Movie"
    (content / "Subs").mkdir(parents=True)
    (content / "Movie.mkv").write_bytes(b"x")
    (content / "Subs" / "a.srt.debridge-part").write_bytes(b"x")
    (content / "mine.txt").write_text("the user's own file")
    files = (TorrentFile(0, "Movie.mkv", 1, placed="Movie.mkv"),
             TorrentFile(1, "Subs/a.srt", 1, placed="Subs/a.srt"))
    torrent = Torrent(id=1, hash="a" * 40, name="Movie", state=TorrentState.COMPLETED,
                      save_path=str(tmp_path), folder="Movie", placed_root=str(content),
                      files=files)
    remove_placed_files(torrent)
    assert sorted(p.name for p in content.rglob("*")) == ["mine.txt"]
    assert tmp_path.exists()                  # never above the torrent's folder
    (content / "mine.txt").unlink()
    (content / "Movie.mkv").write_bytes(b"x")
    remove_placed_files(torrent)
    assert not content.exists()
    assert tmp_path.exists()
