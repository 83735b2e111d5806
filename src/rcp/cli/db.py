"""`rcp db …`: schema migrations of the control-plane database.

Every other command migrates on first use; these two exist to look before that happens
(`status`) and to migrate deliberately, e.g. as a deploy step (`upgrade`). Both open the database
*without* the automatic upgrade, so `status` reports what is really there.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rcp.cli._common import app_context, handle_errors, mark_audited
from rcp.errors import UsageError

if TYPE_CHECKING:
    from rcp.context import AppContext
    from rcp.store import SqlStore

app = typer.Typer(
    no_args_is_help=True,
    help="Database schema: show the migration status, apply pending migrations, copy to another database.",
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


@app.command("copy")
@handle_errors
def copy(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            "--to", help="The target database URL (postgresql://… or sqlite:///…); must be empty."
        ),
    ],
) -> None:
    """Copy everything (tenants, resources, journal, locks, audit log) into another database,
    migrated first — e.g. from a laptop's SQLite to a team's Postgres — and verify the copy."""
    from rcp.store import mask_url, normalise_url, open_store
    from rcp.store.transfer import copy_database

    app_ctx = app_context(ctx)
    settings = app_ctx.settings
    from rcp.errors import StoreError

    try:
        target_normalised = normalise_url(to, setting="--to")
    except StoreError as exc:
        raise UsageError(exc.message, hint=exc.hint) from None  # a bad flag value: exit 2
    if _same_database(target_normalised, settings.database_url):
        raise UsageError(
            f"--to {mask_url(to)} is the database rcp is using; give another one",
            hint="the source is RCP_DATABASE_URL (or the default SQLite file)",
        )
    source = app_ctx.store()
    target = open_store(to, setting="--to")
    try:
        report = copy_database(
            source,
            target,
            target_url=to,
            on_ready=lambda: mark_audited(app_ctx, "db copy", None),
        )
    finally:
        target.close()
    data = {"from": mask_url(settings.database_url), "to": mask_url(to), **report.to_json()}
    for slug in report.held_leases:
        app_ctx.output.warn(
            f"tenant {slug} was locked by a running command during the copy; "
            "rerun the copy into a fresh database once it has finished if it changed anything"
        )

    def render(console: Any) -> None:
        counts = ", ".join(f"{name} {count}" for name, count in report.tables.items())
        console.print(f"copied {data['from']} → {data['to']}: {counts}; verified")

    app_ctx.output.result(data, human=render)


def _same_database(target_normalised: str, source_url: str) -> bool:
    """Whether two URLs name one database (SQLite: the same file)."""
    from rcp.store import normalise_url
    from rcp.store.urls import sqlite_path

    source_normalised = normalise_url(source_url)
    if target_normalised.startswith("sqlite") and source_normalised.startswith("sqlite"):
        target_file = sqlite_path(target_normalised)
        source_file = sqlite_path(source_normalised)
        if target_file is None or source_file is None:
            return False
        return Path(target_file).resolve() == Path(source_file).resolve()
    return target_normalised == source_normalised
