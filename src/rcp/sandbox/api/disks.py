"""Persistent disks of services (``/disks``): add, retrieve, change, remove.

rcp does not call these; the sandbox has them so that a recorded session that changes a
service's disk (the Terraform provider's disks cassettes) leaves the service as Render shows
it. The disk lives in the service's ``serviceDetails.disk``; its timestamps are kept beside.
"""

from __future__ import annotations

from typing import Any

from rcp.sandbox.api.plumbing import (
    ApiRequest,
    ApiResult,
    WorldContext,
    bad_request,
    check_string,
    iso,
    load_resource,
    load_resources,
    not_found,
    object_body,
    save_resource,
)
from rcp.sandbox.ids import new_id

DISK_TYPES = ("web_service", "private_service", "background_worker")


def _size(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise bad_request("sizeGB must be an integer >= 1")
    return value


def _service_of_disk(ctx: WorldContext, disk_id: str) -> dict[str, Any]:
    for _, service in load_resources(ctx, "service"):
        disk = service.get("serviceDetails", {}).get("disk")
        if disk is not None and disk["id"] == disk_id:
            return service
    raise not_found(disk_id)


def disk_answer(service: dict[str, Any]) -> dict[str, Any]:
    """As recorded (disks_cassette #39, #101): the disk with its service and timestamps,
    keys in alphabetical order."""
    disk = service["serviceDetails"]["disk"]
    times = service.get("_disk", {})
    return {
        "createdAt": times.get("createdAt", service["createdAt"]),
        "id": disk["id"],
        "mountPath": disk["mountPath"],
        "name": disk["name"],
        "serviceId": service["id"],
        "sizeGB": disk["sizeGB"],
        "updatedAt": times.get("updatedAt", service["createdAt"]),
    }


def create_disk(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    body = object_body(request)
    service_id = check_string(body.get("serviceId"), "serviceId", required=True)
    assert service_id is not None
    _, service = load_resource(ctx, "service", service_id)
    if service["type"] not in DISK_TYPES:
        raise bad_request(f"a {service['type']} cannot have a disk")
    if "disk" in service["serviceDetails"]:
        raise bad_request(f"service {service_id} already has a disk")
    name = check_string(body.get("name"), "name", required=True)
    mount_path = check_string(body.get("mountPath"), "mountPath", required=True)
    disk: dict[str, Any] = {
        "id": new_id("dsk-"),
        "mountPath": mount_path,
        "name": name,
        "sizeGB": _size(body.get("sizeGB")),
    }
    details = service["serviceDetails"]
    # Render lists serviceDetails keys alphabetically: the disk follows buildPlan.
    ordered = {key: value for key, value in details.items() if key <= "disk"}
    ordered["disk"] = disk
    ordered.update((key, value) for key, value in details.items() if key > "disk")
    service["serviceDetails"] = ordered
    service["_disk"] = {"createdAt": iso(ctx.now), "updatedAt": iso(ctx.now)}
    save_resource(ctx, service)
    return ApiResult(201, disk_answer(service))


def retrieve_disk(ctx: WorldContext, request: ApiRequest, disk_id: str) -> ApiResult:
    return ApiResult(200, disk_answer(_service_of_disk(ctx, disk_id)))


def update_disk(ctx: WorldContext, request: ApiRequest, disk_id: str) -> ApiResult:
    service = _service_of_disk(ctx, disk_id)
    body = object_body(request)
    disk = service["serviceDetails"]["disk"]
    for key in ("name", "mountPath"):
        if body.get(key) is not None:
            disk[key] = check_string(body[key], key, required=True)
    if body.get("sizeGB") is not None:
        size = _size(body["sizeGB"])
        if size < disk["sizeGB"]:
            raise bad_request("sizeGB cannot be decreased")
        disk["sizeGB"] = size
    times = service.setdefault("_disk", {"createdAt": service["createdAt"]})
    times["updatedAt"] = iso(ctx.now)
    save_resource(ctx, service)
    return ApiResult(200, disk_answer(service))


def delete_disk(ctx: WorldContext, request: ApiRequest, disk_id: str) -> ApiResult:
    """204; the service no longer shows ``disk`` (disks_cassette #70, #73)."""
    service = _service_of_disk(ctx, disk_id)
    service["serviceDetails"].pop("disk")
    service.pop("_disk", None)
    save_resource(ctx, service)
    return ApiResult(204, empty=True)
