"""`rcp db …`: schema migrations of the control-plane database.

Every other command migrates on first use; these two exist to look before that happens
(`status`) and to migrate deliberately, e.g. as a deploy step (`upgrade`). Both open the database
*without* the automatic upgrade, so `status` reports what is really there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from rcp.cli._common import app_context, handle_errors, mark_audited

if TYPE_CHECKING:
    from rcp.context import AppContext
    from rcp.store import SqlStore

app = typer.Typer(
    no_args_is_help=True,
    help="Database schema: show the migration status, apply pending migrations.",
)


def _open_without_upgrade(app_ctx: AppContext) -> SqlStore:
    from rcp.store import open_store

    settings = app_ctx.settings
    return open_store(
        settings.database_url, setting=settings.database_url_source, auto_upgrade=False
    )


@app.command("status")
@handle_errors
def status(ctx: typer.Context) -> None:
    """Show the database's schema revision and whether it is at this rcp's head."""
    from rcp.store import mask_url

    app_ctx = app_context(ctx)
    store = _open_without_upgrade(app_ctx)
    try:
        schema = store.schema_status()
    finally:
        store.close()
    data = {"url": mask_url(app_ctx.settings.database_url), **schema}

    def render(console: Any) -> None:
        console.print(f"database: {data['url']}")
        current = data["current"] or "none (empty database)"
        console.print(f"schema:   {current}")
        console.print(f"head:     {data['head']}")
        if data["at_head"]:
            console.print("up to date")
        else:
            console.print("behind: run `rcp db upgrade` (or any command: it migrates first)")

    app_ctx.output.result(data, human=render)


@app.command("upgrade")
@handle_errors
def upgrade(ctx: typer.Context) -> None:
    """Apply pending migrations (safe while other rcp processes start: they wait for it)."""
    from rcp.store import mask_url

    app_ctx = app_context(ctx)
    store = _open_without_upgrade(app_ctx)
    try:
        previous = store.schema_status()["current"]
        mark_audited(app_ctx, "db upgrade", None)
        migrated = store.upgrade()
        schema = store.schema_status()
    finally:
        store.close()
    data = {
        "url": mask_url(app_ctx.settings.database_url),
        "previous": previous,
        "upgraded": migrated,
        **schema,
    }

    def render(console: Any) -> None:
        if migrated:
            console.print(f"upgraded {data['url']} from {previous or 'empty'} to {data['current']}")
        else:
            console.print(f"{data['url']} is already at {data['current']}")

    app_ctx.output.result(data, human=render)
