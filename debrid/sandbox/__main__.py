"""Command line: `python -m debrid.sandbox [--dialect torbox] --port N` serves the sandbox
until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .dialects import names
from .options import SandboxOptions
from .server import SandboxServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m debrid.sandbox",
        description="Serve a local stand-in for a debrid provider's API.",
    )
    parser.add_argument("--dialect", default="realdebrid", choices=names(),
                        help="which provider's API to speak (default realdebrid)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0 = a free port)")
    parser.add_argument("--state", help="SQLite state file kept across restarts")
    defaults = SandboxOptions()
    parser.add_argument("--download-seconds", type=float, default=defaults.download_seconds)
    parser.add_argument("--conversion-seconds", type=float, default=defaults.conversion_seconds)
    parser.add_argument(
        "--link-lifetime", type=float, default=defaults.link_lifetime_seconds, help="seconds"
    )
    parser.add_argument("--max-active", type=int, default=defaults.max_active)
    parser.add_argument(
        "--rate-limit", type=int, default=defaults.rate_limit_per_minute, help="requests/minute"
    )
    parser.add_argument("--create-limit", type=int, default=defaults.create_limit,
                        help="adds per token per create window (0 = off)")
    parser.add_argument("--create-window", type=float,
                        default=defaults.create_window_seconds, help="seconds")
    parser.add_argument(
        "--token", action="append", default=[], help="accepted bearer token (repeatable)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    options = SandboxOptions(
        download_seconds=args.download_seconds,
        conversion_seconds=args.conversion_seconds,
        link_lifetime_seconds=args.link_lifetime,
        max_active=args.max_active,
        rate_limit_per_minute=args.rate_limit,
        create_limit=args.create_limit,
        create_window_seconds=args.create_window,
        tokens=tuple(args.token),
    )
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server = SandboxServer(options=options, state_path=args.state, host=args.host,
                           port=args.port, dialect=args.dialect)
    server.start()
    try:
        print(f"sandbox listening on {server.api_url}", flush=True)
        stopping.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
