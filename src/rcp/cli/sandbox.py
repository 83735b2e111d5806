"""``rcp sandbox serve|reset``: the embedded Render API simulator over HTTP (docs/sandbox.md).

Nothing heavy at import time: the simulator is imported inside the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Run the embedded Render API simulator over HTTP, or wipe its state.",
    no_args_is_help=True,
)


def sandbox_state_path() -> Path:
    """``<data dir>/sandbox/render.db`` — the same world ``rcp --sandbox`` uses in-process."""
    from rcp.settings import GlobalOptions, load_settings

    path: Path = load_settings(GlobalOptions(sandbox=True)).sandbox_state_path
    return path


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="TCP port (0 = any free port).", min=0, max=65535)
    ] = 10000,
    deploy_seconds: Annotated[
        float, typer.Option(help="Seconds a deploy builds before it is live.", min=0)
    ] = 3.0,
    datastore_seconds: Annotated[
        float, typer.Option(help="Seconds Postgres/Key Value stay 'creating'.", min=0)
    ] = 5.0,
    latency_ms: Annotated[float, typer.Option(help="Added latency per request.", min=0)] = 0.0,
    rate_limits: Annotated[
        str, typer.Option(help="'render' (Render's buckets, 429s) or 'off'.")
    ] = "render",
    faults: Annotated[
        Path | None,
        typer.Option(help="JSON or YAML list of fault rules.", exists=True, dir_okay=False),
    ] = None,
    rate_window_scale: Annotated[
        str,
        typer.Option(
            help="Multiply every rate-limit window, e.g. 1/360 = 20 creations per 10 s "
            "(clients: set RCP_RATE_WINDOW_SCALE to the same value)."
        ),
    ] = "1",
    owners: Annotated[
        int,
        typer.Option(help="Workspaces the API key sees (to try RENDER_OWNER_ID).", min=1, max=50),
    ] = 1,
    deploy_overlap: Annotated[
        str,
        typer.Option(
            help="A new deploy 'override's (cancels) the one in progress, or 'wait's (queued)."
        ),
    ] = "override",
    create_limit: Annotated[
        int,
        typer.Option(
            help="Creations per hour window to allow and advertise (Render's default 20; a "
            "raised quota such as 1000).",
            min=1,
        ),
    ] = 20,
    create_counters: Annotated[
        str,
        typer.Option(
            help="'separate': services, Postgres and Key Value each count their own "
            "creations; 'shared': one counter for all three."
        ),
    ] = "separate",
    profile: Annotated[
        str,
        typer.Option(
            help="'fixed' (--deploy-seconds, --datastore-seconds) or 'render': Render's real "
            "durations with their spread (Postgres about 2 min, a deploy about 5)."
        ),
    ] = "fixed",
    time_scale: Annotated[
        str,
        typer.Option(
            help="Render seconds per real second: durations and rate-limit windows run this "
            "much faster, e.g. 60 (clients: set RCP_RENDER_TIME_SCALE to the same value)."
        ),
    ] = "1",
) -> None:
    """Serve the simulator at http://HOST:PORT/v1 until SIGINT/SIGTERM (any non-empty Bearer key)."""
    if rate_limits not in ("render", "off"):
        raise typer.BadParameter("must be 'render' or 'off'", param_hint="--rate-limits")
    if deploy_overlap not in ("override", "wait"):
        raise typer.BadParameter("must be 'override' or 'wait'", param_hint="--deploy-overlap")
    if create_counters not in ("separate", "shared"):
        raise typer.BadParameter("must be 'separate' or 'shared'", param_hint="--create-counters")
    if profile not in ("fixed", "render"):
        raise typer.BadParameter("must be 'fixed' or 'render'", param_hint="--profile")
    from rcp.sandbox import FaultRuleError, SandboxSettings, parse_scale
    from rcp.sandbox import serve as serve_http

    try:
        window_scale = parse_scale(rate_window_scale)
    except ValueError:
        raise typer.BadParameter(
            "must be a positive number such as 0.01 or 1/360", param_hint="--rate-window-scale"
        ) from None
    try:
        clock_scale = parse_scale(time_scale)
    except ValueError:
        raise typer.BadParameter(
            "must be a positive number such as 60", param_hint="--time-scale"
        ) from None
    settings = SandboxSettings(
        profile=profile,
        time_scale=clock_scale,
        deploy_seconds=deploy_seconds,
        datastore_seconds=datastore_seconds,
        latency_ms=latency_ms,
        rate_limits=rate_limits,
        faults_file=faults,
        rate_window_scale=window_scale,
        owners=owners,
        deploy_overlap=deploy_overlap,
        create_limit=create_limit,
        create_counters=create_counters,
    )
    state_path = sandbox_state_path()

    def announce(url: str) -> None:
        sys.stderr.write(
            f"rcp sandbox: serving Render API simulator at {url} (state: {state_path})\n"
        )
        sys.stderr.flush()

    try:
        serve_http(host, port, state_path, settings, on_ready=announce)
    except FaultRuleError as exc:
        raise typer.BadParameter(str(exc), param_hint="--faults") from None
    except OSError as exc:
        sys.stderr.write(f"rcp sandbox: cannot listen on {host}:{port}: {exc.strerror}\n")
        raise typer.Exit(1) from None


@app.command()
def reset() -> None:
    """Wipe the simulator's world (resources, fault rules, counters, request log)."""
    from rcp.sandbox import SandboxStore

    state_path = sandbox_state_path()
    SandboxStore(state_path).wipe()
    sys.stderr.write(f"rcp sandbox: state wiped ({state_path})\n")
