"""`rcp plan FILE` / `rcp apply FILE`: declarative fleets (docs/fleet.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rcp.cli._common import (
    app_context,
    append_audit,
    duration_option,
    handle_errors,
    mark_audited,
    mutation_waits,
    no_input,
    operation,
)
from rcp.cli._options import LockTimeoutOption, MaxWaitOption, YesOption
from rcp.errors import UsageError

if TYPE_CHECKING:
    from rcp.context import AppContext
    from rcp.core.fleet import ApplyReport, FleetFile, FleetPlan, Schedule, TenantResult

FileArgument = Annotated[
    Path,
    typer.Argument(
        metavar="FILE",
        help="Fleet file (YAML): a tenants list of {name, slug, template, plugin_repo, env}.",
    ),
]
PruneOption = Annotated[
    bool, typer.Option("--prune", help="Delete recorded tenants that the file does not list.")
]
AbsoluteTemplatesOption = Annotated[
    bool,
    typer.Option(
        "--allow-absolute-templates",
        help="Accept absolute template: paths in the fleet file (default: only paths inside "
        "the fleet file's directory).",
    ),
]

DetailedExitcodeOption = Annotated[
    bool,
    typer.Option(
        "--detailed-exitcode",
        help="Exit 0 when there is nothing to change, 2 when there are changes, 1 on any error.",
    ),
]
MassDeleteOption = Annotated[
    bool,
    typer.Option(
        "--allow-mass-delete",
        help="Let --prune delete more than 10 % of the fleet-managed tenants (at least 1).",
    ),
]


def _load_plan(
    app_ctx: AppContext, file: Path, prune: bool, allow_absolute_templates: bool
) -> tuple[FleetFile, FleetPlan]:
    from rcp.core.cost import load_price_table
    from rcp.core.fleet import load_fleet, plan_fleet, price_plan

    fleet = load_fleet(
        file, app_ctx.settings.config_dir, allow_absolute_templates=allow_absolute_templates
    )
    fleet_plan = plan_fleet(fleet, app_ctx.store(), prune=prune)
    return fleet, price_plan(fleet_plan, load_price_table(app_ctx.settings.config_dir))


def _load_saved_or_plan(
    app_ctx: AppContext, file: Path, prune: bool, allow_absolute_templates: bool
) -> FleetPlan:
    """`rcp apply FILE`: FILE is a fleet file, or a plan saved by `rcp plan --out` (told apart
    by content), which is applied only if it is still exactly what would be done now."""
    from rcp.core.fleet.saved import check_fresh, read_saved_plan

    saved = read_saved_plan(file)
    if saved is None:
        return _load_plan(app_ctx, file, prune, allow_absolute_templates)[1]
    if prune and not saved.prune:
        raise UsageError(
            f"saved plan {file} was made without --prune; a saved plan is applied as it was made",
            hint="make the plan with --prune (rcp plan FILE --prune --out PLAN)",
        )
    fleet, fleet_plan = _load_plan(
        app_ctx, saved.fleet_file, saved.prune, saved.allow_absolute_templates
    )
    check_fresh(saved, fleet, fleet_plan)
    return fleet_plan


def _check_mass_delete(fleet_plan: FleetPlan, allow: bool) -> None:
    deletions = fleet_plan.deletions
    threshold = fleet_plan.delete_threshold()
    if allow or len(deletions) <= threshold:
        return
    raise UsageError(
        f"refusing to delete {len(deletions)} of {fleet_plan.managed_total} fleet-managed "
        f"tenants (more than the limit of {threshold}: 10 %, at least 1) without "
        "--allow-mass-delete",
        hint="check that the fleet file is complete; if these deletions are meant, pass "
        "--allow-mass-delete",
        code="mass_delete_refused",
    )


@handle_errors
def plan(
    ctx: typer.Context,
    file: FileArgument,
    prune: PruneOption = False,
    allow_absolute_templates: AbsoluteTemplatesOption = False,
    detailed_exitcode: DetailedExitcodeOption = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="PLAN",
            help="Save the plan to PLAN (JSON) for `rcp apply PLAN`, which applies exactly it.",
        ),
    ] = None,
) -> None:
    """Show what `rcp apply FILE` would change (the records only; no Render call).

    \b
    Examples:
      rcp plan fleet.yaml
      rcp plan fleet.yaml --prune -o json > plan.json
      rcp plan fleet.yaml --out fleet.plan --detailed-exitcode   # 0 none, 2 changes, 1 error
    """
    from rcp.errors import RcpError
    from rcp.output import fleet as human

    app_ctx = app_context(ctx)
    try:
        fleet, fleet_plan = _load_plan(app_ctx, file, prune, allow_absolute_templates)
        if out is not None:
            from rcp.core.fleet.saved import plan_document, write_plan

            write_plan(
                out,
                plan_document(fleet, fleet_plan, allow_absolute_templates=allow_absolute_templates),
            )
    except RcpError as exc:
        if detailed_exitcode:
            exc.exit_code = 1  # Terraform's convention: 2 means "changes", so errors are 1
        raise
    app_ctx.output.result(fleet_plan.to_json(), human=human.plan(fleet_plan))
    if out is not None:
        app_ctx.output.info(f"plan saved to {out}; apply it with: rcp apply {out}")
    if detailed_exitcode and fleet_plan.pending:
        raise typer.Exit(2)


@handle_errors
def apply(
    ctx: typer.Context,
    file: FileArgument,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=64, help="Tenants worked on at once.")
    ] = 4,
    prune: PruneOption = False,
    yes: YesOption = False,
    timeout: Annotated[
        str, typer.Option("--timeout", help="Give up waiting for one tenant after this long.")
    ] = "30m",
    max_wait: MaxWaitOption = None,
    lock_timeout: LockTimeoutOption = "0",
    allow_absolute_templates: AbsoluteTemplatesOption = False,
    allow_mass_delete: MassDeleteOption = False,
) -> None:
    """Converge the fleet: create, update (and with --prune delete) tenants in parallel.

    FILE is a fleet file, or a plan saved by `rcp plan FILE --out PLAN`: that plan is applied
    exactly, and refused (exit 4) if the fleet file or the records changed since.

    \b
    Examples:
      rcp apply fleet.yaml
      rcp apply fleet.plan
      rcp -o json apply fleet.yaml --concurrency 8 --prune --yes > apply.json
    """
    from rcp.core.fleet import FleetApplier, failure_summary, schedule
    from rcp.core.provisioning import Waiting
    from rcp.errors import Interrupted
    from rcp.output import fleet as human

    app_ctx = app_context(ctx)
    timeout_seconds = duration_option(timeout, "--timeout")
    lock_wait = mutation_waits(app_ctx, lock_timeout=lock_timeout, max_wait=max_wait)
    fleet_plan = _load_saved_or_plan(app_ctx, file, prune, allow_absolute_templates)
    output = app_ctx.output
    _check_mass_delete(fleet_plan, allow_mass_delete)
    deletions = fleet_plan.deletions
    if deletions and not yes:
        names = ", ".join(c.slug for c in deletions)
        if no_input(app_ctx):
            raise UsageError(
                f"refusing to delete {len(deletions)} tenants ({names}) without confirmation: "
                "pass --yes",
                hint="stdin is not a terminal (or --no-input/CI is set), so rcp cannot ask",
            )
        if not typer.confirm(
            f"apply will delete {len(deletions)} tenants and all their Render resources "
            f"({names}). Continue?",
            err=True,
        ):
            raise UsageError("deletion not confirmed", code="not_confirmed")
    if not fleet_plan.pending:
        from rcp.core.fleet import ApplyReport, TenantResult
        from rcp.core.models import utcnow

        report = ApplyReport(
            fleet_plan, [TenantResult(c.slug, "noop") for c in fleet_plan.changes], utcnow(), 0.0
        )
        output.result(report.to_json(), human=human.plan(fleet_plan))
        return
    from rcp.core.tenants.worlds import require_same_world

    # API key, workspace, and every record apply touches of this world: preconditions, before
    # any write (a record of another world exits 6 naming both).
    require_same_world(app_ctx.gateway(), (c.recorded for c in fleet_plan.pending if c.recorded))
    budget = (
        app_ctx.max_wait_override
        if app_ctx.max_wait_override is not None
        else app_ctx.settings.max_wait
    )
    mark_audited(app_ctx, "apply", None)

    forecast = app_ctx.create_forecast()
    planned = schedule(fleet_plan.pending, forecast, budget)
    # Before the live view starts, so the line stays readable on a terminal.
    output.info(human.schedule(fleet_plan, planned, concurrency))
    # The command is audited as a whole (above) and per tenant (``_audit_tenant``).
    with operation(app_ctx, command="apply", slug=None, lock_wait=lock_wait) as operator:
        applier = FleetApplier(
            operator=operator,
            waiting=Waiting(timeout=timeout_seconds),
            concurrency=concurrency,
            budget=budget,
            forecast=forecast,
            on_result=_result_reporter(app_ctx, operator.progress, planned, concurrency),
        )
        report = applier.apply(fleet_plan, planned)
    output.result(report.to_json(), human=human.apply_report(report))
    code = report.exit_code()
    if code == 0:
        return
    if report.interrupted:
        raise Interrupted(
            f"apply stopped by signal; {len(report.interrupted)} tenants unfinished; "
            "rerun the same command to resume",
            signal_number=code - 128,
        )
    if report.failed:
        raise failure_summary(report)
    raise _deferred_error(report)


def _deferred_error(report: ApplyReport) -> Exception:
    from rcp.core.fleet import describe_moment
    from rcp.errors import RetryLater

    deferred = report.deferred
    at = report.retry_at
    when = f"rerun after {describe_moment(at)}" if at else "rerun later"
    names = ", ".join(r.slug for r in deferred)
    return RetryLater(
        f"{len(deferred)} tenants left for later by Render's rate limits ({names}); {when}",
        retry_at=at,
        hint="rerun the same `rcp apply`; finished tenants are not touched again",
    )


def _result_reporter(
    app_ctx: AppContext, progress: Any, planned: Schedule, concurrency: int
) -> Any:
    """One line per finished tenant with an ETA (in the live view on a terminal, else on
    stderr), and a per-tenant audit entry."""
    import threading
    import time

    from rcp.output import fleet as human
    from rcp.output.progress import LiveProgress

    started = time.monotonic()
    lock = threading.Lock()

    def report(result: TenantResult, done: int, total: int) -> None:
        elapsed = time.monotonic() - started
        left = total - done
        # Tenants run in waves of `concurrency`; creates cannot finish before the limiter allows.
        per_wave = elapsed / max(1, -(-done // concurrency))
        eta = max(per_wave * -(-left // concurrency), planned.creates_done_in - elapsed, 0.0)
        shown_eta = eta if left else None
        with lock:
            if isinstance(progress, LiveProgress):
                line = human.tenant_result(result, done, total, shown_eta, live=True)
                progress.event(result.slug, None, line)
            else:
                app_ctx.output.info(human.tenant_result(result, done, total, shown_eta, live=False))
            _audit_tenant(app_ctx, result)

    return report


def _audit_tenant(app_ctx: AppContext, result: TenantResult) -> None:
    """`rcp audit --tenant S` shows the apply that touched S (the command's own entry has no
    single tenant)."""
    if result.outcome in ("noop", "deferred") and result.exit_code in (0, 75):
        return
    try:
        append_audit(
            app_ctx,
            tenant=result.slug,
            outcome="ok" if result.exit_code == 0 else (result.error_code or "error"),
            exit_code=result.exit_code,
            duration_ms=int(result.seconds * 1000),
        )
    except Exception:  # the audit must never change a tenant's outcome
        app_ctx.output.warn(f"could not write the audit entry of {result.slug}")
