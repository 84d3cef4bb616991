"""Completion hook delivery: run a program (no shell) or send an HTTP request (requests)."""

from hooks.runner import HookRunner

__all__ = ["HookRunner"]
