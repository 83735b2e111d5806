"""A service's notification override (``/notification-settings/overrides/services/{id}``).

rcp does not call these; the sandbox has them because the override decides the service's
``notifyOnFail`` (recorded: after ``notificationsToSend: all`` the service answers
``notifyOnFail: notify``, background_worker_cassette #6 → #21).
"""

from __future__ import annotations

from typing import Any

from rcp.sandbox.api.plumbing import (
    ApiRequest,
    ApiResult,
    WorldContext,
    check_enum,
    load_resource,
    object_body,
    save_resource,
)

NOTIFICATIONS_TO_SEND = ("default", "none", "failure", "all")
PREVIEW_NOTIFICATIONS = ("default", "false", "true")
# notificationsToSend → the service's notifyOnFail (spec enum: default, notify, ignore).
NOTIFY_ON_FAIL = {"default": "default", "none": "ignore", "failure": "notify", "all": "notify"}
DEFAULT_OVERRIDE = {"notificationsToSend": "default", "previewNotificationsEnabled": "default"}


def _answer(service: dict[str, Any]) -> dict[str, Any]:
    override = service.get("_notifications", DEFAULT_OVERRIDE)
    return {**override, "serviceId": service["id"]}


def retrieve_override(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    _, service = load_resource(ctx, "service", service_id)
    return ApiResult(200, _answer(service))


def update_override(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    """Changes what it is given; ``{}`` changes nothing (disks_cassette #1)."""
    _, service = load_resource(ctx, "service", service_id)
    body = object_body(request, required=False)
    override = dict(service.get("_notifications", DEFAULT_OVERRIDE))
    if body.get("notificationsToSend") is not None:
        override["notificationsToSend"] = check_enum(
            body["notificationsToSend"], NOTIFICATIONS_TO_SEND, "notificationsToSend"
        )
    if body.get("previewNotificationsEnabled") is not None:
        override["previewNotificationsEnabled"] = check_enum(
            body["previewNotificationsEnabled"],
            PREVIEW_NOTIFICATIONS,
            "previewNotificationsEnabled",
        )
    service["_notifications"] = override
    service["notifyOnFail"] = NOTIFY_ON_FAIL[override["notificationsToSend"]]
    save_resource(ctx, service)
    return ApiResult(200, _answer(service))
