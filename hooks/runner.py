"""HookRunner: core.ports.HookSender over subprocess and requests (the Arrs: through their
notifier), within a timeout."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading

import requests

from core import __version__
from core.ports import ArrCall, CommandCall, HookCall, HookFailed, HookSender, HookSkipped, HttpCall
from core.redact import redact

ENV_PREFIX = "DEBRIDGE__"      # Debridge's own settings (provider keys among them)
STDERR_SHOWN = 200             # characters of a failed program's stderr put in the log
CONNECT_TIMEOUT = 10.0


class HookRunner:
    """Delivers hook calls. Failure messages name a status, an exit code or a timeout,
    never the URL, the headers or the arguments (they may hold keys)."""

    def __init__(self, arrs: HookSender | None = None) -> None:
        self._local = threading.local()
        self._arrs = arrs            # what tells the Arrs (core.arr_notify.ArrNotifier)

    def send(self, call: HookCall, timeout: float) -> None:
        if isinstance(call, CommandCall):
            self._run(call, timeout)
        elif isinstance(call, ArrCall):
            if self._arrs is None:
                raise HookSkipped("no Arr is configured")
            self._arrs.send(call, timeout)
        else:
            self._request(call, timeout)

    # -- programs -------------------------------------------------------------------------------
    def _run(self, call: CommandCall, timeout: float) -> None:
        # The program gets Debridge's environment without DEBRIDGE__ variables: settings
        # given that way may be credentials the hook has no business with.
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        try:
            # its own session: a timeout kills what it started too
            process = subprocess.Popen(call.argv, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       env=env, start_new_session=True)
        except OSError as exc:
            raise HookFailed(f"cannot start {os.path.basename(call.argv[0])}: "
                             f"{exc.strerror or type(exc).__name__}") from None
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise HookFailed(f"still running after {timeout:g}s; killed") from None
        if process.returncode != 0:
            lines = stderr.decode(errors="replace").strip().splitlines()
            said = redact(lines[-1])[:STDERR_SHOWN] if lines else ""
            raise HookFailed(f"exit status {process.returncode}" + (f": {said}" if said else ""))

    # -- HTTP -----------------------------------------------------------------------------------
    @property
    def _session(self) -> requests.Session:
        """One session per delivery thread (Session is not documented as thread-safe)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["User-Agent"] = f"Debridge/{__version__}"
        return session

    def _request(self, call: HttpCall, timeout: float) -> None:
        try:
            # stream: the answer's status is all that counts; its body is not read
            response = self._session.request(
                call.method, call.url, headers=dict(call.headers), data=call.body or None,
                timeout=(min(CONNECT_TIMEOUT, timeout), timeout), allow_redirects=False,
                stream=True)
        except requests.ConnectTimeout:
            raise HookFailed(f"no connection within {min(CONNECT_TIMEOUT, timeout):g}s") \
                from None
        except requests.ConnectionError as exc:
            raise HookFailed("connection refused" if "refused" in str(exc)
                             else "connection failed") from None
        except requests.Timeout:
            raise HookFailed(f"no answer within {timeout:g}s") from None
        except requests.RequestException as exc:
            raise HookFailed(f"request failed ({type(exc).__name__})") from None
        with response:
            if not 200 <= response.status_code < 300:
                moved = " (redirects are not followed)" if 300 <= response.status_code < 400 \
                    else ""
                raise HookFailed(f"HTTP {response.status_code}{moved}")
