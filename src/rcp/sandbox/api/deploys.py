"""Deploys of a service: started by a create or a trigger, progress derived from the clock."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from rcp.sandbox.api.enums import DEPLOY_STATUSES
from rcp.sandbox.api.isolation import effective_env
from rcp.sandbox.api.pagination import paginate
from rcp.sandbox.api.plumbing import (
    ApiRequest,
    ApiResult,
    WorldContext,
    bad_request,
    check_enum,
    check_enum_filter,
    iso,
    load_resource,
    not_found,
    object_body,
    query_values,
)
from rcp.sandbox.ids import new_id
from rcp.sandbox.profiles import real_seconds

# --- the lifecycle ----------------------------------------------------------------------------
#
# A deploy is stored with the plan of its life: when it starts (``_start``; later than its
# creation while it is queued), its phases (status, seconds) and how it ends (``_end``:
# ``live`` or a failure). What Render would show at ``ctx.now`` is derived from that plan,
# plus two events stored when they happen: ``_canceled_at`` (a newer deploy superseded it, or
# the service was suspended while it ran) and ``_deactivated_at`` (the service was suspended
# while it was live). A live deploy also turns ``deactivated`` when a newer one goes live.

BUILD = "build_in_progress"
PRE_DEPLOY = "pre_deploy_in_progress"
UPDATE = "update_in_progress"
FAILURE_PHASE = {"build_failed": BUILD, "pre_deploy_failed": PRE_DEPLOY, "update_failed": UPDATE}
FINISHED = frozenset({"live", "deactivated", "canceled", *FAILURE_PHASE})


def deploy_phases(service: Mapping[str, Any]) -> list[str]:
    """The in-progress statuses a deploy of ``service`` passes through, in order.

    From the recorded real answers (cassettes named below): a repo or Docker build starts at
    ``build_in_progress`` (web_service_cassette #54, docker_cassette #40); an image deploy
    starts at ``update_in_progress`` (web_service_image_cassette #30), or at
    ``pre_deploy_in_progress`` when a pre-deploy command is set (background_worker_cassette
    #86); an image cron job's deploy is answered already ``live`` (cron_job_cassette #64).
    A static site only builds (static_site_cassette #72). The pre-deploy command runs after
    the build and before the new instances take over (Render's deploy docs).
    """
    if service["type"] == "static_site":
        return [BUILD]
    image = "imagePath" in service
    if image and service["type"] == "cron_job":
        return []
    phases = [] if image else [BUILD]
    if service["serviceDetails"].get("envSpecificDetails", {}).get("preDeployCommand"):
        phases.append(PRE_DEPLOY)
    phases.append(UPDATE)
    return phases


def planned_life(
    phases: list[str], failure: str | None, total_seconds: float
) -> tuple[list[list[Any]], str]:
    """(phases with their seconds, end status): ``total_seconds`` shared evenly by the phases;
    a failure ends the deploy at the end of the phase it names (a pre-deploy failure on a
    service without a pre-deploy command models one that was just added)."""
    end = "live"
    if failure is not None:
        failing = FAILURE_PHASE[failure]
        if failing not in phases:
            order = [BUILD, PRE_DEPLOY, UPDATE]
            phases = sorted([*phases, failing], key=order.index)
        phases = phases[: phases.index(failing) + 1]
        end = failure
    count = len(phases) or 1
    return [[status, total_seconds / count] for status in phases], end


def start_deploy(
    ctx: WorldContext,
    service: Mapping[str, Any],
    *,
    trigger: str,
    build_of: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Start a deploy of ``service`` now; an older one still running is superseded.
    ``build_of``: an earlier deploy whose build (commit or image) this one runs again (a
    rollback)."""
    deploy_id = new_id("dep-")
    phases, end = planned_life(
        deploy_phases(service), ctx.fail_deploys, real_seconds(ctx.settings, "deploy", deploy_id)
    )
    # A ``defer_deploy`` fault: Render starts the deploy a moment after its 202 (a resume is
    # answered 202 Accepted, spec), so until then the service's latest deploy is the old one.
    appears = ctx.now + ctx.deploy_delay
    record: dict[str, Any] = {
        "id": deploy_id,
        "trigger": trigger,
        "_created": appears,
        "_start": supersede_running(ctx, service["id"], appears),
        "_phases": phases,
        "_end": end,
        "_static": service["type"] == "static_site",
        # What the deploy starts with: the service's variables and its linked groups'
        # (issue 14: a group linked before a deploy reaches that deploy).
        "_env": effective_env(ctx, service["id"]),
    }
    if build_of is not None:
        for key in ("commit", "image"):
            if key in build_of:
                record[key] = build_of[key]
    elif "imagePath" in service:
        record["commit"] = None
        record["image"] = {
            "ref": service["imagePath"],
            "sha": "sha256:" + secrets.token_hex(32),
        }
    elif "repo" in service:
        record["commit"] = {
            "id": secrets.token_hex(20),
            "message": "Sandbox commit",
            "createdAt": iso(appears),
        }
    ctx.connection.execute(
        "INSERT INTO deploys (id, service_id, data) VALUES (?, ?, ?)",
        (deploy_id, service["id"], json.dumps(record)),
    )
    ctx.created_deploy_ids.append(deploy_id)
    return render_deploy(ctx, record, newer_live=False)


def finish_time(record: Mapping[str, Any]) -> float:
    """When the deploy ends if nothing cancels it."""
    start: float = record["_start"]
    return start + float(sum(seconds for _, seconds in record["_phases"]))


def stored_deploys(ctx: WorldContext, service_id: str) -> list[tuple[int, dict[str, Any]]]:
    """The service's deploys that exist at ``ctx.now`` (a deferred one appears later), oldest
    first."""
    rows = ctx.connection.execute(
        "SELECT seq, data FROM deploys WHERE service_id = ? ORDER BY seq", (service_id,)
    ).fetchall()
    records = [(int(row["seq"]), json.loads(row["data"])) for row in rows]
    return [(seq, record) for seq, record in records if record["_created"] <= ctx.now]


def save_deploy(ctx: WorldContext, record: Mapping[str, Any]) -> None:
    ctx.connection.execute(
        "UPDATE deploys SET data = ? WHERE id = ?", (json.dumps(record), record["id"])
    )


def supersede_running(ctx: WorldContext, service_id: str, at: float) -> float:
    """Apply the overlapping-deploy policy for a deploy that appears ``at``; returns its start.

    Render (changelog 2025-05-28, "overlapping deploy policy"): by default a new deploy
    overrides the one in progress, which ends ``canceled``; with the ``wait`` policy it
    waits (``queued``) until the running one finishes, and only the most recent triggered
    deploy runs then: a deploy still queued when a newer one arrives ends ``canceled``.
    """
    start = at
    for _, record in stored_deploys(ctx, service_id):
        if "_canceled_at" in record or finish_time(record) <= at:
            continue
        running = record["_start"] <= at
        if ctx.settings.deploy_overlap == "wait" and running:
            start = max(start, finish_time(record))
            continue
        record["_canceled_at"] = at
        save_deploy(ctx, record)
    return start


def suspend_deploys(ctx: WorldContext, service_id: str) -> None:
    """A suspended service runs nothing: a deploy in progress is canceled, the live one is
    ``deactivated`` (issue 10, from Render: ``deactivated`` after suspend)."""
    rendered = {deploy["id"]: deploy["status"] for _, deploy in service_deploys(ctx, service_id)}
    for _, record in stored_deploys(ctx, service_id):
        status = rendered.get(record["id"])
        if status == "live":
            record["_deactivated_at"] = ctx.now
        elif status not in FINISHED:
            record["_canceled_at"] = ctx.now
        else:
            continue
        save_deploy(ctx, record)


def base_status(ctx: WorldContext, record: Mapping[str, Any]) -> tuple[str, float | None, float]:
    """(status, finishedAt or None, updatedAt) at ``ctx.now``, before deactivation."""
    created: float = record["_created"]
    start: float = record["_start"]
    canceled_at: float | None = record.get("_canceled_at")
    if canceled_at is not None and canceled_at <= ctx.now:
        # Only a deploy that had not finished is ever canceled.
        return "canceled", canceled_at, canceled_at
    if ctx.now < start:
        return "queued", None, created
    phase_end = start
    for status, seconds in record["_phases"]:
        phase_start, phase_end = phase_end, phase_end + seconds
        if ctx.now < phase_end:
            return status, None, max(created, phase_start)
    return record["_end"], phase_end, phase_end


def render_deploy(
    ctx: WorldContext, record: Mapping[str, Any], *, newer_live: bool
) -> dict[str, Any]:
    """A deploy as Render shows it at ``ctx.now`` (``newer_live``: a newer deploy is live)."""
    status, finished_at, updated_at = base_status(ctx, record)
    if status == "live":
        deactivated_at = record.get("_deactivated_at")
        if newer_live or (deactivated_at is not None and deactivated_at <= ctx.now):
            status = "deactivated"
    deploy: dict[str, Any] = {"id": record["id"]}
    if "commit" in record:
        deploy["commit"] = record["commit"]
    if "image" in record:
        deploy["image"] = record["image"]
    deploy.update(
        {
            "status": status,
            "trigger": record["trigger"],
            "createdAt": iso(record["_created"]),
            "updatedAt": iso(updated_at),
        }
    )
    # As recorded: a running static-site build has a startedAt and no finishedAt
    # (static_site_cassette #72); every other running or queued deploy an explicit null
    # finishedAt and no startedAt (web_service_cassette #54, web_service_image_cassette #30);
    # a finished one has both (cron_job_cassette #64).
    started = record["_start"] <= ctx.now
    if finished_at is not None:
        if started:
            deploy["startedAt"] = iso(record["_start"])
        deploy["finishedAt"] = iso(finished_at)
    elif record.get("_static") and started:
        deploy["startedAt"] = iso(record["_start"])
    else:
        deploy["finishedAt"] = None
    return deploy


def service_deploys(ctx: WorldContext, service_id: str) -> list[tuple[int, dict[str, Any]]]:
    """All deploys of a service, oldest first; a live one is ``deactivated`` once a newer one
    has gone live (as Render shows a service's deploy history)."""
    rendered: list[tuple[int, dict[str, Any]]] = []
    newer_live = False
    for seq, record in reversed(stored_deploys(ctx, service_id)):
        deploy = render_deploy(ctx, record, newer_live=newer_live)
        if deploy["status"] in ("live", "deactivated") and base_status(ctx, record)[0] == "live":
            newer_live = True
        rendered.append((seq, deploy))
    rendered.reverse()
    return rendered


def trigger_deploy(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    _, service = load_resource(ctx, "service", service_id)
    body = object_body(request, required=False)
    if body.get("clearCache") is not None:
        check_enum(body["clearCache"], ("clear", "do_not_clear"), "clearCache")
    if body.get("deployMode") is not None:
        check_enum(body["deployMode"], ("deploy_only", "build_and_deploy"), "deployMode")
        if body["deployMode"] == "deploy_only" and any(
            body.get(key) is not None for key in ("commitId", "imageUrl", "clearCache")
        ):
            raise bad_request(
                "deployMode deploy_only cannot be combined with commitId, imageUrl or clearCache"
            )
    if body.get("commitId") is not None and service["type"] == "cron_job":
        raise bad_request("commitId is not supported for cron jobs")
    deploy = start_deploy(ctx, service, trigger="api")
    if service["type"] == "private_service" or (
        service["type"] == "cron_job" and "repo" in service
    ):
        # As recorded: Render answered every private-service trigger, and every trigger of a
        # repo-backed cron job, 202 "Queued" with an empty body; all others 201 + deploy.
        return ApiResult(202, empty=True)
    return ApiResult(201, deploy)


def rollback_deploy(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    """``POST /services/{serviceId}/rollback`` (spec operation ``rollback-deploy``): a new
    deploy (trigger ``rollback``, as the spec's trigger enum names it) running the build of
    ``deployId``, an earlier deploy of the service; 201 with the deploy. A deploy of another
    service, or none, is 404; one that never went live has no build to return to: 400."""
    _, service = load_resource(ctx, "service", service_id)
    body = object_body(request, required=True)
    target_id = body.get("deployId")
    if not isinstance(target_id, str) or not target_id:
        raise bad_request("deployId: required: the ID of the deploy to roll back to")
    target = next(
        (record for _, record in stored_deploys(ctx, service_id) if record["id"] == target_id),
        None,
    )
    if target is None:
        raise not_found(target_id)
    if base_status(ctx, target)[0] != "live":
        raise bad_request(f"deploy {target_id} never went live: nothing to roll back to")
    return ApiResult(201, start_deploy(ctx, service, trigger="rollback", build_of=target))


def list_deploys(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    load_resource(ctx, "service", service_id)
    statuses = query_values(request, "status")
    check_enum_filter(statuses, DEPLOY_STATUSES, "status")
    items = [
        (seq, deploy)
        for seq, deploy in service_deploys(ctx, service_id)
        if not statuses or deploy["status"] in statuses
    ]
    return ApiResult(200, paginate(request, items, "deploy"))


def retrieve_deploy(
    ctx: WorldContext, request: ApiRequest, service_id: str, deploy_id: str
) -> ApiResult:
    load_resource(ctx, "service", service_id)
    for _, deploy in service_deploys(ctx, service_id):
        if deploy["id"] == deploy_id:
            return ApiResult(200, deploy)
    raise not_found(deploy_id)
