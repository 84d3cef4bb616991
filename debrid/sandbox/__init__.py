"""A local stand-in for Real-Debrid: its REST API, a CDN of deterministic bytes, an admin API."""

from .options import SandboxOptions
from .server import SandboxServer

__all__ = ["SandboxOptions", "SandboxServer"]
