"""`rcp tenant redeploy|deploys|logs`: recovering a failed deploy and seeing what a tenant's
services did (commands of the tenant group, mounted on it in ``rcp.cli``)."""

from __future__ import annotations

from typing import Annotated

import typer

from rcp.cli._common import (
    app_context,
    duration_option,
    handle_errors,
    mutation_waits,
    operation,
)
from rcp.cli._options import LockTimeoutOption, MaxWaitOption

app = typer.Typer()


@app.command("redeploy")
@handle_errors
def redeploy(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Tenant slug.")],
    service: Annotated[
        str | None,
        typer.Option("--service", help="Only this service (its key in the template, e.g. web)."),
    ] = None,
    clear_cache: Annotated[
        bool, typer.Option("--clear-cache", help="Build without Render's build cache.")
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait until every resource is up.")
    ] = True,
    timeout: Annotated[
        str, typer.Option("--timeout", help="Give up waiting after this long.")
    ] = "30m",
    max_wait: MaxWaitOption = None,
    lock_timeout: LockTimeoutOption = "0",
) -> None:
    """Start a new deploy of the tenant's services (or one) and wait until it is live → ACTIVE.

    How a failed deploy is recovered: fix the cause (code, env), then redeploy.

    \b
    Examples:
      rcp tenant redeploy acme
      rcp tenant redeploy acme --service web --clear-cache
      rcp -o json tenant redeploy acme --no-wait
    """
    from rcp.core.provisioning import Waiting
    from rcp.core.slugs import validate_slug, validate_template_key
    from rcp.core.tenants import get_tenant, redeploy_targets, redeploy_tenant
    from rcp.output.tenants import tenant as tenant_human

    app_ctx = app_context(ctx)
    validate_slug(slug)
    if service is not None:
        validate_template_key(service)
    timeout_seconds = duration_option(timeout, "--timeout")
    lock_wait = mutation_waits(app_ctx, lock_timeout=lock_timeout, max_wait=max_wait)
    # Input against the record (exit 2/3/4) before the Render key is even needed.
    redeploy_targets(get_tenant(app_ctx.store(), slug), service)
    app_ctx.gateway()  # the API key is a precondition
    with operation(
        app_ctx, command="tenant redeploy", slug=slug, lock_wait=lock_wait
    ) as operator:
        tenant = redeploy_tenant(
            operator,
            slug,
            service=service,
            waiting=Waiting(timeout=timeout_seconds) if wait else None,
            clear_cache=clear_cache,
        )
    app_ctx.output.result(tenant.to_json(), human=tenant_human(tenant))


ServiceOption = Annotated[
    str | None,
    typer.Option("--service", help="Only this service (its key in the template, e.g. web)."),
]


@app.command("deploys")
@handle_errors
def deploys(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Tenant slug.")],
    service: ServiceOption = None,
    limit: Annotated[
        int, typer.Option("--limit", help="The latest N deploys of each service (1-100).")
    ] = 10,
) -> None:
    """Deploy history of the tenant's services, newest first: id, status, trigger, commit or
    image, started, finished.

    \b
    Examples:
      rcp tenant deploys acme
      rcp tenant deploys acme --service web --limit 3
      rcp -o json tenant deploys acme
    """
    from rcp.core.slugs import validate_slug, validate_template_key
    from rcp.core.tenants import deploy_history, deploy_targets, get_tenant
    from rcp.core.tenants.deploys import check_limit
    from rcp.output.tenants import deploys_table

    app_ctx = app_context(ctx)
    validate_slug(slug)
    if service is not None:
        validate_template_key(service)
    check_limit(limit)
    tenant = get_tenant(app_ctx.store(), slug)
    deploy_targets(tenant, service)  # --service against the record (exit 2) before Render
    history = deploy_history(app_ctx.gateway(), tenant, service=service, limit=limit)
    for missing in history.missing:
        app_ctx.output.warn(f"{missing} no longer exists on Render")
    app_ctx.output.result(
        [item.to_json() for item in history.deploys], human=deploys_table(history)
    )


@app.command("logs")
@handle_errors
def logs(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Tenant slug.")],
    service: Annotated[
        str | None,
        typer.Option(
            "--service", help="Only this resource (its key in the template: web, db, …)."
        ),
    ] = None,
    since: Annotated[
        str, typer.Option("--since", help="From this long ago (30m, 1h, 2d) or this date/time.")
    ] = "1h",
    limit: Annotated[
        int, typer.Option("--limit", help="At most the newest N lines (1-10000).")
    ] = 100,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until interrupted.")
    ] = False,
) -> None:
    """The tenant's log lines (builds, deploys, its services and datastores) through Render's
    logs API, oldest first.

    \b
    Examples:
      rcp tenant logs acme
      rcp tenant logs acme --service web --since 30m --limit 50
      rcp tenant logs acme --follow            # Ctrl-C to stop
    """
    from rcp.cli._signals import graceful_stop
    from rcp.core.durations import parse_since
    from rcp.core.models import utcnow
    from rcp.core.slugs import validate_slug, validate_template_key
    from rcp.core.tenants import LogReader, get_tenant, log_targets
    from rcp.core.tenants.logs import check_limit, check_since
    from rcp.output.stream import Stream
    from rcp.output.tenants import log_lines

    app_ctx = app_context(ctx)
    validate_slug(slug)
    if service is not None:
        validate_template_key(service)
    check_limit(limit)
    now = utcnow()
    since_at = check_since(parse_since(since, now=now), now)
    tenant = get_tenant(app_ctx.store(), slug)
    targets = log_targets(tenant, service)  # --service against the record (exit 2)
    output = app_ctx.output
    width = max((len(target.key) for target in targets), default=0)
    if not targets:
        output.warn(f"tenant {slug} has no resource on Render yet")
        output.result([], human="")
        return
    reader = LogReader(app_ctx.gateway(), targets, tenant=tenant)
    recent = reader.recent(since=since_at, limit=limit)
    if not follow:
        if not recent:
            output.info(f"{slug}: no log lines since {since_at.isoformat(timespec='seconds')}")
        output.result_stream(
            Stream(item.to_json() for item in recent), human=log_lines(recent, width=width)
        )
        return
    from itertools import chain

    with graceful_stop() as stop:
        lines = chain(recent, reader.follow(since=since_at, stop=stop))
        output.result_stream(
            Stream(item.to_json() for item in lines),
            human=log_lines(lines, width=width),
            live=True,
        )
    stop.raise_if_requested("stopped following the logs")
