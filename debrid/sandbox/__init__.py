"""A local stand-in for the debrid providers: one API dialect per provider over shared state,
a CDN of deterministic bytes, and an admin API."""

from .options import SandboxOptions
from .server import SandboxServer

__all__ = ["SandboxOptions", "SandboxServer"]
