"""The WebDAV tree through the real rclone (1.60, Debian) against `python app.py serve`.

One server runs in symlink mode and one `rclone mount --read-only` of /webdav/ sits at its
`downloads.mount_path`, shared by every test of the module: torrents complete only once their
files read through that mount. rclone itself lists the tree (`lsjson`), reads byte ranges
(`cat --offset/--count`), copies a 1 GiB file with concurrent Range streams (`copy`), and the
mount serves random seeks and refuses writes. Every byte is checked against the content
formula. rclone, fusermount3 and /dev/fuse are required: without them the tests fail.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import json
import os
import random
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import qbittorrentapi
import requests

from tests.helpers import (
    PASSWORD,
    ServerProcess,
    expected_bytes,
    expected_sha256,
    file_sha256,
    free_port,
    magnet,
    make_torrent,
    random_hash,
    squatter,
    start_debridge,
    wait_until,
    write_config,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("rclone")]

MIB, GIB = 1 << 20, 1 << 30
MOVIES = "movies"              # the category the module's shared torrents live in
SHOWS = "tv-sonarr"            # the category of the Sonarr-style symlink flow
SMALL_NAME, SMALL_SIZE = "Small.Movie.2023.1080p.WEB", 5 * MIB + 12_345
BIG_NAME, BIG_SIZE = "Big.Movie.2024.2160p.BluRay", GIB
DIR_CACHE = "1s"
API_KEY = "rclone-module-api-key-5f1c0e"


def _require(condition: bool, what: str) -> None:
    if not condition:
        pytest.fail(f"{what} is required for the rclone WebDAV tests and is missing "
                    "(.ci/run installs the Debian packages rclone and fuse3)", pytrace=False)


@dataclass
class Shared:
    """A torrent of the module's library: where the tree shows it and its one selected file."""

    hash: str
    name: str
    size: int

    @property
    def file(self) -> str:             # the provider path of the magnet's main video
        return f"{self.name}.mkv"

    def path(self, group: str) -> str:  # its file's path in the tree, below /webdav/
        return f"{group}/{self.name}/{self.file}"


@dataclass
class Rig:
    server: ServerProcess
    client: qbittorrentapi.Client
    remote: str                        # the on-the-fly rclone remote of /webdav/
    mount: Path                        # the rclone mount, = downloads.mount_path
    downloads: Path
    tmp: Path
    rclone_log: Path
    port: int
    config: Path
    starts: int = 1

    def stop(self, *, kill: bool) -> None:
        """Stop Debridge: SIGTERM, or SIGKILL as a crash. The mount stays, as it would."""
        if kill:
            self.server.kill()
        else:
            assert self.server.stop() == 0

    def start(self) -> None:
        self.starts += 1
        self.server = start_debridge(self.config, self.tmp / f"debridge-{self.starts}.log",
                                     self.port)
        self.client.auth_log_in()

    @property
    def sandbox_port(self) -> int:
        return int((self.tmp / "data" / "sandbox.port").read_text())

    def remote_as(self, user: str, password: str) -> str:
        return _remote(self.port, user, password)

    def rclone(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
        """`rclone --config "" ...`; fails the test with rclone's stderr if it fails."""
        result = _rclone(*args, timeout=timeout)
        assert result.returncode == 0, (
            f"rclone {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stderr.decode(errors='replace')}\n--- debridge log tail ---\n"
            f"{self.server.log()[-3000:]}")
        return result

    def cat(self, path: str, offset: int, count: int | None = None) -> bytes:
        args = ["cat", "--offset", str(offset)]
        if count is not None:
            args += ["--count", str(count)]
        return self.rclone(*args, self.remote + path).stdout

    def lsjson(self, path: str = "", *flags: str, remote: str = "") -> list[dict[str, Any]]:
        return json.loads(self.rclone("lsjson", *flags, (remote or self.remote) + path).stdout)


def _rclone(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    rclone = shutil.which("rclone")
    assert rclone is not None
    return subprocess.run([rclone, "--config", "", *args], capture_output=True,
                          timeout=timeout, check=False)


def _obscure(password: str) -> str:
    result = _rclone("obscure", password, timeout=30)
    assert result.returncode == 0, result.stderr
    obscured = result.stdout.decode().strip()
    assert obscured
    assert obscured != password
    return obscured


def _remote(port: int, user: str, password: str) -> str:
    """The on-the-fly remote of /webdav/ (Basic auth; an empty user sends none)."""
    auth = f",user={user},pass={_obscure(password)}" if user else ""
    return f':webdav,url="http://127.0.0.1:{port}/webdav",vendor=other{auth}:'


def _unmount(mount: Path, proc: subprocess.Popen[bytes]) -> None:
    """fusermount3 -u (retried while busy, lazily as a last resort), then wait for rclone."""
    for _ in range(20):
        if proc.poll() is not None and not os.path.ismount(mount):
            break
        done = subprocess.run(["fusermount3", "-u", str(mount)], capture_output=True,
                              check=False)
        if done.returncode == 0 or not os.path.ismount(mount):
            break
        time.sleep(0.25)
    else:
        subprocess.run(["fusermount3", "-u", "-z", str(mount)], capture_output=True,
                       check=False)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()           # our own rclone process, by its handle
        proc.wait(5)


def _wait_completed(client: qbittorrentapi.Client, info_hash: str,
                    timeout: float = 60) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        found = client.torrents_info(torrent_hashes=info_hash)
        assert found, f"{info_hash} vanished from torrents/info"
        assert found[0]["state"] != "error", dict(found[0])
        return dict(found[0]) if found[0]["state"] == "pausedUP" else None

    return wait_until(done, timeout=timeout, interval=0.2, what=f"{info_hash} pausedUP")


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    _require(shutil.which("rclone") is not None, "the rclone binary")
    _require(shutil.which("fusermount3") is not None, "fusermount3 (package fuse3)")
    _require(os.path.exists("/dev/fuse"), "/dev/fuse")
    tmp = tmp_path_factory.mktemp("rclone")
    mount, downloads = tmp / "mount", tmp / "downloads"
    mount.mkdir()
    port = free_port()
    config = write_config(tmp, port=port,           # the sandbox's port is chosen, then kept
                          downloads={"action": "symlink", "folder": str(downloads),
                                     "mount_path": str(mount),
                                     "symlink_timeout_seconds": 120},
                          webdav={"auth": "basic"},
                          # the refused logins below must not ban 127.0.0.1 from the mount
                          auth={"api_key": API_KEY, "max_failed_logins": 1000})
    server = start_debridge(config, tmp / "debridge.log", port)
    rclone_log = tmp / "rclone-mount.log"
    proc: subprocess.Popen[bytes] | None = None
    client: qbittorrentapi.Client | None = None
    try:
        remote = _remote(port, "admin", PASSWORD)
        proc = subprocess.Popen(
            [shutil.which("rclone") or "rclone", "--config", "", "mount", remote, str(mount),
             "--read-only", "--vfs-cache-mode", "off", "--dir-cache-time", DIR_CACHE,
             "--attr-timeout", "1s", "-v", "--log-file", str(rclone_log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

        def mounted() -> bool:
            assert proc is not None
            if proc.poll() is not None:
                raise AssertionError(f"rclone mount exited {proc.returncode}:\n"
                                     f"{rclone_log.read_text(errors='replace')}")
            return os.path.ismount(mount) and "__all__" in os.listdir(mount)

        wait_until(mounted, timeout=30, what="the rclone mount to show __all__")
        client = qbittorrentapi.Client(host=f"http://127.0.0.1:{port}", username="admin",
                                       password=PASSWORD, REQUESTS_ARGS={"timeout": 30},
                                       VERIFY_WEBUI_CERTIFICATE=False)
        client.auth_log_in()
        rig = Rig(server, client, remote, mount, downloads, tmp, rclone_log, port, config)
        yield rig
        server = rig.server
    finally:
        try:
            if client is not None:
                with contextlib.suppress(qbittorrentapi.APIError, OSError):
                    client.auth_log_out()
            if proc is not None:
                _unmount(mount, proc)
        finally:
            server.stop()
    assert not os.path.ismount(mount), "the rclone mount outlived the module"
    for log in tmp.glob("debridge*.log"):
        assert PASSWORD not in log.read_text(errors="replace")
        assert API_KEY not in log.read_text(errors="replace")
    assert PASSWORD not in rclone_log.read_text(errors="replace")


@pytest.fixture(scope="module")
def library(rig: Rig) -> dict[str, Shared]:
    """A category with a small and a 1 GiB magnet, both completed through the mount."""
    rig.client.torrents_create_category(name=MOVIES)
    shared = {"small": Shared(random_hash(), SMALL_NAME, SMALL_SIZE),
              "big": Shared(random_hash(), BIG_NAME, BIG_SIZE)}
    for torrent in shared.values():
        uri = magnet(torrent.hash, torrent.name, size=torrent.size)
        assert rig.client.torrents_add(urls=uri, category=MOVIES) == "Ok."
    for torrent in shared.values():
        _wait_completed(rig.client, torrent.hash)
    return shared


# -- 1. listing ---------------------------------------------------------------------------------
def test_lsjson_lists_groups_categories_torrents_and_files(rig: Rig,
                                                           library: dict[str, Shared]) -> None:
    root = rig.lsjson()
    names = {e["Path"] for e in root}
    assert names >= {"__all__", "__bad__", MOVIES}
    assert names - {"__all__", "__bad__", MOVIES} <= {SHOWS}    # the symlink test's category
    assert all(e["IsDir"] for e in root)

    in_category = {e["Path"]: e for e in rig.lsjson(MOVIES + "/")}
    assert set(in_category) == {SMALL_NAME, BIG_NAME}
    assert all(e["IsDir"] for e in in_category.values())

    # only the selected files are served (no sample, no .nfo), at the provider's paths
    files = rig.lsjson(MOVIES + "/", "-R", "--files-only")
    assert sorted((f["Path"], f["Size"]) for f in files) == sorted(
        (f"{t.name}/{t.file}", t.size) for t in library.values())
    everything = {e["Path"]: e for e in rig.lsjson("__all__/", "-R")}
    for torrent in library.values():
        assert everything[torrent.name]["IsDir"]
        assert everything[f"{torrent.name}/{torrent.file}"]["Size"] == torrent.size
    assert rig.lsjson("__bad__/") == []

    # Basic auth: admin and the password, or any user with the API key; nothing else
    small = library["small"]
    for user in ("sonarr", "admin"):
        with_key = rig.remote_as(user, API_KEY)
        assert {e["Path"] for e in rig.lsjson(remote=with_key)} >= {MOVIES}
        got = rig.rclone("cat", "--offset", "100", "--count", "10",
                         with_key + small.path(MOVIES)).stdout
        assert got == expected_bytes(small.hash, 1, 100, 10)
    for user, password in (("admin", "wrong-password"), ("sonarr", PASSWORD), ("", "")):
        refused = _rclone("lsjson", rig.remote_as(user, password), "--low-level-retries", "1",
                          "--retries", "1", timeout=60)
        assert refused.returncode != 0, f"listing as {user!r}/{password!r} was not refused"
        assert b"401" in refused.stderr or b"Unauthorized" in refused.stderr, refused.stderr


# -- 2. ranges ----------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["small", "big"])
def test_cat_offsets_return_the_formula_bytes(rig: Rig, library: dict[str, Shared],
                                              which: str) -> None:
    torrent = library[which]
    size = torrent.size
    ranges = [(0, 64), (MIB - 5, 32),            # the start; across a block's counter
              (size // 2 - 7, 4096), (size // 3, 1), (size - 100, 100), (size - 1, 1)]
    for group in (MOVIES, "__all__"):
        path = torrent.path(group)
        for offset, count in ranges:
            got = rig.cat(path, offset, count)
            assert got == expected_bytes(torrent.hash, 1, offset, count), \
                f"{path} bytes {offset}+{count} differ"
    # a negative offset counts from the end (rclone asks for a suffix range)
    assert rig.cat(torrent.path(MOVIES), -16) == expected_bytes(torrent.hash, 1, size - 16, 16)
    # and the server really answers a Range with 206 and just those bytes
    offset = size // 2 + 3
    dumped = rig.rclone("cat", "--offset", str(offset), "--count", "1000", "-vv",
                        "--dump", "headers", rig.remote + torrent.path(MOVIES))
    assert dumped.stdout == expected_bytes(torrent.hash, 1, offset, 1000)
    headers = dumped.stderr.decode(errors="replace")
    assert f"Range: bytes={offset}-{offset + 999}" in headers, headers
    assert "HTTP/1.1 206 Partial Content" in headers, headers
    assert f"Content-Range: bytes {offset}-{offset + 999}/{size}" in headers, headers


# -- 3. a whole 1 GiB file ----------------------------------------------------------------------
def test_copy_of_one_gib_matches_the_formula_sha256(rig: Rig,
                                                    library: dict[str, Shared]) -> None:
    big = library["big"]
    out = rig.tmp / "copy"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        want = pool.submit(expected_sha256, big.hash, 1, big.size)
        try:
            copied = rig.rclone("copy", rig.remote + big.path("__all__"), str(out), "-v",
                                "--multi-thread-streams", "4", "--multi-thread-cutoff", "250M",
                                timeout=150)
            target = out / big.file
            assert target.stat().st_size == big.size
            # four concurrent Range streams, each into its own part of the file
            assert b"Multi-thread Copied" in copied.stderr, copied.stderr.decode(errors="replace")
            assert file_sha256(target) == want.result()
        finally:
            shutil.rmtree(out, ignore_errors=True)


# -- 4. the mount -------------------------------------------------------------------------------
def test_mount_serves_random_seeks_and_refuses_writes(rig: Rig,
                                                      library: dict[str, Shared]) -> None:
    big = library["big"]
    path = rig.mount / big.path(MOVIES)
    assert path.stat().st_size == big.size
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    offsets = [0, big.size - 4096, big.size - 1, MIB - 3]
    offsets += [rng.randrange(big.size - 4096) for _ in range(5)]
    order = offsets[:]
    rng.shuffle(order)                          # forwards and backwards jumps
    with open(path, "rb") as handle:
        for offset in order:
            handle.seek(offset)
            got = handle.read(4096)
            count = min(4096, big.size - offset)
            assert got == expected_bytes(big.hash, 1, offset, count), \
                f"mount bytes at {offset} differ (seed {seed})"
    small = library["small"]
    assert file_sha256(rig.mount / small.path("__all__")) == expected_sha256(small.hash, 1,
                                                                             small.size)

    folder = rig.mount / MOVIES / big.name
    writes: dict[str, Callable[[], object]] = {
        "create a file": lambda: (folder / "new.txt").write_bytes(b"x"),
        "open for writing": lambda: open(path, "r+b").close(),
        "append": lambda: open(path, "ab").close(),
        "mkdir": lambda: (folder / "new-folder").mkdir(),
        "delete": path.unlink,
        "rename": lambda: path.rename(folder / "renamed.mkv"),
        "truncate": lambda: os.truncate(path, 0),
    }
    for what, write in writes.items():
        with pytest.raises(OSError, match="Read-only file system") as caught:
            write()
        assert caught.value.errno == errno.EROFS, f"{what}: {caught.value!r}"
    assert sorted(os.listdir(folder)) == [big.file]
    assert path.stat().st_size == big.size

    # The server is read-only too, not just the mount: rclone straight to /webdav/. Writes
    # get 405, and MKCOL of a new folder 403 (a 405 would tell rclone it exists already).
    local = rig.tmp / "upload.txt"
    local.write_bytes(b"not welcome")
    for args in (["copyto", str(local), rig.remote + f"{MOVIES}/{big.name}/upload.txt"],
                 ["deletefile", rig.remote + big.path(MOVIES)],
                 ["moveto", rig.remote + big.path(MOVIES),
                  rig.remote + f"{MOVIES}/{big.name}/moved.mkv"]):
        refused = _rclone(*args, "--low-level-retries", "1", "--retries", "1", timeout=60)
        assert refused.returncode != 0, f"rclone {args[0]} into /webdav/ succeeded"
        assert b"405" in refused.stderr or b"Method Not Allowed" in refused.stderr, \
            refused.stderr.decode(errors="replace")
    refused = _rclone("mkdir", rig.remote + f"{MOVIES}/new-folder", "--low-level-retries",
                      "1", "--retries", "1", timeout=60)
    assert refused.returncode != 0, "rclone mkdir into /webdav/ succeeded"
    assert b"403" in refused.stderr or b"Forbidden" in refused.stderr, \
        refused.stderr.decode(errors="replace")
    assert {e["Path"] for e in rig.lsjson(f"{MOVIES}/{big.name}/")} == {big.file}
    assert {e["Path"] for e in rig.lsjson(MOVIES + "/")} == {SMALL_NAME, BIG_NAME}
    assert rig.cat(big.path(MOVIES), big.size - 8) == expected_bytes(big.hash, 1,
                                                                     big.size - 8, 8)


# -- 5. symlink mode through the real mount -----------------------------------------------------
def test_symlink_mode_completes_through_the_real_mount(rig: Rig, tmp_path: Path) -> None:
    client = rig.client
    assert client.app.web_api_version == "2.9.3"
    client.torrents_create_category(name=SHOWS)
    assert SHOWS in client.torrents_categories()

    magnet_hash, magnet_name = random_hash(), "Some.Show.S01E01.1080p.WEB"
    assert client.torrents_add(urls=magnet(magnet_hash, magnet_name, size=3_000_123),
                               category=SHOWS) == "Ok."
    pack = "Show.S02.1080p"
    data, pack_hash = make_torrent(tmp_path, pack, {"Show.S02E01.1080p.mkv": 2_500_000,
                                                    "Show.S02E02.1080p.mkv": 1_700_001})
    assert client.torrents_add(torrent_files={f"{pack}.torrent": data},
                               category=SHOWS) == "Ok."

    expected_links = {
        magnet_hash: {f"{magnet_name}/{magnet_name}.mkv":
                      f"{magnet_name}/{magnet_name}.mkv"},
        pack_hash: {f"{pack}/Show.S02E01.1080p.mkv": f"{pack}/Show.S02E01.1080p.mkv",
                    f"{pack}/Show.S02E02.1080p.mkv": f"{pack}/Show.S02E02.1080p.mkv"},
    }
    for info_hash, links in expected_links.items():
        torrent = _wait_completed(client, info_hash)
        assert torrent["progress"] == 1
        assert torrent["amount_left"] == 0
        save_path = Path(str(torrent["save_path"]))
        content_path = Path(str(torrent["content_path"]))
        assert save_path == rig.downloads / SHOWS
        assert content_path.parent == save_path
        assert content_path.name == next(iter(links)).split("/")[0]
        files = client.torrents_files(torrent_hash=info_hash)
        selected = {str(f["name"]): f for f in files if f["priority"] > 0}
        assert set(selected) == set(links)
        present = sorted(p for p in content_path.rglob("*") if not p.is_dir())
        assert present == sorted(save_path / name for name in links)
        for name, f in selected.items():
            local = save_path / name
            assert local.is_symlink(), f"{local} is not a symlink"
            assert Path(os.readlink(local)) == rig.mount / "__all__" / links[name]
            assert local.stat().st_size == f["size"]
            assert file_sha256(local) == expected_sha256(info_hash, int(f["index"]) + 1,
                                                         int(f["size"]))
        # the category folder of the mount shows it too (once its 1 s listing cache expires)
        folder = content_path.name
        wait_until(lambda folder=folder: folder in os.listdir(rig.mount / SHOWS), timeout=10,
                   what=f"{folder} in the mount's {SHOWS} folder")


# -- 6. restarts --------------------------------------------------------------------------------
def _placed_links(rig: Rig) -> list[tuple[Path, str, int, int]]:
    """(symlink, hash, file id, size) of every file the library placed."""
    out = []
    for torrent in rig.client.torrents_info():
        assert torrent["state"] == "pausedUP", dict(torrent)
        for f in rig.client.torrents_files(torrent_hash=torrent["hash"]):
            if f["priority"] > 0:
                local = Path(str(torrent["save_path"])) / str(f["name"])
                assert local.is_symlink(), f"{local} is not a symlink"
                out.append((local, str(torrent["hash"]), int(f["index"]) + 1, int(f["size"])))
    return out


def _links_read(links: list[tuple[Path, str, int, int]]) -> None:
    """Every symlink reads the formula bytes at its start and its middle, through the mount
    (waiting while rclone reconnects to the restarted server)."""
    for local, info_hash, file_id, size in links:
        for offset in (0, size // 2):
            count = min(1 << 16, size - offset)

            def read(local: Path = local, offset: int = offset, count: int = count) -> bytes:
                try:
                    with open(local, "rb") as handle:
                        handle.seek(offset)
                        return handle.read(count)
                except OSError:
                    return b""

            got = wait_until(read, timeout=30, what=f"{local} to read")
            assert got == expected_bytes(info_hash, file_id, offset, count), local


def test_symlinks_read_after_a_clean_and_a_sigkill_restart(rig: Rig,
                                                            library: dict[str, Shared]) -> None:
    links = _placed_links(rig)
    assert {h for _, h, _, _ in links} >= {t.hash for t in library.values()}
    first_port = rig.sandbox_port
    rig.stop(kill=False)
    rig.start()
    assert rig.sandbox_port == first_port       # the links it handed out stay valid
    _links_read(links)
    # A crash, and the sandbox's old address is taken meanwhile: every link saved before the
    # crash points at a host that resets connections, and is resolved again when read.
    rig.stop(kill=True)
    with squatter(first_port):
        rig.start()
        assert rig.sandbox_port != first_port
        _links_read(links)
        assert _placed_links(rig) == links


# -- 7. repair through the mount (last: the final test stops the mount) ----------------------
def _api(rig: Rig, method: str, path: str, **kwargs: Any) -> Any:
    answer = requests.request(method, f"http://127.0.0.1:{rig.port}{path}", timeout=30,
                              headers={"Authorization": f"Bearer {API_KEY}"}, **kwargs)
    assert answer.status_code < 300, (answer.status_code, answer.text)
    return answer.json()


def _copies(rig: Rig, info_hash: str) -> list[dict[str, Any]]:
    admin = f"http://127.0.0.1:{rig.sandbox_port}/__admin"
    return [t for t in requests.get(f"{admin}/torrents", timeout=5).json()
            if t["hash"].lower() == info_hash and not t["deleted"]]


def _kill_copy(rig: Rig, info_hash: str) -> str:
    (copy,) = _copies(rig, info_hash)
    requests.post(f"http://127.0.0.1:{rig.sandbox_port}/__admin/torrents/{copy['id']}",
                  json={"dead": True}, timeout=5).raise_for_status()
    return str(copy["id"])


def _repair_job(rig: Rig, **body: Any) -> dict[str, Any]:
    job = _api(rig, "POST", "/api/repair", json=body)
    return wait_until(lambda: (j := _api(rig, "GET", f"/api/repair/jobs/{job['id']}"))[
        "status"] in ("completed", "failed") and j, timeout=60, what="the repair job")


def test_a_repaired_torrent_reads_again_through_the_same_symlink(rig: Rig) -> None:
    info_hash, name = random_hash(), "Mount.Repair.S03E01.1080p"
    assert rig.client.torrents_add(urls=magnet(info_hash, name, size=2_000_001),
                                   category=SHOWS) == "Ok."
    torrent = _wait_completed(rig.client, info_hash)
    local = Path(str(torrent["save_path"])) / f"{name}/{name}.mkv"
    target = os.readlink(local)
    lost = _kill_copy(rig, info_hash)

    job = _repair_job(rig, mediaIds=[info_hash], autoProcess=True)

    (item,) = job["broken_items"]
    assert item["state"] == "done", job
    (copy,) = _copies(rig, info_hash)
    assert str(copy["id"]) != lost
    assert os.readlink(local) == target                  # the same symlink, the same path
    assert file_sha256(local) == expected_sha256(info_hash, 1, 2_000_001)


def test_with_the_mount_stopped_repair_acts_on_nothing(rig: Rig) -> None:
    info_hash, name = random_hash(), "Mount.Down.S03E02.1080p"
    assert rig.client.torrents_add(urls=magnet(info_hash, name, size=1_000_003),
                                   category=SHOWS) == "Ok."
    _wait_completed(rig.client, info_hash)
    lost = _kill_copy(rig, info_hash)
    subprocess.run(["fusermount3", "-u", str(rig.mount)], check=True, capture_output=True)
    wait_until(lambda: not os.path.ismount(rig.mount), timeout=10, what="the mount to stop")

    job = _repair_job(rig, mediaIds=[info_hash], autoProcess=True)

    assert job["broken_items"] == []
    assert "cannot be read" in job["summary"]["gate"], job["summary"]
    assert "rclone" in _api(rig, "GET", "/api/repair/status")["alert"]
    assert [str(c["id"]) for c in _copies(rig, info_hash)] == [lost]    # nothing re-added
    assert rig.client.torrents_info(torrent_hashes=info_hash)[0]["state"] == "pausedUP"
