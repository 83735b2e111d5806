"""The root Typer app. Thin: parse, call one core function, hand the result to the output layer.

Global options work before and after the command (``rcp -o json tenant list`` and
``rcp tenant list -o json``): ``RcpGroup`` hoists them to the front before Click parses.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer

from rcp import __version__
from rcp.cli import _click as click
from rcp.cli import _lazy, _params
from rcp.output import FORMATS, Format

_params.install()  # before any command runs: no pydantic for plain parameter values

# option → takes a value
GLOBAL_OPTIONS: dict[str, bool] = {
    "-o": True,
    "--output": True,
    "-v": False,
    "--verbose": False,
    "-q": False,
    "--quiet": False,
    "--sandbox": False,
    "--no-input": False,
    "--log-format": True,
    "--version": False,
}


def hoist_global_options(args: Sequence[str]) -> list[str]:
    """Move global options (wherever they appear before ``--``) in front of the command."""
    hoisted: list[str] = []
    rest: list[str] = []
    index = 0
    args = list(args)
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg
        if name in GLOBAL_OPTIONS:
            hoisted.append(arg)
            if GLOBAL_OPTIONS[name] and "=" not in arg and index + 1 < len(args):
                hoisted.append(args[index + 1])
                index += 1
        elif len(arg) > 2 and arg.startswith("-o") and not arg.startswith("--"):
            hoisted.append(arg)  # -ojson
        elif len(arg) > 2 and arg.startswith("-v") and set(arg[1:]) == {"v"}:
            hoisted.append(arg)  # -vv
        else:
            rest.append(arg)
        index += 1
    return hoisted + rest


def _json_requested(args: Sequence[str]) -> bool:
    args = list(args)
    for index, arg in enumerate(args):
        if arg in ("-o", "--output") and index + 1 < len(args):
            return args[index + 1] == "json"
        if arg in ("-ojson", "--output=json"):
            return True
    return os.environ.get("RCP_OUTPUT") == "json"


def _log_json_requested(args: Sequence[str]) -> bool:
    """``--log-format json`` (or RCP_LOG_FORMAT=json) for errors raised before the context
    exists (click's usage errors)."""
    args = list(args)
    for index, arg in enumerate(args):
        if arg == "--log-format" and index + 1 < len(args):
            return args[index + 1] == "json"
        if arg == "--log-format=json":
            return True
    return os.environ.get("RCP_LOG_FORMAT") == "json"


_CURRENT_ARGV: list[str] = []


class LogFormat(StrEnum):
    text = "text"
    json = "json"


class RcpGroup(_lazy.LazyGroup):
    """The root group: global options anywhere on the line, usage errors as rcp reports them,
    and subcommands built on demand."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _lazy.LazyCommands(dict(self.commands), _ROOT_ENTRIES)

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if "_RCP_COMPLETE" in os.environ:  # a shell asking for completions (rcp completion)
            from rcp.cli.completion import prepare_request

            prepare_request()
        argv = hoist_global_options(sys.argv[1:] if args is None else args)
        # Kept for the audit log and the lock holder's description of the command.
        _CURRENT_ARGV[:] = argv
        try:
            result = super().main(
                args=argv,
                prog_name=prog_name or "rcp",
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except click.NoArgsIsHelpError as exc:
            typer.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
            sys.exit(2)
        except click.ClickException as exc:
            # Usage errors: message on stderr; in JSON mode also the envelope on stdout.
            from rcp.output.text import escape_control

            # Click quotes the offending argument: one line, whatever it holds.
            message = escape_control(exc.format_message())
            hint = None
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                hint = f"see '{exc.ctx.command_path} --help'"
            if _log_json_requested(argv):
                from rcp.output import log_record

                record = log_record(
                    "error", message, event="error", code="usage_error", exit_code=exc.exit_code,
                    hint=hint,
                )
                sys.stderr.write(record + "\n")
            else:
                sys.stderr.write(f"Error: {message}\n")
                if hint:
                    sys.stderr.write(f"Hint: {hint}\n")
            if _json_requested(argv):
                import json

                envelope = {"error": {"code": "usage_error", "message": message, "hint": hint}}
                sys.stdout.write(json.dumps(envelope) + "\n")
            sys.exit(exc.exit_code)
        except click.Abort:
            if _log_json_requested(argv):
                from rcp.output import log_record

                sys.stderr.write(log_record("error", "Aborted.", event="error", code="aborted") + "\n")
            else:
                sys.stderr.write("Aborted.\n")
            sys.exit(130)
        if isinstance(result, int):
            sys.exit(result)
        return result


app = typer.Typer(
    cls=RcpGroup,
    name="rcp",
    help="Render Control Plane: create, inspect, suspend, change and delete each tenant's "
    "infrastructure on Render.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain Click help: rich's help renderer costs ~60 ms of imports on every `--help`.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"rcp {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    output: Annotated[
        Format | None,
        typer.Option(
            "-o",
            "--output",
            help=f"Output format: {' or '.join(FORMATS)} (env: RCP_OUTPUT).",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("-v", "--verbose", count=True, help="More logs on stderr (repeatable).")
    ] = 0,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only results and errors.")] = False,
    sandbox: Annotated[
        bool,
        typer.Option("--sandbox", help="Use the embedded Render simulator (env: RCP_SANDBOX=1)."),
    ] = False,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Never prompt (implied without a TTY or with CI).")
    ] = False,
    log_format: Annotated[
        LogFormat | None,
        typer.Option(
            "--log-format",
            help="Log format on stderr: text or json (env: RCP_LOG_FORMAT).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Render Control Plane."""
    from rcp.settings import GlobalOptions

    # Only the options: the command's first app_context() builds the context and configures
    # logging, so that `rcp tenant --help` (which runs this callback, then prints) pays for
    # neither.
    ctx.obj = GlobalOptions(
        output=output.value if output else None,
        verbose=verbose,
        quiet=quiet,
        sandbox=sandbox,
        no_input=no_input,
        log_format=log_format.value if log_format else None,
    )


# The command tree, mounted here and nowhere else: each module defines its commands (a Typer
# app for a group, plain functions for root commands) and registers nothing on import. The
# modules import nothing heavy at module level, so this costs `rcp --help` only Typer's own work.
from rcp.cli import (  # noqa: E402  (the root app and its callback come first)
    audit,
    auth,
    backup,
    completion,
    cost,
    db,
    fleet,
    group,
    health,
    rollout,
    sandbox,
    serve,
    template,
    tenant,
    tenant_deploys,
    tenant_env,
    tenant_ops,
)

_BUILD = _lazy.BuildOptions(
    pretty_exceptions_short=app.pretty_exceptions_short,
    suggest_commands=app.suggest_commands,
    rich_markup_mode=app.rich_markup_mode,
)
# The root's subcommands, built on first use (rcp.cli._lazy): `rcp tenant status X` builds the
# tenant group and its status command, not the other commands of rcp.
_ROOT_ENTRIES: dict[str, _lazy.Pending] = {}
# What is mounted, in order: (name, Typer app or function, help of a group).
MOUNTED: list[tuple[str, Any, str | None]] = []


def _mount(group: typer.Typer, name: str, help_text: str) -> None:
    group.rich_markup_mode = None  # plain Click help, as for the root (see above)
    _ROOT_ENTRIES[name] = _lazy.group_entry(group, name, help_text, _BUILD)
    MOUNTED.append((name, group, help_text))


def _mount_command(name: str, callback: Any) -> None:
    _ROOT_ENTRIES[name] = _lazy.function_entry(name, callback, _BUILD)
    MOUNTED.append((name, callback, None))


tenant.app.add_typer(tenant_ops.app)  # suspend, resume, check, adopt: commands of `tenant` itself
tenant.app.add_typer(tenant_deploys.app)  # redeploy, deploys, logs: commands of `tenant` itself
tenant_env.app.rich_markup_mode = None
tenant.app.add_typer(tenant_env.app, name="env", help="Tenant environment variables.")
_mount_command("plan", fleet.plan)
_mount_command("apply", fleet.apply)
_mount_command("cost", cost.cost)
_mount_command("audit", audit.audit)
_mount_command("health", health.health)
_mount_command("completion", completion.completion)
_mount(tenant.app, "tenant", "Create, inspect, change and delete tenants.")
_mount(template.app, "template", "List, show and validate templates.")
_mount(group.app, "group", "Environment groups shared by the fleet.")
_mount(rollout.app, "rollout", "Roll a template revision out to its tenants in waves.")
_mount(db.app, "db", "Database migrations and copies.")
_mount(backup.app, "backup", "Export and import the control-plane state.")
_mount(auth.app, "auth", "Store, check and remove the Render API key.")
_mount(sandbox.app, "sandbox", "The embedded Render API simulator.")
_mount(serve.app, "serve", "Serve the tenant HTTP API and dashboard; manage its tokens.")


def main() -> None:
    """Console entry point."""
    app()
