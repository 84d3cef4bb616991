"""The Arr edge: Sonarr, Radarr and Lidarr over HTTP (implements core.ports.arr.ArrApi)."""

from arr.client import ArrClient

__all__ = ["ArrClient"]
