"""Render's side of the API: routing, request validation, behaviour and response shapes.

Everything here runs inside one SQLite write transaction (see ``store``) and never sleeps:
asynchronous progress (deploys, datastores) is derived from stored timestamps and the
injected clock each time a resource is read. Shapes follow Render's OpenAPI spec and the
recorded real responses (``shared/render-api``), including Render's explicit ``null``s
(``ipAllowList`` of datastores without an allow list, a deploy's ``commit``/``finishedAt``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rcp.sandbox.ids import generated_value, new_id, random_password, random_suffix
from rcp.sandbox.settings import SandboxSettings
from rcp.sandbox.store import read_meta

# --- enums from the spec -------------------------------------------------------------------

SERVICE_TYPES = ("static_site", "web_service", "private_service", "background_worker", "cron_job")
RUNTIMES = ("docker", "elixir", "go", "node", "python", "ruby", "rust", "image")
NATIVE_RUNTIMES = ("elixir", "go", "node", "python", "ruby", "rust")
REGIONS = ("frankfurt", "oregon", "ohio", "singapore", "virginia")
WEB_PLANS = (
    "starter",
    "starter_plus",
    "standard",
    "standard_plus",
    "pro",
    "pro_plus",
    "pro_max",
    "pro_ultra",
    "free",
    "custom",
)
PAID_PLANS = ("starter", "standard", "pro", "pro_plus", "pro_max", "pro_ultra")
POSTGRES_PLANS = (
    "free",
    "starter",
    "standard",
    "pro",
    "pro_plus",
    "custom",
    "basic_256mb",
    "basic_1gb",
    "basic_4gb",
    "pro_4gb",
    "pro_8gb",
    "pro_16gb",
    "pro_32gb",
    "pro_64gb",
    "pro_128gb",
    "pro_192gb",
    "pro_256gb",
    "pro_384gb",
    "pro_512gb",
    "accelerated_16gb",
    "accelerated_32gb",
    "accelerated_64gb",
    "accelerated_128gb",
    "accelerated_256gb",
    "accelerated_384gb",
    "accelerated_512gb",
    "accelerated_768gb",
    "accelerated_1024gb",
)
POSTGRES_VERSIONS = ("11", "12", "13", "14", "15", "16", "17", "18")
KEY_VALUE_PLANS = ("free", "starter", "standard", "pro", "pro_plus", "custom")
MAXMEMORY_POLICIES = (
    "noeviction",
    "allkeys_lfu",
    "allkeys_lru",
    "allkeys_random",
    "volatile_lfu",
    "volatile_lru",
    "volatile_random",
    "volatile_ttl",
)
PERSISTENCE_MODES = ("journal_snapshot", "snapshot", "off")
DEPLOY_STATUSES = (
    "created",
    "queued",
    "build_in_progress",
    "update_in_progress",
    "live",
    "deactivated",
    "build_failed",
    "update_failed",
    "canceled",
    "pre_deploy_in_progress",
    "pre_deploy_failed",
)
SUSPENDED_VALUES = ("suspended", "not_suspended")
KEY_VALUE_VERSION = "8.1.4"
DASHBOARD = "https://dashboard.render.com"
FREE_PLAN_MESSAGE = (
    "services on the free instance type cannot be created through the API; choose a paid plan"
)

# --- plumbing -------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer: ``{"message": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def not_found(identifier: str) -> ApiError:
    return ApiError(404, f"not found: {identifier}")


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    """The API-relative path, without ``/v1`` (e.g. ``/services/srv-…``)."""
    query: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True)
class ApiResult:
    status: int
    body: Any = None
    """A JSON value, or None for an empty body (204, 202)."""
    empty: bool = False


@dataclass
class WorldContext:
    connection: sqlite3.Connection
    now: float
    settings: SandboxSettings
    fail_deploys: bool = False
    created_deploy_ids: list[str] = field(default_factory=list)

    @property
    def owner(self) -> dict[str, Any]:
        owner: dict[str, Any] = read_meta(self.connection, "owner")
        return owner

    @property
    def user(self) -> dict[str, Any]:
        user: dict[str, Any] = read_meta(self.connection, "user")
        return user


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_body(request: ApiRequest, *, required: bool = True) -> Any:
    if not request.body.strip():
        if required:
            raise bad_request("request body is required")
        return None
    try:
        return json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise bad_request("request body is not valid JSON") from None


def object_body(request: ApiRequest, *, required: bool = True) -> dict[str, Any]:
    body = json_body(request, required=required)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    return body


def query_values(request: ApiRequest, name: str) -> list[str]:
    """Array query parameters: ``form`` style, comma-separated, repeated keys also accepted."""
    values: list[str] = []
    for key, value in request.query:
        if key == name:
            values.extend(part for part in value.split(",") if part)
    return values


def query_value(request: ApiRequest, name: str) -> str | None:
    for key, value in request.query:
        if key == name:
            return value
    return None


def check_enum(value: Any, allowed: Iterable[str], field_name: str) -> str:
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise bad_request(f"invalid {field_name} {value!r}: must be one of {', '.join(allowed)}")
    return value


def check_string(value: Any, field_name: str, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise bad_request(f"{field_name} is required")
        return None
    if not isinstance(value, str):
        raise bad_request(f"{field_name} must be a string")
    if required and not value.strip():
        raise bad_request(f"{field_name} is required")
    return value


def check_enum_filter(values: list[str], allowed: Iterable[str], name: str) -> None:
    allowed = tuple(allowed)
    for value in values:
        if value not in allowed:
            raise bad_request(
                f"invalid {name} filter {value!r}: must be one of {', '.join(allowed)}"
            )


# --- pagination -----------------------------------------------------------------------------


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"rcp-sandbox:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
        prefix, _, number = text.partition(":")
        if prefix != "rcp-sandbox":
            raise ValueError(cursor)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_request(f"invalid cursor {cursor!r}") from None


def page_limit(request: ApiRequest) -> int:
    raw = query_value(request, "limit")
    if raw is None or raw == "":
        return 20
    try:
        limit = int(raw)
    except ValueError:
        raise bad_request(f"invalid limit {raw!r}: must be an integer between 1 and 100") from None
    if not 1 <= limit <= 100:
        raise bad_request(f"invalid limit {limit}: must be between 1 and 100")
    return limit


def paginate(
    request: ApiRequest,
    items: list[tuple[int, Any]],
    wrapper: str,
) -> list[dict[str, Any]]:
    """``[{"cursor": …, wrapper: item}]``, newest first; ``cursor`` → the items strictly after it.

    Newest first is what the recordings show for deploys and env vars (cursors encode the
    item's id; a page lists descending ids).
    """
    limit = page_limit(request)
    ordered = sorted(items, key=lambda pair: pair[0], reverse=True)
    cursor = query_value(request, "cursor")
    if cursor:
        position = decode_cursor(cursor)
        ordered = [pair for pair in ordered if pair[0] < position]
    return [{"cursor": encode_cursor(seq), wrapper: item} for seq, item in ordered[:limit]]


# --- resource storage -----------------------------------------------------------------------


def load_resource(ctx: WorldContext, kind: str, resource_id: str) -> tuple[int, dict[str, Any]]:
    row = ctx.connection.execute(
        "SELECT seq, data FROM resources WHERE id = ? AND kind = ?", (resource_id, kind)
    ).fetchone()
    if row is None:
        raise not_found(resource_id)
    data: dict[str, Any] = json.loads(row["data"])
    return int(row["seq"]), data


def load_resources(ctx: WorldContext, kind: str) -> list[tuple[int, dict[str, Any]]]:
    rows = ctx.connection.execute(
        "SELECT seq, data FROM resources WHERE kind = ? ORDER BY seq", (kind,)
    ).fetchall()
    return [(int(row["seq"]), json.loads(row["data"])) for row in rows]


def insert_resource(ctx: WorldContext, kind: str, data: dict[str, Any]) -> None:
    ctx.connection.execute(
        "INSERT INTO resources (id, kind, name, data) VALUES (?, ?, ?, ?)",
        (data["id"], kind, data["name"], json.dumps(data)),
    )


def save_resource(ctx: WorldContext, data: dict[str, Any]) -> None:
    ctx.connection.execute(
        "UPDATE resources SET name = ?, data = ? WHERE id = ?",
        (data["name"], json.dumps(data), data["id"]),
    )


def delete_resource(ctx: WorldContext, resource_id: str) -> None:
    ctx.connection.execute("DELETE FROM resources WHERE id = ?", (resource_id,))


def public(data: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the simulator's private bookkeeping fields (``_…``)."""
    return {key: value for key, value in data.items() if not key.startswith("_")}


# --- owners and users -----------------------------------------------------------------------


def list_owners(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    owner = ctx.owner
    names = query_values(request, "name")
    emails = query_values(request, "email")
    items: list[tuple[int, Any]] = []
    if (not names or owner["name"] in names) and (not emails or owner["email"] in emails):
        items.append((1, public(owner)))
    return ApiResult(200, paginate(request, items, "owner"))


def retrieve_owner(ctx: WorldContext, request: ApiRequest, owner_id: str) -> ApiResult:
    owner = ctx.owner
    # Render also accepts a user id here and answers with that user's workspace.
    if owner_id not in (owner["id"], ctx.user["id"]):
        raise not_found(owner_id)
    return ApiResult(200, public(owner))


def get_user(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    user = ctx.user
    return ApiResult(200, {"email": user["email"], "name": user["name"]})


# --- services -------------------------------------------------------------------------------


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "service"


def normalise_image_path(image_path: str) -> str:
    """``nginx`` → ``docker.io/library/nginx:latest`` as Render reports it."""
    path = image_path.strip()
    first = path.split("/", 1)[0]
    if "/" not in path:
        path = f"docker.io/library/{path}"
    elif "." not in first and ":" not in first and first != "localhost":
        path = f"docker.io/{path}"
    last = path.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in last:
        path = f"{path}:latest"
    return path


def env_var_inputs(raw: Any, field_name: str) -> list[tuple[str, str]]:
    """Validate ``[{key, value} | {key, generateValue: true}]``; None means none."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_request(f"{field_name} must be an array")
    result: list[tuple[str, str]] = []
    for item in raw:
        if not isinstance(item, dict):
            raise bad_request(f"{field_name} entries must be objects")
        key = item.get("key")
        if not isinstance(key, str) or not key:
            raise bad_request(f"{field_name} entries need a non-empty key")
        if "value" in item and item["value"] is not None:
            if not isinstance(item["value"], str):
                raise bad_request(f"{field_name}: value of {key} must be a string")
            result.append((key, item["value"]))
        elif item.get("generateValue") is True:
            result.append((key, generated_value()))
        else:
            raise bad_request(f"{field_name}: {key} needs a value or generateValue: true")
    return result


def secret_file_inputs(raw: Any, field_name: str) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_request(f"{field_name} must be an array")
    result: list[tuple[str, str]] = []
    for item in raw:
        if not isinstance(item, dict):
            raise bad_request(f"{field_name} entries must be objects")
        name = item.get("name")
        content = item.get("content")
        if not isinstance(name, str) or not name:
            raise bad_request(f"{field_name} entries need a non-empty name")
        if not isinstance(content, str):
            raise bad_request(f"{field_name}: content of {name} must be a string")
        result.append((name, content))
    return result


def replace_items(
    ctx: WorldContext, service_id: str, kind: str, items: list[tuple[str, str]]
) -> None:
    """Replace the whole set. A key that stays keeps its row, hence its cursor (as on Render,
    whose cursors are derived from the variable's own id)."""
    keep = [name for name, _ in items]
    placeholders = ",".join("?" for _ in keep)
    ctx.connection.execute(
        "DELETE FROM service_items WHERE service_id = ? AND kind = ?"
        + (f" AND name NOT IN ({placeholders})" if keep else ""),
        (service_id, kind, *keep),
    )
    for name, value in items:
        upsert_item(ctx, service_id, kind, name, value)


def load_items(ctx: WorldContext, service_id: str, kind: str) -> list[tuple[int, str, str]]:
    rows = ctx.connection.execute(
        "SELECT seq, name, value FROM service_items WHERE service_id = ? AND kind = ? ORDER BY seq",
        (service_id, kind),
    ).fetchall()
    return [(int(row["seq"]), row["name"], row["value"]) for row in rows]


def build_filter(raw: Any) -> dict[str, list[str]] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad_request("buildFilter must be an object")
    paths = raw.get("paths") or []
    ignored = raw.get("ignoredPaths") or []
    for value, name in ((paths, "buildFilter.paths"), (ignored, "buildFilter.ignoredPaths")):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise bad_request(f"{name} must be an array of strings")
    if not paths and not ignored:
        return None
    return {"ignoredPaths": ignored, "paths": paths}


def previews_of(
    details: Mapping[str, Any], current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    raw = details.get("previews")
    generation = (current or {}).get("generation", "off")
    if raw is not None:
        if not isinstance(raw, dict):
            raise bad_request("serviceDetails.previews must be an object")
        if raw.get("generation") is not None:
            generation = check_enum(
                raw["generation"],
                ("off", "manual", "automatic"),
                "serviceDetails.previews.generation",
            )
    return {"generation": generation}


def env_specific_details(
    runtime: str, raw: Any, pre_deploy: str | None, *, creating: bool
) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise bad_request("serviceDetails.envSpecificDetails must be an object")
    details: dict[str, Any]
    if runtime in ("docker", "image"):
        defaults = ("", ".", "./Dockerfile") if runtime == "docker" else ("", "", "")
        details = {
            "dockerCommand": raw.get("dockerCommand") or defaults[0],
            "dockerContext": raw.get("dockerContext") or defaults[1],
            "dockerfilePath": raw.get("dockerfilePath") or defaults[2],
        }
        for key, value in details.items():
            check_string(value, f"serviceDetails.envSpecificDetails.{key}")
    else:
        build_command = check_string(
            raw.get("buildCommand"), "serviceDetails.envSpecificDetails.buildCommand"
        )
        start_command = check_string(
            raw.get("startCommand"), "serviceDetails.envSpecificDetails.startCommand"
        )
        if creating and (not build_command or not start_command):
            raise bad_request(
                f"serviceDetails.envSpecificDetails.buildCommand and startCommand are required "
                f"for runtime {runtime}"
            )
        details = {"buildCommand": build_command or "", "startCommand": start_command or ""}
    if pre_deploy:
        details["preDeployCommand"] = pre_deploy
    return details


def validate_plan(service_type: str, plan: Any) -> str:
    # The free plan is in the web enum but Render refuses it through the API (anti-abuse).
    allowed = WEB_PLANS if service_type == "web_service" else PAID_PLANS
    checked = check_enum(plan, allowed, "serviceDetails.plan")
    if checked == "free":
        raise bad_request(FREE_PLAN_MESSAGE)
    return checked


def service_url(service_type: str, slug: str) -> str | None:
    if service_type in ("web_service", "static_site"):
        return f"https://{slug}.onrender.com"
    if service_type == "private_service":
        return f"{slug}:10000"
    return None


DASHBOARD_SEGMENT = {
    "web_service": "web",
    "private_service": "pserv",
    "background_worker": "worker",
    "static_site": "static",
    "cron_job": "cron",
}


def unique_slug(ctx: WorldContext, name: str) -> str:
    base = slugify(name)
    taken = {data["slug"] for _, data in load_resources(ctx, "service")}
    if base not in taken:
        return base
    while True:
        candidate = f"{base}-{random_suffix()}"
        if candidate not in taken:
            return candidate


def ensure_name_free(ctx: WorldContext, name: str, *, except_id: str | None = None) -> None:
    """Service names are unique within the workspace (spec: servicePOST.name) → 409."""
    for _, data in load_resources(ctx, "service"):
        if data["name"] == name and data["id"] != except_id:
            raise ApiError(409, f"a service named {name!r} already exists in this workspace")


def create_service(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    body = object_body(request)
    service_type = check_enum(body.get("type"), SERVICE_TYPES, "type")
    name = check_string(body.get("name"), "name", required=True)
    assert name is not None
    owner_id = check_string(body.get("ownerId"), "ownerId", required=True)
    if owner_id != ctx.owner["id"]:
        raise bad_request(f"invalid ownerId {owner_id!r}: no such workspace")
    repo = check_string(body.get("repo"), "repo") or None
    image = body.get("image")
    image_path: str | None = None
    if image is not None:
        if not isinstance(image, dict):
            raise bad_request("image must be an object")
        raw_path = check_string(image.get("imagePath"), "image.imagePath", required=True)
        assert raw_path is not None
        image_path = normalise_image_path(raw_path)
    if repo is None and image_path is None:
        raise bad_request("either repo or image is required")
    if repo is not None and image_path is not None:
        raise bad_request("give either repo or image, not both")
    auto_deploy = body.get("autoDeploy")
    auto_deploy = (
        "yes" if auto_deploy is None else check_enum(auto_deploy, ("yes", "no"), "autoDeploy")
    )
    env_vars = env_var_inputs(body.get("envVars"), "envVars")
    secret_files = secret_file_inputs(body.get("secretFiles"), "secretFiles")
    environment_id = check_string(body.get("environmentId"), "environmentId") or None
    root_dir = check_string(body.get("rootDir"), "rootDir") or ""
    branch = check_string(body.get("branch"), "branch") or None

    raw_details = body.get("serviceDetails")
    if raw_details is None:
        raw_details = {}
    if not isinstance(raw_details, dict):
        raise bad_request("serviceDetails must be an object")

    service_id = new_id("crn-" if service_type == "cron_job" else "srv-")
    slug = unique_slug(ctx, name)
    ensure_name_free(ctx, name)
    details = service_details_for_create(service_type, service_id, slug, raw_details, image_path)

    now = iso(ctx.now)
    fields: dict[str, Any] = {
        "autoDeploy": auto_deploy,
        "autoDeployTrigger": "commit" if auto_deploy == "yes" else "off",
        "branch": (branch or "main") if repo is not None else None,
        "buildFilter": build_filter(body.get("buildFilter")),
        "createdAt": now,
        "dashboardUrl": f"{DASHBOARD}/{DASHBOARD_SEGMENT[service_type]}/{service_id}",
        "environmentId": environment_id,
        "id": service_id,
        "imagePath": image_path,
        "name": name,
        "notifyOnFail": "default",
        "ownerId": owner_id,
        "repo": repo,
        "rootDir": root_dir,
        "serviceDetails": details,
        "slug": slug,
        "suspended": "not_suspended",
        "suspenders": [],
        "type": service_type,
        "updatedAt": now,
    }
    # Render leaves absent optional fields out (no nulls) and sorts keys alphabetically.
    service = {key: value for key, value in sorted(fields.items()) if value is not None}
    insert_resource(ctx, "service", service)
    replace_items(ctx, service_id, "env", env_vars)
    replace_items(ctx, service_id, "secret", secret_files)
    deploy = start_deploy(ctx, service, trigger="api")
    return ApiResult(201, {"deployId": deploy["id"], "service": service})


def service_details_for_create(
    service_type: str,
    service_id: str,
    slug: str,
    raw: dict[str, Any],
    image_path: str | None,
) -> dict[str, Any]:
    if service_type == "static_site":
        build_command = check_string(raw.get("buildCommand"), "serviceDetails.buildCommand") or ""
        publish_path = (
            check_string(raw.get("publishPath"), "serviceDetails.publishPath") or "public"
        )
        previews = previews_of(raw)
        return {
            "buildCommand": build_command,
            "buildPlan": "starter",
            "previews": previews,
            "publishPath": publish_path,
            "pullRequestPreviewsEnabled": "no" if previews["generation"] == "off" else "yes",
            "url": service_url(service_type, slug),
        }

    runtime = raw.get("runtime", raw.get("env"))
    if runtime is None:
        raise bad_request("serviceDetails.runtime is required")
    runtime = check_enum(runtime, RUNTIMES, "serviceDetails.runtime")
    if runtime == "image" and image_path is None:
        raise bad_request("image is required for runtime image")
    if runtime != "image" and image_path is not None:
        raise bad_request("image can only be used with runtime image")
    plan_raw = raw.get("plan")
    plan = validate_plan(service_type, "starter" if plan_raw is None else plan_raw)
    region_raw = raw.get("region")
    region = (
        "oregon" if region_raw is None else check_enum(region_raw, REGIONS, "serviceDetails.region")
    )
    pre_deploy = check_string(raw.get("preDeployCommand"), "serviceDetails.preDeployCommand")
    env_details = env_specific_details(
        runtime, raw.get("envSpecificDetails"), pre_deploy, creating=True
    )

    if service_type == "cron_job":
        schedule = check_string(raw.get("schedule"), "serviceDetails.schedule", required=True)
        return {
            "buildPlan": "starter",
            "env": runtime,
            "envSpecificDetails": env_details,
            "plan": plan,
            "region": region,
            "runtime": runtime,
            "schedule": schedule,
        }

    num_instances = raw.get("numInstances", 1)
    if num_instances is None:
        num_instances = 1
    if not isinstance(num_instances, int) or isinstance(num_instances, bool) or num_instances < 1:
        raise bad_request("serviceDetails.numInstances must be an integer >= 1")
    details: dict[str, Any] = {}
    autoscaling = raw.get("autoscaling")
    if autoscaling is not None:
        if not isinstance(autoscaling, dict):
            raise bad_request("serviceDetails.autoscaling must be an object")
        details["autoscaling"] = autoscaling
    details["buildPlan"] = "starter"
    disk = raw.get("disk")
    if disk is not None:
        if not isinstance(disk, dict):
            raise bad_request("serviceDetails.disk must be an object")
        disk_name = check_string(disk.get("name"), "serviceDetails.disk.name", required=True)
        mount_path = check_string(
            disk.get("mountPath"), "serviceDetails.disk.mountPath", required=True
        )
        size = disk.get("sizeGB") or 1
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise bad_request("serviceDetails.disk.sizeGB must be an integer >= 1")
        details["disk"] = {
            "id": new_id("dsk-"),
            "mountPath": mount_path,
            "name": disk_name,
            "sizeGB": size,
        }
    details["env"] = runtime
    details["envSpecificDetails"] = env_details
    if service_type == "web_service":
        details["healthCheckPath"] = (
            check_string(raw.get("healthCheckPath"), "serviceDetails.healthCheckPath") or ""
        )
        maintenance = raw.get("maintenanceMode")
        if maintenance is None:
            maintenance = {"enabled": False, "uri": ""}
        elif not isinstance(maintenance, dict) or not isinstance(maintenance.get("enabled"), bool):
            raise bad_request("serviceDetails.maintenanceMode needs enabled (boolean) and uri")
        details["maintenanceMode"] = {
            "enabled": maintenance["enabled"],
            "uri": maintenance.get("uri") or "",
        }
    details["numInstances"] = num_instances
    if service_type in ("web_service", "private_service"):
        details["openPorts"] = [{"port": 10000, "protocol": "TCP"}]
    details["plan"] = plan
    previews = previews_of(raw)
    details["previews"] = previews
    details["pullRequestPreviewsEnabled"] = "no" if previews["generation"] == "off" else "yes"
    details["region"] = region
    details["runtime"] = runtime
    details["sshAddress"] = f"{service_id}@ssh.{region}.render.com"
    url = service_url(service_type, slug)
    if url is not None:
        details["url"] = url
    return details


def list_services(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    names = query_values(request, "name")
    types = query_values(request, "type")
    check_enum_filter(types, SERVICE_TYPES, "type")
    owners = query_values(request, "ownerId")
    suspended = query_values(request, "suspended")
    check_enum_filter(suspended, SUSPENDED_VALUES, "suspended")
    regions = query_values(request, "region")
    check_enum_filter(regions, REGIONS, "region")
    environments = query_values(request, "environmentId")
    items = []
    for seq, service in load_resources(ctx, "service"):
        if names and service["name"] not in names:
            continue
        if types and service["type"] not in types:
            continue
        if owners and service["ownerId"] not in owners:
            continue
        if suspended and service["suspended"] not in suspended:
            continue
        if regions and service["serviceDetails"].get("region") not in regions:
            continue
        if environments and service.get("environmentId") not in environments:
            continue
        items.append((seq, service))
    return ApiResult(200, paginate(request, items, "service"))


def retrieve_service(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    _, service = load_resource(ctx, "service", service_id)
    return ApiResult(200, service)


def update_service(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    _, service = load_resource(ctx, "service", service_id)
    body = object_body(request)
    service_type = service["type"]
    if "name" in body and body["name"] is not None:
        name = check_string(body["name"], "name", required=True)
        assert name is not None
        ensure_name_free(ctx, name, except_id=service_id)
        service["name"] = name
    if body.get("autoDeploy") is not None:
        service["autoDeploy"] = check_enum(body["autoDeploy"], ("yes", "no"), "autoDeploy")
        service["autoDeployTrigger"] = "commit" if service["autoDeploy"] == "yes" else "off"
    if body.get("autoDeployTrigger") is not None:
        service["autoDeployTrigger"] = check_enum(
            body["autoDeployTrigger"], ("commit", "off", "checksPass"), "autoDeployTrigger"
        )
    if body.get("repo") is not None and "repo" in service:
        service["repo"] = check_string(body["repo"], "repo")
    if body.get("branch") is not None and "repo" in service:
        service["branch"] = check_string(body["branch"], "branch")
    if body.get("rootDir") is not None:
        service["rootDir"] = check_string(body["rootDir"], "rootDir")
    if "buildFilter" in body:
        bf = build_filter(body["buildFilter"])
        if bf is None:
            service.pop("buildFilter", None)
        else:
            service["buildFilter"] = bf
    image = body.get("image")
    if image is not None:
        if not isinstance(image, dict):
            raise bad_request("image must be an object")
        raw_path = check_string(image.get("imagePath"), "image.imagePath", required=True)
        assert raw_path is not None
        new_runtime = (body.get("serviceDetails") or {}).get("runtime")
        if "imagePath" not in service and new_runtime != "image":
            raise bad_request(
                "image requires serviceDetails.runtime image on a repo-backed service"
            )
        service["imagePath"] = normalise_image_path(raw_path)
    raw_details = body.get("serviceDetails")
    if raw_details is not None:
        if not isinstance(raw_details, dict):
            raise bad_request("serviceDetails must be an object")
        new_runtime = raw_details.get("runtime")
        if new_runtime == "image" and "imagePath" not in service:
            raise bad_request("runtime image requires an image")
        if new_runtime not in (None, "image") and "repo" not in service:
            if body.get("repo") is None:
                raise bad_request(f"runtime {new_runtime} requires a repo")
            service["repo"] = check_string(body["repo"], "repo")
            service["branch"] = check_string(body.get("branch"), "branch") or "main"
        update_service_details(service_type, service["serviceDetails"], raw_details)
        if service_type != "static_site":
            # An image-backed service has no repository; a repo-backed one no image.
            if service["serviceDetails"]["runtime"] == "image":
                for key in ("repo", "branch", "buildFilter"):
                    service.pop(key, None)
            else:
                service.pop("imagePath", None)
    service["updatedAt"] = iso(ctx.now)
    save_resource(ctx, service)
    return ApiResult(200, service)


def update_service_details(service_type: str, details: dict[str, Any], raw: dict[str, Any]) -> None:
    if service_type == "static_site":
        if raw.get("buildCommand") is not None:
            details["buildCommand"] = check_string(
                raw["buildCommand"], "serviceDetails.buildCommand"
            )
        if raw.get("publishPath") is not None:
            details["publishPath"] = check_string(raw["publishPath"], "serviceDetails.publishPath")
        if raw.get("previews") is not None:
            details["previews"] = previews_of(raw, details.get("previews"))
            details["pullRequestPreviewsEnabled"] = (
                "no" if details["previews"]["generation"] == "off" else "yes"
            )
        return
    if raw.get("plan") is not None:
        details["plan"] = validate_plan(service_type, raw["plan"])
    if raw.get("runtime") is not None:
        runtime = check_enum(raw["runtime"], RUNTIMES, "serviceDetails.runtime")
        if runtime != details["runtime"] and (
            runtime in ("docker", "image") or details["runtime"] in ("docker", "image")
        ):
            # Switching between image, docker and native runtimes replaces the build settings.
            pre_deploy = details["envSpecificDetails"].get("preDeployCommand")
            details["envSpecificDetails"] = env_specific_details(
                runtime, raw.get("envSpecificDetails") or {}, pre_deploy, creating=False
            )
        details["runtime"] = runtime
        details["env"] = runtime
    current = details["envSpecificDetails"]
    raw_env = raw.get("envSpecificDetails")
    if raw_env is not None:
        if not isinstance(raw_env, dict):
            raise bad_request("serviceDetails.envSpecificDetails must be an object")
        for key in (
            "buildCommand",
            "startCommand",
            "dockerCommand",
            "dockerContext",
            "dockerfilePath",
        ):
            if key in current and raw_env.get(key) is not None:
                current[key] = check_string(
                    raw_env[key], f"serviceDetails.envSpecificDetails.{key}"
                )
    if raw.get("preDeployCommand") is not None:
        pre_deploy = check_string(raw["preDeployCommand"], "serviceDetails.preDeployCommand")
        if pre_deploy:
            current["preDeployCommand"] = pre_deploy
        else:
            current.pop("preDeployCommand", None)
    if service_type == "cron_job":
        if raw.get("schedule") is not None:
            details["schedule"] = check_string(
                raw["schedule"], "serviceDetails.schedule", required=True
            )
        return
    if raw.get("previews") is not None:
        details["previews"] = previews_of(raw, details.get("previews"))
        details["pullRequestPreviewsEnabled"] = (
            "no" if details["previews"]["generation"] == "off" else "yes"
        )
    if service_type == "web_service":
        if raw.get("healthCheckPath") is not None:
            details["healthCheckPath"] = check_string(
                raw["healthCheckPath"], "serviceDetails.healthCheckPath"
            )
        maintenance = raw.get("maintenanceMode")
        if maintenance is not None:
            if not isinstance(maintenance, dict) or not isinstance(
                maintenance.get("enabled"), bool
            ):
                raise bad_request("serviceDetails.maintenanceMode needs enabled (boolean) and uri")
            details["maintenanceMode"] = {
                "enabled": maintenance["enabled"],
                "uri": maintenance.get("uri") or "",
            }


def delete_service(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    load_resource(ctx, "service", service_id)
    delete_resource(ctx, service_id)
    ctx.connection.execute("DELETE FROM service_items WHERE service_id = ?", (service_id,))
    ctx.connection.execute("DELETE FROM deploys WHERE service_id = ?", (service_id,))
    return ApiResult(204, empty=True)


def suspend_service(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    _, service = load_resource(ctx, "service", service_id)
    service["suspended"] = "suspended"
    if "user" not in service["suspenders"]:
        service["suspenders"] = [*service["suspenders"], "user"]
    service["updatedAt"] = iso(ctx.now)
    save_resource(ctx, service)
    return ApiResult(202, empty=True)


def resume_service(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    _, service = load_resource(ctx, "service", service_id)
    service["suspended"] = "not_suspended"
    service["suspenders"] = []
    service["updatedAt"] = iso(ctx.now)
    save_resource(ctx, service)
    return ApiResult(202, empty=True)


# --- env vars and secret files --------------------------------------------------------------


def list_env_vars(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    load_resource(ctx, "service", service_id)
    items = [
        (seq, {"key": key, "value": value})
        for seq, key, value in load_items(ctx, service_id, "env")
    ]
    return ApiResult(200, paginate(request, items, "envVar"))


def replace_env_vars(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    load_resource(ctx, "service", service_id)
    # Render treats a JSON null like an empty list (the Terraform provider sends it).
    body = json_body(request)
    body = [] if body is None else body
    if not isinstance(body, list):
        raise bad_request("request body must be an array of env vars")
    replace_items(ctx, service_id, "env", env_var_inputs(body, "env vars"))
    items = [
        (seq, {"key": key, "value": value})
        for seq, key, value in load_items(ctx, service_id, "env")
    ]
    # The answer is the complete new set, whatever its size (not a page).
    return ApiResult(200, [{"envVar": item, "cursor": encode_cursor(seq)} for seq, item in items])


def find_item(ctx: WorldContext, service_id: str, kind: str, name: str) -> str:
    row = ctx.connection.execute(
        "SELECT value FROM service_items WHERE service_id = ? AND kind = ? AND name = ?",
        (service_id, kind, name),
    ).fetchone()
    if row is None:
        raise not_found(name)
    value: str = row["value"]
    return value


def retrieve_env_var(
    ctx: WorldContext, request: ApiRequest, service_id: str, key: str
) -> ApiResult:
    load_resource(ctx, "service", service_id)
    return ApiResult(200, {"key": key, "value": find_item(ctx, service_id, "env", key)})


def upsert_item(ctx: WorldContext, service_id: str, kind: str, name: str, value: str) -> None:
    ctx.connection.execute(
        "INSERT INTO service_items (service_id, kind, name, value) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (service_id, kind, name) DO UPDATE SET value = excluded.value",
        (service_id, kind, name, value),
    )


def update_env_var(ctx: WorldContext, request: ApiRequest, service_id: str, key: str) -> ApiResult:
    load_resource(ctx, "service", service_id)
    body = object_body(request)
    if body.get("value") is not None:
        value = check_string(body["value"], "value")
        assert value is not None
    elif body.get("generateValue") is True:
        value = generated_value()
    else:
        raise bad_request("value or generateValue: true is required")
    upsert_item(ctx, service_id, "env", key, value)
    return ApiResult(200, {"key": key, "value": value})


def delete_item(
    ctx: WorldContext, request: ApiRequest, service_id: str, name: str, kind: str
) -> ApiResult:
    load_resource(ctx, "service", service_id)
    find_item(ctx, service_id, kind, name)
    ctx.connection.execute(
        "DELETE FROM service_items WHERE service_id = ? AND kind = ? AND name = ?",
        (service_id, kind, name),
    )
    return ApiResult(204, empty=True)


def delete_env_var(ctx: WorldContext, request: ApiRequest, service_id: str, key: str) -> ApiResult:
    return delete_item(ctx, request, service_id, key, "env")


def list_secret_files(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    load_resource(ctx, "service", service_id)
    items = [
        (seq, {"content": value, "name": name})
        for seq, name, value in load_items(ctx, service_id, "secret")
    ]
    return ApiResult(200, paginate(request, items, "secretFile"))


def replace_secret_files(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    load_resource(ctx, "service", service_id)
    body = json_body(request)
    body = [] if body is None else body
    if not isinstance(body, list):
        raise bad_request("request body must be an array of secret files")
    replace_items(ctx, service_id, "secret", secret_file_inputs(body, "secret files"))
    items = load_items(ctx, service_id, "secret")
    return ApiResult(
        200,
        [
            {"secretFile": {"content": value, "name": name}, "cursor": encode_cursor(seq)}
            for seq, name, value in items
        ],
    )


def retrieve_secret_file(
    ctx: WorldContext, request: ApiRequest, service_id: str, name: str
) -> ApiResult:
    load_resource(ctx, "service", service_id)
    return ApiResult(200, {"content": find_item(ctx, service_id, "secret", name), "name": name})


def update_secret_file(
    ctx: WorldContext, request: ApiRequest, service_id: str, name: str
) -> ApiResult:
    load_resource(ctx, "service", service_id)
    body = object_body(request)
    content = check_string(body.get("content"), "content")
    if content is None:
        raise bad_request("content is required")
    upsert_item(ctx, service_id, "secret", name, content)
    return ApiResult(201, {"content": content, "name": name})


def delete_secret_file(
    ctx: WorldContext, request: ApiRequest, service_id: str, name: str
) -> ApiResult:
    return delete_item(ctx, request, service_id, name, "secret")


# --- deploys --------------------------------------------------------------------------------


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


# --- datastores (Postgres, Key Value) -------------------------------------------------------


def datastore_status(ctx: WorldContext, record: Mapping[str, Any]) -> str:
    if record.get("suspended") == "suspended" or record.get("_suspended"):
        return "suspended"
    if ctx.now - float(record["_created"]) < ctx.settings.datastore_seconds:
        return "creating"
    return "available"


def ip_allow_list(raw: Any, field_name: str = "ipAllowList") -> list[dict[str, str]] | None:
    """Render answers ``null`` when the allow list is empty (recorded), else the entries."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise bad_request(f"{field_name} must be an array")
    entries = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("cidrBlock"), str):
            raise bad_request(f"{field_name} entries need a cidrBlock")
        description = item.get("description", "")
        if not isinstance(description, str):
            raise bad_request(f"{field_name} descriptions must be strings")
        entries.append({"cidrBlock": item["cidrBlock"], "description": description})
    return entries or None


def check_owner_for_datastore(ctx: WorldContext, body: Mapping[str, Any]) -> str:
    owner_id = check_string(body.get("ownerId"), "ownerId", required=True)
    assert owner_id is not None
    if owner_id != ctx.owner["id"]:
        raise not_found(owner_id)
    return owner_id


def database_identifier(text: str) -> str:
    ident = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    return ident or "db"


def default_disk_size(plan: str) -> int:
    return 15 if plan.startswith("basic_") else 100


def create_postgres(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    body = object_body(request)
    name = check_string(body.get("name"), "name", required=True)
    assert name is not None
    check_owner_for_datastore(ctx, body)
    plan = check_enum(body.get("plan"), POSTGRES_PLANS, "plan")
    version = body.get("version")
    if isinstance(version, int) and not isinstance(version, bool):
        version = str(version)
    version = check_enum(version, POSTGRES_VERSIONS, "version")
    region_raw = body.get("region")
    region = "oregon" if region_raw in (None, "") else check_enum(region_raw, REGIONS, "region")
    ha = body.get("enableHighAvailability") or False
    if not isinstance(ha, bool):
        raise bad_request("enableHighAvailability must be a boolean")
    if ha and not (plan.startswith("pro") or plan.startswith("accelerated")):
        raise bad_request("high availability requires a pro or accelerated plan")
    disk_autoscaling = body.get("enableDiskAutoscaling") or False
    if not isinstance(disk_autoscaling, bool):
        raise bad_request("enableDiskAutoscaling must be a boolean")
    disk_size = body.get("diskSizeGB")
    if disk_size is None:
        disk_size = default_disk_size(plan)
    if not isinstance(disk_size, int) or isinstance(disk_size, bool) or disk_size < 1:
        raise bad_request("diskSizeGB must be a positive integer")
    requested_db = check_string(body.get("databaseName"), "databaseName") or ""
    requested_user = check_string(body.get("databaseUser"), "databaseUser") or ""
    database_name = f"{database_identifier(requested_db or name)}_{random_suffix()}"
    database_user = requested_user or f"{database_name}_user"
    environment_id = check_string(body.get("environmentId"), "environmentId") or None
    overrides = body.get("parameterOverrides")
    if overrides is not None and not (
        isinstance(overrides, dict) and all(isinstance(v, str) for v in overrides.values())
    ):
        raise bad_request("parameterOverrides must map names to strings")
    base_id = new_id("dpg-")
    replicas = read_replicas(body.get("readReplicas") or [], base_id, [])
    now = iso(ctx.now)
    record: dict[str, Any] = {
        "createdAt": now,
        "dashboardUrl": f"{DASHBOARD}/d/{base_id}-a",
        "databaseName": database_name,
        "databaseUser": database_user,
        "diskAutoscalingEnabled": disk_autoscaling,
        "diskSizeGB": disk_size,
    }
    if environment_id:
        record["environmentId"] = environment_id
    record.update(
        {
            "highAvailabilityEnabled": ha,
            "id": f"{base_id}-a",
            "ipAllowList": ip_allow_list(body.get("ipAllowList")),
            "name": name,
            "owner": public(ctx.owner),
        }
    )
    if overrides:
        record["parameterOverrides"] = overrides
    record.update(
        {
            "plan": plan,
            "readReplicas": replicas,
            "region": region,
            "role": "primary",
            "status": "creating",
            "suspended": "not_suspended",
            "suspenders": [],
            "updatedAt": now,
            "version": version,
            "_created": ctx.now,
            "_password": random_password(),
        }
    )
    insert_resource(ctx, "postgres", record)
    return ApiResult(201, render_datastore(ctx, record))


def read_replicas(raw: Any, base_id: str, current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replicas are ``<base>-b``, ``-c``, …; a replica keeps its id while its name stays."""
    if not isinstance(raw, list):
        raise bad_request("readReplicas must be an array")
    existing = {replica["name"]: replica["id"] for replica in current}
    taken = set(existing.values())
    replicas: list[dict[str, Any]] = []
    for replica in raw:
        if not isinstance(replica, dict) or not isinstance(replica.get("name"), str):
            raise bad_request("readReplicas entries need a name")
        replica_id = existing.get(replica["name"])
        if replica_id is None:
            letter = ord("b")
            while f"{base_id}-{chr(letter)}" in taken:
                letter += 1
            replica_id = f"{base_id}-{chr(letter)}"
            taken.add(replica_id)
        entry: dict[str, Any] = {"id": replica_id, "name": replica["name"]}
        overrides = replica.get("parameterOverrides")
        if overrides:
            if not isinstance(overrides, dict):
                raise bad_request("readReplicas parameterOverrides must be an object")
            entry["parameterOverrides"] = overrides
        replicas.append(entry)
    return replicas


def render_datastore(ctx: WorldContext, record: Mapping[str, Any]) -> dict[str, Any]:
    data = public(record)
    data["status"] = datastore_status(ctx, record)
    return data


def list_postgres(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    return ApiResult(200, list_datastores(ctx, request, "postgres", "postgres"))


def list_datastores(ctx: WorldContext, request: ApiRequest, kind: str, wrapper: str) -> list[Any]:
    names = query_values(request, "name")
    owners = query_values(request, "ownerId")
    regions = query_values(request, "region")
    check_enum_filter(regions, REGIONS, "region")
    suspended = query_values(request, "suspended")
    check_enum_filter(suspended, SUSPENDED_VALUES, "suspended")
    environments = query_values(request, "environmentId")
    items = []
    for seq, record in load_resources(ctx, kind):
        if names and record["name"] not in names:
            continue
        if owners and record["owner"]["id"] not in owners:
            continue
        if regions and record["region"] not in regions:
            continue
        if suspended and record.get("suspended", "not_suspended") not in suspended:
            continue
        if environments and record.get("environmentId") not in environments:
            continue
        rendered = render_datastore(ctx, record)
        if kind == "key_value":
            rendered["dashboardUrl"] = f"{DASHBOARD}/r/{record['id']}"
        items.append((seq, rendered))
    return paginate(request, items, wrapper)


def retrieve_postgres(ctx: WorldContext, request: ApiRequest, postgres_id: str) -> ApiResult:
    _, record = load_resource(ctx, "postgres", postgres_id)
    return ApiResult(200, render_datastore(ctx, record))


def update_postgres(ctx: WorldContext, request: ApiRequest, postgres_id: str) -> ApiResult:
    _, record = load_resource(ctx, "postgres", postgres_id)
    body = object_body(request)
    if body.get("name") is not None:
        record["name"] = check_string(body["name"], "name", required=True)
    if body.get("plan") is not None:
        record["plan"] = check_enum(body["plan"], POSTGRES_PLANS, "plan")
    if body.get("diskSizeGB") is not None:
        size = body["diskSizeGB"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise bad_request("diskSizeGB must be a positive integer")
        if size < record.get("diskSizeGB", 0):
            raise bad_request("diskSizeGB cannot be decreased")
        record["diskSizeGB"] = size
    for source, target in (
        ("enableDiskAutoscaling", "diskAutoscalingEnabled"),
        ("enableHighAvailability", "highAvailabilityEnabled"),
    ):
        if body.get(source) is not None:
            if not isinstance(body[source], bool):
                raise bad_request(f"{source} must be a boolean")
            record[target] = body[source]
    if "ipAllowList" in body:
        record["ipAllowList"] = ip_allow_list(body["ipAllowList"])
    if body.get("parameterOverrides") is not None:
        overrides = body["parameterOverrides"]
        if not isinstance(overrides, dict):
            raise bad_request("parameterOverrides must be an object")
        if overrides:
            record["parameterOverrides"] = overrides
        else:  # as recorded: an empty map removes the field
            record.pop("parameterOverrides", None)
    if body.get("readReplicas") is not None:
        record["readReplicas"] = read_replicas(
            body["readReplicas"], record["id"][: -len("-a")], record["readReplicas"]
        )
    record["updatedAt"] = iso(ctx.now)
    save_resource(ctx, record)
    return ApiResult(200, render_datastore(ctx, record))


def delete_datastore(ctx: WorldContext, kind: str, resource_id: str) -> ApiResult:
    load_resource(ctx, kind, resource_id)
    delete_resource(ctx, resource_id)
    return ApiResult(204, empty=True)


def delete_postgres(ctx: WorldContext, request: ApiRequest, postgres_id: str) -> ApiResult:
    return delete_datastore(ctx, "postgres", postgres_id)


def postgres_connection_info(ctx: WorldContext, request: ApiRequest, postgres_id: str) -> ApiResult:
    _, record = load_resource(ctx, "postgres", postgres_id)
    user, password, database = record["databaseUser"], record["_password"], record["databaseName"]
    host = record["id"]
    external_host = f"{host}.{record['region']}-postgres.render.com"
    return ApiResult(
        200,
        {
            "externalConnectionString": f"postgresql://{user}:{password}@{external_host}:5432/{database}",
            "internalConnectionString": f"postgresql://{user}:{password}@{host}/{database}",
            "password": password,
            "psqlCommand": f"PGPASSWORD={password} psql -h {external_host} -p 5432 -U {user} {database}",
        },
    )


def set_datastore_suspended(
    ctx: WorldContext, kind: str, resource_id: str, suspended: bool
) -> ApiResult:
    _, record = load_resource(ctx, kind, resource_id)
    if kind == "postgres":
        record["suspended"] = "suspended" if suspended else "not_suspended"
        record["suspenders"] = ["user"] if suspended else []
    else:
        record["_suspended"] = suspended
    record["updatedAt"] = iso(ctx.now)
    save_resource(ctx, record)
    return ApiResult(202, empty=True)


def suspend_postgres(ctx: WorldContext, request: ApiRequest, postgres_id: str) -> ApiResult:
    return set_datastore_suspended(ctx, "postgres", postgres_id, True)


def resume_postgres(ctx: WorldContext, request: ApiRequest, postgres_id: str) -> ApiResult:
    return set_datastore_suspended(ctx, "postgres", postgres_id, False)


def create_key_value(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    body = object_body(request)
    name = check_string(body.get("name"), "name", required=True)
    assert name is not None
    check_owner_for_datastore(ctx, body)
    plan = check_enum(body.get("plan"), KEY_VALUE_PLANS, "plan")
    region_raw = body.get("region")
    region = "oregon" if region_raw in (None, "") else check_enum(region_raw, REGIONS, "region")
    policy_raw = body.get("maxmemoryPolicy")
    policy = (
        "allkeys_lru"
        if policy_raw is None
        else check_enum(policy_raw, MAXMEMORY_POLICIES, "maxmemoryPolicy")
    )
    persistence_raw = body.get("persistenceMode")
    persistence = (
        "journal_snapshot"
        if persistence_raw is None
        else check_enum(persistence_raw, PERSISTENCE_MODES, "persistenceMode")
    )
    environment_id = check_string(body.get("environmentId"), "environmentId") or None
    now = iso(ctx.now)
    record: dict[str, Any] = {"createdAt": now}
    if environment_id:
        record["environmentId"] = environment_id
    record.update(
        {
            "id": new_id("red-"),
            "ipAllowList": ip_allow_list(body.get("ipAllowList")),
            "name": name,
            "options": {"maxmemoryPolicy": policy, "persistenceMode": persistence},
            "owner": public(ctx.owner),
            "plan": plan,
            "region": region,
            "status": "creating",
            "updatedAt": now,
            "version": KEY_VALUE_VERSION,
            "_created": ctx.now,
            "_password": random_password(),
        }
    )
    insert_resource(ctx, "key_value", record)
    return ApiResult(201, render_datastore(ctx, record))


def list_key_value(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    return ApiResult(200, list_datastores(ctx, request, "key_value", "keyValue"))


def retrieve_key_value(ctx: WorldContext, request: ApiRequest, key_value_id: str) -> ApiResult:
    _, record = load_resource(ctx, "key_value", key_value_id)
    return ApiResult(200, render_datastore(ctx, record))


def update_key_value(ctx: WorldContext, request: ApiRequest, key_value_id: str) -> ApiResult:
    _, record = load_resource(ctx, "key_value", key_value_id)
    body = object_body(request)
    if body.get("name") is not None:
        record["name"] = check_string(body["name"], "name", required=True)
    if body.get("plan") is not None:
        record["plan"] = check_enum(body["plan"], KEY_VALUE_PLANS, "plan")
    if body.get("maxmemoryPolicy") is not None:
        record["options"]["maxmemoryPolicy"] = check_enum(
            body["maxmemoryPolicy"], MAXMEMORY_POLICIES, "maxmemoryPolicy"
        )
    if body.get("persistenceMode") is not None:
        record["options"]["persistenceMode"] = check_enum(
            body["persistenceMode"], PERSISTENCE_MODES, "persistenceMode"
        )
    if "ipAllowList" in body:
        record["ipAllowList"] = ip_allow_list(body["ipAllowList"])
    record["updatedAt"] = iso(ctx.now)
    save_resource(ctx, record)
    return ApiResult(200, render_datastore(ctx, record))


def delete_key_value(ctx: WorldContext, request: ApiRequest, key_value_id: str) -> ApiResult:
    return delete_datastore(ctx, "key_value", key_value_id)


def key_value_connection_info(
    ctx: WorldContext, request: ApiRequest, key_value_id: str
) -> ApiResult:
    _, record = load_resource(ctx, "key_value", key_value_id)
    kv_id, password = record["id"], record["_password"]
    host = f"{record['region']}-keyvalue.render.com"
    return ApiResult(
        200,
        {
            "cliCommand": f"REDISCLI_AUTH={password} valkey-cli --user {kv_id} -h {host} -p 6377 --tls",
            "externalConnectionString": f"rediss://{kv_id}:{password}@{host}:6377",
            "internalConnectionString": f"redis://{kv_id}:6379",
        },
    )


def suspend_key_value(ctx: WorldContext, request: ApiRequest, key_value_id: str) -> ApiResult:
    return set_datastore_suspended(ctx, "key_value", key_value_id, True)


def resume_key_value(ctx: WorldContext, request: ApiRequest, key_value_id: str) -> ApiResult:
    return set_datastore_suspended(ctx, "key_value", key_value_id, False)


# --- routing --------------------------------------------------------------------------------

Handler = Callable[..., ApiResult]
_SEG = r"([^/]+)"

_ROUTE_SPECS: list[tuple[str, str, Handler]] = [
    ("GET", "/owners", list_owners),
    ("GET", f"/owners/{_SEG}", retrieve_owner),
    ("GET", "/users", get_user),
    ("GET", "/services", list_services),
    ("POST", "/services", create_service),
    ("GET", f"/services/{_SEG}", retrieve_service),
    ("PATCH", f"/services/{_SEG}", update_service),
    ("DELETE", f"/services/{_SEG}", delete_service),
    ("POST", f"/services/{_SEG}/suspend", suspend_service),
    ("POST", f"/services/{_SEG}/resume", resume_service),
    ("GET", f"/services/{_SEG}/env-vars", list_env_vars),
    ("PUT", f"/services/{_SEG}/env-vars", replace_env_vars),
    ("GET", f"/services/{_SEG}/env-vars/{_SEG}", retrieve_env_var),
    ("PUT", f"/services/{_SEG}/env-vars/{_SEG}", update_env_var),
    ("DELETE", f"/services/{_SEG}/env-vars/{_SEG}", delete_env_var),
    ("GET", f"/services/{_SEG}/secret-files", list_secret_files),
    ("PUT", f"/services/{_SEG}/secret-files", replace_secret_files),
    ("GET", f"/services/{_SEG}/secret-files/{_SEG}", retrieve_secret_file),
    ("PUT", f"/services/{_SEG}/secret-files/{_SEG}", update_secret_file),
    ("DELETE", f"/services/{_SEG}/secret-files/{_SEG}", delete_secret_file),
    ("GET", f"/services/{_SEG}/deploys", list_deploys),
    ("POST", f"/services/{_SEG}/deploys", trigger_deploy),
    ("GET", f"/services/{_SEG}/deploys/{_SEG}", retrieve_deploy),
    ("GET", "/postgres", list_postgres),
    ("POST", "/postgres", create_postgres),
    ("GET", f"/postgres/{_SEG}", retrieve_postgres),
    ("PATCH", f"/postgres/{_SEG}", update_postgres),
    ("DELETE", f"/postgres/{_SEG}", delete_postgres),
    ("GET", f"/postgres/{_SEG}/connection-info", postgres_connection_info),
    ("POST", f"/postgres/{_SEG}/suspend", suspend_postgres),
    ("POST", f"/postgres/{_SEG}/resume", resume_postgres),
    ("GET", "/key-value", list_key_value),
    ("POST", "/key-value", create_key_value),
    ("GET", f"/key-value/{_SEG}", retrieve_key_value),
    ("PATCH", f"/key-value/{_SEG}", update_key_value),
    ("DELETE", f"/key-value/{_SEG}", delete_key_value),
    ("GET", f"/key-value/{_SEG}/connection-info", key_value_connection_info),
    ("POST", f"/key-value/{_SEG}/suspend", suspend_key_value),
    ("POST", f"/key-value/{_SEG}/resume", resume_key_value),
]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, re.compile(f"^{pattern}$"), handler) for method, pattern, handler in _ROUTE_SPECS
]


def find_route(method: str, path: str) -> tuple[Handler, tuple[str, ...]] | None:
    from urllib.parse import unquote

    for route_method, pattern, handler in ROUTES:
        if route_method != method:
            continue
        match = pattern.match(path)
        if match:
            return handler, tuple(unquote(group) for group in match.groups())
    return None


def path_exists(path: str) -> bool:
    return any(pattern.match(path) for _, pattern, _ in ROUTES)


def dispatch(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    found = find_route(request.method, request.path)
    if found is None:
        if path_exists(request.path):
            raise ApiError(405, f"method {request.method} not allowed on {request.path}")
        raise ApiError(404, "not found")
    handler, params = found
    return handler(ctx, request, *params)


# --- state dump -----------------------------------------------------------------------------


def dump_world(ctx: WorldContext) -> dict[str, Any]:
    """Everything the world holds, as Render would show it now (plus secrets and log)."""
    services = [service for _, service in load_resources(ctx, "service")]
    env_vars: dict[str, list[dict[str, str]]] = {}
    secret_files: dict[str, list[dict[str, str]]] = {}
    deploys: dict[str, list[dict[str, Any]]] = {}
    for service in services:
        env_vars[service["id"]] = [
            {"key": key, "value": value} for _, key, value in load_items(ctx, service["id"], "env")
        ]
        secret_files[service["id"]] = [
            {"name": name, "content": value}
            for _, name, value in load_items(ctx, service["id"], "secret")
        ]
        deploys[service["id"]] = [
            deploy for _, deploy in reversed(service_deploys(ctx, service["id"]))
        ]
    faults = [
        {
            "id": int(row["seq"]),
            "source": row["source_key"].split(":", 1)[0],
            "rule": json.loads(row["rule"]),
            "matched": int(row["matched"]),
            "fired": int(row["fired"]),
        }
        for row in ctx.connection.execute("SELECT * FROM faults ORDER BY seq")
    ]
    requests = [
        {
            "seq": int(row["seq"]),
            "at": iso(row["at"]),
            "method": row["method"],
            "path": row["path"],
            "query": row["query"],
            "status": row["status"],
            "fault": row["fault"],
            "name": row["name"],
            "requestId": row["request_id"],
        }
        for row in ctx.connection.execute("SELECT * FROM requests ORDER BY seq")
    ]
    return {
        "now": iso(ctx.now),
        "settings": {
            "deploySeconds": ctx.settings.deploy_seconds,
            "datastoreSeconds": ctx.settings.datastore_seconds,
            "latencyMs": ctx.settings.latency_ms,
            "rateLimits": ctx.settings.rate_limits,
            "rateWindowScale": ctx.settings.rate_window_scale,
        },
        "owner": public(ctx.owner),
        "user": ctx.user,
        "services": services,
        "envVars": env_vars,
        "secretFiles": secret_files,
        "deploys": deploys,
        "postgres": [
            {**render_datastore(ctx, record), "password": record["_password"]}
            for _, record in load_resources(ctx, "postgres")
        ],
        "keyValue": [
            {**render_datastore(ctx, record), "password": record["_password"]}
            for _, record in load_resources(ctx, "key_value")
        ],
        "faults": faults,
        "requests": requests,
    }
