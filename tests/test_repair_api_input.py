"""The repair and Arr routes (/api/repair, /api/repair/jobs..., /api/repair/status,
/api/arrs) against bad input: malformed, missing, oversized and hostile values.

Each bad request must answer a clear JSON error (`{"error", "code"}`, as the document says)
with the right status (400, 401, 404, 405, 409), never a 500, and change nothing: the jobs
GET /api/repair/jobs lists are the same after it.

One app serves the module, started from a config file and without background work: no loop
runs the jobs, so each keeps the state it is given (through the store where no request can
put it). It holds a completed and a pending job, and one Arr (`sonarr`) at a closed port; the
`arrs` of POST /api/config get bad input too (the file is put back after each such test). A
failure of the server is written as the answer it should give.
"""

from __future__ import annotations

import io
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import TestResponse

from app import create_app, stop_app
from core.ports.repair import JobState
from core.repair_jobs import RepairJobs
from core.schema import default_config
from core.services import EXTENSION_KEY
from core.settings import load_settings
from tests.helpers import PASSWORD, free_port, random_hash
from tests.openapi_support import schema

# What the document says of an answer (status, media type, headers, body); the checks that
# send more requests (ignored_auth...) are the schema test's
CONFORMS = [not_a_server_error, status_code_conformance, content_type_conformance,
            response_headers_conformance, response_schema_conformance]

KEY = "rep-" + "0123456789abcdef" * 2
ARR_KEY = "arr-secret-" + "5a" * 16
BEARER = {"Authorization": f"Bearer {KEY}"}
JOBS = "/api/repair/jobs"
# (method, path under /api/repair/jobs/<id>, the document's path)
JOB_ROUTES = [("GET", "", JOBS + "/{job_id}"), ("DELETE", "", JOBS + "/{job_id}"),
              ("POST", "/process", JOBS + "/{job_id}/process"),
              ("POST", "/stop", JOBS + "/{job_id}/stop")]
EVERY_ROUTE = [("POST", "/api/repair"), ("GET", JOBS), ("GET", JOBS + "/1"),
               ("DELETE", JOBS + "/1"), ("POST", JOBS + "/1/process"),
               ("POST", JOBS + "/1/stop"), ("GET", "/api/repair/status"), ("GET", "/api/arrs")]
HASH = "0123456789abcdef0123456789abcdef01234567"


def _closed_port() -> int:
    """A port nothing listens on (bound, then closed: connecting is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Setup:
    def __init__(self, app: Flask, completed: int, pending: int, arr_url: str,
                 config: Path) -> None:
        self.app = app
        self.client = app.test_client()
        self.completed = completed
        self.pending = pending
        self.arr_url = arr_url
        self.config = config
        self.config_bytes = config.read_bytes()

    @property
    def repair(self) -> RepairJobs:
        repair: RepairJobs = self.app.extensions[EXTENSION_KEY].repair
        return repair

    def jobs(self) -> Any:
        answer = self.client.get(JOBS, headers=BEARER)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return answer.get_json()

    def forget_new(self) -> None:
        """Jobs a request made (that it should not have): finished and deleted."""
        for job in self.repair.jobs():
            if job.id not in (self.completed, self.pending):
                self.repair.store.update_repair_job(job.id, state=JobState.COMPLETED,
                                                    finished=time.time())
                self.repair.store.delete_repair_job(job.id)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp: Path = tmp_path_factory.mktemp("repair-input")
    arr_url = f"http://127.0.0.1:{_closed_port()}"
    config = default_config()
    config["server"]["data_dir"] = str(tmp / "data")
    config["auth"].update(api_key=KEY, password=PASSWORD, max_failed_logins=1000)
    config["sandbox"]["port"] = free_port()
    config["repair"]["interval_minutes"] = 0
    # as written by hand: mark_failed and refresh_on_complete left to their defaults
    config["arrs"] = [{"name": "sonarr", "type": "sonarr", "url": arr_url, "api_key": ARR_KEY,
                       "categories": ["tv"]}]
    path = tmp / "config.json"
    path.write_text(json.dumps(config, indent=2))
    application = create_app(load_settings(path, environ={}), start_background=False)
    try:
        client = application.test_client()
        repair: RepairJobs = application.extensions[EXTENSION_KEY].repair
        made = []
        for state in (JobState.COMPLETED, JobState.PENDING):
            answer = client.post("/api/repair", headers=BEARER, json={})
            assert answer.status_code == 202, answer.get_data(as_text=True)
            made.append(answer.get_json()["id"])
            repair.store.update_repair_job(made[-1], state=state, started=time.time(),
                                           finished=time.time() if state is
                                           JobState.COMPLETED else 0.0,
                                           summary={"checked": 0, "broken": 0, "unknown": 0,
                                                    "gate": "", "notes": [],
                                                    "dry_run": False})
        yield Setup(application, made[0], made[1], arr_url, path)
    finally:
        stop_app(application)


@pytest.fixture
def client(setup: Setup) -> Iterator[FlaskClient]:
    """The module's client; the jobs must be the same after the test (a job a request made
    is deleted again, so that the other tests still start from the module's two)."""
    before = setup.jobs()
    try:
        yield setup.client
    finally:
        setup.forget_new()
    assert setup.jobs() == before, "the module's jobs changed"


def _refused(setup: Setup, response: TestResponse, status: int, before: Any,
             documented: tuple[str, str] | None = None) -> str:
    """The answer is the JSON error of `status`, as the document says (when it documents the
    operation), and the jobs are as `before`; the error's text."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, (response.status_code, text[:300])
    assert response.mimetype == "application/json", text[:300]
    body = json.loads(text)
    assert set(body) == {"error", "code"}, body
    assert body["code"] == status, body
    assert isinstance(body["error"], str), body
    assert body["error"].strip(), body
    if documented is not None:
        _conforms(response, *documented)
    assert setup.jobs() == before, f"{response.request.method} {response.request.path} " \
                                   "changed the jobs"
    return str(body["error"])


def _conforms(response: TestResponse, path: str, method: str) -> None:
    """The answer is as the document says (a job id taken from the request's path)."""
    parameters = {}
    if "{job_id}" in path:
        parameters["job_id"] = int(response.request.path.split("/")[4])
    schema[path][method].Case(headers=BEARER, path_parameters=parameters).validate_response(
        response, checks=CONFORMS)


def _post(client: FlaskClient, data: bytes | str, content_type: str = "application/json",
          **kwargs: Any) -> TestResponse:
    return client.post("/api/repair", headers=BEARER, data=data, content_type=content_type,
                       **kwargs)


# -- authentication -----------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path"), EVERY_ROUTE)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"},
                                     {"X-Api-Key": ""}, {"Authorization": "Digest x"}],
                         ids=["none", "wrong", "empty", "digest"])
def test_no_or_a_wrong_token_is_a_401(setup: Setup, client: FlaskClient, method: str,
                                      path: str, headers: dict[str, str]) -> None:
    before = setup.jobs()
    response = client.open(path, method=method, headers=headers, json={})
    _refused(setup, response, 401, before)
    assert "Bearer" in response.headers["WWW-Authenticate"]


# -- POST /api/repair: bodies -------------------------------------------------------------
def _ids(count: int) -> list[str]:
    """Distinct info-hashes (never all digits: those would be an Arr's ids)."""
    return [f"f{index:039x}" for index in range(count)]


BAD_BODIES: dict[str, Any] = {
    # not an object
    "array": [], "array of object": [{}], "string": "arrs", "number": 1, "null": None,
    "true": True,
    # unknown or doubled fields
    "unknown field": {"foo": 1}, "wrong case": {"MediaIds": []}, "padded name": {"arrs ": []},
    "long unknown field": {"x" * 100_000: 1}, "empty field name": {"": True},
    "camel and snake ids": {"mediaIds": [], "media_ids": []},
    "camel and snake auto": {"autoProcess": False, "auto_process": False},
    "camel and snake dry": {"dryRun": True, "dry_run": True},
    # arrs
    "arrs string": {"arrs": "sonarr"}, "arrs number": {"arrs": 1}, "arrs object": {"arrs": {}},
    "arrs true": {"arrs": True}, "arrs of numbers": {"arrs": [1]}, "arrs of null": {"arrs": [None]},
    "arrs blank": {"arrs": [""]}, "arrs spaces": {"arrs": ["  \t"]},
    "arrs nested": {"arrs": [["sonarr"]]}, "arrs of objects": {"arrs": [{"name": "sonarr"}]},
    "arrs too long": {"arrs": ["s" * 201]}, "arrs unknown": {"arrs": ["radarr"]},
    "arrs other case": {"arrs": ["Sonarr"]}, "arrs NUL": {"arrs": ["son\u0000arr"]},
    "arrs surrogate": {"arrs": ["\ud800"]}, "arrs many unknown": {"arrs": ["x"] * 20_000},
    "arrs one known one not": {"arrs": ["sonarr", "nope"]},
    # mediaIds
    "ids string": {"mediaIds": HASH}, "ids number": {"mediaIds": 12}, "ids object": {
        "mediaIds": {"0": HASH}}, "ids of booleans": {"mediaIds": [True]},
    "ids negative": {"arrs": ["sonarr"], "mediaIds": [-1]},
    "ids float": {"arrs": ["sonarr"], "mediaIds": [1.5]},
    "ids whole float": {"arrs": ["sonarr"], "mediaIds": [1000.0]},
    "ids exponent": {"arrs": ["sonarr"], "mediaIds": [1e3]},
    "ids exponent text": {"arrs": ["sonarr"], "mediaIds": ["1e3"]},
    "ids signed text": {"arrs": ["sonarr"], "mediaIds": ["+12"]},
    "ids of null": {"mediaIds": [None]}, "ids blank": {"mediaIds": [""]},
    "ids short hash": {"mediaIds": [HASH[:39]]}, "ids long hash": {"mediaIds": [HASH + "0"]},
    "ids not hex": {"mediaIds": ["g" * 40]}, "ids bad base32": {"mediaIds": ["a1" * 16]},
    "ids hash with inner space": {"mediaIds": [HASH[:20] + " " + HASH[20:]]},
    "ids nested": {"mediaIds": [[HASH]]}, "ids objects": {"mediaIds": [{"id": 1}]},
    "ids too long": {"mediaIds": ["1" * 201]},
    "arr ids without arrs": {"mediaIds": [12]},
    "arr id text without arrs": {"mediaIds": ["12"]},
    "arr ids with empty arrs": {"mediaIds": [12], "arrs": []},
    "arr ids with null arrs": {"media_ids": ["12"], "arrs": None},
    "1001 hashes": {"mediaIds": _ids(1001)},
    "5000 arr ids": {"arrs": ["sonarr"], "mediaIds": list(range(5000))},
    "ids unknown arr": {"arrs": ["radarr"], "mediaIds": [1]},
    # flags
    "auto text": {"autoProcess": "true"}, "auto number": {"autoProcess": 1},
    "auto zero": {"auto_process": 0}, "auto list": {"autoProcess": []},
    "dry text": {"dryRun": "false"}, "dry object": {"dryRun": {}}, "dry yes": {"dry_run": "yes"},
}


@pytest.mark.parametrize("body", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_a_bad_body_is_a_400_and_makes_no_job(setup: Setup, client: FlaskClient,
                                              body: Any) -> None:
    before = setup.jobs()
    _refused(setup, _post(client, json.dumps(body)), 400, before, ("/api/repair", "POST"))


RAW_BODIES: dict[str, bytes] = {
    "not JSON": b"arrs=sonarr", "truncated": b'{"arrs": [', "trailing comma": b'{"arrs": [],}',
    "two documents": b"{} {}", "single quotes": b"{'arrs': []}",
    "NaN": b"NaN", "NaN flag": b'{"dryRun": NaN}', "Infinity id": b'{"mediaIds": [Infinity]}',
    "minus Infinity": b'{"mediaIds": [-Infinity]}',
    "huge exponent": b'{"arrs": ["sonarr"], "mediaIds": [1e400]}',
    "too many digits": b'{"arrs": ["sonarr"], "mediaIds": [' + b"9" * 5000 + b"]}",
    "deep nesting": b'{"arrs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "deep objects": b'{"arrs": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}",
    "not UTF-8": b"\xff\xfe\xfd", "latin-1 text": b'{"arrs": ["caf\xe9"]}',
    "bare continuation byte": b'{"arrs": ["\x80"]}', "NUL bytes": b"\x00" * 64,
    "BOM then garbage": b"\xef\xbb\xbf{", "control character": b'{"arrs": ["a\x01b"]}',
}


@pytest.mark.parametrize("data", list(RAW_BODIES.values()), ids=list(RAW_BODIES))
def test_a_malformed_body_is_a_400_and_makes_no_job(setup: Setup, client: FlaskClient,
                                                    data: bytes) -> None:
    before = setup.jobs()
    _refused(setup, _post(client, data), 400, before, ("/api/repair", "POST"))


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "text/plain", ""])
def test_a_form_is_not_json_whatever_its_type(setup: Setup, client: FlaskClient,
                                              content_type: str) -> None:
    before = setup.jobs()
    _refused(setup, _post(client, b"arrs=sonarr&dryRun=true", content_type), 400, before)


@pytest.mark.parametrize("size", [256 * 1024 + 1, 10 << 20], ids=["256 KiB + 1", "10 MiB"])
def test_a_body_over_256_kib_is_a_400(setup: Setup, client: FlaskClient, size: int) -> None:
    """Valid JSON (an object padded with blanks): the size alone refuses it; 400 (as
    /api/config's limit), not the server's 413."""
    before = setup.jobs()
    data = b'{"dryRun": true' + b" " * (size - 16) + b"}"
    assert len(data) == size
    error = _refused(setup, _post(client, data), 400, before, ("/api/repair", "POST"))
    assert "256 KiB" in error


def test_a_body_without_a_length_is_cut_at_256_kib(setup: Setup, client: FlaskClient) -> None:
    """A chunked body (no Content-Length: werkzeug ignores one beside Transfer-Encoding),
    handed on as a server does (wsgi.input_terminated: read it to its end)."""
    before = setup.jobs()
    data = b'{"dryRun": true' + b" " * (1 << 20) + b"}"
    response = client.post("/api/repair", headers={**BEARER, "Transfer-Encoding": "chunked"},
                           input_stream=io.BytesIO(data), content_type="application/json",
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.request.content_length is None
    _refused(setup, response, 400, before, ("/api/repair", "POST"))


@pytest.mark.parametrize("length", [str(65 << 20), str(1 << 62)], ids=["65 MiB", "2^62"])
def test_a_huge_announced_length_is_refused_unread(setup: Setup, client: FlaskClient,
                                                    length: str) -> None:
    before = setup.jobs()
    response = _post(client, b"{}", environ_overrides={"CONTENT_LENGTH": length})
    _refused(setup, response, 400, before, ("/api/repair", "POST"))


# -- a running job: 409 -------------------------------------------------------------------
def test_a_second_job_while_one_scans_is_a_409_and_bad_input_still_a_400(
        setup: Setup, client: FlaskClient) -> None:
    made = _post(client, json.dumps({"mediaIds": [HASH.upper(), " 42 ", 42], "arrs":
                                     ["sonarr", "sonarr"], "dry_run": True}))
    assert made.status_code == 202, made.get_data(as_text=True)
    _conforms(made, "/api/repair", "POST")
    job = made.get_json()
    assert (job["status"], job["arrs"], job["media_ids"], job["dry_run"]) == \
        ("scanning", ["sonarr"], [HASH, "42"], True)
    before = setup.jobs()
    assert before[0]["id"] == job["id"]
    for body in ({}, {"dryRun": True}, {"arrs": ["sonarr"], "autoProcess": True}):
        _refused(setup, _post(client, json.dumps(body)), 409, before, ("/api/repair", "POST"))
    _refused(setup, _post(client, b'{"arrs": 1}'), 400, before, ("/api/repair", "POST"))
    where = f"{JOBS}/{job['id']}"
    _refused(setup, client.delete(where, headers=BEARER), 409, before,
             (JOBS + "/{job_id}", "DELETE"))
    _refused(setup, client.post(where + "/process", headers=BEARER), 409, before,
             (JOBS + "/{job_id}/process", "POST"))
    # another job cannot be processed while this one scans
    _refused(setup, client.post(f"{JOBS}/{setup.pending}/process", headers=BEARER), 409,
             before, (JOBS + "/{job_id}/process", "POST"))
    status = client.get("/api/repair/status", headers=BEARER)
    assert status.get_json()["running"]["id"] == job["id"]
    stopped = client.post(where + "/stop", headers=BEARER)   # between two torrents
    assert stopped.status_code == 200
    assert setup.repair.job(job["id"]).stop_requested


# -- the job routes: ids and states ---------------------------------------------------------
NO_ENDPOINT = ["-1", "abc", "1.5", "1e3", "0x1", "+1", " 1", "1 ", "%00", "1%00", "%20",
               "\u00b2", "1/", "1;x"]
TOO_MANY_DIGITS = "9" * 5000        # more than int() takes (4300)


@pytest.mark.parametrize(("method", "suffix", "documented"), JOB_ROUTES,
                         ids=[f"{m} {s or '/'}" for m, s, _ in JOB_ROUTES])
@pytest.mark.parametrize("job_id", NO_ENDPOINT)
def test_a_job_id_that_is_not_digits_is_no_endpoint(setup: Setup, client: FlaskClient,
                                                   method: str, suffix: str, documented: str,
                                                   job_id: str) -> None:
    if job_id == "1/" and suffix == "":
        pytest.skip("a trailing '/' is the same route (strict_slashes is off)")
    before = setup.jobs()
    response = client.open(f"{JOBS}/{job_id}{suffix}", method=method, headers=BEARER)
    assert _refused(setup, response, 404, before) == "no such endpoint"


@pytest.mark.parametrize(("method", "suffix"), [
    ("GET", ""), ("POST", "/process"), ("POST", "/stop"),
    ("DELETE", "")],
    ids=["GET /", "POST /process", "POST /stop", "DELETE /"])
def test_a_job_id_of_too_many_digits_is_no_endpoint(setup: Setup, client: FlaskClient,
                                                    method: str, suffix: str) -> None:
    before = setup.jobs()
    response = client.open(f"{JOBS}/{TOO_MANY_DIGITS}{suffix}", method=method, headers=BEARER)
    _refused(setup, response, 404, before)


@pytest.mark.parametrize(("method", "suffix", "documented"), JOB_ROUTES,
                         ids=[f"{m} {s or '/'}" for m, s, _ in JOB_ROUTES])
@pytest.mark.parametrize("job_id", ["0", "999999", "0000", str(2**63 - 1)])
def test_an_unknown_job_is_a_404(setup: Setup, client: FlaskClient, method: str,
                                 suffix: str, documented: str, job_id: str) -> None:
    before = setup.jobs()
    response = client.open(f"{JOBS}/{job_id}{suffix}", method=method, headers=BEARER)
    error = _refused(setup, response, 404, before, (documented, method))
    assert error == f"no repair job {int(job_id)}"


@pytest.mark.parametrize(("method", "suffix", "documented"), JOB_ROUTES,
                         ids=[f"{m} {s or '/'}" for m, s, _ in JOB_ROUTES])
@pytest.mark.parametrize("job_id", [str(2**63), "99999999999999999999"])
def test_a_job_id_past_sqlites_integers_is_a_404(setup: Setup, client: FlaskClient,
                                                 method: str, suffix: str, documented: str,
                                                 job_id: str) -> None:
    before = setup.jobs()
    response = client.open(f"{JOBS}/{job_id}{suffix}", method=method, headers=BEARER)
    _refused(setup, response, 404, before, (documented, method))


@pytest.mark.parametrize(("method", "suffix", "documented"), JOB_ROUTES[:1] + JOB_ROUTES[3:],
                         ids=["GET /", "POST /stop"])
def test_a_job_id_of_other_digits_is_no_endpoint(setup: Setup, client: FlaskClient,
                                                 method: str, suffix: str,
                                                 documented: str) -> None:
    before = setup.jobs()
    digits = "".join(chr(0x0660 + int(d)) for d in str(setup.completed))
    response = client.open(f"{JOBS}/{digits}{suffix}", method=method, headers=BEARER)
    _refused(setup, response, 404, before)


def test_a_finished_job_is_neither_processed_nor_stopped(setup: Setup,
                                                         client: FlaskClient) -> None:
    before = setup.jobs()
    where = f"{JOBS}/{setup.completed}"
    for suffix in ("/process", "/stop"):
        error = _refused(setup, client.post(where + suffix, headers=BEARER), 409, before,
                         (JOBS + "/{job_id}" + suffix, "POST"))
        assert "completed" in error


@pytest.mark.parametrize("data", [b"x" * (10 << 20), b"\xff\xfe", b'{"force": true}',
                                  b"[" * 100_000], ids=["10 MiB", "not UTF-8", "json", "deep"])
@pytest.mark.parametrize("suffix", ["/process", "/stop"])
def test_process_and_stop_read_no_body(setup: Setup, client: FlaskClient, data: bytes,
                                       suffix: str) -> None:
    """A body changes nothing: a finished job is still a 409, an unknown one a 404."""
    before = setup.jobs()
    for job_id, status in ((setup.completed, 409), (987654, 404)):
        response = client.post(f"{JOBS}/{job_id}{suffix}", headers=BEARER, data=data,
                               content_type="application/json")
        _refused(setup, response, status, before, (JOBS + "/{job_id}" + suffix, "POST"))


def test_delete_reads_no_body_either(setup: Setup, client: FlaskClient) -> None:
    before = setup.jobs()
    response = client.delete(f"{JOBS}/987654", headers=BEARER, data=b"\xff" * (1 << 20))
    _refused(setup, response, 404, before, (JOBS + "/{job_id}", "DELETE"))


def test_the_listing_ignores_a_query(setup: Setup, client: FlaskClient) -> None:
    for query in ("limit=-1", "limit=abc", "offset=" + "9" * 5000, "status=%00", "x=%ff"):
        answer = client.get(f"{JOBS}?{query}", headers=BEARER)
        assert answer.status_code == 200, (query, answer.get_data(as_text=True))
        _conforms(answer, JOBS, "GET")
        assert [j["id"] for j in answer.get_json()] == [setup.pending, setup.completed]


# -- methods ----------------------------------------------------------------------------
WRONG_METHODS = [("GET", "/api/repair"), ("PUT", "/api/repair"), ("DELETE", "/api/repair"),
                 ("PATCH", "/api/repair"), ("POST", JOBS), ("DELETE", JOBS), ("PUT", JOBS),
                 ("PUT", JOBS + "/1"), ("PATCH", JOBS + "/1"), ("POST", JOBS + "/1"),
                 ("GET", JOBS + "/1/process"), ("DELETE", JOBS + "/1/process"),
                 ("GET", JOBS + "/1/stop"), ("PUT", JOBS + "/1/stop"),
                 ("POST", "/api/repair/status"), ("DELETE", "/api/repair/status"),
                 ("POST", "/api/arrs"), ("PUT", "/api/arrs"), ("DELETE", "/api/arrs"),
                 ("TRACE", "/api/repair"), ("FOO", JOBS + "/1"), ("PROPFIND", "/api/arrs")]


@pytest.mark.parametrize(("method", "path"), WRONG_METHODS)
def test_a_method_a_route_does_not_take_is_a_405(setup: Setup, client: FlaskClient,
                                                 method: str, path: str) -> None:
    before = setup.jobs()
    response = client.open(path, method=method, headers=BEARER, json={})
    _refused(setup, response, 405, before)
    assert method not in response.headers["Allow"].split(", ")


@pytest.mark.parametrize("path", ["/api/repair/job", "/api/repair/jobs/1/delete",
                                  "/api/repair/jobs/1/process/2", "/api/repair/run",
                                  "/api/arrs/sonarr", "/api/repair/status/x"])
def test_a_path_of_no_route_is_a_404(setup: Setup, client: FlaskClient, path: str) -> None:
    before = setup.jobs()
    _refused(setup, client.post(path, headers=BEARER, json={}), 404, before)


# -- known failures -------------------------------------------------------------------------
@pytest.mark.parametrize("media_id", ["\u00b2", "\u2460", "1\u00b2"],
                         ids=["superscript two", "circled one", "one superscript two"])
def test_media_ids_of_digits_int_refuses_are_a_400(setup: Setup, client: FlaskClient,
                                                   media_id: str) -> None:
    before = setup.jobs()
    response = _post(client, json.dumps({"arrs": ["sonarr"], "mediaIds": [media_id]}))
    _refused(setup, response, 400, before, ("/api/repair", "POST"))


def test_more_than_1000_media_ids_are_a_400_even_repeated(setup: Setup,
                                                          client: FlaskClient) -> None:
    before = setup.jobs()
    response = _post(client, json.dumps({"mediaIds": [HASH] * 1001}))
    _refused(setup, response, 400, before, ("/api/repair", "POST"))


def test_1000_distinct_media_ids_are_taken(setup: Setup, client: FlaskClient) -> None:
    made = _post(client, json.dumps({"mediaIds": _ids(1000)}))
    assert made.status_code == 202, made.get_data(as_text=True)
    assert len(made.get_json()["media_ids"]) == 1000


# -- the Arrs -------------------------------------------------------------------------------
def test_the_arrs_show_an_unreachable_arr_quickly_and_never_a_key(setup: Setup,
                                                                  client: FlaskClient) -> None:
    started = time.monotonic()
    answer = client.get("/api/arrs", headers=BEARER)
    took = time.monotonic() - started
    assert answer.status_code == 200, answer.get_data(as_text=True)
    _conforms(answer, "/api/arrs", "GET")
    assert took < 3.0, f"GET /api/arrs took {took:.1f} s for an Arr at a closed port"
    (arr,) = answer.get_json()
    assert (arr["name"], arr["type"], arr["url"], arr["reachable"], arr["version"]) == \
        ("sonarr", "sonarr", setup.arr_url, False, "")
    assert "refused" in arr["error"], arr["error"]
    assert "api_key" not in arr
    assert "key" not in json.dumps(arr).lower()
    assert ARR_KEY not in answer.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/api/arrs", "/api/repair/status", JOBS, "/api/config"])
def test_no_answer_shows_the_arrs_key(setup: Setup, client: FlaskClient, path: str) -> None:
    answer = client.get(path, headers=BEARER)
    assert answer.status_code == 200
    assert ARR_KEY not in answer.get_data(as_text=True)
    if path == "/api/config":
        _conforms(answer, path, "GET")
        (arr,) = answer.get_json()["arrs"]
        assert arr == {"name": "sonarr", "type": "sonarr", "url": setup.arr_url,
                       "api_key": "********", "categories": ["tv"], "mark_failed": True,
                       "refresh_on_complete": True}


def test_the_status_and_the_job_views_are_as_documented(setup: Setup,
                                                        client: FlaskClient) -> None:
    status = client.get("/api/repair/status", headers=BEARER)
    _conforms(status, "/api/repair/status", "GET")
    body = status.get_json()
    assert (body["running"], body["last_run"]["id"], body["alert"]) == \
        (None, setup.completed, None)
    for job_id in (setup.completed, setup.pending):
        _conforms(client.get(f"{JOBS}/{job_id}", headers=BEARER), JOBS + "/{job_id}", "GET")
    _conforms(client.get(JOBS, headers=BEARER), JOBS, "GET")


def test_a_random_hash_scan_of_nothing_is_taken(setup: Setup, client: FlaskClient) -> None:
    """The other side of the 400s: a base32 hash and snake_case names are taken."""
    base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    made = _post(client, json.dumps({"media_ids": [random_hash(), base32.lower()],
                                     "auto_process": None, "dry_run": False}))
    assert made.status_code == 202, made.get_data(as_text=True)
    assert made.get_json()["media_ids"][1] == base32.lower()


# -- the `arrs` of POST /api/config ---------------------------------------------------------
ARR = {"name": "sonarr", "type": "sonarr", "url": "http://127.0.0.1:8989", "api_key": "k" * 32,
       "categories": ["tv"]}
BAD_ARRS: dict[str, Any] = {
    "an object": {"sonarr": ARR}, "a string": "sonarr", "null entry": [None], "a number": [1],
    "a list entry": [[ARR]], "unknown key": [{**ARR, "apikey": "x"}],
    "no name": [{k: v for k, v in ARR.items() if k != "name"}],
    "no type": [{k: v for k, v in ARR.items() if k != "type"}],
    "no url": [{k: v for k, v in ARR.items() if k != "url"}],
    "no key": [{k: v for k, v in ARR.items() if k != "api_key"}],
    "name with a slash": [{**ARR, "name": "a/b"}], "name blank": [{**ARR, "name": ""}],
    "name too long": [{**ARR, "name": "a" * 65}], "name a number": [{**ARR, "name": 1}],
    "type unknown": [{**ARR, "type": "whisparr"}], "type other case": [{**ARR, "type": "Sonarr"}],
    "type a number": [{**ARR, "type": 1}], "type null": [{**ARR, "type": None}],
    "url ftp": [{**ARR, "url": "ftp://h"}], "url no host": [{**ARR, "url": "http://"}],
    "url credentials": [{**ARR, "url": "http://u:p@h"}], "url query": [{**ARR, "url": "http://h?a"}],
    "url fragment": [{**ARR, "url": "http://h#a"}], "url space": [{**ARR, "url": "http://h /x"}],
    "url too long": [{**ARR, "url": "http://h/" + "a" * 600}], "url a list": [{**ARR, "url": []}],
    "key blank": [{**ARR, "api_key": " "}], "key too long": [{**ARR, "api_key": "k" * 257}],
    "key a number": [{**ARR, "api_key": 123}],
    "masked key of no such Arr": [{**ARR, "name": "other", "api_key": "********"}],
    "categories a string": [{**ARR, "categories": "tv"}],
    "categories blank": [{**ARR, "categories": [" "]}],
    "categories numbers": [{**ARR, "categories": [1]}],
    "mark_failed text": [{**ARR, "mark_failed": "yes"}],
    "refresh a number": [{**ARR, "refresh_on_complete": 1}],
    "duplicate names": [ARR, {**ARR, "url": "http://127.0.0.1:7878", "type": "radarr"}],
}


@pytest.fixture
def config_file(setup: Setup) -> Iterator[Path]:
    """The config file, put back as it was after the test."""
    try:
        yield setup.config
    finally:
        setup.config.write_bytes(setup.config_bytes)
        setup.config.with_name(setup.config.name + ".bak").unlink(missing_ok=True)


def _config_refused(setup: Setup, client: FlaskClient, body: Any, config: Path) -> str:
    shown = client.get("/api/config", headers=BEARER).get_json()["arrs"]
    before = setup.jobs()
    response = client.post("/api/config", headers=BEARER, json=body)
    error = _refused(setup, response, 400, before, ("/api/config", "POST"))
    assert config.read_bytes() == setup.config_bytes, "a refused update changed the file"
    assert client.get("/api/config", headers=BEARER).get_json()["arrs"] == shown
    return error


@pytest.mark.parametrize("arrs", list(BAD_ARRS.values()), ids=list(BAD_ARRS))
def test_a_bad_arrs_setting_is_a_400_and_changes_nothing(setup: Setup, client: FlaskClient,
                                                         config_file: Path,
                                                         arrs: Any) -> None:
    error = _config_refused(setup, client, {"arrs": arrs}, config_file)
    assert "arrs" in error


@pytest.mark.parametrize("entry", [{**ARR, "type": {}}, {**ARR, "type": ["sonarr"]},
                                   {**ARR, "name": {}, "api_key": "********"},
                                   {**ARR, "name": ["sonarr"], "api_key": "********"}],
                         ids=["type object", "type list", "masked name object",
                              "masked name list"])
def test_an_unhashable_arr_field_is_a_400(setup: Setup, client: FlaskClient,
                                          config_file: Path, entry: dict[str, Any]) -> None:
    _config_refused(setup, client, {"arrs": [entry]}, config_file)


@pytest.mark.parametrize("entry", [{**ARR, "name": "sonarr\n"}, {**ARR, "url": "http://h\n"},
                                   {**ARR, "url": "http://127.0.0.1:99999"},
                                   {**ARR, "url": "http://h:x"}, {**ARR, "url": "http://[::1"}],
                         ids=["name newline", "url newline", "port 99999", "port x",
                              "open bracket"])
def test_an_arr_name_or_url_the_client_cannot_use_is_a_400(setup: Setup, client: FlaskClient,
                                                          config_file: Path,
                                                          entry: dict[str, Any]) -> None:
    _config_refused(setup, client, {"arrs": [entry]}, config_file)


def test_the_masked_key_posted_back_keeps_the_files_key(setup: Setup, client: FlaskClient,
                                                        config_file: Path) -> None:
    shown = client.get("/api/config", headers=BEARER).get_json()["arrs"]
    changed = {**shown[0], "categories": ["tv", "anime"]}
    answer = client.post("/api/config", headers=BEARER, json={"arrs": [changed]})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["restart_required"] == ["arrs"]
    (saved,) = json.loads(config_file.read_text())["arrs"]
    assert (saved["api_key"], saved["categories"]) == (ARR_KEY, ["tv", "anime"])


def test_posting_the_arrs_back_as_shown_changes_nothing(setup: Setup, client: FlaskClient,
                                                       config_file: Path) -> None:
    shown = client.get("/api/config", headers=BEARER).get_json()["arrs"]
    answer = client.post("/api/config", headers=BEARER, json={"arrs": shown})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["changed"] == []
    assert config_file.read_bytes() == setup.config_bytes
