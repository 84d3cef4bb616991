"""Read the recorded real-qBittorrent 4.5.2 exchanges in tests/fixtures/qbit-captures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CAPTURES = Path(__file__).parent / "fixtures" / "qbit-captures"


@dataclass(frozen=True)
class Capture:
    name: str
    request: str            # the curl arguments, base URL removed
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.body)


@cache
def capture(prefix: str) -> Capture:
    """The capture whose file name starts with `prefix` (e.g. "38")."""
    matches = sorted(CAPTURES.glob(f"{prefix}-*.http"))
    assert len(matches) == 1, f"expected one capture for {prefix!r}, found {matches}"
    path = matches[0]
    text = path.read_bytes()
    head, _, body = text.partition(b"### response body")
    body = body.split(b"\n", 1)[1] if b"\n" in body else b""
    request_part, _, header_part = head.decode().partition("### response headers")
    request = request_part.split("\n", 1)[1].strip()
    lines = [line for line in header_part.strip().splitlines() if line.strip()]
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(body)))
    # The file ends the body with a newline; where paths were rewritten after recording the
    # length no longer matches, so that newline is dropped rather than cut at the length.
    body = body[:length] if len(body) in (length, length + 1) else body.removesuffix(b"\n")
    return Capture(path.stem, request, status, headers, body)


def json_kind(value: Any) -> str:
    """A JSON value's type as a typed client decodes it; Qt writes whole doubles as ints."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def shape(value: Any) -> Any:
    """Keys and JSON kinds, recursively (values dropped)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return json_kind(value)
