"""Debridge's composition root: create_app(settings) wires everything; the CLI runs it."""

from __future__ import annotations

import argparse
import logging
import logging.config
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware

import api
import qbit_compat
import ui
from arr.connect import ARR_NOTICES_META, arr_directory
from browse.stream import Streams
from browse.tree import Tree
from commands import hash_password_command, reset_command, unban_command
from core import __version__
from core.announce import Announcer, announce_config
from core.auth import (
    Authenticator,
    AuthPolicy,
    ensure_api_key,
    forget_sessions_if_credentials_changed,
    reset_api_key,
    reset_generated_password,
    resolve_password_hash,
)
from core.budgets import RequestBudgets
from core.engine import Engine, PeriodicJob
from core.finalize import Finalizer
from core.hosts import HostPolicy
from core.library import Library
from core.library_sync import LibrarySync
from core.lifecycle import EngineConfig, Lifecycle
from core.links import LinkResolver
from core.live_config import ConfigEditor, RunningSettings
from core.outbox import HookOutbox
from core.policy import Policies, ProviderPolicy
from core.ports import DebridProvider
from core.preferences import Preferences
from core.repair_jobs import RepairJobs
from core.routing import Routing
from core.selection import SelectionRules
from core.services import EXTENSION_KEY, Services
from core.settings import Settings, SettingsError, config_path, load_settings
from core.slots import SlotGate
from debrid import build_provider
from debrid.cdn import HttpContentSource
from debrid.check import check_provider_command
from debrid.sandbox import SandboxServer
from debrid.sandbox.embedded import start_sandboxes
from debrid.torrent_fetch import HttpTorrentFetcher
from hooks.build import build_hooks
from qbit_compat.app_routes import SHUTDOWN_KEY
from repair import StreamedMarker
from repair.build import build_repair
from server import machine_names
from server.logs import (
    OPERATOR_LOGGERS,
    RedactingAccessLogger,
    apply_log_level,
    configure_logging,
)
from server.proxies import TrustedProxies, parse_networks
from store.config_file import JsonConfigFile
from store.logsink import StoreLogSink
from store.sqlite import SqliteStore, open_store
from webdav import MOUNT_PATH, make_dav_app

log = logging.getLogger("debridge")
MAX_REQUEST_BYTES = 64 * 1024 * 1024


@dataclass
class Runtime:
    """What must be stopped when the app stops."""

    engine: Engine
    store: SqliteStore
    log_sink: StoreLogSink
    streams: Streams
    sandboxes: list[SandboxServer] = field(default_factory=list)
    hooks: HookOutbox | None = None
    config: ConfigEditor | None = None
    repair: RepairJobs | None = None
    stopped: bool = False

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.repair is not None:
            self.repair.stop()
        if self.hooks is not None:
            self.hooks.stop()
        if self.config is not None:
            self.config.stop()
        self.engine.stop()
        self.streams.close()
        for name in OPERATOR_LOGGERS:
            logging.getLogger(name).removeHandler(self.log_sink.handler)
        self.log_sink.stop()
        for sandbox in self.sandboxes:
            sandbox.stop()
        self.store.close()


def prepare_password(settings: Settings, store: SqliteStore) -> str:
    """The login hash; prints a newly generated password once. Sessions made with other
    credentials than the configured ones end here."""
    if forget_sessions_if_credentials_changed(store, settings["auth.username"],
                                              settings["auth.password"]):
        log.info("the login or password changed since the last start: clients log in again")
    password_hash, generated = resolve_password_hash(store, settings["auth.password"])
    if generated:
        log.warning("generated a password for the qBittorrent API: user %r, password %s "
                    "(printed only this once; only its hash is stored. Set auth.password, or "
                    "run `python app.py reset-password` to get a new one)",
                    settings["auth.username"], generated)
    return password_hash


def prepare_api_key(settings: Settings, store: SqliteStore) -> None:
    generated = ensure_api_key(store, settings["auth.api_key"])
    if generated:
        log.warning("generated an API key for /api and WebDAV: %s (printed only this once; "
                    "set auth.api_key, or run `python app.py api-key` to get a new one)",
                    generated)


def routing(settings: Settings) -> Routing:
    """The accounts adds go to: `providers` in order, or a category's pinned ones."""
    return Routing([p.name for p in settings.providers],
                   {name: c.providers for name, c in settings.categories.items()})


def build_engine(settings: Settings, store: SqliteStore, providers: Mapping[str, DebridProvider],
                 links: LinkResolver, hooks: HookOutbox,
                 jobs: Sequence[PeriodicJob] = ()) -> tuple[Engine, Lifecycle]:
    """The torrent engine and its periodic jobs, configured from the settings."""
    action = settings["downloads.action"]
    finalizer = Finalizer(store, links, HttpContentSource(), action,
                          settings.mount_path, settings["downloads.symlink_timeout_seconds"],
                          completions=hooks)
    policies = Policies.build(
        {p.name: ProviderPolicy(p.download_uncached, p.keep_on_delete)
         for p in settings.providers},
        settings["downloads.cached_only_categories"], settings["downloads.uncached_categories"])
    config = EngineConfig(action=action, mount_path=settings.mount_path,
                          poll_interval=settings["downloads.poll_interval_seconds"],
                          max_parallel_transfers=settings["downloads.max_parallel_transfers"],
                          symlink_timeout=settings["downloads.symlink_timeout_seconds"],
                          stalled_timeout=settings["downloads.stalled_timeout_minutes"] * 60,
                          copy_timeout=settings["downloads.copy_timeout_minutes"] * 60,
                          selection=SelectionRules.from_settings(
                              settings["selection.extensions"],
                              settings["selection.exclude_extras"],
                              settings["selection.extra_patterns"],
                              settings["selection.min_file_mb"],
                              settings["selection.max_file_mb"]),
                          policies=policies, routing=routing(settings))
    slots = SlotGate(store, providers, settings["downloads.max_active"],
                     Preferences(store).active_download_limit)
    lifecycle = Lifecycle(store, providers, finalizer, config, slots)
    sync = LibrarySync(store, providers, settings["library.details_per_sync"])
    engine = Engine(store, lifecycle, transfer_threads=config.max_parallel_transfers,
                    download_action=action == "download", owner=hooks.owner,
                    jobs=[PeriodicJob("library-sync", settings["library.sync_interval_seconds"],
                                      sync.run), *jobs])
    return engine, lifecycle


def _relevel_logs(settings: Settings, keys: Sequence[str]) -> None:
    if "server.log_level" in keys:
        apply_log_level(settings["server.log_level"])


def build_config_editor(settings: Settings, store: SqliteStore) -> ConfigEditor:
    """The running settings and their editor; the config file is editable when the
    settings were read from one (load_settings names it by its absolute path)."""
    running = RunningSettings(settings)
    running.on_change(_relevel_logs)
    source = Path(settings.source)
    return ConfigEditor(running, JsonConfigFile(source) if source.is_absolute() else None,
                        store, os.environ)


def create_app(settings: Settings, *, start_background: bool = True) -> Flask:
    """The Flask app with every surface; starts the engine loop unless told not to."""
    settings, sandboxes = start_sandboxes(settings)
    store = open_store(settings.data_dir)
    settings.downloads_folder.mkdir(parents=True, exist_ok=True)
    providers = {p.name: build_provider(p, store) for p in settings.providers}
    # One link resolver for placements and streams: concurrent reads of a link cost one call.
    links = LinkResolver(store, providers)
    arrs = arr_directory(settings, store)
    store.set_meta(ARR_NOTICES_META, "1" if arrs.may_listen() else "0")   # the store's triggers
    hooks = build_hooks(settings, store, arrs)
    timeout = settings["webdav.upstream_timeout_seconds"]
    streams = Streams(links,
                      HttpContentSource(connect_timeout=min(10.0, timeout), read_timeout=timeout),
                      timeout, on_open=StreamedMarker(store.mark_streamed))
    repair, repair_scans = build_repair(settings, store, providers, streams, arrs,
                                        routing(settings), hooks.owner)
    engine, lifecycle = build_engine(settings, store, providers, links, hooks, repair_scans)
    library = Library(store, downloads_folder=settings.downloads_folder,
                      routing=routing(settings),
                      add_wait_seconds=settings["qbit.add_wait_seconds"], wake=engine.wake,
                      waits_for_slot=lifecycle.waits_for_slot,
                      must_be_cached=lifecycle.must_be_cached)
    authenticator = Authenticator(store, AuthPolicy(
        username=settings["auth.username"], password_hash=prepare_password(settings, store),
        session_timeout=settings["auth.session_timeout_seconds"],
        max_failed_logins=settings["auth.max_failed_logins"],
        ban_seconds=settings["auth.ban_seconds"], api_key=settings["auth.api_key"]),
        arr_login=arrs.login)
    prepare_api_key(settings, store)
    tree = Tree(store)

    log_sink = StoreLogSink(store)       # operator messages for qBittorrent's log/main
    for name in OPERATOR_LOGGERS:        # (their levels: configure_logging's)
        logging.getLogger(name).addHandler(log_sink.handler)

    app = Flask(__name__)
    # No redirects of /x to /x/ or of // to /: they would name the request's Host in an
    # absolute Location before any surface checked it. Each route lists both forms it takes.
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    hosts = HostPolicy.build(settings["qbit.host_header_validation"], settings["server.port"],
                             settings["qbit.domain_list"], machine_names())
    config = build_config_editor(settings, store)
    announcer = Announcer(library, store, HttpTorrentFetcher(),
                          lambda: announce_config(config.running.current))
    app.extensions[EXTENSION_KEY] = Services(library, authenticator, config.running,
                                             RequestBudgets(providers), tree, streams, hosts,
                                             config, announcer, repair, arrs)
    app.extensions["debridge.runtime"] = Runtime(engine, store, log_sink, streams, sandboxes,
                                                 hooks, config, repair)
    app.register_blueprint(qbit_compat.blueprint())
    app.register_blueprint(api.blueprint)
    app.register_blueprint(api.root)
    app.register_blueprint(ui.blueprint)
    dav = make_dav_app(tree, streams.open, authenticator, settings["webdav.auth"], hosts)
    # type-ignore: wrapping wsgi_app is how Flask documents adding WSGI middleware
    app.wsgi_app = TrustedProxies(  # type: ignore[method-assign]
        DispatcherMiddleware(app.wsgi_app, {MOUNT_PATH: dav}),
        parse_networks(settings["server.trusted_proxies"]))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | HTTPException:
        # Raised by routing before a surface is chosen (404, 405, 413): in its format.
        if api.http.owns(request.path):
            return api.http.http_error(exc)
        if exc.code == 413:
            return Response("Request Entity Too Large", 413, content_type="text/plain")
        return exc

    @app.errorhandler(500)
    def server_error(exc: Exception) -> Response:
        log.error("unexpected error: %s", exc, exc_info=exc)
        if api.http.owns(request.path):
            return api.http.error("internal error", 500)
        return Response("Internal Server Error", 500, content_type="text/plain")

    if start_background:
        engine.start()
        hooks.start()
        config.start()
        repair.start()
    return app


def stop_app(app: Flask) -> None:
    runtime: Runtime = app.extensions["debridge.runtime"]
    runtime.stop()


def stop_apps(apps: list[Flask]) -> None:
    for app in apps:
        stop_app(app)


# -- serving ----------------------------------------------------------------------------------
def serve(settings: Settings) -> int:
    """Run under gunicorn (gthread workers that read request heads in their poller, see
    server/); the sandbox and password set-up run once here."""
    from server import connection_limit, head_reading_worker
    from server.application import Application

    settings, sandboxes = start_sandboxes(settings)
    store = open_store(settings.data_dir)
    prepare_password(settings, store)
    prepare_api_key(settings, store)
    store.close()
    apps: list[Flask] = []

    def load() -> Flask:
        app = create_app(settings)
        # app/shutdown (when qbit.allow_shutdown is on) stops the whole server.
        app.extensions[SHUTDOWN_KEY] = lambda: os.kill(os.getppid(), signal.SIGTERM)
        apps.append(app)
        return app

    options: dict[str, Any] = {
        "bind": f"{settings['server.host']}:{settings['server.port']}",
        "workers": settings["server.workers"],
        "worker_class": head_reading_worker(settings["server.header_timeout_seconds"],
                                            settings["server.body_timeout_seconds"]),
        "worker_connections": connection_limit(), "threads": settings["server.threads"],
        "timeout": 120, "graceful_timeout": 15, "keepalive": 5,
        "accesslog": "-" if settings["server.access_log"] else None,
        "logger_class": RedactingAccessLogger,
        "errorlog": "-", "loglevel": settings["server.log_level"], "proc_name": "debridge",
        "control_socket_disable": True,   # no runtime-management socket in $HOME
        "worker_exit": lambda server, worker: stop_apps(apps),
    }
    log.info("Debridge %s listening on http://%s:%d (config %s)", __version__,
             settings["server.host"], settings["server.port"], settings.source)
    master = os.getpid()
    try:
        Application(options, load).run()
    finally:
        # Forked workers leave run() through here too; the sandbox thread is the master's.
        if os.getpid() == master:
            for sandbox in sandboxes:
                sandbox.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="app.py", description="Debridge")
    commands = parser.add_subparsers(dest="command", required=True)
    subs = {}
    for name, text in (("serve", "run the server"),
                       ("check-config", "validate the config file and exit"),
                       ("reset-password", "generate a new password (when auth.password is "
                                          "empty) and print it"),
                       ("api-key", "generate a new API key (when auth.api_key is empty) and "
                                   "print it"),
                       ("unban", "lift the failed-login bans of ADDRESS (or of every "
                                 "address) on every surface")):
        subs[name] = commands.add_parser(name, help=text)
        subs[name].add_argument("--config", help="config file (default: $DEBRIDGE_CONFIG or "
                                                 "./config.json)")
    subs["unban"].add_argument("address", nargs="?", help="the banned IP address")
    checker = subs["check-provider"] = commands.add_parser(
        "check-provider", help="check provider account NAME: its key, status and limits")
    checker.add_argument("name", help="the provider's name (providers[].name)")
    checker.add_argument("--add-test", action="store_true",
                         help="also add and remove a small public-domain magnet")
    checker.add_argument("--config", help="config file (default: $DEBRIDGE_CONFIG or "
                                          "./config.json)")
    hasher = commands.add_parser("hash-password", help="print a hash to put in auth.password")
    hasher.add_argument("password", nargs="?",
                        help="(prompted for when omitted; without a terminal, read from stdin)")
    args = parser.parse_args(argv)

    if args.command == "hash-password":
        return hash_password_command(args.password)
    path = config_path(args.config)
    try:
        settings = load_settings(path)
    except SettingsError as exc:
        print(f"debridge: config error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings["server.log_level"])
    if args.command == "check-config":
        names = ", ".join(f"{p.name} ({p.type})" for p in settings.providers)
        print(f"config OK: {settings.source}; providers: {names}")
        return 0
    if args.command == "reset-password":
        return reset_command(settings, "auth.password",
                              f"new password for {settings['auth.username']!r}",
                              reset_generated_password)
    if args.command == "api-key":
        return reset_command(settings, "auth.api_key", "new API key", reset_api_key)
    if args.command == "unban":
        return unban_command(settings, args.address)
    if args.command == "check-provider":
        return check_provider_command(settings, args.name, add_test=args.add_test)
    threading.current_thread().name = "main"
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
