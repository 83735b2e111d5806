"""Scaling a service: autoscaling rules (``PUT``/``DELETE /services/{id}/autoscaling``) and a
manual instance count (``POST /services/{id}/scale``).

rcp does not call these; the sandbox has them so that a recorded session that scales a
service (the Terraform provider's scaling_cassette) leaves the service as Render shows it.
"""

from __future__ import annotations

from typing import Any

from rcp.sandbox.api.plumbing import (
    ApiRequest,
    ApiResult,
    WorldContext,
    bad_request,
    iso,
    load_resource,
    object_body,
    save_resource,
)

SCALABLE_TYPES = ("web_service", "private_service", "background_worker")


def _scalable(ctx: WorldContext, service_id: str) -> dict[str, Any]:
    _, service = load_resource(ctx, "service", service_id)
    if service["type"] not in SCALABLE_TYPES:
        raise bad_request(f"a {service['type']} cannot be scaled")
    return service


def _whole(value: Any, name: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise bad_request(f"{name} must be an integer >= {minimum}")
    return value


def _criterion(raw: Any, name: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("enabled"), bool):
        raise bad_request(f"autoscaling criteria.{name} needs enabled (boolean) and percentage")
    percentage = _whole(raw.get("percentage"), f"criteria.{name}.percentage", 1)
    return {"enabled": raw["enabled"], "percentage": percentage}


def put_autoscaling(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    """Answers the rules as stored, which is what it was sent (scaling_cassette #36)."""
    service = _scalable(ctx, service_id)
    body = object_body(request)
    if not isinstance(body.get("enabled"), bool):
        raise bad_request("enabled must be a boolean")
    minimum = _whole(body.get("min"), "min", 1)
    maximum = _whole(body.get("max"), "max", minimum)
    criteria = body.get("criteria")
    if not isinstance(criteria, dict):
        raise bad_request("criteria must be an object with cpu and memory")
    rules = {
        "criteria": {
            "cpu": _criterion(criteria.get("cpu"), "cpu"),
            "memory": _criterion(criteria.get("memory"), "memory"),
        },
        "enabled": body["enabled"],
        "max": maximum,
        "min": minimum,
    }
    # Render lists serviceDetails keys alphabetically; autoscaling comes first.
    details = {key: v for key, v in service["serviceDetails"].items() if key != "autoscaling"}
    service["serviceDetails"] = {"autoscaling": rules, **details}
    service["updatedAt"] = iso(ctx.now)
    save_resource(ctx, service)
    return ApiResult(200, rules)


def delete_autoscaling(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    """204; the service no longer shows ``autoscaling`` (scaling_cassette #67, #73)."""
    service = _scalable(ctx, service_id)
    service["serviceDetails"].pop("autoscaling", None)
    service["updatedAt"] = iso(ctx.now)
    save_resource(ctx, service)
    return ApiResult(204, empty=True)


def scale(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    """202 with no body; ``numInstances`` changes (scaling_cassette #98, #104)."""
    service = _scalable(ctx, service_id)
    body = object_body(request)
    service["serviceDetails"]["numInstances"] = _whole(body.get("numInstances"), "numInstances", 1)
    service["updatedAt"] = iso(ctx.now)
    save_resource(ctx, service)
    return ApiResult(202, empty=True)
