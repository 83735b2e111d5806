"""Plumbing shared by every endpoint: errors, request/result, the world context, body and
query parsing, validation helpers and the stored resources."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rcp.sandbox.settings import SandboxSettings
from rcp.sandbox.store import read_meta


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
    fail_deploys: str | None = None
    """A failure status every deploy started by this request ends in (fault ``fail_deploy``)."""
    datastore_status: str | None = None
    """A status every datastore in this request's answer reports (fault ``datastore_status``)."""
    deploy_delay: float = 0.0
    """Seconds after this request a deploy it starts appears (fault ``defer_deploy``)."""
    created_deploy_ids: list[str] = field(default_factory=list)

    @property
    def owners(self) -> list[dict[str, Any]]:
        """Every workspace of the world, the first one first."""
        owners: list[dict[str, Any]] = read_meta(self.connection, "owners")
        return owners

    @property
    def owner(self) -> dict[str, Any]:
        """The first workspace (the one a user id stands for in ``GET /owners/{id}``)."""
        return self.owners[0]

    def find_owner(self, owner_id: str) -> dict[str, Any] | None:
        return next((owner for owner in self.owners if owner["id"] == owner_id), None)

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
