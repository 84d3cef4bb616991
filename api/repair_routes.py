"""Decypharr's repair routes (/api/repair...) and the Arrs (/api/arrs)."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, jsonify

from api.http import BadRequest, NotFound, blueprint, json_body, services
from core.repair_jobs import job_view

MAX_BODY = 256 * 1024
WANTED = 'a JSON object, e.g. {"arrs": ["sonarr"], "autoProcess": true, "dryRun": false}'
# Decypharr's camelCase names, and the snake_case ones scripts also send
FIELDS = {"arrs": "arrs", "mediaIds": "media_ids", "media_ids": "media_ids",
          "autoProcess": "auto_process", "auto_process": "auto_process",
          "dryRun": "dry_run", "dry_run": "dry_run"}
MAX_NAME = 200
_JOB_ID = re.compile(r"[0-9]{1,30}\Z")
LARGEST_ID = 2**63 - 1       # SQLite's integers


def _names(value: Any, name: str, *, numbers: bool = False) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(f"{name} must be a list")
    found = []
    for entry in value:
        if numbers and isinstance(entry, int) and not isinstance(entry, bool) and entry >= 0:
            entry = str(entry)
        if not isinstance(entry, str) or not entry.strip() or len(entry) > MAX_NAME:
            raise BadRequest(f"{name} must be a list of " + (
                "info-hashes or the Arrs' media ids" if numbers else "Arr names"))
        found.append(entry.strip())
    return found


def _flag(value: Any, name: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false")
    return value


@blueprint.post("/repair")
def create_repair() -> Response:
    """A repair job: scan (the Arrs' categories, or some media), then wait for process, or
    carry the plan out (autoProcess), or only list it (dryRun). 409 while one runs."""
    body = json_body(MAX_BODY, WANTED, empty={})
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be {WANTED}")
    values: dict[str, Any] = {}
    for key, value in body.items():
        field = FIELDS.get(key)
        if field is None:
            raise BadRequest(f"unknown field {key[:60]!r} (repair takes arrs, mediaIds, "
                             "autoProcess, dryRun)")
        if field in values:
            raise BadRequest(f"{field} is given twice")
        values[field] = value
    job = services().repair.create(
        arrs=_names(values.get("arrs"), "arrs"),
        media_ids=_names(values.get("media_ids"), "mediaIds", numbers=True),
        auto_process=_flag(values.get("auto_process"), "autoProcess"),
        dry_run=_flag(values.get("dry_run"), "dryRun"))
    return _job(job.id, 202)


def _id(text: str) -> int:
    """A job id: ASCII digits within SQLite's integers (werkzeug's int converter takes any
    Unicode digit, and any length)."""
    if not _JOB_ID.match(text):
        raise NotFound("no such endpoint")       # as the router answers an unknown path
    if int(text) > LARGEST_ID:
        raise NotFound(f"no repair job {int(text)}")
    return int(text)


def _job(job_id: int, status: int = 200) -> Response:
    response = jsonify(job_view(services().repair.job(job_id)))
    response.status_code = status
    return response


@blueprint.get("/repair/jobs")
def repair_jobs() -> Response:
    """Every kept job, newest first, with its plan and results."""
    return jsonify([job_view(job) for job in services().repair.jobs()])


@blueprint.get("/repair/jobs/<job_id>")
def repair_job(job_id: str) -> Response:
    return _job(_id(job_id))


@blueprint.post("/repair/jobs/<job_id>/process")
def process_repair_job(job_id: str) -> Response:
    """Carry out a pending job's plan (409 if it is not pending, or another job runs)."""
    number = _id(job_id)
    services().repair.process(number)
    services().repair.wake()
    return _job(number, 202)


@blueprint.post("/repair/jobs/<job_id>/stop")
def stop_repair_job(job_id: str) -> Response:
    """Stop a job between two torrents (a pending one is stopped at once)."""
    number = _id(job_id)
    services().repair.stop_job(number)
    return _job(number)


@blueprint.delete("/repair/jobs/<job_id>")
def delete_repair_job(job_id: str) -> Response:
    services().repair.delete(_id(job_id))
    return Response(status=204)


@blueprint.get("/repair/status")
def repair_status() -> Response:
    """Health counts of the completed torrents, the running job, the last run and its alert
    (why the health gate stopped it, if it did)."""
    return jsonify(services().repair.status())


@blueprint.get("/arrs")
def list_arrs() -> Response:
    """The Arrs (configured and registered by login) with their status; never a key."""
    return jsonify(services().arrs.statuses())
