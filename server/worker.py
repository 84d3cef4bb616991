"""A gunicorn gthread worker that reads request heads in its poller: slow clients hold no thread."""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from collections import OrderedDict
from functools import partial
from typing import Any

from gunicorn.http.body import LengthReader
from gunicorn.http.message import Request
from gunicorn.http.unreader import IterUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker

MAX_HEAD = 32 * 1024            # request line + headers; larger heads are answered 431
MAX_PREFETCH_BODY = 64 * 1024   # a body up to this size is read in the poller too
BUFFER_BUDGET = 64 << 20        # bytes all of a worker's unfinished requests may hold
LINGER_SECONDS = 2.0            # how long a closing connection is drained (RFC 9112 9.6)
LINGER_MAX_DRAIN = 64 * 1024
ACCEPT_BATCH = 64               # connections accepted per wake-up of the listener
FULL_WARNING_INTERVAL = 60.0


def _response(status: str) -> bytes:
    body = f"{status}\n".encode()
    return (f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


REQUEST_TIMEOUT = _response("408 Request Timeout")
HEAD_TOO_LARGE = _response("431 Request Header Fields Too Large")
BUSY = _response("503 Service Unavailable")


class ClientStalled(TimeoutError):
    """The client sent or took nothing for the body timeout."""


class ClientSocket(socket.socket):
    """An accepted connection on which 'blocking' means 'blocking, for io_timeout at most'.

    gunicorn puts a connection in blocking mode before it serves a request in a thread
    (reading the body, writing the response); with a plain socket a client that stops
    sending or reading would then hold that thread forever. A timeout is raised as
    ClientStalled, so it is told apart from the application's own timeouts.
    """

    __slots__ = ("io_timeout",)
    io_timeout: float

    def setblocking(self, flag: bool) -> None:
        if flag:
            self.settimeout(self.io_timeout)
        else:
            super().setblocking(False)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        try:
            return super().recv(bufsize, flags)
        except TimeoutError:
            raise ClientStalled(f"no data from the client for {self.io_timeout:g}s") from None

    def send(self, data: Any, flags: int = 0) -> int:
        try:
            return super().send(data, flags)
        except TimeoutError:
            raise ClientStalled(f"the client took nothing for {self.io_timeout:g}s") from None

    def sendall(self, data: Any, flags: int = 0) -> None:
        # One write of a response (at most a block of a streamed file) must go out within
        # io_timeout: a player paused for longer is dropped, as nginx's send_timeout does.
        try:
            super().sendall(data, flags)
        except TimeoutError:
            raise ClientStalled(f"the client took nothing for {self.io_timeout:g}s") from None

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        try:
            return super().sendfile(file, offset, count)
        except TimeoutError:
            raise ClientStalled(f"the client took nothing for {self.io_timeout:g}s") from None


class HeadConn(TConn):
    """A connection and what the poller has read of its next request."""

    def __init__(self, cfg: Any, sock: socket.socket, client: Any, server: Any,
                 linger: Any) -> None:
        super().__init__(cfg, sock, client, server)
        self.head: bytearray | None = None  # None while nothing has come: idle costs no buffer
        self.scanned = 0                    # how far the head has been searched for its end
        self.request_end: int | None = None  # head + prefetched body, once the head is whole
        self.head_ready = False
        self.linger = linger

    def close(self, graceful: bool = False) -> None:
        # gunicorn's graceful close drains the socket for up to 2 s, on the poller's thread;
        # the worker does that drain in the poller instead, without waiting.
        if graceful:
            self.linger(self)
        else:
            super().close()


class HeadReadingWorker(ThreadWorker):
    """gthread, but a connection reaches the thread pool only with a whole request head.

    New and kept-alive connections wait in the poller, which reads what they send without
    blocking and buffers it (and bodies up to MAX_PREFETCH_BODY); the bytes are then given
    back to gunicorn's own parser and the request is served in a thread as usual. A head not
    whole within header_timeout is answered 408 and closed. In the thread, each read of the
    body and each write of the response may wait body_timeout for the client.
    """

    header_timeout = 10.0
    body_timeout = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Deadlines: every entry of one map has the same timeout, so insertion order is
        # deadline order and expiry only looks at the front.
        self.reading: OrderedDict[HeadConn, float] = OrderedDict()
        self.lingering: OrderedDict[socket.socket, tuple[float, int]] = OrderedDict()
        self.buffered = 0
        self.scratch = memoryview(bytearray(MAX_PREFETCH_BODY))
        self.warned_full = 0.0
        # TLS, PROXY protocol and HTTP/2 start with bytes of their own: gunicorn reads those.
        self.heads_in_poller = (not self.cfg.is_ssl and self.cfg.proxy_protocol == "off"
                                and "h2" not in self.cfg.http_protocols)

    # -- accepting ------------------------------------------------------------------------
    def accept(self, listener: Any) -> None:
        if not self.heads_in_poller:
            super().accept(listener)
            return
        for _ in range(ACCEPT_BATCH):
            try:
                plain, client = listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            # The same descriptor, as a socket whose blocking mode has a timeout.
            sock = ClientSocket(plain.family, plain.type, plain.proto, fileno=plain.detach())
            sock.io_timeout = self.body_timeout
            self.nr_conns += 1
            self.enqueue_req(HeadConn(self.cfg, sock, client, listener.getsockname(),
                                      self.start_linger))
            if self.nr_conns >= self.worker_connections:
                return

    def set_accept_enabled(self, enabled: bool) -> None:
        if not enabled and self.alive and self.nr_conns >= self.worker_connections:
            now = time.monotonic()
            if now - self.warned_full > FULL_WARNING_INTERVAL:
                self.warned_full = now
                self.log.warning("%d connections open (worker_connections); new ones wait "
                                 "until some close", self.nr_conns)
        super().set_accept_enabled(enabled)

    # -- reading heads in the poller ------------------------------------------------------
    def enqueue_req(self, conn: TConn) -> None:
        if not isinstance(conn, HeadConn) or conn.head_ready:
            if isinstance(conn, HeadConn):
                conn.head_ready = False
            super().enqueue_req(conn)
            return
        # New, kept-alive (readable now) or with a pipelined request already read ahead.
        ahead = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        conn.sock.setblocking(False)
        conn.head = bytearray(ahead) if ahead else None
        conn.scanned = 0
        conn.request_end = None
        self.buffered += len(ahead)
        self.reading[conn] = time.monotonic() + self.header_timeout
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_readable, conn))
        if ahead:
            self.check_head(conn)
        else:
            self.on_readable(conn)

    def on_readable(self, conn: HeadConn, _sock: Any = None) -> None:
        try:
            size = conn.sock.recv_into(self.scratch)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.drop(conn)
            return
        if not size:
            self.drop(conn)    # the client went away before sending a whole request
            return
        if conn.head is None:
            conn.head = bytearray()
        conn.head += self.scratch[:size]
        self.buffered += size
        self.check_head(conn)

    def check_head(self, conn: HeadConn) -> None:
        head = conn.head
        assert head is not None
        if conn.request_end is None:
            start = max(conn.scanned - 3, 0)
            # A bare-LF head ends at LF LF as far as we can tell; gunicorn then answers 400.
            ends = [i for i in (head.find(b"\r\n\r\n", start), head.find(b"\n\n", start))
                    if i >= 0]
            if not ends:
                conn.scanned = len(head)
                if len(head) > MAX_HEAD:
                    self.refuse(conn, HEAD_TOO_LARGE, f"request head over {MAX_HEAD} bytes")
                elif self.buffered > BUFFER_BUDGET:
                    self.refuse(conn, BUSY, f"request buffers full ({self.buffered} bytes)")
                return
            end = min(ends) + (4 if head[min(ends)] == 13 else 2)
            if end > MAX_HEAD:
                self.refuse(conn, HEAD_TOO_LARGE, f"request head over {MAX_HEAD} bytes")
                return
            conn.request_end = end + self.prefetch_length(conn, bytes(head[:end]))
        if len(head) >= conn.request_end:
            self.hand_off(conn)

    def prefetch_length(self, conn: HeadConn, head: bytes) -> int:
        """How much of the body to read here: all of a small Content-Length body, else none."""
        if self.buffered > BUFFER_BUDGET:
            return 0
        try:
            request = Request(self.cfg, IterUnreader((head,)), conn.client)
        except Exception:
            return 0           # the thread parses it again and answers the error
        reader = getattr(request.body, "reader", None)
        if not isinstance(reader, LengthReader) or reader.length > MAX_PREFETCH_BODY:
            return 0
        if any(name == "EXPECT" for name, _ in request.headers):
            return 0           # the client waits for "100 Continue" before it sends the body
        return int(reader.length)

    def hand_off(self, conn: HeadConn) -> None:
        data = self.forget(conn)
        conn.init()            # plain HTTP/1: only makes the parser, never reads
        if data:
            conn.parser.unreader.unread(data)
        conn.head_ready = True
        self.enqueue_req(conn)

    def forget(self, conn: HeadConn) -> bytes:
        """Take `conn` out of the poller's care; the bytes it had sent."""
        del self.reading[conn]
        self.poller.unregister(conn.sock)
        data = bytes(conn.head) if conn.head else b""
        self.buffered -= len(conn.head or b"")
        conn.head = None
        return data

    def drop(self, conn: HeadConn) -> None:
        self.forget(conn)
        self.nr_conns -= 1
        conn.close()

    def refuse(self, conn: HeadConn, answer: bytes, why: str) -> None:
        self.log.debug("closing %s: %s", conn.client, why)
        self.forget(conn)
        self.nr_conns -= 1
        with contextlib.suppress(OSError):
            conn.sock.send(answer)     # a few bytes into an empty send buffer: never blocks
        self.start_linger(conn)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        while self.reading:
            conn, deadline = next(iter(self.reading.items()))
            if deadline > now:
                break
            if conn.head:
                self.refuse(conn, REQUEST_TIMEOUT,
                            f"no whole request head in {self.header_timeout:g}s")
            else:
                self.drop(conn)        # connected and said nothing: no answer owed
        while self.lingering:
            sock, (deadline, _) = next(iter(self.lingering.items()))
            if deadline > now:
                break
            self.end_linger(sock)

    def _cap_keepalive(self, deadline: float) -> None:
        # Stopping: connections still sending a head get as long as kept-alive ones.
        super()._cap_keepalive(deadline)
        for conn in list(self.reading):
            self.reading[conn] = min(self.reading[conn], deadline)

    # -- closing without blocking the poller ----------------------------------------------
    def start_linger(self, conn: TConn) -> None:
        """Send FIN, then read (and discard) what the client still sends until it closes or
        LINGER_SECONDS pass, so that the last response is not cut off by a reset."""
        sock = conn.sock
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
        except OSError:
            sock.close()
            return
        self.lingering[sock] = (time.monotonic() + LINGER_SECONDS, 0)
        self.poller.register(sock, selectors.EVENT_READ, self.on_linger_readable)

    def on_linger_readable(self, sock: socket.socket) -> None:
        try:
            size = sock.recv_into(self.scratch)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            size = 0
        deadline, drained = self.lingering[sock]
        if not size or drained + size >= LINGER_MAX_DRAIN:
            self.end_linger(sock)
        else:
            self.lingering[sock] = (deadline, drained + size)

    def end_linger(self, sock: socket.socket) -> None:
        del self.lingering[sock]
        self.poller.unregister(sock)
        sock.close()

    # -- in the thread ----------------------------------------------------------------------
    def handle_request(self, req: Any, conn: TConn) -> bool:
        try:
            return bool(super().handle_request(req, conn))
        except ClientStalled as exc:
            self.log.debug("closing %s: %s", conn.client, exc)
            return False


def head_reading_worker(header_timeout: float, body_timeout: float) -> type[HeadReadingWorker]:
    """The worker class with these timeouts (gunicorn's config has no place for them)."""
    return type("HeadReadingWorker", (HeadReadingWorker,),
                {"header_timeout": header_timeout, "body_timeout": body_timeout})
