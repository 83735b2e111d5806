"""``rcp serve``: the tenant HTTP API and dashboard; ``rcp serve token create|list|revoke``.

The server needs the optional extra ``[serve]``; nothing of it is imported until ``rcp serve``
runs, so the CLI's start-up does not grow. The token commands need only the database.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rcp.cli._common import app_context, handle_errors, mark_audited
from rcp.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from rcp.core.tokens import ApiToken

app = typer.Typer(
    help="Serve the tenant HTTP API and the fleet dashboard (optional extra [serve]).",
    invoke_without_command=True,
)
token_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API tokens.")
app.add_typer(token_app, name="token", help="Create, list and revoke API tokens.")


@app.callback()
@handle_errors
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="TCP port (0 = any free port).", min=0, max=65535)
    ] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", help="Server processes sharing the port.", min=1, max=64)
    ] = 1,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin",
            help="Allow browser calls from this origin (repeatable; none = no CORS).",
            metavar="ORIGIN",
        ),
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request on stderr.")
    ] = True,
) -> None:
    """Serve /api/… and the dashboard at / until SIGINT/SIGTERM (bearer tokens required)."""
    if ctx.invoked_subcommand is not None:
        return
    from rcp.serve import INSTALL_COMMAND, missing_dependencies

    app_ctx = app_context(ctx)
    missing = missing_dependencies()
    if missing:
        raise ConfigError(
            f"rcp serve needs the optional extra [serve] ({', '.join(missing)} not installed)",
            hint=f"install it with: {INSTALL_COMMAND} (in a clone: pip install -e '.[serve]')",
            code="missing_extra",
        )
    origins = tuple(_origin(value) for value in cors_origin or [])
    from rcp.serve.config import ServeConfig

    config = ServeConfig.from_env()
    config = ServeConfig(
        max_body_bytes=config.max_body_bytes,
        cors_origins=origins or config.cors_origins,
        sweep_seconds=config.sweep_seconds,
        provision_timeout=config.provision_timeout,
        job_workers=config.job_workers,
        sandbox=app_ctx.settings.sandbox,
    )
    # Preconditions before listening: the database answers (and is migrated), a Render key
    # is configured. Each is exit 6 naming the setting.
    app_ctx.store()
    app_ctx.render_client()
    app_ctx.close()
    from rcp.serve.server import serve as run_server

    if not app_ctx.settings.quiet:
        import logging

        # Background work (provisioning progress, resumed tenants, retries) is what an operator
        # watches a server for: shown without -v.
        logging.getLogger("rcp.serve").setLevel(logging.INFO)

    def announce(url: str) -> None:
        sys.stderr.write(f"rcp serve: listening on {url} (API {url}/api/, dashboard {url}/)\n")
        sys.stderr.flush()

    try:
        run_server(
            config,
            host=host,
            port=port,
            workers=workers,
            access_log=access_log,
            on_ready=announce,
        )
    except OSError as exc:
        sys.stderr.write(f"Error: cannot listen on {host}:{port}: {exc.strerror or exc}\n")
        raise typer.Exit(1) from None


def _origin(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if value == "*" or (parts.scheme in ("http", "https") and parts.netloc and not parts.path.strip("/")):
        return value.rstrip("/")
    raise UsageError(
        f"invalid --cors-origin {value!r}: an origin is scheme://host[:port], e.g. https://app.example.com"
    )


def _token_row(token: ApiToken) -> dict[str, Any]:
    return token.to_json()


@token_app.command("create")
@handle_errors
def token_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who uses the token (the audit log's actor).")],
    scope: Annotated[
        str, typer.Option("--scope", help="read (GET, dashboard) or write (also changes).")
    ] = "read",
) -> None:
    """Create a token. It is shown once: only its SHA-256 is stored."""
    from rcp.core.tokens import create_token, parse_scope, validate_token_name

    app_ctx = app_context(ctx)
    validate_token_name(name)
    wanted = parse_scope(scope)
    token, secret = create_token(app_ctx.token_store(), name, wanted)
    mark_audited(app_ctx, "serve token create", None)
    data = {**token.to_json(), "token": secret}
    app_ctx.output.result(data, human=secret)
    if not app_ctx.output.json:
        app_ctx.output.info(
            f"created {wanted} token {name}: store it now, it cannot be shown again"
        )


@token_app.command("list")
@handle_errors
def token_list(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Include revoked tokens.")] = False,
) -> None:
    """Tokens (never their secrets)."""
    from rcp.core.tokens import list_tokens
    from rcp.output.tables import rows_table

    app_ctx = app_context(ctx)
    rows = [_token_row(t) for t in list_tokens(app_ctx.token_store(), include_revoked=all_)]
    app_ctx.output.result(
        rows,
        human=rows_table(
            rows, ["name", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]
        ),
    )


@token_app.command("revoke")
@handle_errors
def token_revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The token's name.")],
) -> None:
    """Revoke a token: requests with it are refused (401) from now on."""
    from rcp.core.tokens import revoke_token, validate_token_name

    app_ctx = app_context(ctx)
    validate_token_name(name)
    token = revoke_token(app_ctx.token_store(), name)
    mark_audited(app_ctx, "serve token revoke", None)
    app_ctx.output.result(token.to_json(), human=f"revoked token {name}")
