"""`rcp auth login|status|logout`: store, check and remove the Render API key.

The key lives in ``<config dir>/credentials.json`` (0600, directory 0700; ``rcp.credentials``).
``RENDER_API_KEY`` always wins over it. A key is checked with ``GET /users`` before it is
stored, and is never printed: ``status`` shows at most its last four characters.

These commands change one machine's local credential, not the shared control-plane state, so
they are not written to the audit log (which lives in the database and records control-plane
mutations). A refused credentials file does not stop them (settings only note the problem,
raised by commands that need the key), so it can still be inspected (``status``) and removed
(``logout``).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rcp.cli._common import app_context, handle_errors, no_input
from rcp.errors import AuthError, ConfigError, UsageError

if TYPE_CHECKING:
    from rcp.context import AppContext

app = typer.Typer(no_args_is_help=True, help="Store, check and remove the Render API key.")

ENV_SOURCE = "RENDER_API_KEY"
FILE_SOURCE = "credentials_file"
SANDBOX_SOURCE = "sandbox"


def _check_key(app_ctx: AppContext, api_key: str) -> dict[str, Any]:
    """``GET /users`` with ``api_key``: the user it acts for. AuthError (exit 6) if refused."""
    with app_ctx.render_client(api_key=api_key) as client:
        user = client.get_user()
    return {"email": user.email, "name": user.name}


def _read_key(app_ctx: AppContext, with_token: bool) -> str:
    if with_token:
        key = sys.stdin.read().strip()
        if not key:
            raise UsageError(
                "no API key on stdin", hint='e.g. `echo "$KEY" | rcp auth login --with-token`'
            )
        return key
    if no_input(app_ctx):
        raise UsageError(
            "cannot prompt for the API key without a terminal: pass it on stdin with --with-token",
            hint="e.g. `printenv RENDER_KEY | rcp auth login --with-token`",
        )
    key = str(typer.prompt("Render API key", hide_input=True, err=True)).strip()
    if not key:
        raise UsageError("no API key given")
    return key


@app.command("login")
@handle_errors
def login(
    ctx: typer.Context,
    with_token: Annotated[
        bool, typer.Option("--with-token", help="Read the key from stdin (for scripts).")
    ] = False,
) -> None:
    """Check a Render API key (GET /users) and store it in <config dir>/credentials.json."""
    from rcp.credentials import mask_key, write_credential

    app_ctx = app_context(ctx)
    settings = app_ctx.settings
    key = _read_key(app_ctx, with_token)
    try:
        user = _check_key(app_ctx, key)
    except AuthError:
        raise AuthError(
            f"Render rejected the API key {mask_key(key)}; nothing was stored",
            hint="create a key in the Render Dashboard under Account Settings → API Keys",
        ) from None
    path = write_credential(settings.config_dir, key)
    if os.environ.get(ENV_SOURCE):
        app_ctx.output.warn(
            f"{ENV_SOURCE} is set and wins over the stored key; unset it to use the stored one"
        )
    data = {
        "stored": True,
        "path": str(path),
        "key": mask_key(key),
        "api_url": settings.api_url,
        "user": user,
    }
    who = user["email"] or user["name"] or "the key's user"
    app_ctx.output.result(data, human=f"logged in as {who}; key {data['key']} stored in {path}")


@app.command("status")
@handle_errors
def status(ctx: typer.Context) -> None:
    """Which API key rcp uses (masked), where it comes from, and whether Render accepts it."""
    from rcp.credentials import credentials_path, mask_key, read_credential

    app_ctx = app_context(ctx)
    settings = app_ctx.settings
    path = credentials_path(settings.config_dir)
    env_key = os.environ.get(ENV_SOURCE) or None
    key: str | None
    if env_key is not None:
        key, source = env_key, ENV_SOURCE
        try:
            read_credential(settings.config_dir)
        except ConfigError as exc:
            # Not used while RENDER_API_KEY is set, but still worth fixing.
            app_ctx.output.warn(f"{exc.message} ({exc.hint})")
    else:
        credential = read_credential(settings.config_dir)  # a refused file: exit 6
        if credential is not None:
            key, source = credential.api_key, FILE_SOURCE
        elif settings.sandbox:
            key, source = settings.api_key, SANDBOX_SOURCE
        else:
            raise ConfigError(
                "not logged in: no RENDER_API_KEY and no stored key",
                hint="run `rcp auth login` or set RENDER_API_KEY",
                code="missing_api_key",
            )
    assert key is not None
    try:
        user = _check_key(app_ctx, key)
    except AuthError:
        raise AuthError(
            f"Render rejects the API key from {source} ({mask_key(key)})",
            hint="run `rcp auth login` with a valid key"
            + (" or fix RENDER_API_KEY" if source == ENV_SOURCE else ""),
        ) from None
    data = {
        "logged_in": True,
        "source": source,
        "key": mask_key(key),
        "api_url": settings.api_url,
        "sandbox": settings.sandbox,
        "user": user,
        "credentials_file": {"path": str(path), "exists": path.exists()},
    }
    who = user["email"] or user["name"] or "the key's user"
    app_ctx.output.result(
        data,
        human=f"logged in to {settings.api_url} as {who} (key {data['key']} from {source})",
    )


@app.command("logout")
@handle_errors
def logout(ctx: typer.Context) -> None:
    """Remove the stored API key (Render keys themselves are revoked in the Dashboard)."""
    from rcp.credentials import credentials_path, delete_credential

    app_ctx = app_context(ctx)
    settings = app_ctx.settings
    path = credentials_path(settings.config_dir)
    removed = delete_credential(settings.config_dir)
    if os.environ.get(ENV_SOURCE):
        app_ctx.output.warn(f"{ENV_SOURCE} is still set in the environment and is still used")
    app_ctx.output.result(
        {"removed": removed, "path": str(path)},
        human=f"removed {path}" if removed else f"no stored key ({path} does not exist)",
    )
