"""`rcp rollout start|status|pause|resume|abort|rollback`: a template revision rolled out across
its tenants in waves, with health gates (docs/fleet.md#rollouts)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from rcp.cli._common import (
    app_context,
    append_audit,
    duration_option,
    handle_errors,
    mark_audited,
    mutation_waits,
    operation,
)
from rcp.cli._options import LockTimeoutOption, MaxWaitOption

if TYPE_CHECKING:
    from rcp.context import AppContext
    from rcp.core.rollout.model import Rollout
    from rcp.core.rollout.runner import RolloutReport, RolloutRunner, StepEvent

app = typer.Typer(
    no_args_is_help=True,
    help="Roll a template's current revision out to its tenants in waves, with health gates.",
)

TemplateArgument = Annotated[
    str,
    typer.Argument(
        metavar="TEMPLATE",
        help="The template (a name, or a path to its YAML file) whose tenants are rolled out.",
    ),
]
ConcurrencyOption = Annotated[
    int, typer.Option("--concurrency", "-c", min=1, max=64, help="Tenants updated at once.")
]
TimeoutOption = Annotated[
    str, typer.Option("--timeout", help="Give up waiting for one tenant after this long.")
]


def _template_name(app_ctx: AppContext, template: str) -> str:
    """A template argument as rollouts record it (its name; a path names its file's stem)."""
    from rcp.core.templates import is_template_path, load_template

    if not is_template_path(template):
        return template
    return load_template(template, app_ctx.settings.config_dir).name


def _runner(app_ctx: AppContext, operator: Any, timeout: float, rollback: bool) -> RolloutRunner:
    from rcp.core.provisioning import Waiting
    from rcp.core.rollout.runner import RolloutRunner

    return RolloutRunner(
        operator=operator,
        rollouts=app_ctx.rollout_store(),
        waiting=Waiting(timeout=timeout),
        probe=None if rollback else app_ctx.health_probe(),
        on_step=_step_reporter(app_ctx, operator.progress),
        on_wave=_wave_reporter(app_ctx, operator.progress),
    )


def _say(app_ctx: AppContext, progress: Any, subject: str, line: str) -> None:
    """A progress line: in the live view on a terminal (printing beside it would tear it),
    else on stderr."""
    from rcp.output.progress import LiveProgress

    if isinstance(progress, LiveProgress):
        progress.event(subject, None, line)
    else:
        app_ctx.output.info(line)


def _step_reporter(app_ctx: AppContext, progress: Any) -> Any:
    """A progress line per finished tenant (waves, done/failed, ETA) and its audit entry. The
    ETA: the tenants left, at the mean time a tenant took so far, ``concurrency`` at a time,
    plus the pauses before the waves still to start."""
    import threading

    from rcp.output import rollout as human

    lock = threading.Lock()
    working = ("pending", "updating")

    def report(event: StepEvent) -> None:
        rollout, step = event.rollout, event.step
        with lock:
            states = ("rolling_back",) if event.rollback else working
            left = sum(1 for s in rollout.steps if s.state.value in states)
            took = [s.seconds for s in rollout.steps if s.seconds is not None and s.seconds > 0]
            mean = sum(took) / len(took) if took else 0.0
            waves_left = 0 if event.rollback else rollout.wave_count - rollout.current_wave - 1
            eta = (
                mean * -(-left // rollout.options.concurrency)
                + max(0, waves_left) * rollout.options.pause_between
            )
            line = human.progress_line(rollout, step, eta if left else None)
            _say(app_ctx, progress, step.slug, line)
            _audit_step(app_ctx, event)

    return report


def _wave_reporter(app_ctx: AppContext, progress: Any) -> Any:
    from rcp.output import rollout as human

    def report(rollout: Rollout, index: int, what: str) -> None:
        _say(app_ctx, progress, "rollout", human.wave_line(rollout, index, what))

    return report


def _audit_step(app_ctx: AppContext, event: StepEvent) -> None:
    """`rcp audit --tenant S` shows the rollout (or rollback) that changed S."""
    step = event.step
    if step.state.value in ("current", "skipped"):
        return
    ok = step.state.value in ("done", "rolled_back")
    try:
        append_audit(
            app_ctx,
            tenant=step.slug,
            outcome="ok" if ok else (step.error_code or "error"),
            exit_code=0 if ok else 5,
            duration_ms=int((step.seconds or 0.0) * 1000),
        )
    except Exception:  # the audit must never change a tenant's outcome
        app_ctx.output.warn(f"could not write the audit entry of {step.slug}")


def _finish(app_ctx: AppContext, report: RolloutReport) -> None:
    """The result document, then the exit code: 0 completed (or paused/aborted by another
    command), 5 halted or rollback incomplete, 75/130/143 when the run was stopped."""
    from rcp.errors import ProvisioningFailed
    from rcp.output import rollout as human

    rollout = report.rollout
    app_ctx.output.result(report.to_json(), human=human.report(rollout))
    if report.stopped_by is not None:
        raise report.stopped_by
    state = rollout.state.value
    if state == "halted":
        raise ProvisioningFailed(
            rollout.message or f"rollout {rollout.id} halted",
            hint=(
                f"fix the cause, then `rcp rollout resume {rollout.template}` (retries the "
                f"failed tenants), or `rcp rollout rollback {rollout.template}`"
            ),
            code="rollout_halted",
        )
    if state == "rolling_back":
        raise ProvisioningFailed(
            rollout.message or f"rollback of rollout {rollout.id} incomplete",
            hint=f"rerun `rcp rollout rollback {rollout.template}`",
            code="rollback_incomplete",
        )
    failed = [step.slug for step in rollout.steps if step.state.value == "failed"]
    if state == "completed" and failed:
        raise ProvisioningFailed(
            f"rollout {rollout.id} completed with {len(failed)} failed tenants "
            f"({', '.join(failed)}), within --max-failures {rollout.options.max_failures}",
            hint=f"`rcp tenant show {failed[0]}` says what failed; `rcp tenant redeploy` retries",
            code="rollout_failures",
        )
    if state in ("paused", "aborted"):
        app_ctx.output.info(f"rollout {rollout.id} {state}: {rollout.message or ''}".rstrip(": "))


def _run(
    app_ctx: AppContext,
    rollout: Rollout,
    *,
    command: str,
    timeout: str,
    max_wait: str | None,
    lock_timeout: str,
    rollback: bool = False,
) -> None:
    timeout_seconds = duration_option(timeout, "--timeout")
    lock_wait = mutation_waits(app_ctx, lock_timeout=lock_timeout, max_wait=max_wait)
    app_ctx.gateway().owner_id()  # API key and workspace: preconditions, before any write
    mark_audited(app_ctx, command, None)
    with operation(app_ctx, command=command, slug=None, lock_wait=lock_wait) as operator:
        runner = _runner(app_ctx, operator, timeout_seconds or 1800.0, rollback)
        report = runner.rollback(rollout) if rollback else runner.run(rollout)
    _finish(app_ctx, report)


@app.command("start")
@handle_errors
def start(
    ctx: typer.Context,
    template: TemplateArgument,
    waves: Annotated[
        str,
        typer.Option(
            "--waves",
            help="Cumulative wave sizes: tenant counts and percentages, the last 100%.",
        ),
    ] = "1,10%,50%,100%",
    tier: Annotated[
        list[str] | None,
        typer.Option(
            "--tier",
            metavar="T",
            help="Only tenants of these tiers, tier by tier in this order (repeat or comma list).",
        ),
    ] = None,
    max_failures: Annotated[
        str,
        typer.Option(
            "--max-failures",
            metavar="N|P%",
            help="Failed tenants tolerated (a count or a share of the rollout's tenants); "
            "one more halts the rollout.",
        ),
    ] = "0",
    pause_between: Annotated[
        str, typer.Option("--pause-between", help="Wait this long between waves, e.g. 5m.")
    ] = "0",
    health_path: Annotated[
        str | None,
        typer.Option(
            "--health-path",
            help="Path every web service must answer 2xx on once deployed (default: the "
            "template's healthCheckPath, if any).",
        ),
    ] = None,
    health_timeout: Annotated[
        str,
        typer.Option(
            "--health-timeout",
            help="How long a deployed web service may take to answer 2xx on its health path.",
        ),
    ] = "20s",
    concurrency: ConcurrencyOption = 4,
    timeout: TimeoutOption = "30m",
    max_wait: MaxWaitOption = None,
    lock_timeout: LockTimeoutOption = "0",
) -> None:
    """Update the tenants of TEMPLATE to its current revision, wave by wave.

    A wave is done when each of its tenants has its deploys live and its web services answer
    2xx on the health path; failed tenants beyond --max-failures halt the rollout, leaving
    later waves untouched. Rerunning the same command (or `rollout resume`) continues it.

    \b
    Examples:
      rcp rollout start default
      rcp rollout start default --waves 1,10%,100% --max-failures 2 --pause-between 5m
      rcp rollout start default --tier canary,free,pro --health-path /healthz
    """
    from rcp.core.rollout.model import (
        RolloutOptions,
        parse_health_path,
        parse_max_failures,
        parse_tiers,
        parse_waves,
    )
    from rcp.core.rollout.runner import plan_rollout, start_or_continue
    from rcp.core.templates import load_template, validate_template
    from rcp.output import rollout as human

    app_ctx = app_context(ctx)
    options = RolloutOptions(
        waves=parse_waves(waves).text,
        tiers=parse_tiers(tier or []),
        max_failures=parse_max_failures(max_failures).text,
        pause_between=duration_option(pause_between, "--pause-between") or 0.0,
        health_path=parse_health_path(health_path),
        health_timeout=duration_option(health_timeout, "--health-timeout") or 0.0,
        concurrency=concurrency,
    )
    duration_option(timeout, "--timeout")
    loaded = load_template(template, app_ctx.settings.config_dir)
    validate_template(loaded)
    planned = plan_rollout(app_ctx.store(), loaded, options, actor=app_ctx.settings.actor)
    rollouts = app_ctx.rollout_store()
    rollout, new = start_or_continue(rollouts, planned)
    app_ctx.output.info(
        human.header(rollout) if new else f"continuing {human.header(rollout)} ({rollout.state})"
    )
    _run(
        app_ctx,
        rollout,
        command="rollout start",
        timeout=timeout,
        max_wait=max_wait,
        lock_timeout=lock_timeout,
    )


@app.command("status")
@handle_errors
def status(
    ctx: typer.Context,
    template: Annotated[
        str | None,
        typer.Argument(metavar="[TEMPLATE]", help="The template (default: the latest rollout)."),
    ] = None,
) -> None:
    """Show the latest rollout (of TEMPLATE): its state, waves and each tenant's step."""
    from rcp.core.rollout.runner import find_rollout
    from rcp.output import rollout as human

    app_ctx = app_context(ctx)
    name = _template_name(app_ctx, template) if template is not None else None
    rollout = find_rollout(app_ctx.rollout_store(), name)
    app_ctx.output.result(rollout.to_json(), human=human.report(rollout))


def _request(ctx: typer.Context, template: str, state: str) -> None:
    from rcp.core.rollout.model import RolloutState
    from rcp.core.rollout.runner import request_state
    from rcp.output import rollout as human

    app_ctx = app_context(ctx)
    name = _template_name(app_ctx, template)
    mark_audited(app_ctx, f"rollout {state}", None)
    rollout = request_state(
        app_ctx.rollout_store(),
        name,
        RolloutState.PAUSED if state == "pause" else RolloutState.ABORTED,
        app_ctx.settings.actor,
    )
    app_ctx.output.result(rollout.to_json(), human=human.report(rollout))


@app.command("pause")
@handle_errors
def pause(ctx: typer.Context, template: TemplateArgument) -> None:
    """Pause the running rollout of TEMPLATE: no tenant is started after those in flight.

    `rcp rollout resume TEMPLATE` continues it.
    """
    _request(ctx, template, "pause")


@app.command("abort")
@handle_errors
def abort(ctx: typer.Context, template: TemplateArgument) -> None:
    """Abort the rollout of TEMPLATE for good: tenants not yet updated stay as they are.

    Tenants already updated keep the new revision; `rcp rollout rollback TEMPLATE` returns
    them to the previous one.
    """
    _request(ctx, template, "abort")


@app.command("resume")
@handle_errors
def resume(
    ctx: typer.Context,
    template: TemplateArgument,
    timeout: TimeoutOption = "30m",
    max_wait: MaxWaitOption = None,
    lock_timeout: LockTimeoutOption = "0",
) -> None:
    """Continue the paused, halted or interrupted rollout of TEMPLATE where it stopped.

    Tenants already updated are not touched again; failed tenants of the current wave are
    retried.
    """
    from rcp.core.rollout.model import RESUMABLE
    from rcp.core.rollout.runner import find_rollout
    from rcp.errors import ConflictError

    app_ctx = app_context(ctx)
    duration_option(timeout, "--timeout")
    rollout = find_rollout(app_ctx.rollout_store(), _template_name(app_ctx, template))
    if rollout.state not in RESUMABLE:
        raise ConflictError(
            f"rollout {rollout.id} of template {rollout.template} is {rollout.state}: "
            "there is nothing to resume",
            code="rollout_state",
        )
    _run(
        app_ctx,
        rollout,
        command="rollout resume",
        timeout=timeout,
        max_wait=max_wait,
        lock_timeout=lock_timeout,
    )


@app.command("rollback")
@handle_errors
def rollback(
    ctx: typer.Context,
    template: TemplateArgument,
    timeout: TimeoutOption = "30m",
    max_wait: MaxWaitOption = None,
    lock_timeout: LockTimeoutOption = "0",
) -> None:
    """Return every tenant the latest rollout of TEMPLATE changed to its previous revision.

    Each tenant gets its previous configuration back; services whose code changed return to
    their previous deploy's build (Render's rollback). Rerunning continues an unfinished
    rollback.
    """
    from rcp.core.rollout.runner import find_rollout

    app_ctx = app_context(ctx)
    duration_option(timeout, "--timeout")
    rollout = find_rollout(app_ctx.rollout_store(), _template_name(app_ctx, template))
    _run(
        app_ctx,
        rollout,
        command="rollout rollback",
        timeout=timeout,
        max_wait=max_wait,
        lock_timeout=lock_timeout,
        rollback=True,
    )
