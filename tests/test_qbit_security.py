"""qBittorrent's request rules: failed-login bans, session expiry, CSRF and Host checks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app, stop_app
from tests.captures import capture
from tests.conftest import make_settings
from tests.helpers import PASSWORD

API = "/api/v2"


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def make(**sections: Any) -> Flask:
        app = create_app(make_settings(tmp_path / str(len(apps)), **sections),
                         start_background=False)
        apps.append(app)
        return app

    yield make
    for app in apps:
        stop_app(app)


def _login(client: FlaskClient, password: str = PASSWORD, **headers: str) -> str:
    return client.post(f"{API}/auth/login", data={"username": "admin", "password": password},
                       headers=headers).text


def test_ban_after_failures_then_lifted(make_app: Callable[..., Flask]) -> None:
    app = make_app(auth={"max_failed_logins": 2, "ban_seconds": 1})
    client = app.test_client()
    assert _login(client, "wrong") == capture("05").body.decode()       # Fails.
    assert _login(client, "wrong") == "Fails."
    banned = client.post(f"{API}/auth/login", data={"username": "admin", "password": PASSWORD})
    assert banned.status_code == 403
    # qBittorrent's sentence, and until when (in UTC)
    assert banned.text.startswith("Your IP address has been banned after too many failed "
                                  "authentication attempts. Banned until 20")
    assert banned.text.endswith(" UTC.")
    # another address is not banned
    other = app.test_client()
    assert other.post(f"{API}/auth/login", data={"username": "admin", "password": PASSWORD},
                      environ_base={"REMOTE_ADDR": "10.0.0.9"}).text == "Ok."
    time.sleep(1.1)
    assert _login(client) == "Ok."


def test_sessions_idle_out(make_app: Callable[..., Flask]) -> None:
    app = make_app(auth={"session_timeout_seconds": 1})
    client = app.test_client()
    assert _login(client) == "Ok."
    assert client.get(f"{API}/app/version").status_code == 200
    time.sleep(0.6)
    assert client.get(f"{API}/app/version").status_code == 200        # use keeps it alive
    time.sleep(0.6)
    assert client.get(f"{API}/app/version").status_code == 200
    time.sleep(1.3)
    expired = client.get(f"{API}/app/version")
    assert (expired.status_code, expired.text) == (403, "Forbidden")
    assert _login(client) == "Ok."                                     # clients log in again


def test_cross_site_requests_are_refused(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    client = app.test_client()
    refused = _login(client, **{"Referer": "http://evil.example/"})
    assert refused == capture("68").body.decode()                      # Unauthorized
    assert _login(client) == "Ok."
    for headers, status in (
            ({"Origin": "http://evil.example"}, 401), ({"Referer": "http://evil.example/x"}, 401),
            ({"Referer": "/"}, 200), ({"Origin": "http://localhost"}, 200),
            ({"Origin": "http://localhost:9999"}, 401), ({"Referer": "http://localhost/a?b"}, 200),
            # an opaque origin (a sandboxed frame, a local file) names no site: refused, and
            # a Referer after it changes nothing
            ({"Origin": "null"}, 401), ({"Origin": "file://"}, 401),
            ({"Origin": "null", "Referer": "http://localhost/"}, 401),
            ({"Origin": "null", "Referer": "http://evil.example/"}, 401),
            ({"Referer": "file:///home/user/evil.html"}, 401)):
        response = client.get(f"{API}/app/version", headers=headers)
        assert response.status_code == status, headers
        if status == 401:
            assert response.text == "Unauthorized"
    # X-Forwarded-Host from anyone but a trusted proxy is not the site the browser talks to
    forged = client.get(f"{API}/app/version", headers={
        "Origin": "https://debridge.example", "X-Forwarded-Host": "debridge.example"})
    assert (forged.status_code, forged.text) == (401, "Unauthorized")


def test_forwarded_headers_count_only_from_trusted_proxies(
        make_app: Callable[..., Flask]) -> None:
    proxied = make_app(server={"trusted_proxies": ["127.0.0.0/8"]},
                       qbit={"domain_list": "debridge.example"}, auth={"max_failed_logins": 1})
    headers = {"X-Forwarded-Host": "debridge.example", "X-Forwarded-For": "10.9.8.7"}
    fresh = proxied.test_client(use_cookies=False)
    assert _login(fresh, **headers, Origin="https://debridge.example") == "Ok."
    assert _login(fresh, **{**headers, "Origin": "https://evil.example"}) == "Unauthorized"
    # the client's address is the forwarded one: its failures ban it, not the proxy's
    assert _login(fresh, "wrong", **headers) == "Fails."
    store = proxied.extensions["debridge"].library.store
    assert [(ip, surface) for ip, surface, _ in store.bans(0)] == [("10.9.8.7", "qbit")]
    assert _login(fresh, **{**headers, "X-Forwarded-For": "10.9.8.8"}) == "Ok."
    # from an address that is not a trusted proxy, the same headers are ignored
    direct = make_app(qbit={"domain_list": "debridge.example"}).test_client()
    assert _login(direct, **headers, Origin="https://debridge.example") == "Unauthorized"


def test_host_names_of_the_home_network_only_by_default(
        make_app: Callable[..., Flask]) -> None:
    app = make_app(server={"port": 8282})
    client = app.test_client(use_cookies=False)
    login = client.post(f"{API}/auth/login", data={"username": "admin", "password": PASSWORD},
                        headers={"Host": "127.0.0.1:8282"})
    cookie = login.headers["Set-Cookie"].split(";")[0]
    for host, status in (("127.0.0.1:8282", 200), ("[::1]:8282", 200), ("localhost", 200),
                         ("192.168.1.20:8282", 200), ("debridge:8282", 200),
                         ("nas.local", 200), ("tower.lan:8282", 200),
                         ("host.docker.internal:8282", 200), ("box.home.arpa", 200),
                         # a public name is what a DNS-rebinding page would send
                         ("evil.example", 401), ("evil.example:8282", 401),
                         ("127.0.0.1.nip.io:8282", 401), ("localhost:9999", 401)):
        response = client.get(f"{API}/app/version", headers={"Host": host, "Cookie": cookie})
        assert response.status_code == status, host


def test_host_header_validation(make_app: Callable[..., Flask]) -> None:
    app = make_app(server={"port": 8282}, qbit={"domain_list": "*.lan;debridge.example"})
    client = app.test_client(use_cookies=False)
    login = client.post(f"{API}/auth/login", data={"username": "admin", "password": PASSWORD},
                        headers={"Host": "debridge.example:8282"})
    cookie = login.headers["Set-Cookie"].split(";")[0]
    for host, status in (("debridge.example:8282", 200), ("debridge.example", 200),
                         ("box.lan", 200), ("127.0.0.1:8282", 200), ("localhost", 200),
                         ("127.0.0.1:9999", 401), ("evil.example", 401),
                         ("debridge.example:80", 401)):
        response = client.get(f"{API}/app/version", headers={"Host": host, "Cookie": cookie})
        assert response.status_code == status, host


def test_checks_can_be_turned_off(make_app: Callable[..., Flask]) -> None:
    app = make_app(server={"port": 8282}, qbit={"csrf_protection": False,
                                                "host_header_validation": False})
    client = app.test_client()
    assert _login(client, **{"Referer": "http://evil.example/", "Host": "x:1234"}) == "Ok."
    prefs = client.get(f"{API}/app/preferences", headers={"Host": "x:1234"}).json
    assert prefs["web_ui_csrf_protection_enabled"] is False
    assert prefs["web_ui_host_header_validation_enabled"] is False


def test_shutdown_is_refused_unless_allowed(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    client = app.test_client()
    assert _login(client) == "Ok."
    assert client.get(f"{API}/app/shutdown").status_code == 405
    refused = client.post(f"{API}/app/shutdown")
    assert refused.status_code == 403
    assert "qbit.allow_shutdown" in refused.text
    allowed = make_app(qbit={"allow_shutdown": True})
    stopped: list[bool] = []
    allowed.extensions["debridge.shutdown"] = lambda: stopped.append(True)
    client = allowed.test_client()
    assert _login(client) == "Ok."
    assert client.post(f"{API}/app/shutdown").status_code == 200
    time.sleep(0.8)
    assert stopped == [True]
