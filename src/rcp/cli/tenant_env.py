"""`rcp tenant env list|set|unset`: a tenant's env var overrides (values are secrets)."""

from __future__ import annotations

import os
import sys
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
from rcp.errors import UsageError

if TYPE_CHECKING:
    from rcp.context import AppContext
    from rcp.core.models import Tenant

app = typer.Typer(no_args_is_help=True, help="Tenant environment variable overrides.")

ServiceOption = Annotated[
    str | None,
    typer.Option(
        "--service",
        help="Only this service (a template key such as web); default: every service.",
        metavar="KEY",
    ),
]
GroupOption = Annotated[
    str | None,
    typer.Option(
        "--group",
        help="The tenant's own environment group (its template key) instead of services; "
        "a change deploys the services linked to it.",
        metavar="KEY",
    ),
]
NoDeployOption = Annotated[
    bool, typer.Option("--no-deploy", help="Push the values without starting a deploy.")
]


def _load(app_ctx: AppContext, slug: str, service: str | None, group: str | None = None) -> Tenant:
    """Input (exit 2), then the record (exit 3), then --service / --group against its
    template (2)."""
    from rcp.core.slugs import validate_slug, validate_template_key
    from rcp.core.tenants import check_group_key, check_service_key, get_tenant

    validate_slug(slug)
    if service is not None and group is not None:
        raise UsageError("give --service or --group, not both")
    if service is not None:
        validate_template_key(service)
    if group is not None:
        validate_template_key(group)
    tenant = get_tenant(app_ctx.store(), slug)
    check_service_key(tenant, service)
    check_group_key(tenant, group)
    return tenant


@app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Tenant slug.")],
    service: ServiceOption = None,
    group: GroupOption = None,
    reveal: Annotated[bool, typer.Option("--reveal", help="Show the values (secrets!).")] = False,
) -> None:
    """The tenant's env overrides; service "*" means every service. Values masked."""
    from rcp.core.tenants import env_entries
    from rcp.output import tenants as human

    app_ctx = app_context(ctx)
    tenant = _load(app_ctx, slug, service, group)
    rows = env_entries(tenant, service=service, group=group, reveal=reveal)
    app_ctx.output.result(rows, human=human.env_table(rows))


@app.command("set")
@handle_errors
def set_(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Tenant slug.")],
    assignments: Annotated[
        list[str] | None, typer.Argument(help="KEY=VALUE pairs.", metavar="KEY=VALUE…")
    ] = None,
    service: ServiceOption = None,
    group: GroupOption = None,
    stdin_key: Annotated[
        str | None,
        typer.Option("--stdin", help="Read the value of this KEY from stdin.", metavar="KEY"),
    ] = None,
    no_deploy: NoDeployOption = False,
    max_wait: MaxWaitOption = None,
    lock_timeout: LockTimeoutOption = "0",
) -> None:
    """Store overrides and push them to Render (per-key), then deploy unless --no-deploy.

    \b
    Examples:
      rcp tenant env set acme LOG_LEVEL=info FEATURE_X=on
      rcp tenant env set acme --service web --stdin STRIPE_KEY < key.txt
      rcp tenant env set acme --group config FEATURE_X=on
    """
    from rcp.core.tenants import parse_assignments, set_env, validate_env_key
    from rcp.output import tenants as human

    app_ctx = app_context(ctx)
    values = parse_assignments(list(assignments or []))
    if stdin_key is not None:
        validate_env_key(stdin_key, where="--stdin key")
        if stdin_key in values:
            raise UsageError(f"{stdin_key} is given both as KEY=VALUE and with --stdin")
    if not values and stdin_key is None:
        raise UsageError("nothing to set: pass KEY=VALUE or --stdin KEY")
    lock_wait = mutation_waits(app_ctx, lock_timeout=lock_timeout, max_wait=max_wait)
    if stdin_key is not None:
        values[stdin_key] = read_secret(app_ctx, stdin_key)
    _load(app_ctx, slug, service, group)
    app_ctx.gateway()
    with operation(app_ctx, command="tenant env set", slug=slug, lock_wait=lock_wait) as operator:
        change = set_env(operator, slug, values, service=service, group=group, deploy=not no_deploy)
    app_ctx.output.result(change.to_json(), human=human.env_change(change, "set"))


@app.command("unset")
@handle_errors
def unset(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Tenant slug.")],
    keys: Annotated[list[str] | None, typer.Argument(help="Env var names.", metavar="KEY…")] = None,
    service: ServiceOption = None,
    group: GroupOption = None,
    no_deploy: NoDeployOption = False,
    timeout: Annotated[
        str, typer.Option("--timeout", help="Longest wait for a datastore a value comes from.")
    ] = "30m",
    max_wait: MaxWaitOption = None,
    lock_timeout: LockTimeoutOption = "0",
) -> None:
    """Drop overrides; each service gets back what a fresh provision would give it."""
    from rcp.core.provisioning import Waiting
    from rcp.core.tenants import unset_env, validate_env_key
    from rcp.output import tenants as human

    app_ctx = app_context(ctx)
    names = list(keys or [])
    if not names:
        raise UsageError("nothing to unset: pass one or more KEY names")
    for name in names:
        validate_env_key(name)
    timeout_seconds = duration_option(timeout, "--timeout")
    lock_wait = mutation_waits(app_ctx, lock_timeout=lock_timeout, max_wait=max_wait)
    _load(app_ctx, slug, service, group)
    app_ctx.gateway()
    with operation(app_ctx, command="tenant env unset", slug=slug, lock_wait=lock_wait) as operator:
        change = unset_env(
            operator,
            slug,
            names,
            service=service,
            group=group,
            deploy=not no_deploy,
            waiting=Waiting(timeout=timeout_seconds),
        )
    app_ctx.output.result(change.to_json(), human=human.env_change(change, "unset"))


def read_secret(app_ctx: AppContext, key: str) -> str:
    """The value for ``--stdin KEY``: piped stdin (one trailing newline dropped), or a hidden
    prompt on a terminal. Never echoed."""
    isatty = getattr(sys.stdin, "isatty", None)
    if isatty is not None and isatty():
        if app_ctx.options.no_input or os.environ.get("CI"):
            raise UsageError(f"--stdin {key}: pipe the value on stdin (prompts are off)")
        value: str = typer.prompt(f"Value for {key}", hide_input=True, err=True)
        return value
    raw = sys.stdin.read()
    value = raw[:-1] if raw.endswith("\n") else raw
    value = value[:-1] if value.endswith("\r") else value
    if not value:
        raise UsageError(
            f"--stdin {key}: stdin was empty", hint=f"to set an empty value pass {key}="
        )
    return value
