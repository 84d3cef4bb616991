"""The built-in sandboxes: one in-process server per dialect for the sandbox providers that
have no base_url, their state and chosen port kept in the data dir across restarts."""

from __future__ import annotations

import logging

from core.settings import Settings, replace_provider
from debrid.registry import provider_type
from debrid.sandbox.options import SandboxOptions
from debrid.sandbox.server import SandboxServer
from store.permissions import private_dir, private_file

log = logging.getLogger("debridge")
SANDBOX_STATE = "sandbox.sqlite3"
SANDBOX_PORT = "sandbox.port"        # the port a sandbox chose, kept for the next start


def start_sandboxes(settings: Settings) -> tuple[Settings, list[SandboxServer]]:
    """Start a built-in sandbox, one per dialect, for sandbox providers without a base_url.
    Real-Debrid's keeps its historical state and port files; sandbox.port applies to it."""
    pending = [p for p in settings.providers
               if provider_type(p.type).dialect and not p.base_url]
    if not pending:
        return settings, []
    options = SandboxOptions(download_seconds=settings["sandbox.download_seconds"],
                             link_lifetime_seconds=settings["sandbox.link_lifetime_seconds"])
    private_dir(settings.data_dir)
    servers: dict[str, SandboxServer] = {}
    for provider in pending:
        dialect = provider_type(provider.type).dialect
        sandbox = servers.get(dialect)
        if sandbox is None:
            suffix = "" if dialect == "realdebrid" else f"-{dialect}"
            state = settings.data_dir / SANDBOX_STATE.replace(".", f"{suffix}.", 1)
            private_file(state)
            sandbox = SandboxServer(
                options=options, state_path=str(state), host="127.0.0.1",
                port=settings["sandbox.port"] if dialect == "realdebrid" else 0,
                port_file=settings.data_dir / f"{SANDBOX_PORT}{suffix}", dialect=dialect)
            servers[dialect] = sandbox.start()
        settings = replace_provider(settings, provider.name, base_url=sandbox.api_url)
        log.warning("provider %r is a built-in SANDBOX (%s) at %s: no real debrid provider key "
                    "is configured, so torrents get synthetic test files. Add a provider with "
                    "your API key to %s to use a real one.", provider.name,
                    provider_type(provider.type).kind.label, sandbox.api_url, settings.source)
    return settings, list(servers.values())
