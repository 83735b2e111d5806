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
    """Every workspace the key sees (``name``/``email`` filters), the first one first."""
    owners = ctx.owners
    names = query_values(request, "name")
    emails = query_values(request, "email")
    items: list[tuple[int, Any]] = []
    for index, owner in enumerate(owners):
        if (not names or owner["name"] in names) and (not emails or owner["email"] in emails):
            # Pages list descending positions: number them so the first workspace comes first.
            items.append((len(owners) - index, public(owner)))
    return ApiResult(200, paginate(request, items, "owner"))


def retrieve_owner(ctx: WorldContext, request: ApiRequest, owner_id: str) -> ApiResult:
    # Render also accepts a user id here and answers with that user's workspace.
    owner = ctx.owner if owner_id == ctx.user["id"] else ctx.find_owner(owner_id)
    if owner is None:
        raise not_found(owner_id)
    return ApiResult(200, public(owner))


def get_user(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    user = ctx.user
    return ApiResult(200, {"email": user["email"], "name": user["name"]})
