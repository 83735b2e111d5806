"""Datastores: Postgres and Key Value (create, list, retrieve, update, delete, connection info,
suspend, resume); their status is derived from the clock."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rcp.sandbox.api.enums import (
    DASHBOARD,
    KEY_VALUE_PLANS,
    KEY_VALUE_VERSION,
    MAXMEMORY_POLICIES,
    PERSISTENCE_MODES,
    POSTGRES_PLANS,
    POSTGRES_VERSIONS,
    REGIONS,
    SUSPENDED_VALUES,
)
from rcp.sandbox.api.isolation import check_environment_id
from rcp.sandbox.api.pagination import paginate
from rcp.sandbox.api.plumbing import (
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
    not_found,
    object_body,
    public,
    query_values,
    save_resource,
)
from rcp.sandbox.ids import new_id, random_password, random_suffix
from rcp.sandbox.profiles import real_seconds

# Fields whose change restarts a Postgres instance: recorded, a PATCH of plan, disk size and
# high availability answered ``creating`` again (postgres_cassette #32); one of the IP allow
# list, parameter overrides or read replicas stayed ``available`` (postgres_allowlist_cassette
# #15, postgres_parameter_overrides_cassette #17, #33).
POSTGRES_RESTARTING_FIELDS = ("plan", "diskSizeGB", "highAvailabilityEnabled")
# Key Value: a plan change moves the instance (by analogy with Postgres; the recorded Key
# Value runs never waited for ``available``, so they show no restart either way).
KEY_VALUE_RESTARTING_FIELDS = ("plan",)


def datastore_status(ctx: WorldContext, record: Mapping[str, Any]) -> str:
    """Render's status at ``ctx.now``: ``creating`` until ready (after the create, or after a
    restarting change), then ``available``; ``suspended`` while suspended. A
    ``datastore_status`` fault rule overrides it for the requests it matches (transient
    states such as ``unavailable`` or ``config_restart``)."""
    if ctx.datastore_status is not None:
        return ctx.datastore_status
    if record.get("suspended") == "suspended" or record.get("_suspended"):
        return "suspended"
    if ctx.now < float(record["_ready_at"]):
        return "creating"
    return "available"


def restart_if_changed(
    ctx: WorldContext, before: Mapping[str, Any], after: dict[str, Any], fields: tuple[str, ...]
) -> None:
    if any(before.get(name) != after.get(name) for name in fields):
        # Kept for the logs (rcp.sandbox.api.logs): when it first became ready, and each
        # restart with when it was ready again.
        after.setdefault("_first_ready_at", after["_ready_at"])
        kind = "postgres" if str(after["id"]).startswith("dpg-") else "key_value"
        after["_ready_at"] = ctx.now + real_seconds(ctx.settings, kind, after["id"])
        after["_restarts"] = [*after.get("_restarts", []), [ctx.now, after["_ready_at"]]]


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


def check_owner_for_datastore(ctx: WorldContext, body: Mapping[str, Any]) -> dict[str, Any]:
    """The workspace a datastore create names (an unknown one is a 404, as on Render)."""
    owner_id = check_string(body.get("ownerId"), "ownerId", required=True)
    assert owner_id is not None
    owner = ctx.find_owner(owner_id)
    if owner is None:
        raise not_found(owner_id)
    return owner


def database_identifier(text: str) -> str:
    ident = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    return ident or "db"


def default_disk_size(plan: str) -> int:
    return 15 if plan.startswith("basic_") else 100


def create_postgres(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    body = object_body(request)
    name = check_string(body.get("name"), "name", required=True)
    assert name is not None
    owner = check_owner_for_datastore(ctx, body)
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
    environment_id = check_environment_id(ctx, body)
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
            "owner": public(owner),
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
            "_ready_at": ctx.now + real_seconds(ctx.settings, "postgres", f"{base_id}-a"),
            "_password": random_password(),
        }
    )
    insert_resource(ctx, "postgres", record)
    return ApiResult(201, render_datastore(ctx, record, just_created=True))


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


def render_datastore(
    ctx: WorldContext, record: Mapping[str, Any], *, just_created: bool = False
) -> dict[str, Any]:
    data = public(record)
    data["status"] = datastore_status(ctx, record)
    if just_created and ctx.datastore_status is None:
        # As recorded: the create answer says ``unknown`` (keyvalue_cassette #1,
        # postgres_cassette #4); the first GET right after it says ``creating``.
        data["status"] = "unknown"
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
    before = dict(record)
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
    restart_if_changed(ctx, before, record, POSTGRES_RESTARTING_FIELDS)
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
    # The shape of every recorded GET /postgres/{id}/connection-info answer (postgres resource
    # and datasource cassettes): the internal URL's host is the bare database id and it carries
    # no port ("postgresql://db_user:…@dpg-…-a/db_name_ehyv"); the external one has
    # "<id>.<region>-postgres.render.com:5432"; password and psqlCommand beside them.
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
    if suspended:
        record["_log_events"] = [*record.get("_log_events", []), [ctx.now, "suspend"]]
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
    owner = check_owner_for_datastore(ctx, body)
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
    # As recorded: a free instance has no persistence (keyvalue_cassette #81: "off").
    persistence = (
        ("off" if plan == "free" else "journal_snapshot")
        if persistence_raw is None
        else check_enum(persistence_raw, PERSISTENCE_MODES, "persistenceMode")
    )
    environment_id = check_environment_id(ctx, body)
    now = iso(ctx.now)
    record: dict[str, Any] = {"createdAt": now}
    if environment_id:
        record["environmentId"] = environment_id
    key_value_id = new_id("red-")
    record.update(
        {
            "id": key_value_id,
            "ipAllowList": ip_allow_list(body.get("ipAllowList")),
            "name": name,
            "options": {"maxmemoryPolicy": policy, "persistenceMode": persistence},
            "owner": public(owner),
            "plan": plan,
            "region": region,
            "status": "creating",
            "updatedAt": now,
            "version": KEY_VALUE_VERSION,
            "_created": ctx.now,
            "_ready_at": ctx.now + real_seconds(ctx.settings, "key_value", key_value_id),
            "_password": random_password(),
        }
    )
    insert_resource(ctx, "key_value", record)
    return ApiResult(201, render_datastore(ctx, record, just_created=True))


def list_key_value(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    return ApiResult(200, list_datastores(ctx, request, "key_value", "keyValue"))


def retrieve_key_value(ctx: WorldContext, request: ApiRequest, key_value_id: str) -> ApiResult:
    _, record = load_resource(ctx, "key_value", key_value_id)
    return ApiResult(200, render_datastore(ctx, record))


def update_key_value(ctx: WorldContext, request: ApiRequest, key_value_id: str) -> ApiResult:
    _, record = load_resource(ctx, "key_value", key_value_id)
    before = dict(record)
    body = object_body(request)
    if body.get("name") is not None:
        record["name"] = check_string(body["name"], "name", required=True)
    if body.get("plan") is not None:
        record["plan"] = check_enum(body["plan"], KEY_VALUE_PLANS, "plan")
        if (before["plan"] == "free") != (record["plan"] == "free"):
            # Persistence follows the plan unless asked for: a free instance has none, an
            # upgraded one gets the paid default (keyvalue_cassette #81 → #91).
            record["options"] = {
                **record["options"],
                "persistenceMode": "off" if record["plan"] == "free" else "journal_snapshot",
            }
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
    restart_if_changed(ctx, before, record, KEY_VALUE_RESTARTING_FIELDS)
    record["updatedAt"] = iso(ctx.now)
    save_resource(ctx, record)
    return ApiResult(200, render_datastore(ctx, record))


def delete_key_value(ctx: WorldContext, request: ApiRequest, key_value_id: str) -> ApiResult:
    return delete_datastore(ctx, "key_value", key_value_id)


def key_value_connection_info(
    ctx: WorldContext, request: ApiRequest, key_value_id: str
) -> ApiResult:
    # The shape of every recorded GET /key-value/{id}/connection-info answer (keyvalue resource
    # and datasource cassettes): the internal URL is "redis://<id>:6379" (no credentials), the
    # external one "rediss://<id>:<password>@<region>-keyvalue.….render.com:6377".
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
