"""`rcp tenant suspend|resume|check|adopt`: commands of the tenant group (mounted on it in
``rcp.cli``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from rcp.cli._common import (
    app_context,
    duration_option,
    handle_errors,
    mutation_waits,
    operation,
)
from rcp.cli._options import LockTimeoutOption, MaxWaitOption
from rcp.errors import Unhealthy, UsageError

if TYPE_CHECKING:
    from rcp.context import AppContext
    from rcp.core.tenants import CheckReport

app = typer.Typer()

TimeoutOption = Annotated[
    str, typer.Option("--timeout", help="Give up waiting for resources after this long.")
]


def _existing_tenant(app_ctx: AppContext, slug: str) -> None:
    """Input first (exit 2), then the record (exit 3), before any Render set-up."""
    from rcp.core.slugs import validate_slug
    from rcp.core.tenants import get_tenant

    validate_slug(slug)
    get_tenant(app_ctx.store(), slug)


@app.command("suspend")
@handle_errors
def suspend(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Tenant slug.")],
    max_wait: MaxWaitOption = None,
    lock_timeout: LockTimeoutOption = "0",
) -> None:
    """Suspend every service, Postgres and Key Value of the tenant → SUSPENDED."""
    from rcp.core.tenants import suspend_tenant
    from rcp.output.tenants import tenant as tenant_human

    app_ctx = app_context(ctx)
    lock_wait = mutation_waits(app_ctx, lock_timeout=lock_timeout, max_wait=max_wait)
    _existing_tenant(app_ctx, slug)
    app_ctx.gateway()  # the API key is a precondition
    with operation(
        app_ctx, command="tenant suspend", slug=slug, lock_wait=lock_wait
    ) as operator:
        tenant = suspend_tenant(operator, slug)
    app_ctx.output.result(tenant.to_json(), human=tenant_human(tenant))


@app.command("resume")
@handle_errors
def resume(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Tenant slug.")],
    timeout: TimeoutOption = "30m",
    max_wait: MaxWaitOption = None,
    lock_timeout: LockTimeoutOption = "0",
) -> None:
    """Resume every suspended resource and wait until all are up again → ACTIVE."""
    from rcp.core.provisioning import Waiting
    from rcp.core.tenants import resume_tenant
    from rcp.output.tenants import tenant as tenant_human

    app_ctx = app_context(ctx)
    timeout_seconds = duration_option(timeout, "--timeout")
    lock_wait = mutation_waits(app_ctx, lock_timeout=lock_timeout, max_wait=max_wait)
    _existing_tenant(app_ctx, slug)
    app_ctx.gateway()
    with operation(
        app_ctx, command="tenant resume", slug=slug, lock_wait=lock_wait
    ) as operator:
        tenant = resume_tenant(operator, slug, Waiting(timeout=timeout_seconds))
    app_ctx.output.result(tenant.to_json(), human=tenant_human(tenant))


@app.command("check")
@handle_errors
def check(
    ctx: typer.Context,
    slug: Annotated[str | None, typer.Argument(help="Tenant slug.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every tenant.")] = False,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Reconcile: recreate missing resources, undo out-of-band suspensions.",
        ),
    ] = False,
    delete_duplicates: Annotated[
        bool,
        typer.Option(
            "--delete-duplicates",
            help="With --repair: delete resources carrying a tenant's names besides the recorded ones.",
        ),
    ] = False,
    unrecorded: Annotated[
        bool,
        typer.Option(
            "--unrecorded",
            help="With --all: sweep the workspace for resources carrying tenants' names that no record holds.",
        ),
    ] = False,
    notify: Annotated[
        str | None,
        typer.Option("--notify", help="POST a JSON summary to this webhook URL.", metavar="URL"),
    ] = None,
    timeout: TimeoutOption = "30m",
    max_wait: MaxWaitOption = None,
    lock_timeout: LockTimeoutOption = "0",
) -> None:
    """Compare records with Render; exit 0 when healthy, 5 when not.

    \b
    Examples:
      rcp tenant check acme
      rcp tenant check --all --repair
      rcp tenant check --all --unrecorded              # also Render resources no record holds
      rcp tenant check acme --repair --delete-duplicates
      rcp -o json tenant check --all --notify https://hooks.example.com/T/…
    """
    from rcp.core.provisioning import Waiting
    from rcp.core.tenants import check_tenants, get_tenant
    from rcp.output.tenants import check_report

    app_ctx = app_context(ctx)
    if (slug is None) == (not all_):
        raise UsageError("give a tenant SLUG or --all (not both)")
    if slug is not None:
        from rcp.core.slugs import validate_slug

        validate_slug(slug)
    if delete_duplicates and not repair:
        raise UsageError("--delete-duplicates needs --repair")
    if notify is not None:
        _validate_webhook(notify)
    timeout_seconds = duration_option(timeout, "--timeout")
    lock_wait = mutation_waits(app_ctx, lock_timeout=lock_timeout, max_wait=max_wait)
    store = app_ctx.store()
    # --all reads the tenants a page at a time while checking them (each page in its own
    # short transaction: a check takes as long as Render takes to answer).
    tenants = store.iter_tenants(snapshot=False) if all_ else [get_tenant(store, slug or "")]
    app_ctx.gateway()
    with operation(
        app_ctx, command="tenant check", slug=slug, lock_wait=lock_wait
    ) as operator:
        report = check_tenants(
            operator,
            tenants,
            repair=repair,
            waiting=Waiting(timeout=timeout_seconds),
            skip_busy=all_,
            # One tenant: its names looked up (a request per kind). Every tenant: one sweep of
            # the workspace when asked (--unrecorded), else records only.
            names="each" if not all_ else "sweep" if unrecorded else None,
            delete_duplicates=delete_duplicates,
        )
    if all_ and repair:
        _audit_repairs(app_ctx, report)
    data = report.to_json()
    if notify is not None:
        data["notified"] = _notify(app_ctx, notify, report, repair=repair)
    app_ctx.output.result(data, human=check_report(report))
    if not report.healthy:
        unhealthy = [t.slug for t in report.tenants if not t.healthy]
        shown = ", ".join(unhealthy[:10]) + (", …" if len(unhealthy) > 10 else "")
        raise Unhealthy(
            f"{len(unhealthy)} of {len(report.tenants)} tenants unhealthy: {shown}",
            hint=None if repair else "`rcp tenant check --repair` reconciles what it can",
        )


def _audit_repairs(app_ctx: AppContext, report: CheckReport) -> None:
    """`check --all --repair`: one audit entry per tenant a repair ran on, so `rcp audit
    --tenant S` shows it (the command's own entry names no tenant)."""
    from rcp.cli._common import append_audit

    for health in report.tenants:
        if not health.repaired:
            continue
        try:
            append_audit(
                app_ctx,
                tenant=health.slug,
                outcome="ok" if health.healthy else "unhealthy",
                exit_code=0 if health.healthy else 5,
                duration_ms=int(health.seconds * 1000),
            )
        except Exception:  # the audit must never change the check's outcome
            app_ctx.output.warn(f"could not write the audit entry of {health.slug}")


def _validate_webhook(url: str) -> None:
    """An http(s) URL with a host. The URL itself is never echoed: webhook URLs often carry
    their token in the path."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host or " " in url:
        raise UsageError("invalid --notify URL: use an http:// or https:// URL with a host")


def _notify(app_ctx: AppContext, url: str, report: CheckReport, *, repair: bool) -> bool:
    """POST the summary; a failing webhook is a warning, never the outcome of the check."""
    from rcp.core.models import iso_z, utcnow

    payload = {
        "source": "rcp",
        "event": "tenant.check",
        "at": iso_z(utcnow()),
        "repair": repair,
        **report.to_json(),
        "unhealthy": [t.slug for t in report.tenants if not t.healthy],
    }
    problem = app_ctx.notify_webhook(url, payload)
    if problem is not None:
        app_ctx.output.warn(problem)
    return problem is None


@app.command("adopt")
@handle_errors
def adopt(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Tenant slug.")],
    resource: Annotated[
        list[str] | None,
        typer.Option(
            "--resource",
            help="KEY=RENDER_ID of an existing Render resource (repeatable), e.g. web=srv-….",
            metavar="KEY=RENDER_ID",
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Name of a new record (default: the slug).")
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", help="Template of a new record (default: default).")
    ] = None,
    environment: Annotated[
        str | None,
        typer.Option(
            "--environment",
            help="A whole Render environment (evm-…): it and its resources, matched to the "
            "template's keys by name.",
            metavar="ENV_ID",
        ),
    ] = None,
    max_wait: MaxWaitOption = None,
    lock_timeout: LockTimeoutOption = "0",
) -> None:
    """Take existing Render resources under a tenant record (created when missing)."""
    from rcp.core.slugs import validate_slug
    from rcp.core.tenants import adopt_resources, parse_resource_args, plan_adopt
    from rcp.output.tenants import tenant as tenant_human

    app_ctx = app_context(ctx)
    lock_wait = mutation_waits(app_ctx, lock_timeout=lock_timeout, max_wait=max_wait)
    validate_slug(slug)
    parse_resource_args(resource or [], environment)  # input errors before the database opens
    plan = plan_adopt(
        app_ctx.store(),
        slug=slug,
        resources=resource or [],
        name=name,
        template=template,
        config_dir=app_ctx.settings.config_dir,
        environment=environment,
    )
    app_ctx.gateway()
    with operation(
        app_ctx, command="tenant adopt", slug=slug, lock_wait=lock_wait
    ) as operator:
        tenant = adopt_resources(operator, plan)
    app_ctx.output.result(tenant.to_json(), human=tenant_human(tenant))
