"""``GET /logs``: the log lines of the world's resources, generated from what happened to them.

Shape, parameters and pagination are the spec's ``list-logs`` (no recording of ``/logs``
exists): ``ownerId`` and ``resource`` (an array) are required; ``startTime`` defaults to an
hour ago and ``endTime`` to now (the spec types both ``date-time`` and describes them as
"Epoch/Unix timestamp", so both spellings are accepted); ``direction`` ``backward`` (default,
most recent first) or ``forward``; ``limit`` 1–100 (default 20); filters ``type``, ``level``,
``instance``, ``text`` and the request-log filters (``host``, ``statusCode``, ``method``,
``path``), with the ``*`` wildcards and ``/regex/`` the spec mentions. The answer is
``{"hasMore", "nextStartTime", "nextEndTime", "logs": [{"id", "message", "timestamp",
"labels": [{"name", "value"}]}]}``: when ``hasMore``, the next page is asked for with
``nextStartTime``/``nextEndTime`` as ``startTime``/``endTime`` (the spec's description). "You
can query for logs across multiple resources, but all resources must be in the same region and
belong to the same owner" (spec): otherwise 400.

Like deploy statuses, the lines are derived from the stored records at ``ctx.now`` (nothing is
stored for them, and a line exists only once its time has come):

- a deploy (``deploys.planned_life``): one ``build`` line when each phase starts (cloning and
  the build command, the pre-deploy command, the update), the outcome when it ends (live, or
  the failure, level ``error``, in the phase that failed), or its cancellation; once live, the
  new instance's first ``app`` line (label ``instance``);
- a datastore: starting up when created, ready when available, and each restart (a change of
  plan and the like, ``datastores.restart_if_changed``): shutting down, then ready again;
- a suspension: the service or datastore stopping.

The texts are the sandbox's (Render's own wording is not in the spec); the labels are the
spec's label names (``resource``, ``instance``, ``level``, ``type``), with the ``type`` values
it names (``build`` for build logs, ``app`` for application logs).
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rcp.sandbox.api.deploys import BUILD, PRE_DEPLOY, UPDATE, stored_deploys
from rcp.sandbox.api.pagination import page_limit
from rcp.sandbox.api.plumbing import (
    ApiRequest,
    ApiResult,
    WorldContext,
    bad_request,
    check_enum,
    not_found,
    query_value,
    query_values,
)

# Times are whole microseconds here (the precision of the timestamps written): float seconds
# near 1.7e9 cannot tell one microsecond from the next, and the page boundaries need that.
MICROS = 1_000_000
DEFAULT_WINDOW = 3600 * MICROS  # startTime defaults to now() - 1 hour (spec)
# Lines of one event are this far apart, so each has its own timestamp and the page
# boundaries (``nextEndTime`` one microsecond before the last line returned) never split them.
STEP = 1
KINDS = ("service", "postgres", "key_value")
# Request-log labels: the sandbox has no request logs, so a filter on them matches nothing.
REQUEST_FILTERS = ("host", "statusCode", "method", "path")


@dataclass(frozen=True)
class Line:
    at: int  # microseconds since the epoch
    resource: str
    message: str
    level: str
    type: str
    instance: str | None = None
    key: str = ""  # what makes the id unique and stable across requests
    # When the event that printed it happened (the line exists from then on); ``at`` may be a
    # few microseconds later, to order the lines of one event.
    due: int | None = None

    def labels(self) -> dict[str, str]:
        labels = {"resource": self.resource, "level": self.level, "type": self.type}
        if self.instance:
            labels["instance"] = self.instance
        return labels

    def render(self) -> dict[str, Any]:
        digest = hashlib.sha1(f"{self.resource}|{self.key}".encode()).hexdigest()[:24]
        return {
            "id": digest,
            "message": self.message,
            "timestamp": _iso(self.at),
            "labels": [{"name": name, "value": value} for name, value in self.labels().items()],
        }


def list_logs(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    owner_id = query_value(request, "ownerId")
    if not owner_id:
        raise bad_request("ownerId is required")
    if ctx.find_owner(owner_id) is None:
        raise not_found(owner_id)
    resource_ids = query_values(request, "resource")
    if not resource_ids:
        raise bad_request("resource is required")
    records = [_resource(ctx, resource_id) for resource_id in dict.fromkeys(resource_ids)]
    if any(_owner_of(kind, record) != owner_id for kind, record in records):
        raise bad_request("all resources must belong to the owner ownerId names")
    if len({_region_of(kind, record) for kind, record in records}) > 1:
        raise bad_request("all resources must be in the same region")
    # Default: now — with the few microseconds by which the lines of an event that has just
    # happened are spread, so all of them are in.
    now = _micros(ctx.now)
    end = _time(request, "endTime", now + 1000 * STEP)
    start = _time(request, "startTime", end - DEFAULT_WINDOW)
    if start > end:
        raise bad_request("startTime must not be after endTime")
    direction = check_enum(
        query_value(request, "direction") or "backward", ("forward", "backward"), "direction"
    )
    limit = page_limit(request)
    filters = {
        name: query_values(request, name)
        for name in ("type", "level", "instance", "text", *REQUEST_FILTERS)
    }
    # Lines exist once their time has come (``due``), whatever endTime says.
    selected = [
        line
        for kind, record in records
        for line in _lines(ctx, kind, record)
        if start <= line.at <= end
        and (line.at if line.due is None else line.due) <= now
        and _matches(line, filters)
    ]
    selected.sort(key=lambda line: (line.at, line.key), reverse=direction == "backward")
    page, has_more = selected[:limit], len(selected) > limit
    if not page:
        next_start, next_end = start, end
    elif direction == "backward":
        next_start, next_end = start, page[-1].at - STEP
    else:
        next_start, next_end = page[-1].at + STEP, end
    return ApiResult(
        200,
        {
            "hasMore": has_more,
            "nextStartTime": _iso(next_start),
            "nextEndTime": _iso(next_end),
            "logs": [line.render() for line in page],
        },
    )


# --- request ------------------------------------------------------------------------------


def _micros(seconds: float) -> int:
    return round(seconds * MICROS)


def _iso(micros: int) -> str:
    return (_EPOCH + timedelta(microseconds=micros)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _time(request: ApiRequest, name: str, default: int) -> int:
    raw = query_value(request, name)
    if raw is None or raw == "":
        return default
    try:
        return _micros(float(raw))  # epoch seconds (the spec's description)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_request(f"invalid {name} {raw!r}: expected an RFC 3339 date-time") from None
    if moment.tzinfo is None:
        raise bad_request(f"invalid {name} {raw!r}: a date-time needs a time zone")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _resource(ctx: WorldContext, resource_id: str) -> tuple[str, dict[str, Any]]:
    import json

    row = ctx.connection.execute(
        "SELECT kind, data FROM resources WHERE id = ?", (resource_id,)
    ).fetchone()
    if row is None or row["kind"] not in KINDS:
        raise not_found(resource_id)
    record: dict[str, Any] = json.loads(row["data"])
    return str(row["kind"]), record


def _owner_of(kind: str, record: Mapping[str, Any]) -> str | None:
    if kind == "service":
        owner: str | None = record.get("ownerId")
        return owner
    return (record.get("owner") or {}).get("id")


def _region_of(kind: str, record: Mapping[str, Any]) -> str | None:
    if kind == "service":
        region: str | None = record.get("serviceDetails", {}).get("region")
        return region
    return record.get("region")


def _matches(line: Line, filters: Mapping[str, list[str]]) -> bool:
    labels = line.labels()
    for name, patterns in filters.items():
        if not patterns:
            continue
        value = line.message if name == "text" else labels.get(name)
        if value is None or not any(_match(pattern, value, name) for pattern in patterns):
            return False
    return True


def _match(pattern: str, value: str, name: str) -> bool:
    """``/regex/``, else ``*`` wildcards; text matches anywhere in the message."""
    if len(pattern) >= 2 and pattern.startswith("/") and pattern.endswith("/"):
        try:
            return re.search(pattern[1:-1], value) is not None
        except re.error:
            raise bad_request(f"invalid regular expression {pattern!r}") from None
    if name == "text" and not pattern.startswith("*"):
        pattern = f"*{pattern}*"
    return fnmatch.fnmatchcase(value, pattern)


# --- the lines of a resource ----------------------------------------------------------------


def _lines(ctx: WorldContext, kind: str, record: Mapping[str, Any]) -> Iterator[Line]:
    if kind == "service":
        for _, deploy in stored_deploys(ctx, record["id"]):
            yield from _deploy_lines(record, deploy)
    else:
        yield from _datastore_lines(kind, record)
    for index, (at, event) in enumerate(record.get("_log_events", [])):
        if event == "suspend":
            yield Line(
                _micros(at),
                record["id"],
                "==> Suspended: instances stopped",
                "info",
                "app",
                key=f"suspend-{index}",
            )


def _deploy_lines(service: Mapping[str, Any], deploy: Mapping[str, Any]) -> Iterator[Line]:
    """What a deploy printed by now: each phase's opening lines when it starts, the outcome
    when it ends, or the cancellation (lines after it never happened)."""
    service_id: str = service["id"]
    deploy_id: str = deploy["id"]
    env = service.get("serviceDetails", {}).get("envSpecificDetails", {})
    instance = f"{service_id}-{deploy_id.removeprefix('dep-')[:5]}"
    out: list[Line] = []

    def say(
        at: float,
        tag: str,
        message: str,
        *,
        level: str = "info",
        kind: str = "build",
        on: str | None = None,
    ) -> None:
        # Each line a microsecond after the one before: distinct, ordered timestamps.
        out.append(
            Line(
                _micros(at) + STEP * len(out),
                service_id,
                message,
                level,
                kind,
                on,
                f"{deploy_id}-{tag}",
                due=_micros(at),
            )
        )

    at: float = deploy["_start"]
    phases: list[list[Any]] = deploy["_phases"]
    built = False  # a build ran and its success is still to be said
    if not phases:
        say(at, "deploy", "==> Deploying...")
    for status, seconds in phases:
        if built and status != BUILD:
            say(at, "built", "==> Build successful 🎉")
            built = False
        if status == BUILD:
            if service.get("repo"):
                commit = (deploy.get("commit") or {}).get("id", "")
                branch = service.get("branch", "main")
                say(at, "clone", f"==> Cloning from {service['repo']}")
                say(at, "checkout", f"==> Checking out commit {commit} in branch {branch}")
            build = env.get("buildCommand") or env.get("dockerCommand")
            say(
                at,
                "build",
                f"==> Running build command '{build}'..." if build else "==> Building...",
            )
            built = True
        elif status == PRE_DEPLOY:
            command = env.get("preDeployCommand") or "(pre-deploy command)"
            say(at, "pre-deploy", f"==> Running pre-deploy command '{command}'...")
        elif status == UPDATE:
            if "imagePath" in service:
                say(at, "pull", f"==> Pulling image {service['imagePath']}")
            say(at, "deploy", "==> Deploying...")
            if env.get("startCommand"):
                say(at, "start", f"==> Running '{env['startCommand']}'")
        at += float(seconds)
    end: str = deploy["_end"]
    canceled: float | None = deploy.get("_canceled_at")
    if canceled is not None and canceled < at:
        out[:] = [line for line in out if (line.due or line.at) <= _micros(canceled)]
        say(
            canceled,
            "canceled",
            "==> Deploy canceled: a newer deploy or a suspension replaced it",
            level="warning",
        )
    elif end == "live":
        if built:
            say(at, "built", "==> Build successful 🎉")
        say(at, "live", "==> Your service is live 🎉")
        say(at, "started", f"{service.get('name', service_id)} started", kind="app", on=instance)
    else:
        failure = {
            "build_failed": "==> Build failed 😞",
            "pre_deploy_failed": "==> Pre-deploy command failed: exited with status 1",
            "update_failed": "==> Deploy failed: the new instance exited before it became healthy",
        }.get(end, f"==> Deploy ended {end}")
        say(at, "failed", failure, level="error")
    yield from out


def _datastore_lines(kind: str, record: Mapping[str, Any]) -> Iterator[Line]:
    resource_id: str = record["id"]
    postgres = kind == "postgres"
    restarts: list[list[float]] = record.get("_restarts", [])
    first_ready = float(record.get("_first_ready_at", record["_ready_at"]))
    starting = (
        f"LOG:  starting PostgreSQL {record.get('version', '')}".rstrip()
        if postgres
        else "Server initialized"
    )
    ready = (
        "LOG:  database system is ready to accept connections"
        if postgres
        else "Ready to accept connections tcp"
    )
    stopping = (
        "LOG:  received fast shutdown request"
        if postgres
        else "Received SIGTERM scheduling shutdown..."
    )
    yield Line(_micros(record["_created"]), resource_id, starting, "info", "app", key="created")
    yield Line(_micros(first_ready), resource_id, ready, "info", "app", key="ready")
    for index, (restart_at, ready_at) in enumerate(restarts):
        yield Line(
            _micros(restart_at), resource_id, stopping, "info", "app", key=f"restart-{index}"
        )
        yield Line(_micros(ready_at), resource_id, ready, "info", "app", key=f"ready-{index}")
