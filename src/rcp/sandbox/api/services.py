"""Services: create (with its first deploy), list, retrieve, update, delete, suspend, resume."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rcp.sandbox.api.deploys import start_deploy, suspend_deploys
from rcp.sandbox.api.enums import (
    DASHBOARD,
    FREE_PLAN_MESSAGE,
    PAID_PLANS,
    REGIONS,
    RUNTIMES,
    SERVICE_TYPES,
    SUSPENDED_VALUES,
    WEB_PLANS,
)
from rcp.sandbox.api.env import env_var_inputs, replace_items, secret_file_inputs
from rcp.sandbox.api.isolation import check_environment_id, forget_service
from rcp.sandbox.api.pagination import paginate
from rcp.sandbox.api.plumbing import (
    ApiError,
    ApiRequest,
    ApiResult,
    WorldContext,
    bad_request,
    check_enum,
    check_enum_filter,
    check_string,
    delete_resource,
    insert_resource,
    iso,
    load_resource,
    load_resources,
    object_body,
    public,
    query_values,
    save_resource,
)
from rcp.sandbox.ids import new_id, random_suffix


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


def pull_request_previews(
    raw: Mapping[str, Any], previews: Mapping[str, Any], *, creating: bool = False
) -> str:
    """The deprecated ``pullRequestPreviewsEnabled``. As recorded: a create derives it from
    ``previews.generation`` whatever it is sent (background_worker_cassette #4: automatic +
    "no" → "yes"); a PATCH keeps it as sent (#78: manual + "no" → "no")."""
    given = raw.get("pullRequestPreviewsEnabled")
    if given is not None and not creating:
        return check_enum(given, ("yes", "no"), "serviceDetails.pullRequestPreviewsEnabled")
    return "no" if previews["generation"] == "off" else "yes"


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
    # As in every recorded service answer: a web service's (and static site's) url is its public
    # onrender.com URL; a private service's is its private-network address "<slug>:<port>"
    # ("some-name:10000" in the private service cassettes); workers and cron jobs have none.
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
    if owner_id is None or ctx.find_owner(owner_id) is None:
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
    environment_id = check_environment_id(ctx, body)
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
    return ApiResult(201, {"deployId": deploy["id"], "service": public(service)})


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
            "pullRequestPreviewsEnabled": pull_request_previews(raw, previews, creating=True),
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
        # Every recorded web and private service answer (create and retrieve) has this: Render's
        # default PORT 10000. The slug is the service's private-network hostname.
        details["openPorts"] = [{"port": 10000, "protocol": "TCP"}]
    details["plan"] = plan
    previews = previews_of(raw)
    details["previews"] = previews
    details["pullRequestPreviewsEnabled"] = pull_request_previews(raw, previews, creating=True)
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
        items.append((seq, public(service)))
    return ApiResult(200, paginate(request, items, "service"))


def retrieve_service(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    _, service = load_resource(ctx, "service", service_id)
    return ApiResult(200, public(service))


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
        # As recorded: autoDeployTrigger off answers autoDeploy no (privateservice
        # git_cassette #36); the older field follows the newer one.
        service["autoDeploy"] = "no" if service["autoDeployTrigger"] == "off" else "yes"
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
    return ApiResult(200, public(service))


def update_service_details(service_type: str, details: dict[str, Any], raw: dict[str, Any]) -> None:
    if service_type == "static_site":
        if raw.get("buildCommand") is not None:
            details["buildCommand"] = check_string(
                raw["buildCommand"], "serviceDetails.buildCommand"
            )
        if raw.get("publishPath") is not None:
            details["publishPath"] = check_string(raw["publishPath"], "serviceDetails.publishPath")
        if raw.get("previews") is not None or raw.get("pullRequestPreviewsEnabled") is not None:
            details["previews"] = previews_of(raw, details.get("previews"))
            details["pullRequestPreviewsEnabled"] = pull_request_previews(raw, details["previews"])
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
        # As recorded: an empty command clears one that was set to "" (web_service_cassette
        # #44) and adds nothing where none was set (privateservice git_cassette #36).
        if pre_deploy or "preDeployCommand" in current:
            current["preDeployCommand"] = pre_deploy
    if service_type == "cron_job":
        if raw.get("schedule") is not None:
            details["schedule"] = check_string(
                raw["schedule"], "serviceDetails.schedule", required=True
            )
        return
    if raw.get("previews") is not None or raw.get("pullRequestPreviewsEnabled") is not None:
        details["previews"] = previews_of(raw, details.get("previews"))
        details["pullRequestPreviewsEnabled"] = pull_request_previews(raw, details["previews"])
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
    forget_service(ctx, service_id)
    ctx.connection.execute("DELETE FROM service_items WHERE service_id = ?", (service_id,))
    ctx.connection.execute("DELETE FROM deploys WHERE service_id = ?", (service_id,))
    return ApiResult(204, empty=True)


def suspend_service(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    _, service = load_resource(ctx, "service", service_id)
    if service["suspended"] != "suspended":
        suspend_deploys(ctx, service_id)
        # For the logs (rcp.sandbox.api.logs): the instances stopped then.
        service["_log_events"] = [*service.get("_log_events", []), [ctx.now, "suspend"]]
    service["suspended"] = "suspended"
    if "user" not in service["suspenders"]:
        service["suspenders"] = [*service["suspenders"], "user"]
    service["updatedAt"] = iso(ctx.now)
    save_resource(ctx, service)
    return ApiResult(202, empty=True)


def resume_service(ctx: WorldContext, request: ApiRequest, service_id: str) -> ApiResult:
    _, service = load_resource(ctx, "service", service_id)
    was_suspended = service["suspended"] == "suspended"
    service["suspended"] = "not_suspended"
    service["suspenders"] = []
    service["updatedAt"] = iso(ctx.now)
    save_resource(ctx, service)
    if was_suspended:
        # A resumed service comes back through a new deploy (the spec's deploy trigger
        # ``service_resumed``; issue 10): its previous live deploy stays deactivated.
        start_deploy(ctx, service, trigger="service_resumed")
    return ApiResult(202, empty=True)
