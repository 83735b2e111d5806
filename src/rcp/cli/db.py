"""`rcp db …`: schema migrations of the control-plane database.

Every other command migrates on first use; these two exist to look before that happens
(`status`) and to migrate deliberately, e.g. as a deploy step (`upgrade`). Both open the database
*without* the automatic upgrade, so `status` reports what is really there.
"""

from __future__ import annotations

from typing import Annotated

import typer

from rcp.cli._common import app_context, handle_errors, mark_audited
from rcp.errors import UsageError

app = typer.Typer(
    no_args_is_help=True,
    help="Database schema: show the migration status, apply pending migrations, copy to another database.",
)


@app.command("status")
@handle_errors
def status(ctx: typer.Context) -> None:
    """Show the database's schema revision and whether it is at this rcp's head."""
    from rcp.output import admin as human
    from rcp.urls import mask_url

    app_ctx = app_context(ctx)
    with app_ctx.open_database(auto_upgrade=False) as store:
        schema = store.schema_status()
    data = {"url": mask_url(app_ctx.settings.database_url), **schema}

    app_ctx.output.result(data, human=human.db_status(data))


@app.command("upgrade")
@handle_errors
def upgrade(ctx: typer.Context) -> None:
    """Apply pending migrations (safe while other rcp processes start: they wait for it)."""
    from rcp.output import admin as human
    from rcp.urls import mask_url

    app_ctx = app_context(ctx)
    with app_ctx.open_database(auto_upgrade=False) as store:
        previous = store.schema_status()["current"]
        mark_audited(app_ctx, "db upgrade", None)
        migrated = store.upgrade()
        schema = store.schema_status()
    data = {
        "url": mask_url(app_ctx.settings.database_url),
        "previous": previous,
        "upgraded": migrated,
        **schema,
    }

    app_ctx.output.result(data, human=human.db_upgrade(data))


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
    from rcp.errors import StoreError
    from rcp.output import admin as human
    from rcp.urls import mask_url, normalise_url, same_database

    app_ctx = app_context(ctx)
    settings = app_ctx.settings
    try:
        normalise_url(to, setting="--to")
    except StoreError as exc:
        raise UsageError(exc.message, hint=exc.hint) from None  # a bad flag value: exit 2
    if same_database(to, settings.database_url):
        raise UsageError(
            f"--to {mask_url(to)} is the database rcp is using; give another one",
            hint="the source is RCP_DATABASE_URL (or the default SQLite file)",
        )
    report = app_ctx.copy_database(
        to, setting="--to", on_ready=lambda: mark_audited(app_ctx, "db copy", None)
    )
    data = {"from": mask_url(settings.database_url), "to": mask_url(to), **report.to_json()}
    for slug in report.held_leases:
        app_ctx.output.warn(
            f"tenant {slug} was locked by a running command during the copy; "
            "rerun the copy into a fresh database once it has finished if it changed anything"
        )

    app_ctx.output.result(data, human=human.db_copy(data, report.tables))

