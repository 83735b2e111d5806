"""`rcp health`: database and Render checks, every failure reported, exit 0 or 1."""

from __future__ import annotations

import typer

from rcp.cli._common import app_context, handle_errors


@handle_errors
def health(ctx: typer.Context) -> None:
    """Database reachable and at head; Render reachable, key valid, workspace resolved."""
    from rcp.core.health import run_checks
    from rcp.output import admin as human
    from rcp.urls import mask_url

    app_ctx = app_context(ctx)

    def database() -> str:
        status = app_ctx.store().schema_status()
        if not status["at_head"]:
            from rcp.errors import StoreError

            raise StoreError(f"schema at {status['current']}, code expects {status['head']}")
        return f"{mask_url(app_ctx.settings.database_url)} at {status['head']}"

    def render_key() -> str:
        user = app_ctx.render_client().get_user()
        return f"key valid ({getattr(user, 'email', 'user')})" + (
            " [sandbox]" if app_ctx.settings.sandbox else ""
        )

    def render_workspace() -> str:
        return f"workspace {app_ctx.gateway().owner_id()}"

    def render_rate_limit() -> str:
        from rcp.errors import RetryLater

        buckets = app_ctx.render_client().limiter.snapshot()
        tightest = None
        for bucket in buckets:
            remaining = bucket.limit - bucket.used
            if bucket.server_remaining is not None:
                remaining = min(remaining, bucket.server_remaining)
            if tightest is None or remaining < tightest[1]:
                tightest = (bucket.bucket, remaining, bucket.limit)
        if tightest is None:
            return "no bucket in use"
        name, remaining, limit = tightest
        if remaining <= 0:
            raise RetryLater(f"bucket {name} exhausted (0 of {limit} left)")
        return f"tightest bucket {name}: {remaining} of {limit} left"

    report = run_checks(
        [
            ("database", database),
            ("render_api", render_key),
            ("render_workspace", render_workspace),
            ("render_rate_limit", render_rate_limit),
        ]
    )

    app_ctx.output.result(report, human=human.health(report))
    if report["status"] != "healthy":
        raise typer.Exit(1)
