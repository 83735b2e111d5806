"""Projects, environments and environment groups (``/projects``, ``/environments``,
``/env-groups``).

Shapes follow the spec (``project``, ``environment``, ``envGroup``) and the recordings
(``project/resource``, ``envgroup/resource`` and every cassette that puts a resource in an
environment):

- an environment's ``serviceIds``/``databasesIds``/``redisIds``/``envGroupIds`` are ``null``
  when empty (recorded), newest first (recorded ``databasesIds: [dpg-…-b, dpg-…-a]``); they
  are derived from each resource's ``environmentId``, so a create given ``environmentId`` and
  ``POST /environments/{id}/resources`` both show up in the environment and in the resource;
- ``ipAllowList`` is shown only once set (recorded);
- ``POST /environments/{id}/resources`` answers 201 with the environment (recorded; the spec
  says 200);
- ``DELETE /environments/{id}/resources?resourceIds=…`` answers 204 and takes the resources out
  of whatever environment holds them, even when the path names a resource and not an
  environment (recorded: the Terraform provider sends ``/environments/srv-…/resources``);
- deleting an environment that still holds resources answers 409 (Render's behaviour as issue
  14 reports it; the spec lists no 409, Render's error shape is used), and a project's delete
  deletes its (empty) environments;
- an env group's variables and secret files are stored like a service's (``service_items``
  keyed by the group id); ``serviceLinks`` list the linked services (spec ``envGroupLink``).
  A deploy started after a link sees the group's variables (``deploys.start_deploy`` snapshots
  ``effective_env``): Render's documented precedence, a service's own variable wins.
"""

from __future__ import annotations

from typing import Any

from rcp.sandbox.api.env import (
    env_var_inputs,
    find_item,
    load_items,
    replace_items,
    secret_file_inputs,
    upsert_item,
)
from rcp.sandbox.api.pagination import paginate
from rcp.sandbox.api.plumbing import (
    ApiError,
    ApiRequest,
    ApiResult,
    WorldContext,
    bad_request,
    check_enum,
    check_string,
    delete_resource,
    insert_resource,
    iso,
    load_resource,
    load_resources,
    not_found,
    object_body,
    query_values,
    save_resource,
)
from rcp.sandbox.ids import generated_value, new_id

PROTECTED_STATUSES = ("unprotected", "protected")
# Resource kinds an environment holds, by the environment's field (spec ``environment``).
MEMBER_FIELDS = (
    ("service", "serviceIds"),
    ("postgres", "databasesIds"),
    ("key_value", "redisIds"),
    ("env_group", "envGroupIds"),
)
MEMBER_KINDS = tuple(kind for kind, _ in MEMBER_FIELDS)
# A link's ``type`` is the spec's ``serviceTypeShort``.
SHORT_TYPES = {
    "static_site": "static",
    "web_service": "web",
    "private_service": "pserv",
    "background_worker": "worker",
    "cron_job": "cron",
}


def _owner_summary(ctx: WorldContext, owner_id: str) -> dict[str, Any]:
    owner = ctx.find_owner(owner_id) or ctx.owner
    return {
        "id": owner["id"],
        "name": owner["name"],
        "email": owner.get("email", ""),
        "type": owner.get("type", "team"),
    }


def _check_owner(ctx: WorldContext, body: dict[str, Any]) -> str:
    owner_id = check_string(body.get("ownerId"), "ownerId", required=True)
    assert owner_id is not None
    if ctx.find_owner(owner_id) is None:
        raise bad_request(f"invalid ownerId {owner_id!r}: no such workspace")
    return owner_id


def check_environment_id(ctx: WorldContext, body: dict[str, Any]) -> str | None:
    """``environmentId`` of a create (every create accepts it, spec): it must exist."""
    environment_id = check_string(body.get("environmentId"), "environmentId") or None
    if environment_id is not None:
        row = ctx.connection.execute(
            "SELECT 1 FROM resources WHERE id = ? AND kind = 'environment'", (environment_id,)
        ).fetchone()
        if row is None:
            raise bad_request(f"invalid environmentId {environment_id!r}: no such environment")
    return environment_id


def _environment_settings(raw: dict[str, Any], record: dict[str, Any], where: str) -> None:
    if "protectedStatus" in raw and raw["protectedStatus"] is not None:
        record["protectedStatus"] = check_enum(
            raw["protectedStatus"], PROTECTED_STATUSES, f"{where}protectedStatus"
        )
    if "networkIsolationEnabled" in raw and raw["networkIsolationEnabled"] is not None:
        if not isinstance(raw["networkIsolationEnabled"], bool):
            raise bad_request(f"{where}networkIsolationEnabled must be a boolean")
        record["networkIsolationEnabled"] = raw["networkIsolationEnabled"]
    if "ipAllowList" in raw and raw["ipAllowList"] is not None:
        entries = raw["ipAllowList"]
        if not isinstance(entries, list) or not all(
            isinstance(entry, dict) and isinstance(entry.get("cidrBlock"), str) for entry in entries
        ):
            raise bad_request(f"{where}ipAllowList must be a list of {{cidrBlock, description}}")
        record["ipAllowList"] = [
            {"cidrBlock": entry["cidrBlock"], "description": str(entry.get("description", ""))}
            for entry in entries
        ]


def _new_environment(
    ctx: WorldContext, project_id: str, raw: dict[str, Any], where: str
) -> dict[str, Any]:
    name = check_string(raw.get("name"), f"{where}name", required=True)
    record: dict[str, Any] = {
        "id": new_id("evm-"),
        "name": name,
        "projectId": project_id,
        # Render's defaults when a create leaves them out (recorded creates always set them;
        # the dashboard's defaults are unprotected, isolation off).
        "protectedStatus": "unprotected",
        "networkIsolationEnabled": False,
        "_created": ctx.now,
    }
    _environment_settings(raw, record, where)
    return record


# --- projects -------------------------------------------------------------------------------


def _environments_of(ctx: WorldContext, project_id: str) -> list[dict[str, Any]]:
    return [env for _, env in load_resources(ctx, "environment") if env["projectId"] == project_id]


def render_project(ctx: WorldContext, project: dict[str, Any]) -> dict[str, Any]:
    return {
        "createdAt": iso(project["_created"]),
        "environmentIds": [env["id"] for env in _environments_of(ctx, project["id"])],
        "id": project["id"],
        "name": project["name"],
        "owner": _owner_summary(ctx, project["_ownerId"]),
        "updatedAt": iso(project["_updated"]),
    }


def create_project(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    body = object_body(request)
    name = check_string(body.get("name"), "name", required=True)
    owner_id = _check_owner(ctx, body)
    raw_environments = body.get("environments")
    if not isinstance(raw_environments, list) or not raw_environments:
        raise bad_request("environments is required: at least one environment")
    project_id = new_id("prj-")
    environments = []
    for index, raw in enumerate(raw_environments):
        if not isinstance(raw, dict):
            raise bad_request(f"environments[{index}] must be an object")
        environments.append(_new_environment(ctx, project_id, raw, f"environments[{index}]."))
    project = {
        "id": project_id,
        "name": name,
        "_ownerId": owner_id,
        "_created": ctx.now,
        "_updated": ctx.now,
    }
    insert_resource(ctx, "project", project)
    for environment in environments:
        insert_resource(ctx, "environment", environment)
    return ApiResult(201, render_project(ctx, project))


def list_projects(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    names = query_values(request, "name")
    owners = query_values(request, "ownerId")
    items = [
        (seq, render_project(ctx, project))
        for seq, project in load_resources(ctx, "project")
        if (not names or project["name"] in names) and (not owners or project["_ownerId"] in owners)
    ]
    return ApiResult(200, paginate(request, items, "project"))


def retrieve_project(ctx: WorldContext, request: ApiRequest, project_id: str) -> ApiResult:
    _, project = load_resource(ctx, "project", project_id)
    return ApiResult(200, render_project(ctx, project))


def update_project(ctx: WorldContext, request: ApiRequest, project_id: str) -> ApiResult:
    _, project = load_resource(ctx, "project", project_id)
    body = object_body(request)
    name = check_string(body.get("name"), "name")
    if name is not None:
        project["name"] = name
    project["_updated"] = ctx.now
    save_resource(ctx, project)
    return ApiResult(200, render_project(ctx, project))


def delete_project(ctx: WorldContext, request: ApiRequest, project_id: str) -> ApiResult:
    load_resource(ctx, "project", project_id)
    environments = _environments_of(ctx, project_id)
    for environment in environments:
        _refuse_non_empty(ctx, environment)
    for environment in environments:
        delete_resource(ctx, environment["id"])
    delete_resource(ctx, project_id)
    return ApiResult(204, empty=True)


# --- environments ---------------------------------------------------------------------------


def _members(ctx: WorldContext, environment_id: str) -> dict[str, list[str]]:
    members: dict[str, list[str]] = {}
    for kind, field_name in MEMBER_FIELDS:
        found = [
            (seq, record["id"])
            for seq, record in load_resources(ctx, kind)
            if record.get("environmentId") == environment_id
        ]
        members[field_name] = [resource_id for _, resource_id in sorted(found, reverse=True)]
    return members


def render_environment(ctx: WorldContext, environment: dict[str, Any]) -> dict[str, Any]:
    members = _members(ctx, environment["id"])
    shown: dict[str, Any] = {
        "databasesIds": members["databasesIds"] or None,
        "envGroupIds": members["envGroupIds"] or None,
        "id": environment["id"],
        "name": environment["name"],
        "networkIsolationEnabled": environment["networkIsolationEnabled"],
        "projectId": environment["projectId"],
        "protectedStatus": environment["protectedStatus"],
        "redisIds": members["redisIds"] or None,
        "serviceIds": members["serviceIds"] or None,
    }
    if "ipAllowList" in environment:
        shown["ipAllowList"] = environment["ipAllowList"]
    return dict(sorted(shown.items()))


def create_environment(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    body = object_body(request)
    project_id = check_string(body.get("projectId"), "projectId", required=True)
    assert project_id is not None
    load_resource(ctx, "project", project_id)
    environment = _new_environment(ctx, project_id, body, "")
    insert_resource(ctx, "environment", environment)
    return ApiResult(201, render_environment(ctx, environment))


def list_environments(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    projects = query_values(request, "projectId")
    if not projects:
        raise bad_request("projectId is required")
    names = query_values(request, "name")
    ids = query_values(request, "environmentId")
    items = [
        (seq, render_environment(ctx, environment))
        for seq, environment in load_resources(ctx, "environment")
        if environment["projectId"] in projects
        and (not names or environment["name"] in names)
        and (not ids or environment["id"] in ids)
    ]
    return ApiResult(200, paginate(request, items, "environment"))


def retrieve_environment(ctx: WorldContext, request: ApiRequest, environment_id: str) -> ApiResult:
    _, environment = load_resource(ctx, "environment", environment_id)
    return ApiResult(200, render_environment(ctx, environment))


def update_environment(ctx: WorldContext, request: ApiRequest, environment_id: str) -> ApiResult:
    _, environment = load_resource(ctx, "environment", environment_id)
    body = object_body(request)
    name = check_string(body.get("name"), "name")
    if name is not None:
        environment["name"] = name
    _environment_settings(body, environment, "")
    save_resource(ctx, environment)
    return ApiResult(200, render_environment(ctx, environment))


def _refuse_non_empty(ctx: WorldContext, environment: dict[str, Any]) -> None:
    members = _members(ctx, environment["id"])
    held = sum(len(ids) for ids in members.values())
    if held:
        raise ApiError(
            409,
            f"environment {environment['id']} still holds {held} resource(s): "
            "move or delete them first",
        )


def delete_environment(ctx: WorldContext, request: ApiRequest, environment_id: str) -> ApiResult:
    _, environment = load_resource(ctx, "environment", environment_id)
    _refuse_non_empty(ctx, environment)
    delete_resource(ctx, environment_id)
    return ApiResult(204, empty=True)


def _member_record(ctx: WorldContext, resource_id: str) -> dict[str, Any]:
    for kind in MEMBER_KINDS:
        row = ctx.connection.execute(
            "SELECT 1 FROM resources WHERE id = ? AND kind = ?", (resource_id, kind)
        ).fetchone()
        if row is not None:
            return load_resource(ctx, kind, resource_id)[1]
    raise not_found(resource_id)


def add_resources(ctx: WorldContext, request: ApiRequest, environment_id: str) -> ApiResult:
    _, environment = load_resource(ctx, "environment", environment_id)
    body = object_body(request)
    resource_ids = body.get("resourceIds")
    if not isinstance(resource_ids, list) or not all(isinstance(i, str) for i in resource_ids):
        raise bad_request("resourceIds must be a list of resource ids")
    records = [_member_record(ctx, resource_id) for resource_id in resource_ids]
    for record in records:
        record["environmentId"] = environment_id
        # Render sorts a service's keys alphabetically (see services.create_service).
        save_resource(ctx, dict(sorted(record.items())))
    return ApiResult(201, render_environment(ctx, environment))


def remove_resources(ctx: WorldContext, request: ApiRequest, environment_id: str) -> ApiResult:
    resource_ids = query_values(request, "resourceIds")
    if not resource_ids:
        raise bad_request("resourceIds is required")
    for resource_id in resource_ids:
        record = _member_record(ctx, resource_id)
        if record.get("environmentId") is not None:
            # Render leaves an absent optional field out (no null), as on create.
            record.pop("environmentId")
            save_resource(ctx, record)
    return ApiResult(204, empty=True)


# --- environment groups ---------------------------------------------------------------------


def _links(ctx: WorldContext, group: dict[str, Any]) -> list[dict[str, Any]]:
    links = []
    for service_id in group["_links"]:
        row = ctx.connection.execute(
            "SELECT data FROM resources WHERE id = ? AND kind = 'service'", (service_id,)
        ).fetchone()
        if row is not None:
            service = load_resource(ctx, "service", service_id)[1]
            links.append(
                {"id": service_id, "name": service["name"], "type": SHORT_TYPES[service["type"]]}
            )
    return links


def render_group_meta(ctx: WorldContext, group: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "createdAt": iso(group["_created"]),
        "id": group["id"],
        "name": group["name"],
        "ownerId": group["ownerId"],
        "serviceLinks": _links(ctx, group),
        "updatedAt": iso(group["_updated"]),
    }
    if group.get("environmentId"):
        shown["environmentId"] = group["environmentId"]
    return shown


def render_group(ctx: WorldContext, group: dict[str, Any]) -> dict[str, Any]:
    # Newest first, as recorded (a PUT of ``key1`` puts it at the head of ``envVars``).
    env_vars = [
        {"key": key, "value": value}
        for _, key, value in reversed(load_items(ctx, group["id"], "env"))
    ]
    files = [
        {"content": value, "name": name}
        for _, name, value in reversed(load_items(ctx, group["id"], "secret"))
    ]
    return {**render_group_meta(ctx, group), "envVars": env_vars, "secretFiles": files}


def create_env_group(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    body = object_body(request)
    name = check_string(body.get("name"), "name", required=True)
    owner_id = _check_owner(ctx, body)
    if body.get("envVars") is None:
        raise bad_request("envVars is required")
    env_vars = env_var_inputs(body.get("envVars"), "envVars")
    files = secret_file_inputs(body.get("secretFiles") or [], "secretFiles")
    environment_id = check_environment_id(ctx, body)
    service_ids = body.get("serviceIds") or []
    if not isinstance(service_ids, list) or not all(isinstance(i, str) for i in service_ids):
        raise bad_request("serviceIds must be a list of service ids")
    for service_id in service_ids:
        load_resource(ctx, "service", service_id)
    group: dict[str, Any] = {
        "id": new_id("evg-"),
        "name": name,
        "ownerId": owner_id,
        "environmentId": environment_id,
        "_links": list(dict.fromkeys(service_ids)),
        "_created": ctx.now,
        "_updated": ctx.now,
    }
    insert_resource(ctx, "env_group", group)
    replace_items(ctx, group["id"], "env", env_vars)
    replace_items(ctx, group["id"], "secret", files)
    return ApiResult(201, render_group(ctx, group))


def list_env_groups(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    names = query_values(request, "name")
    owners = query_values(request, "ownerId")
    environments = query_values(request, "environmentId")
    groups = [
        render_group_meta(ctx, group)
        for _, group in load_resources(ctx, "env_group")
        if (not names or group["name"] in names)
        and (not owners or group["ownerId"] in owners)
        and (not environments or group.get("environmentId") in environments)
    ]
    # The spec's answer is a plain array of ``envGroupMeta`` (no cursor wrapper).
    return ApiResult(200, groups)


def retrieve_env_group(ctx: WorldContext, request: ApiRequest, group_id: str) -> ApiResult:
    _, group = load_resource(ctx, "env_group", group_id)
    return ApiResult(200, render_group(ctx, group))


def update_env_group(ctx: WorldContext, request: ApiRequest, group_id: str) -> ApiResult:
    _, group = load_resource(ctx, "env_group", group_id)
    body = object_body(request)
    group["name"] = check_string(body.get("name"), "name", required=True)
    group["_updated"] = ctx.now
    save_resource(ctx, group)
    return ApiResult(200, render_group(ctx, group))


def delete_env_group(ctx: WorldContext, request: ApiRequest, group_id: str) -> ApiResult:
    load_resource(ctx, "env_group", group_id)
    delete_resource(ctx, group_id)
    ctx.connection.execute("DELETE FROM service_items WHERE service_id = ?", (group_id,))
    return ApiResult(204, empty=True)


def link_service(
    ctx: WorldContext, request: ApiRequest, group_id: str, service_id: str
) -> ApiResult:
    """Link one service; every other link stays (spec: per-service link endpoint)."""
    _, group = load_resource(ctx, "env_group", group_id)
    load_resource(ctx, "service", service_id)
    if service_id not in group["_links"]:
        group["_links"].append(service_id)
        group["_updated"] = ctx.now
        save_resource(ctx, group)
    return ApiResult(200, render_group(ctx, group))


def unlink_service(
    ctx: WorldContext, request: ApiRequest, group_id: str, service_id: str
) -> ApiResult:
    _, group = load_resource(ctx, "env_group", group_id)
    if service_id not in group["_links"]:
        raise not_found(service_id)
    group["_links"].remove(service_id)
    group["_updated"] = ctx.now
    save_resource(ctx, group)
    return ApiResult(204, empty=True)


def retrieve_group_env_var(
    ctx: WorldContext, request: ApiRequest, group_id: str, key: str
) -> ApiResult:
    load_resource(ctx, "env_group", group_id)
    return ApiResult(200, {"key": key, "value": find_item(ctx, group_id, "env", key)})


def update_group_env_var(
    ctx: WorldContext, request: ApiRequest, group_id: str, key: str
) -> ApiResult:
    _, group = load_resource(ctx, "env_group", group_id)
    body = object_body(request)
    if body.get("generateValue") is True:
        value = generated_value()
    else:
        checked = check_string(body.get("value"), "value", required=True)
        assert checked is not None
        value = checked
    upsert_item(ctx, group_id, "env", key, value)
    group["_updated"] = ctx.now
    save_resource(ctx, group)
    # Recorded: the answer is the whole group.
    return ApiResult(200, render_group(ctx, group))


def delete_group_env_var(
    ctx: WorldContext, request: ApiRequest, group_id: str, key: str
) -> ApiResult:
    load_resource(ctx, "env_group", group_id)
    _delete_item(ctx, group_id, "env", key)
    return ApiResult(204, empty=True)


def retrieve_group_secret_file(
    ctx: WorldContext, request: ApiRequest, group_id: str, name: str
) -> ApiResult:
    load_resource(ctx, "env_group", group_id)
    return ApiResult(200, {"name": name, "content": find_item(ctx, group_id, "secret", name)})


def update_group_secret_file(
    ctx: WorldContext, request: ApiRequest, group_id: str, name: str
) -> ApiResult:
    _, group = load_resource(ctx, "env_group", group_id)
    body = object_body(request)
    content = check_string(body.get("content"), "content", required=True)
    assert content is not None
    upsert_item(ctx, group_id, "secret", name, content)
    group["_updated"] = ctx.now
    save_resource(ctx, group)
    return ApiResult(200, render_group(ctx, group))


def delete_group_secret_file(
    ctx: WorldContext, request: ApiRequest, group_id: str, name: str
) -> ApiResult:
    load_resource(ctx, "env_group", group_id)
    _delete_item(ctx, group_id, "secret", name)
    return ApiResult(204, empty=True)


def _delete_item(ctx: WorldContext, group_id: str, kind: str, name: str) -> None:
    find_item(ctx, group_id, kind, name)
    ctx.connection.execute(
        "DELETE FROM service_items WHERE service_id = ? AND kind = ? AND name = ?",
        (group_id, kind, name),
    )


def effective_env(ctx: WorldContext, service_id: str) -> dict[str, str]:
    """What a deploy of the service starts with: its linked groups' variables, then its own
    (a service's own variable wins over a group's, Render's documented precedence)."""
    env: dict[str, str] = {}
    for _, group in load_resources(ctx, "env_group"):
        if service_id in group["_links"]:
            env.update({key: value for _, key, value in load_items(ctx, group["id"], "env")})
    env.update({key: value for _, key, value in load_items(ctx, service_id, "env")})
    return env


def forget_service(ctx: WorldContext, service_id: str) -> None:
    """A deleted service leaves every group's links."""
    for _, group in load_resources(ctx, "env_group"):
        if service_id in group["_links"]:
            group["_links"].remove(service_id)
            save_resource(ctx, group)
