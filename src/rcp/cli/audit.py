"""`rcp audit`: the append-only log of every mutating command, newest first."""

from __future__ import annotations

from typing import Annotated

import typer

from rcp.cli._common import app_context, handle_errors


@handle_errors
def audit(
    ctx: typer.Context,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Only entries about this tenant slug.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only entries since this long ago (7d, 12h) or this date."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most this many (newest first).")
    ] = None,
) -> None:
    """Every mutating command: when, actor, command (secrets redacted), tenant, outcome,
    exit code and duration. Newest first."""
    from rcp.core.models import utcnow
    from rcp.output import admin as human

    app_ctx = app_context(ctx)
    if tenant is not None:
        from rcp.core.slugs import validate_slug

        validate_slug(tenant)
    from rcp.core.durations import parse_since

    since_at = parse_since(since, now=utcnow()) if since is not None else None
    entries = app_ctx.store().list_audit(tenant=tenant, since=since_at, limit=limit)
    rows = [entry.to_json() for entry in entries]
    app_ctx.output.result(
        rows,
        human=human.audit_entries(rows),
    )
