"""`rcp group list|show|env list|set|unset`: environment groups the fleet shares (values are
secrets)."""

from __future__ import annotations

from typing import Annotated

import typer

from rcp.cli._common import app_context, handle_errors, mutation_waits, operation
from rcp.cli._options import LockTimeoutOption, MaxWaitOption
from rcp.errors import UsageError

app = typer.Typer(
    no_args_is_help=True,
    help="Environment groups shared by the fleet (template envVarGroups with shared: true).",
)
env_app = typer.Typer(no_args_is_help=True, help="A shared group's variables.")

NameArgument = Annotated[str, typer.Argument(help="The shared group's name.")]
RevealOption = Annotated[bool, typer.Option("--reveal", help="Show the values (secrets!).")]
NoDeployOption = Annotated[
    bool,
    typer.Option("--no-deploy", help="Change the values without deploying the linked services."),
]


@app.command("list")
@handle_errors
def list_(ctx: typer.Context) -> None:
    """The shared groups tenants' templates use, with the tenants and services linking them."""
    from rcp.core.groups import shared_groups
    from rcp.output import groups as human

    app_ctx = app_context(ctx)
    groups = shared_groups(app_ctx.store())
    app_ctx.output.result([g.to_json() for g in groups], human=human.group_list(groups))


@app.command("show")
@handle_errors
def show(ctx: typer.Context, name: NameArgument, reveal: RevealOption = False) -> None:
    """One shared group: its Render id, variables (masked), tenants and links on Render."""
    from rcp.core.groups import get_shared_group, show_group
    from rcp.output import groups as human

    app_ctx = app_context(ctx)
    get_shared_group(app_ctx.store(), name)  # exit 2/3 before the Render key is needed
    shown = show_group(app_ctx.store(), app_ctx.gateway(), name, reveal=reveal)
    app_ctx.output.result(shown, human=human.group_detail(shown))


@env_app.command("list")
@handle_errors
def env_list(ctx: typer.Context, name: NameArgument, reveal: RevealOption = False) -> None:
    """The shared group's variables on Render; values masked unless --reveal."""
    from rcp.core.groups import get_shared_group, group_env
    from rcp.output import groups as human

    app_ctx = app_context(ctx)
    get_shared_group(app_ctx.store(), name)
    rows = group_env(app_ctx.store(), app_ctx.gateway(), name, reveal=reveal)
    app_ctx.output.result(rows, human=human.group_env_table(rows))


@env_app.command("set")
@handle_errors
def env_set(
    ctx: typer.Context,
    name: NameArgument,
    assignments: Annotated[
        list[str] | None, typer.Argument(help="KEY=VALUE pairs.", metavar="KEY=VALUE…")
    ] = None,
    stdin_key: Annotated[
        str | None,
        typer.Option("--stdin", help="Read the value of this KEY from stdin.", metavar="KEY"),
    ] = None,
    no_deploy: NoDeployOption = False,
    max_wait: MaxWaitOption = None,
    lock_timeout: LockTimeoutOption = "0",
) -> None:
    """Set variables of a shared group on Render (per key), then deploy every service linked
    to it, in every tenant, unless --no-deploy.

    \b
    Examples:
      rcp group env set fleet-config LOG_LEVEL=info
      rcp group env set fleet-config --stdin SENTRY_DSN < dsn.txt --no-deploy
    """
    from rcp.cli.tenant_env import read_secret
    from rcp.core.groups import change_group_env, get_shared_group
    from rcp.core.tenants import parse_assignments, validate_env_key
    from rcp.output import groups as human

    app_ctx = app_context(ctx)
    values = parse_assignments(list(assignments or []))
    if stdin_key is not None:
        validate_env_key(stdin_key, where="--stdin key")
        if stdin_key in values:
            raise UsageError(f"{stdin_key} is given both as KEY=VALUE and with --stdin")
    if not values and stdin_key is None:
        raise UsageError("nothing to set: pass KEY=VALUE or --stdin KEY")
    lock_wait = mutation_waits(app_ctx, lock_timeout=lock_timeout, max_wait=max_wait)
    get_shared_group(app_ctx.store(), name)
    if stdin_key is not None:
        values[stdin_key] = read_secret(app_ctx, stdin_key)
    app_ctx.gateway()
    with operation(app_ctx, command="group env set", slug=None, lock_wait=lock_wait) as operator:
        change = change_group_env(operator, name, dict(values), deploy=not no_deploy)
    app_ctx.output.result(change.to_json(), human=human.group_change(change, "set"))


@env_app.command("unset")
@handle_errors
def env_unset(
    ctx: typer.Context,
    name: NameArgument,
    keys: Annotated[list[str] | None, typer.Argument(help="Env var names.", metavar="KEY…")] = None,
    no_deploy: NoDeployOption = False,
    max_wait: MaxWaitOption = None,
    lock_timeout: LockTimeoutOption = "0",
) -> None:
    """Delete variables of a shared group on Render, then deploy the linked services unless
    --no-deploy."""
    from rcp.core.groups import change_group_env, get_shared_group
    from rcp.core.tenants import validate_env_key
    from rcp.output import groups as human

    app_ctx = app_context(ctx)
    names = list(keys or [])
    if not names:
        raise UsageError("nothing to unset: pass one or more KEY names")
    for key in names:
        validate_env_key(key)
    lock_wait = mutation_waits(app_ctx, lock_timeout=lock_timeout, max_wait=max_wait)
    get_shared_group(app_ctx.store(), name)
    app_ctx.gateway()
    with operation(app_ctx, command="group env unset", slug=None, lock_wait=lock_wait) as operator:
        change = change_group_env(operator, name, dict.fromkeys(names, None), deploy=not no_deploy)
    app_ctx.output.result(change.to_json(), human=human.group_change(change, "unset"))


env_app.rich_markup_mode = None
app.add_typer(env_app, name="env", help="A shared group's variables.")
