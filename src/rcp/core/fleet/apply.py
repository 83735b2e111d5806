"""Converge a fleet: run a plan's changes in parallel under per-tenant locks and the one shared
rate limiter. This module schedules and runs; what happens to one tenant is the tenant use
case (``rcp.core.tenants.converge_tenant``, ``delete_tenant``).

Scheduling (why a fleet apply neither burns 429s nor stalls): Render's creation limit (20 per
clock hour by default, raisable; counters per kind or shared — the limiter learns which from
Render's answers) decides how many tenants can be created now. ``schedule`` predicts, from what
the limiter knows before starting, which tenants fit within the wait budget (the line the CLI
prints); the run itself admits creating tenants one at a time, in file order, as Render's
answers allow (``rcp.core.fleet.admission``): a tenant whose creates do not fit within the wait
budget is *deferred* — not started, reported with exit 75 and the time to rerun — with every
creating tenant after it, so no tenant is left half-created waiting for a later window, and no
request is sent that Render would refuse.

Per tenant, through ``rcp.core.tenants`` (under its lease, every Render mutation preceded by
the fencing and stop-flag guard): create or update (``converge_tenant``), delete (the path of
``rcp tenant delete``).
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rcp.core.fleet.admission import CreateAdmission, CreateForecast, CreateTracker
from rcp.core.fleet.diff import FleetPlan, TenantChange
from rcp.core.models import ResourceKind
from rcp.core.provisioning import Waiting
from rcp.core.tenants import Operator, converge_tenant, delete_tenant
from rcp.core.tenants.records import render_name_conflict
from rcp.errors import (
    ConflictError,
    Interrupted,
    ProvisioningFailed,
    RcpError,
    RetryLater,
)

EXIT_RETRY_LATER = 75


def no_limit_forecast(kinds: list[ResourceKind]) -> list[float]:
    return [0.0] * len(kinds)


@dataclass
class TenantResult:
    slug: str
    outcome: str  # created | updated | deleted | noop | failed | deferred | interrupted
    exit_code: int = 0
    error: str | None = None
    error_code: str | None = None
    seconds: float = 0.0
    retry_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        from rcp.core.models import iso_z

        return {
            "slug": self.slug,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "error": self.error,
            "error_code": self.error_code,
            "seconds": round(self.seconds, 3),
            "retry_at": iso_z(self.retry_at),
        }


@dataclass
class ApplyReport:
    plan: FleetPlan
    results: list[TenantResult]
    started_at: datetime
    seconds: float

    @property
    def failed(self) -> list[TenantResult]:
        return [r for r in self.results if r.exit_code not in (0, EXIT_RETRY_LATER)]

    @property
    def deferred(self) -> list[TenantResult]:
        return [r for r in self.results if r.exit_code == EXIT_RETRY_LATER]

    @property
    def interrupted(self) -> list[TenantResult]:
        return [r for r in self.results if r.outcome == "interrupted"]

    @property
    def retry_at(self) -> datetime | None:
        moments = [r.retry_at for r in self.deferred if r.retry_at is not None]
        return max(moments) if moments else None

    def exit_code(self) -> int:
        """0 converged; 130/143 interrupted; 5 when any tenant failed; 75 when only deferred."""
        signals = [r.exit_code for r in self.interrupted]
        if signals:
            return signals[0]
        if self.failed:
            return 5
        if self.deferred:
            return EXIT_RETRY_LATER
        return 0

    def to_json(self) -> dict[str, Any]:
        data = self.plan.to_json()
        data["results"] = [r.to_json() for r in self.results]
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass
class Schedule:
    """Which pending tenants start now, and what the create budget says about the rest."""

    admitted: list[TenantChange]
    deferred: list[TenantChange]
    # seconds from now until the last admitted create may be sent (0 when nothing waits)
    creates_done_in: float
    # seconds from now until the first deferred tenant's creates fit again (None: none deferred)
    resume_in: float | None
    creates: dict[ResourceKind, int] = field(default_factory=dict)


def schedule(changes: list[TenantChange], forecast: CreateForecast, budget: float) -> Schedule:
    """Admit tenants in order while every create they need fits within ``budget`` seconds."""
    sequence = [kind for change in changes for _key, kind in change.creates]
    waits = forecast(sequence)
    needed: dict[ResourceKind, int] = {}
    for kind in sequence:
        needed[kind] = needed.get(kind, 0) + 1
    admitted: list[TenantChange] = []
    deferred: list[TenantChange] = []
    done_in = 0.0
    resume_in: float | None = None
    position = 0
    for change in changes:
        count = len(change.creates)
        latest = max(waits[position : position + count], default=0.0)
        position += count
        if (deferred and count) or latest > budget:
            # Once one tenant waits for a later window, later creators queue behind it.
            deferred.append(change)
            if resume_in is None:
                resume_in = latest
            continue
        done_in = max(done_in, latest)
        admitted.append(change)
    return Schedule(admitted, deferred, done_in, resume_in, needed)


@dataclass
class FleetApplier:
    """The parallel runner: which tenant starts when (the schedule), on how many threads, and
    the per-tenant results. Each tenant's own work is the tenant use case
    (``rcp.core.tenants.converge_tenant`` / ``delete_tenant``) through ``operator``."""

    operator: Operator
    waiting: Waiting
    concurrency: int = 4
    budget: float = 60.0  # the wait budget (--max-wait): longest a create may queue
    forecast: CreateForecast = no_limit_forecast
    wall_clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # Called with each finished tenant's result (progress lines, per-tenant audit entries).
    on_result: Callable[[TenantResult, int, int], None] = lambda _r, _done, _total: None

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._lock = threading.Lock()
        self._done = 0
        self.admission = CreateAdmission(self.forecast, self.budget)
        self.operator = self.operator.with_gateway(
            CreateTracker(self.operator.gateway, self.admission, self.operator.clock)
        )

    @property
    def clock(self) -> Callable[[], float]:
        return self.operator.clock

    # ---- the fleet ----------------------------------------------------------------------

    def plan_schedule(self, plan: FleetPlan) -> Schedule:
        return schedule(plan.pending, self.forecast, self.budget)

    def apply(self, plan: FleetPlan, planned: Schedule | None = None) -> ApplyReport:
        """Run the plan's pending changes. ``planned`` (the schedule a caller printed before
        starting) is a prediction only: creating tenants are admitted as Render's answers
        allow (``rcp.core.fleet.admission``)."""
        del planned
        started = self.clock()
        started_at = self.wall_clock()
        results: dict[str, TenantResult] = {}
        for change in plan.changes:
            if change.action == "noop":
                results[change.slug] = TenantResult(change.slug, "noop")
        clashes = name_clashes(plan)
        for slug, refusal in self._names_taken_on_render(plan).items():
            clashes.setdefault(slug, refusal)
        pending = plan.pending
        total = len(pending)
        if pending:
            workers = min(self.concurrency, total)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rcp-apply") as pool:
                futures = self._dispatch(pending, clashes, pool, results, total)
                for slug, future in futures.items():
                    results[slug] = future.result()
        ordered = [results[c.slug] for c in plan.changes if c.slug in results]
        return ApplyReport(plan, ordered, started_at, self.clock() - started)

    def _names_taken_on_render(self, plan: FleetPlan) -> dict[str, ConflictError]:
        """New tenants whose Render names resources already carry that no record holds (a lost
        database, a create Render acted on after rcp gave up): refused (exit 4) before they
        start, as ``rcp tenant create`` refuses them — one lookup per kind for the whole file,
        not one per tenant."""
        from rcp.core.ownership import unrecorded_by_name

        wanted: dict[str, list[tuple[str, ResourceKind, str]]] = {}
        for change in plan.pending:
            if change.action != "create" or change.recorded is not None or change.desired is None:
                continue
            creates = {key for key, _kind in change.creates}
            wanted[change.slug] = [
                (spec.key, spec.kind, spec.name)
                for spec in change.desired.template.resources
                if spec.key in creates
            ]
        if not wanted:
            return {}
        refusals: dict[str, ConflictError] = {}
        desired = {c.slug: c.desired for c in plan.pending if c.desired is not None}
        for slug, found in unrecorded_by_name(
            self.operator.gateway, self.operator.store, wanted
        ).items():
            listed = ", ".join(f"{remote.name} ({remote.render_id})" for _key, remote in found)
            words = ["rcp", "tenant", "adopt", slug]
            tenant = desired[slug]
            if tenant is not None and tenant.name != slug:
                words += ["--name", tenant.name]
            words += [f"--resource={key}={remote.render_id}" for key, remote in found]
            refusals[slug] = ConflictError(
                f"Render already has {listed}, carrying tenant {slug}'s names, and no record "
                "holds them (a lost database, or a create Render acted on after rcp gave up?)",
                hint=(
                    f"take them over with `{' '.join(shlex.quote(w) for w in words)}` (add "
                    "--template as in the fleet file), then rerun the apply"
                ),
                code="resource_exists",
            )
        return refusals

    def _dispatch(
        self,
        pending: list[TenantChange],
        clashes: dict[str, ConflictError],
        pool: ThreadPoolExecutor,
        results: dict[str, TenantResult],
        total: int,
    ) -> dict[str, Future[TenantResult]]:
        """Submit every change: those without creates at once, creating tenants in file order
        as the admission lets them in; once one does not fit at all, it and every creating
        tenant after it are deferred."""
        futures: dict[str, Future[TenantResult]] = {}

        def submit(change: TenantChange) -> None:
            futures[change.slug] = pool.submit(
                self._run_one, change, total, clashes.get(change.slug)
            )

        waiting = list(pending)
        deferred_wait: float | None = None
        seen = self.admission.changes
        now = self.wall_clock()
        while waiting:
            still: list[TenantChange] = []
            blocked = False
            for change in waiting:
                kinds = [kind for _key, kind in change.creates]
                if not kinds or change.slug in clashes or self.operator.stop.requested:
                    submit(change)  # nothing to admit (or it reports why it did not start)
                elif deferred_wait is not None:
                    results[change.slug] = self._deferred(change, now, deferred_wait)
                elif blocked:
                    still.append(change)  # file order: behind the one waiting to be decided
                else:
                    verdict = self.admission.consider(change.slug, kinds)
                    if verdict.admitted:
                        submit(change)
                    elif verdict.wait is None:
                        # Admitted tenants' creates are still to go: their answers may
                        # change the picture (a raised quota, separate counters).
                        blocked = True
                        still.append(change)
                    else:
                        deferred_wait = verdict.wait
                        now = self.wall_clock()
                        results[change.slug] = self._deferred(change, now, deferred_wait)
            waiting = still
            if waiting:
                seen = self.admission.wait_for_change(seen, timeout=0.25)
        return futures

    def _deferred(
        self, change: TenantChange, now: datetime, resume_in: float | None
    ) -> TenantResult:
        error = self._retry_later(change, resume_in or 0.0)
        return TenantResult(
            change.slug,
            "deferred",
            error.exit_code,
            error.message,
            error.code,
            retry_at=error.retry_at,
        )

    def _run_one(
        self, change: TenantChange, total: int, clash: ConflictError | None = None
    ) -> TenantResult:
        started = self.clock()
        self.admission.bind(change.slug)
        try:
            self.operator.stop.raise_if_requested(
                "not started: stopped by signal; rerun the same command to resume"
            )
            if clash is not None:
                raise clash
            if change.action == "delete":
                outcome = self._delete(change)
            else:
                outcome = converge_tenant(self.operator, change, self.waiting)
            result = TenantResult(change.slug, outcome)
        except Interrupted as exc:
            result = TenantResult(change.slug, "interrupted", exc.exit_code, exc.message, exc.code)
        except RetryLater as exc:
            result = TenantResult(
                change.slug, "deferred", exc.exit_code, exc.message, exc.code, retry_at=exc.retry_at
            )
        except RcpError as exc:
            result = TenantResult(change.slug, "failed", exc.exit_code, exc.message, exc.code)
        except Exception as exc:  # one tenant's bug must not sink the fleet's report
            result = TenantResult(
                change.slug,
                "failed",
                1,
                f"internal error ({type(exc).__name__}): {exc}",
                "internal_error",
            )
        finally:
            self.admission.bind(None)  # creates it did not send are no longer reserved
        result.seconds = self.clock() - started
        with self._lock:
            self._done += 1
            done = self._done
        self.on_result(result, done, total)
        return result

    def _retry_later(self, change: TenantChange, wait: float) -> RetryLater:
        at = self.wall_clock() + timedelta(seconds=max(wait, 1.0))
        creates = ", ".join(key for key, _ in change.creates)
        return RetryLater(
            f"not started: Render's create limit leaves no room within the wait budget of "
            f"{self.budget:g} s for {change.slug} ({creates}); rerun after {describe_moment(at)}",
            retry_at=at,
            hint="rerun the same apply then; tenants already done are left as they are",
        )

    def _delete(self, change: TenantChange) -> str:
        if self.operator.store.get_tenant(change.slug) is None:
            return "noop"  # deleted by someone else since the plan
        delete_tenant(self.operator, change.slug)
        return "deleted"


def name_clashes(plan: FleetPlan) -> dict[str, ConflictError]:
    """Tenants of the file that would create a Render name an earlier tenant of the file wants
    (``acme`` + ``b-web`` and ``acme-b`` + ``web``): refused before they start, since both may
    run at once and neither is on record yet for the per-tenant check to see. The earlier one
    in the file keeps the name; clashes with recorded tenants are the per-tenant check's."""
    claimed: list[tuple[str, str]] = []  # (render name, slug), in file order
    clashes: dict[str, ConflictError] = {}
    for change in plan.changes:
        if change.desired is None or change.action == "delete":
            continue
        specs = change.desired.template.resources
        added = {key for key, _kind in change.creates}
        # Groups shared by the fleet have one name for every tenant: nobody's own.
        creates = {spec.name for spec in specs if spec.key in added and not spec.shared}
        conflict = render_name_conflict(change.slug, creates, claimed)
        if conflict is not None:
            clashes[change.slug] = conflict
        else:
            claimed.extend((spec.name, change.slug) for spec in specs if not spec.shared)
    return clashes


def describe_moment(moment: datetime) -> str:
    """``2026-11-26 15:04:05 UTC``: when to rerun."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def failure_summary(report: ApplyReport) -> ProvisioningFailed:
    failed = report.failed
    listed = ", ".join(f"{r.slug} ({r.error_code})" for r in failed)
    return ProvisioningFailed(
        f"{len(failed)} of {len(report.results)} tenants did not converge: {listed}",
        hint="see the results for each tenant's error; fix the causes and rerun apply",
        code="apply_failed",
    )
