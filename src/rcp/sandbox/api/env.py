"""Env vars and secret files of a service (one table, ``kind`` ``env`` or ``secret``)."""

from __future__ import annotations

from typing import Any

from rcp.sandbox.api.pagination import encode_cursor, paginate
from rcp.sandbox.api.plumbing import (
    ApiRequest,
    ApiResult,
    WorldContext,
    bad_request,
    check_string,
    json_body,
    load_resource,
    not_found,
    object_body,
)
from rcp.sandbox.ids import generated_value


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
    """Replace the whole set: every item gets a new row (hence a new cursor) in the order
    given, also a key that stays. As recorded: after ``PUT [foo]`` then ``PUT [baz, foo]``
    both cursors are new, and the list shows the last given first (env_var_cassette #37–#82).
    """
    ctx.connection.execute(
        "DELETE FROM service_items WHERE service_id = ? AND kind = ?", (service_id, kind)
    )
    for name, value in items:
        upsert_item(ctx, service_id, kind, name, value)


def load_items(ctx: WorldContext, service_id: str, kind: str) -> list[tuple[int, str, str]]:
    rows = ctx.connection.execute(
        "SELECT seq, name, value FROM service_items WHERE service_id = ? AND kind = ? ORDER BY seq",
        (service_id, kind),
    ).fetchall()
    return [(int(row["seq"]), row["name"], row["value"]) for row in rows]


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
