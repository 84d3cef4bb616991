"""A served Debridge (gunicorn, access log on) never writes an API key, token or password into
its log output, whichever way a client presents it."""

from __future__ import annotations

import base64
from pathlib import Path

import requests

from tests.helpers import PASSWORD, free_port, random_hash, start_debridge, write_config

KEY = "secret-" + "0a1b2c3d4e5f6789" * 2


def test_keys_in_queries_headers_and_forms_never_reach_the_log(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port=port, server={"access_log": True},
                          auth={"api_key": KEY})
    server = start_debridge(config, tmp_path / "debridge.log", port)
    base = f"http://127.0.0.1:{port}"
    basic = base64.b64encode(f"admin:{KEY}".encode()).decode()
    wrong = "wrong-" + KEY[::-1]
    try:
        calls = [
            requests.get(f"{base}/t/?token={KEY}", timeout=10),
            requests.get(f"{base}/api/browse/?token={KEY}", timeout=10),
            requests.get(f"{base}/api/torrents?apikey={KEY}&category=x", timeout=10),
            requests.get(f"{base}/api/torrents", headers={"Authorization": f"Bearer {KEY}"},
                         timeout=10),
            requests.get(f"{base}/api/torrents", headers={"Authorization": f"Token {KEY}"},
                         timeout=10),
            requests.get(f"{base}/api/torrents", headers={"X-Api-Key": KEY}, timeout=10),
            requests.get(f"{base}/api/browse/", headers={"Authorization": f"Basic {basic}"},
                         timeout=10),
            requests.get(f"{base}/api/torrents?token={wrong}", timeout=10),
            requests.post(f"{base}/api/v2/auth/login",
                          data={"username": "admin", "password": PASSWORD}, timeout=10),
            requests.get(f"{base}/api/v2/torrents/info?hashes={random_hash()}",
                         headers={"Authorization": f"Bearer {KEY}"}, timeout=10),
            requests.get(f"{base}/api/torrents?hash=bad&token={KEY}", timeout=10),
        ]
        assert [c.status_code for c in calls] == [200, 200, 200, 200, 200, 200, 200, 401,
                                                  200, 200, 400]
    finally:
        server.stop()
    log = server.log()
    assert "/api/torrents?apikey=***&category=x" in log      # the access log is there
    assert "token=***" in log
    for secret in (KEY, basic, wrong, PASSWORD, KEY[:20]):
        assert secret not in log
