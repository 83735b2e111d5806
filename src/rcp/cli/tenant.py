"""`rcp tenant …`: create, status, list, show, delete."""

from __future__ import annotations

from typing import Annotated

import typer

from rcp.cli._common import (
    app_context,
    duration_option,
    handle_errors,
    make_operator,
    mutation_waits,
    no_input,
    operation,
    progress_for,
)
from rcp.cli._options import LockTimeoutOption, MaxWaitOption, YesOption
from rcp.errors import UsageError

app = typer.Typer(no_args_is_help=True, help="Create, inspect and delete tenants.")


@app.command("create")
@handle_errors
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The tenant's display name.")],
    slug: Annotated[str | None, typer.Option("--slug", help="Slug (default: from the name).")] = None,
    template: Annotated[
        str | None, typer.Option("--template", help="Template name or path (default: default).")
    ] = None,
    plugin_repo: Annotated[
        str | None, typer.Option("--plugin-repo", help="The tenant's custom plugin repository URL.")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait until every resource is up.")
    ] = True,
    timeout: Annotated[str, typer.Option("--timeout", help="Give up waiting after this long.")] = "30m",
    if_exists: Annotated[
        str, typer.Option("--if-exists", help="resume (default) or fail when the slug exists.")
    ] = "resume",
    adopt_existing: Annotated[
        bool,
        typer.Option(
            "--adopt-existing",
            help="Adopt a Render resource that already carries one of the tenant's names (default: exit 4).",
        ),
    ] = False,
    max_wait: MaxWaitOption = None,
    lock_timeout: LockTimeoutOption = "0",
) -> None:
    """Record a tenant and provision every resource of its template.

    \b
    Examples:
      rcp tenant create "Acme Corporation"          # slug acme-corporation, waits until ACTIVE
      rcp tenant create "Initech Ltd" --slug initech --template plugin-app --no-wait
      rcp -o json tenant create --no-wait -- "$NAME"  # in scripts: the name after --
    """
    from rcp.core.provisioning import Waiting
    from rcp.core.tenants import create_tenant, plan_create
    from rcp.output.tenants import tenant as tenant_human

    app_ctx = app_context(ctx)
    if if_exists not in ("resume", "fail"):
        raise UsageError(f"invalid --if-exists value {if_exists!r}: expected resume or fail")
    timeout_seconds = duration_option(timeout, "--timeout")
    lock_wait = mutation_waits(app_ctx, lock_timeout=lock_timeout, max_wait=max_wait)
    plan = plan_create(
        name=name,
        slug=slug,
        template=template,
        plugin_repo=plugin_repo,
        config_dir=app_ctx.settings.config_dir,
    )
    app_ctx.gateway().owner_id()  # API key and workspace are preconditions: checked before any write
    with operation(
        app_ctx, command="tenant create", slug=plan.slug, lock_wait=lock_wait
    ) as operator:
        tenant = create_tenant(
            operator,
            plan,
            waiting=Waiting(timeout=timeout_seconds) if wait else None,
            if_exists=if_exists,
            adopt_existing=adopt_existing,
        )
    app_ctx.output.result(tenant.to_json(), human=tenant_human(tenant))


@app.command("status")
@handle_errors
def status(
    ctx: typer.Context,
    slug: Annotated[str | None, typer.Argument(help="Tenant slug.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every tenant.")] = False,
    live: Annotated[bool, typer.Option("--live", help="Refresh from Render first.")] = False,
) -> None:
    """Recorded status and per-resource state (--live asks Render first).

    \b
    Examples:
      rcp tenant status acme
      rcp tenant status acme --live      # ask Render first
      rcp -o json tenant status --all
    """
    # records, not the whole rcp.core.tenants package: a read-only command loads no use case.
    from rcp.core.tenants.records import get_tenant, iter_tenants
    from rcp.output.stream import Stream, json_table, primed
    from rcp.output.tenants import STATUS_COLUMNS
    from rcp.output.tenants import tenant as tenant_human

    app_ctx = app_context(ctx)
    if (slug is None) == (not all_):
        raise UsageError("give a tenant SLUG or --all (not both)")
    if slug is not None:
        from rcp.core.slugs import validate_slug

        validate_slug(slug)
    store = app_ctx.store()
    columns = STATUS_COLUMNS
    if not live:
        if not all_:
            tenant = get_tenant(store, slug or "")
            app_ctx.output.result(tenant.to_json(), human=tenant_human(tenant))
            return
        # Streamed: memory stays flat whatever the number of tenants.
        recorded_rows = (t.to_json() for t in primed(iter_tenants(store)))
        app_ctx.output.result_stream(
            Stream(recorded_rows), human=json_table(recorded_rows, columns)
        )
        return
    from rcp.core.provisioning import StopFlag
    from rcp.core.tenants import live_status
    from rcp.output.stream import spooled

    # --all: each page is read in its own short transaction (this takes as long as Render
    # takes to answer); the refreshed rows wait in a spool file until the progress display
    # is gone, so results never mix with it and memory stays flat.
    recorded = [get_tenant(store, slug)] if slug is not None else None
    app_ctx.gateway()
    progress = progress_for(app_ctx)
    try:
        # Reads Render, writes only observed state: no signal handling, never audited.
        operator = make_operator(
            app_ctx,
            stop=StopFlag(),
            lock_wait=0.0,
            command="tenant status",
            slug=slug,
            progress=progress,
        )
        if recorded is not None:
            tenant = live_status(operator, recorded[0])
        else:
            tenants = primed(store.iter_tenants(snapshot=False))
            spool = spooled(live_status(operator, t).to_json() for t in tenants)
    finally:
        progress.close()
    if recorded is not None:
        app_ctx.output.result(tenant.to_json(), human=tenant_human(tenant))
        return
    rows = spool.read()
    app_ctx.output.result_stream(Stream(rows), human=json_table(rows, columns))


@app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help="Only tenants with this status.")
    ] = None,
    revision: Annotated[
        str | None,
        typer.Option(
            "--revision",
            metavar="HASH_PREFIX|LABEL",
            help="Only tenants running this template revision (a hash prefix of at least 4 "
            "hex digits, or the template's version: label).",
        ),
    ] = None,
) -> None:
    """All tenants.

    \b
    Examples:
      rcp tenant list
      rcp tenant list --status ERROR -o json
      rcp tenant list --revision v7          # tenants on the template labelled version: v7
    """
    from rcp.core.tenants.records import iter_tenants
    from rcp.output.stream import Stream, json_table, primed
    from rcp.output.tenants import LIST_COLUMNS, with_revision_cell

    app_ctx = app_context(ctx)
    if status is not None:
        from rcp.core.models import TenantStatus

        if status.upper() not in {s.value for s in TenantStatus}:
            names = ", ".join(s.value for s in TenantStatus)
            raise UsageError(f"invalid --status value {status!r}: expected one of {names}")
    # Streamed: memory stays flat whatever the number of tenants.
    tenants = iter_tenants(app_ctx.store(), status, revision=revision)
    rows = (t.to_json() for t in primed(tenants))
    app_ctx.output.result_stream(
        Stream(rows), human=json_table((with_revision_cell(row) for row in rows), LIST_COLUMNS)
    )


@app.command("show")
@handle_errors
def show(ctx: typer.Context, slug: Annotated[str, typer.Argument(help="Tenant slug.")]) -> None:
    """The full record: resources, Render ids and URLs, template, env overrides (masked).

    \b
    Examples:
      rcp tenant show acme
      rcp -o json tenant show acme
    """
    from rcp.core.slugs import validate_slug
    from rcp.core.tenants.records import get_tenant
    from rcp.output.tenants import full_record

    app_ctx = app_context(ctx)
    validate_slug(slug)
    tenant = get_tenant(app_ctx.store(), slug)
    data = tenant.to_json()
    data["rendered_template"] = tenant.rendered_template
    data["env_overrides"] = [
        {"service": service, "key": key, "value": "***"}
        for service, values in sorted(tenant.env_overrides.items())
        for key in sorted(values)
    ]
    plans = tenant.resource_plans()
    for resource in data["resources"]:
        resource.update(plans.get(resource["key"], {"plan": None, "region": None}))
    app_ctx.output.result(data, human=full_record(tenant))


@app.command("delete")
@handle_errors
def delete(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Tenant slug.")],
    yes: YesOption = False,
    missing_ok: Annotated[
        bool, typer.Option("--missing-ok", help="Succeed when the tenant does not exist.")
    ] = False,
    max_wait: MaxWaitOption = None,
    lock_timeout: LockTimeoutOption = "0",
) -> None:
    """Delete every Render resource of the tenant (reverse order), then its record.

    \b
    Examples:
      rcp tenant delete acme             # asks on a terminal
      rcp tenant delete acme --yes --missing-ok   # scripts
    """
    from rcp.core.slugs import validate_slug
    from rcp.core.tenants import delete_tenant, get_tenant

    app_ctx = app_context(ctx)
    validate_slug(slug)
    lock_wait = mutation_waits(app_ctx, lock_timeout=lock_timeout, max_wait=max_wait)
    if not yes and no_input(app_ctx):
        raise UsageError(
            f"refusing to delete {slug} without confirmation: pass --yes",
            hint="stdin is not a terminal (or --no-input/CI is set), so rcp cannot ask",
        )
    recorded = app_ctx.store().get_tenant(slug)
    if recorded is None:
        if missing_ok:
            app_ctx.output.result(
                {"slug": slug, "deleted": False, "resources_deleted": []},
                human=f"tenant {slug} does not exist; nothing to delete",
            )
            return
        recorded = get_tenant(app_ctx.store(), slug)  # exit 3
    gateway = app_ctx.gateway()  # the API key is a precondition
    if not yes:
        from rcp.core.tenants import deletion_preview
        from rcp.output.tenants import deletion_listing

        # What will go, recorded or carrying the tenant's names, before the question.
        doomed = deletion_preview(gateway, app_ctx.store(), recorded)
        for line in deletion_listing(slug, doomed):
            app_ctx.output.info(line)
        if not typer.confirm(f"Delete tenant {slug} and all its Render resources?", err=True):
            raise UsageError("deletion not confirmed", code="not_confirmed")
    with operation(
        app_ctx, command="tenant delete", slug=slug, lock_wait=lock_wait
    ) as operator:
        deleted = delete_tenant(operator, slug)
    app_ctx.output.result(
        {"slug": slug, "deleted": True, "resources_deleted": deleted},
        human=f"deleted tenant {slug} ({len(deleted)} Render resources)",
    )

