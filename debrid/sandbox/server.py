"""SandboxServer: runs the sandbox app on a werkzeug server in a daemon thread."""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
from pathlib import Path
from types import TracebackType

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app
from .dialects import dialect as find_dialect
from .options import SandboxOptions
from .runtime import Sandbox
from .state import State

_POLL_INTERVAL = 0.05  # how fast serve_forever notices stop(); the default 0.5 s slows tests


def _request_handler(connections: set[socket.socket]) -> type[WSGIRequestHandler]:
    """A handler class that records open connections in `connections`, so stop() can cut them,
    and writes no access log (the admin request log already records every call)."""

    class RequestHandler(WSGIRequestHandler):
        def setup(self) -> None:
            super().setup()
            connections.add(self.connection)

        def finish(self) -> None:
            connections.discard(self.connection)
            super().finish()

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    return RequestHandler


class SandboxServer:
    """A local stand-in for a debrid provider (Real-Debrid unless another `dialect` is
    named), listening on `host:port` (port 0 picks a free one)."""

    def __init__(
        self,
        options: SandboxOptions | None = None,
        state_path: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        port_file: str | os.PathLike[str] | None = None,
        dialect: str = "realdebrid",
    ) -> None:
        """`port_file` (with port 0): reuse the port recorded there by an earlier start and
        record the one bound, so direct links handed out before a restart keep working, as
        a real provider's do."""
        self._options = options or SandboxOptions()
        self.dialect = find_dialect(dialect)
        self._state_path = Path(state_path) if state_path is not None else None
        self.host = host
        self._requested_port = port
        self._port_file = Path(port_file) if port_file is not None else None
        self._temp_path: Path | None = None
        self._port: int | None = None
        self._sandbox: Sandbox | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app: Flask | None = None
        self._connections: set[socket.socket] = set()

    # -- lifecycle --

    def start(self) -> SandboxServer:
        """Open the state, bind the socket and serve; returns once the socket is listening."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        path = self._state_path
        if path is None:
            fd, name = tempfile.mkstemp(prefix="debrid-sandbox-", suffix=".sqlite")
            os.close(fd)
            path = self._temp_path = Path(name)
        state = State(path)
        try:
            self._sandbox = Sandbox(options=self._options, state=state, dialect=self.dialect)
            self.app = create_app(self._sandbox)
            self._server = self._bind(self.app)
        except BaseException:
            state.close()
            self._remove_temp_files()
            self._sandbox = None
            raise
        self._port = int(self._server.socket.getsockname()[1])
        if self._port_file is not None and self._port != self._remembered_port():
            self._port_file.write_text(f"{self._port}\n", encoding="ascii")
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=f"debrid-sandbox-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def _remembered_port(self) -> int:
        try:
            text = self._port_file.read_text(encoding="ascii") if self._port_file else ""
        except OSError:
            return 0
        return int(text) if text.strip().isdigit() and 0 < int(text) < 65536 else 0

    def _bind(self, app: Flask) -> BaseWSGIServer:
        """Listen on the requested port, else the remembered one (another program may have
        taken it meanwhile: then any free port, and links are resolved afresh)."""
        ports = [self._requested_port] if self._requested_port else \
            [self._remembered_port(), 0]
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        last: OSError | None = None
        for port in dict.fromkeys(ports):
            # Bound here, not by werkzeug, which exits the process when a port is taken.
            listener = socket.socket(family, socket.SOCK_STREAM)
            try:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((self.host, port))
                listener.listen(128)
            except OSError as exc:
                listener.close()
                last = exc
                continue
            with listener:      # the server keeps its own duplicate of the descriptor
                return make_server(self.host, listener.getsockname()[1], app, threaded=True,
                                   request_handler=_request_handler(self._connections),
                                   fd=listener.fileno())
        assert last is not None
        raise last

    def stop(self) -> None:
        """Stop serving, close the database, and remove a private temporary state file."""
        server, thread, sandbox = self._server, self._thread, self._sandbox
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        if thread is not None:
            thread.join()
        server.server_close()
        # Keep-alive connections would otherwise outlive the server and be answered by a
        # stopped sandbox; a stopped server must look stopped, as a real one going down does.
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if sandbox is not None:
            self._options = sandbox.options  # keep runtime changes if started again
            sandbox.state.close()
        self._sandbox = None
        self._remove_temp_files()

    def _remove_temp_files(self) -> None:
        if self._temp_path is None:
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self._temp_path}{suffix}").unlink()
        self._temp_path = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses and live settings --

    @property
    def port(self) -> int:
        """The bound port (kept after stop, so messages can still name it)."""
        if self._port is None:
            raise RuntimeError("the sandbox has not been started")
        return self._port

    @property
    def url(self) -> str:
        """The origin, e.g. http://127.0.0.1:PORT."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The API base a client's base_url takes, e.g. http://127.0.0.1:PORT/rest/1.0 for
        Real-Debrid's dialect."""
        return f"{self.url}{self.dialect.base_path}"

    @property
    def options(self) -> SandboxOptions:
        """The options in force, including changes made through the admin API."""
        return self._sandbox.options if self._sandbox is not None else self._options

    @options.setter
    def options(self, value: SandboxOptions) -> None:
        self._options = value
        if self._sandbox is not None:
            self._sandbox.options = value
