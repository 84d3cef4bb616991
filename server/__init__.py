"""How Debridge serves HTTP: the pieces between gunicorn and the surfaces."""

from __future__ import annotations
