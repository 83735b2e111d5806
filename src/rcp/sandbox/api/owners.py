"""Owners (workspaces) and the user behind the API key."""

from __future__ import annotations

from typing import Any

from rcp.sandbox.api.pagination import paginate
from rcp.sandbox.api.plumbing import (
    ApiRequest,
    ApiResult,
    WorldContext,
    not_found,
    public,
    query_values,
)


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
