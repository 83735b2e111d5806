"""Deploys of a service: started by a create or a trigger, progress derived from the clock."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from rcp.sandbox.api.enums import DEPLOY_STATUSES
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


def start_deploy(ctx: WorldContext, service: Mapping[str, Any], *, trigger: str) -> dict[str, Any]:
    deploy_id = new_id("dep-")
    record: dict[str, Any] = {
        "id": deploy_id,
        "trigger": trigger,
        "_created": ctx.now,
        "_outcome": "build_failed" if ctx.fail_deploys else "live",
    }
    if "imagePath" in service:
        record["commit"] = None
        record["image"] = {
            "ref": service["imagePath"],
            "sha": "sha256:" + secrets.token_hex(32),
        }
    elif "repo" in service:
        record["commit"] = {
            "id": secrets.token_hex(20),
            "message": "Sandbox commit",
            "createdAt": iso(ctx.now),
        }
    ctx.connection.execute(
        "INSERT INTO deploys (id, service_id, data) VALUES (?, ?, ?)",
        (deploy_id, service["id"], json.dumps(record)),
    )
    ctx.created_deploy_ids.append(deploy_id)
    return render_deploy(ctx, record, newer_live=False)


def render_deploy(
    ctx: WorldContext, record: Mapping[str, Any], *, newer_live: bool
) -> dict[str, Any]:
    """A deploy as Render shows it at ``ctx.now``: building until ``deploy_seconds`` passed."""
    created: float = record["_created"]
    finished_at = created + ctx.settings.deploy_seconds
    finished = ctx.now >= finished_at
    if not finished:
        status = "build_in_progress"
    elif record["_outcome"] == "live" and newer_live:
        status = "deactivated"
    else:
        status = record["_outcome"]
    deploy: dict[str, Any] = {"id": record["id"]}
    if "commit" in record:
        deploy["commit"] = record["commit"]
    if "image" in record:
        deploy["image"] = record["image"]
    deploy.update(
        {
            "status": status,
            "trigger": record["trigger"],
            "createdAt": iso(created),
            "updatedAt": iso(finished_at if finished else created),
        }
    )
    # As recorded: a running image deploy has an explicit null finishedAt and no startedAt,
    # a running repo deploy a startedAt and no finishedAt; a finished one has both.
    if finished:
        deploy["startedAt"] = iso(created)
        deploy["finishedAt"] = iso(finished_at)
    elif "image" in record:
        deploy["finishedAt"] = None
    else:
        deploy["startedAt"] = iso(created)
    return deploy


def service_deploys(ctx: WorldContext, service_id: str) -> list[tuple[int, dict[str, Any]]]:
    """All deploys of a service, oldest first, with ``live`` only on the newest finished one."""
    rows = ctx.connection.execute(
        "SELECT seq, data FROM deploys WHERE service_id = ? ORDER BY seq DESC", (service_id,)
    ).fetchall()
    rendered: list[tuple[int, dict[str, Any]]] = []
    newer_live = False
    for row in rows:
        deploy = render_deploy(ctx, json.loads(row["data"]), newer_live=newer_live)
        if deploy["status"] == "live":
            newer_live = True
        rendered.append((int(row["seq"]), deploy))
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
