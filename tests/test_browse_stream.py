"""RemoteReader: lazy opening at the offset, one refresh of an expired link, reopening a
broken connection where it stopped, interactive priority, and bounded waits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from browse.stream import RemoteReader
from core.errors import LinkExpired, UpstreamFailed
from core.models import TreeFile
from core.ports import DirectLink
from core.priority import Priority, current_priority
from debrid.base import ServiceUnavailable

DATA = bytes(range(256)) * 64          # 16 KiB
RESOLVERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="test-link-resolve")


@pytest.fixture(scope="module", autouse=True)
def _stop_resolvers() -> Iterator[None]:
    yield
    RESOLVERS.shutdown(wait=False, cancel_futures=True)


class FakeLinks:
    """LinkResolver's interface: the cached url until a caller reports it stale, then
    url-2, url-3..."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[tuple[str, Priority]] = []
        self.delay = delay
        self.issued = 0

    def resolve(self, provider: str, link: str, *, stale_url: str = "") -> DirectLink:
        self.calls.append((stale_url, current_priority()))
        time.sleep(self.delay)
        if not self.issued or stale_url == f"url-{self.issued}":
            self.issued += 1
        return DirectLink(url=f"url-{self.issued}", filename="f.mkv", size=len(DATA),
                          expires_at=None)


class FakeStream:
    def __init__(self, offset: int, break_after: int | None, end: int | None = None) -> None:
        self.offset, self.break_after, self.closed = offset, break_after, False
        self.end = len(DATA) if end is None else end

    def chunks(self, size: int) -> Iterator[bytes]:
        position, sent = self.offset, 0
        while position < self.end:
            if self.break_after is not None and sent >= self.break_after:
                raise ServiceUnavailable("the CDN connection broke: ChunkedEncodingError")
            piece = DATA[position:min(position + min(size, 1000), self.end)]
            position += len(piece)
            sent += len(piece)
            yield piece

    def close(self) -> None:
        self.closed = True


class FakeCdn:
    """Opens urls; `expired` urls answer like an expired link, `unreachable` ones like a
    host that refuses connections, `breaks` cut streams."""

    def __init__(self, expired: set[str] = frozenset(), breaks: list[int] | None = None,
                 unreachable: set[str] = frozenset()):
        self.expired, self.breaks = set(expired), list(breaks or [])
        self.unreachable = set(unreachable)
        self.opened: list[tuple[str, int]] = []
        self.ends: list[int | None] = []
        self.streams: list[FakeStream] = []

    def open(self, url: str, offset: int, end: int | None = None) -> FakeStream:
        self.opened.append((url, offset))
        self.ends.append(end)
        if url in self.expired:
            raise LinkExpired(403)
        if url in self.unreachable:
            raise ServiceUnavailable("cannot reach the CDN: ConnectionError")
        stream = FakeStream(offset, self.breaks.pop(0) if self.breaks else None, end)
        self.streams.append(stream)
        return stream


def _reader(links: FakeLinks, cdn: FakeCdn, timeout: float = 5.0) -> RemoteReader:
    file = TreeFile(path="Show/e01.mkv", size=len(DATA), link="https://provider/l/1",
                    file_id="1")
    return RemoteReader(links, cdn, RESOLVERS, "sandbox", file,  # type: ignore[arg-type]
                        timeout=timeout, chunk_size=4096)


def _read_all(reader: RemoteReader) -> bytes:
    out = b""
    while piece := reader.read(3000):
        out += piece
    return out


def test_seek_costs_nothing_and_the_first_read_opens_at_the_offset() -> None:
    links, cdn = FakeLinks(), FakeCdn()
    reader = _reader(links, cdn)
    reader.seek(5000)
    reader.seek(7000)
    assert cdn.opened == []
    assert links.calls == []
    assert reader.read(10) == DATA[7000:7010]
    assert cdn.opened == [("url-1", 7000)]
    assert _read_all(reader) == DATA[7010:]
    reader.close()
    assert cdn.streams[0].closed


def test_an_expired_link_is_resolved_again_once() -> None:
    links, cdn = FakeLinks(), FakeCdn(expired={"url-1"})
    reader = _reader(links, cdn)
    assert _read_all(reader) == DATA
    assert [stale for stale, _ in links.calls] == ["", "url-1"]
    assert cdn.opened == [("url-1", 0), ("url-2", 0)]


def test_a_link_that_fails_after_its_refresh_is_a_502() -> None:
    links, cdn = FakeLinks(), FakeCdn(expired={"url-1", "url-2"})
    with pytest.raises(UpstreamFailed, match="fresh direct link"):
        _reader(links, cdn).read(10)
    assert len(links.calls) == 2


def test_a_link_whose_host_is_gone_is_resolved_again() -> None:
    # e.g. links stored before a restart that point at an address nobody listens on now
    links, cdn = FakeLinks(), FakeCdn(unreachable={"url-1"})
    assert _read_all(_reader(links, cdn)) == DATA
    assert [stale for stale, _ in links.calls] == ["", "url-1"]
    assert cdn.opened == [("url-1", 0), ("url-2", 0)]


def test_a_host_that_stays_unreachable_is_a_502_after_one_fresh_link() -> None:
    links, cdn = FakeLinks(), FakeCdn(unreachable={"url-1", "url-2"})
    with pytest.raises(UpstreamFailed, match="fresh direct link also failed"):
        _reader(links, cdn).read(10)
    assert len(links.calls) == 2


def test_a_broken_connection_is_reopened_where_it_stopped() -> None:
    # The first connection breaks after 5000 bytes, and meanwhile its link expired.
    links, cdn = FakeLinks(), FakeCdn(breaks=[5000])
    reader = _reader(links, cdn)
    assert reader.read(100) == DATA[:100]
    cdn.expired.add("url-1")
    assert _read_all(reader) == DATA[100:]
    assert cdn.opened == [("url-1", 0), ("url-1", 5000), ("url-2", 5000)]
    assert cdn.streams[0].closed


def test_a_connection_that_keeps_breaking_without_progress_gives_up() -> None:
    links, cdn = FakeLinks(), FakeCdn(breaks=[0] * 10)
    with pytest.raises(UpstreamFailed, match="kept breaking"):
        _reader(links, cdn).read(10)


def test_link_resolution_goes_before_background_work() -> None:
    links, cdn = FakeLinks(), FakeCdn()
    assert current_priority() is Priority.BACKGROUND     # what this thread would use
    _reader(links, cdn).read(1)
    assert links.calls == [("", Priority.INTERACTIVE)]


def test_a_provider_that_does_not_answer_costs_no_more_than_the_timeout() -> None:
    links, cdn = FakeLinks(delay=1.5), FakeCdn()
    began = time.monotonic()
    with pytest.raises(UpstreamFailed, match="in time"):
        _reader(links, cdn, timeout=0.2).read(10)
    assert time.monotonic() - began < 1.0
    assert cdn.opened == []
    assert len(links.calls) == 1


def test_an_expected_range_is_all_the_cdn_is_asked_for() -> None:
    links, cdn = FakeLinks(), FakeCdn()
    reader = _reader(links, cdn)
    reader.expect(9000)
    reader.seek(8000)
    assert _read_all_to(reader, 9000) == DATA[8000:9000]
    assert cdn.opened == [("url-1", 8000)]
    assert cdn.ends == [9000]


def test_reading_past_the_expected_range_opens_the_rest() -> None:
    links, cdn = FakeLinks(), FakeCdn()
    reader = _reader(links, cdn)
    reader.expect(2000)
    assert _read_all(reader) == DATA
    assert cdn.opened == [("url-1", 0), ("url-1", 2000)]
    assert cdn.ends == [2000, None]
    assert cdn.streams[0].closed


def _read_all_to(reader: RemoteReader, stop: int) -> bytes:
    out = b""
    while reader.tell() < stop:
        out += reader.read(min(3000, stop - reader.tell()))
    return out
