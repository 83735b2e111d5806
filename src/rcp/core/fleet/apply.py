"""Converge a fleet: run a plan's changes in parallel under per-tenant locks and the one shared
rate limiter.

Scheduling (why a fleet apply neither burns 429s nor stalls): Render allows 20 creations per
hour per endpoint. Before starting, the applier asks the process-wide limiter when each of the
fleet's creates could be sent (``CreateForecast``) and admits, in file order, the tenants whose
creates all fit within the wait budget; the others are *deferred* — not started, reported with
exit 75 and the time to rerun — so no tenant is left half-created waiting for an hourly window,
and no request is sent that Render would refuse. Admitted work then simply queues in the
limiter (which waits for Render's reported reset too), so creates go out as fast as the budget
allows. Each tenant is re-checked when its turn comes, in case Render reported a fuller bucket
meanwhile (another process using the same key).

Per tenant (each under its lease, every Render mutation preceded by a fencing check and a look
at the stop flag):

- create: record (with env overrides) and provision through the engine;
- update: create new resources, PATCH changed ones, per-key env PUT/DELETE, delete resources
  the template dropped, one deploy per changed service, then record the new definition and
  wait until everything is up. Render changes come before the record, so a rerun after a crash
  sees the same difference and repeats idempotent calls;
- delete: the same path as ``rcp tenant delete``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rcp.core.fleet.diff import FleetPlan, TenantChange, diff_tenant
from rcp.core.fleet.spec import DesiredTenant
from rcp.core.models import (
    Lease,
    LockHolder,
    RemoteResource,
    RenderedTemplate,
    Resource,
    ResourceKind,
    Tenant,
    TenantStatus,
)
from rcp.core.ports import ProgressSink, RenderGateway, TenantStore
from rcp.core.provisioning import Engine, StopFlag, Waiting
from rcp.errors import (
    ConflictError,
    Interrupted,
    ProvisioningFailed,
    RcpError,
    RetryLater,
)

# The wait, in seconds from now, before each of these creates could be sent (in this order).
CreateForecast = Callable[[list[ResourceKind]], list[float]]
# Writes the record fields the store port cannot (name, template name, plugin repo).
DefinitionWriter = Callable[[str, Lease, str, str, str | None], None]

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


class FirstCreateGate:
    """The applier's view of Render: every call passes through, except that the fleet's first
    create goes out alone. Until its answer arrives the limiter knows nothing of Render's
    creation counter (it may be spent by an earlier run in the same hour); once it does, the
    ``Ratelimit-*`` headers (or the 429) tell the limiter, so concurrent tenants do not all
    send a create Render refuses — at most one 429 per apply."""

    def __init__(self, inner: RenderGateway) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._probe_started = False
        self._probe_done = threading.Event()

    def create(
        self, kind: ResourceKind, body: dict[str, Any], env: list[dict[str, Any]]
    ) -> RemoteResource:
        with self._lock:
            probe = not self._probe_started
            self._probe_started = True
        if not probe:
            self._probe_done.wait()
            return self.inner.create(kind, body, env)
        try:
            return self.inner.create(kind, body, env)
        finally:
            self._probe_done.set()

    @property
    def in_flight_seconds(self) -> float:
        return self.inner.in_flight_seconds

    def owner_id(self) -> str:
        return self.inner.owner_id()

    def find_by_name(self, kind: ResourceKind, name: str) -> list[RemoteResource]:
        return self.inner.find_by_name(kind, name)

    def get(self, kind: ResourceKind, render_id: str) -> RemoteResource | None:
        return self.inner.get(kind, render_id)

    def deploy_status(self, service_id: str, deploy_id: str) -> str | None:
        return self.inner.deploy_status(service_id, deploy_id)

    def delete(self, kind: ResourceKind, render_id: str) -> bool:
        return self.inner.delete(kind, render_id)

    def suspend(self, kind: ResourceKind, render_id: str) -> None:
        self.inner.suspend(kind, render_id)

    def resume(self, kind: ResourceKind, render_id: str) -> None:
        self.inner.resume(kind, render_id)

    def connection_info(self, kind: ResourceKind, render_id: str) -> dict[str, str]:
        return self.inner.connection_info(kind, render_id)

    def list_env_vars(self, service_id: str) -> dict[str, str]:
        return self.inner.list_env_vars(service_id)

    def set_env_var(self, service_id: str, key: str, value: str) -> None:
        self.inner.set_env_var(service_id, key, value)

    def delete_env_var(self, service_id: str, key: str) -> bool:
        return self.inner.delete_env_var(service_id, key)

    def trigger_deploy(self, service_id: str) -> str | None:
        return self.inner.trigger_deploy(service_id)

    def update_service(self, service_id: str, body: dict[str, Any]) -> RemoteResource:
        return self.inner.update_service(service_id, body)

    def update_datastore(
        self, kind: ResourceKind, render_id: str, body: dict[str, Any]
    ) -> RemoteResource:
        return self.inner.update_datastore(kind, render_id, body)


@dataclass
class FleetApplier:
    store: TenantStore
    gateway: RenderGateway
    progress: ProgressSink
    holder: LockHolder
    waiting: Waiting
    concurrency: int = 4
    lock_wait: float = 0.0
    budget: float = 60.0  # the wait budget (--max-wait): longest a create may queue
    forecast: CreateForecast = no_limit_forecast
    write_definition: DefinitionWriter | None = None
    stop: StopFlag = field(default_factory=StopFlag)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # Called with each finished tenant's result (progress lines, per-tenant audit entries).
    on_result: Callable[[TenantResult, int, int], None] = lambda _r, _done, _total: None
    failpoint: Callable[[str], None] = lambda _step: None

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._lock = threading.Lock()
        self._done = 0
        self.gateway = FirstCreateGate(self.gateway)

    # ---- the fleet ----------------------------------------------------------------------

    def plan_schedule(self, plan: FleetPlan) -> Schedule:
        return schedule(plan.pending, self.forecast, self.budget)

    def apply(self, plan: FleetPlan, planned: Schedule | None = None) -> ApplyReport:
        started = self.clock()
        started_at = self.wall_clock()
        planned = planned or self.plan_schedule(plan)
        results: dict[str, TenantResult] = {}
        for change in plan.changes:
            if change.action == "noop":
                results[change.slug] = TenantResult(change.slug, "noop")
        now = self.wall_clock()
        for change in planned.deferred:
            results[change.slug] = self._deferred(change, now, planned.resume_in)
        total = len(planned.admitted)
        if planned.admitted:
            workers = min(self.concurrency, total)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rcp-apply") as pool:
                futures = {
                    change.slug: pool.submit(self._run_one, change, total)
                    for change in planned.admitted
                }
                for slug, future in futures.items():
                    results[slug] = future.result()
        ordered = [results[c.slug] for c in plan.changes if c.slug in results]
        return ApplyReport(plan, ordered, started_at, self.clock() - started)

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

    def _run_one(self, change: TenantChange, total: int) -> TenantResult:
        started = self.clock()
        try:
            if self.stop.requested:
                raise Interrupted(
                    "not started: stopped by signal; rerun the same command to resume",
                    signal_number=self.stop.signal_number or 2,
                )
            self._recheck_budget(change)
            if change.action == "delete":
                outcome = self._delete(change)
            elif change.action == "create":
                outcome = self._create(change)
            else:
                outcome = self._update(change)
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
        result.seconds = self.clock() - started
        with self._lock:
            self._done += 1
            done = self._done
        self.on_result(result, done, total)
        return result

    def _recheck_budget(self, change: TenantChange) -> None:
        waits = self.forecast([kind for _key, kind in change.creates])
        if waits and max(waits) > self.budget:
            raise self._retry_later(change, max(waits))

    def _retry_later(self, change: TenantChange, wait: float) -> RetryLater:
        at = self.wall_clock() + timedelta(seconds=max(wait, 1.0))
        creates = ", ".join(key for key, _ in change.creates)
        return RetryLater(
            f"not started: Render's create limit leaves no room within the wait budget of "
            f"{self.budget:g} s for {change.slug} ({creates}); rerun after {describe_moment(at)}",
            retry_at=at,
            hint="rerun the same apply then; tenants already done are left as they are",
        )

    # ---- one tenant ---------------------------------------------------------------------

    def _engine(self, lease: Lease) -> Engine:
        return Engine(
            store=self.store,
            gateway=self.gateway,
            progress=self.progress,
            lease=lease,
            stop=self.stop,
            sleep=self.sleep,
            clock=self.clock,
            failpoint=self.failpoint,
        )

    def _guard(self, lease: Lease) -> None:
        if self.stop.requested:
            raise Interrupted(
                "stopped by signal before the next Render call; rerun the same command to resume",
                signal_number=self.stop.signal_number or 2,
            )
        self.store.check_lock(lease)

    def _delete(self, change: TenantChange) -> str:
        from rcp.core.tenants import delete_tenant

        if self.store.get_tenant(change.slug) is None:
            return "noop"  # deleted by someone else since the plan
        delete_tenant(
            store=self.store,
            gateway=self.gateway,
            progress=self.progress,
            holder=self.holder,
            slug=change.slug,
            lock_wait=self.lock_wait,
            stop=self.stop,
            failpoint=self.failpoint,
        )
        return "deleted"

    def _create(self, change: TenantChange) -> str:
        from rcp.core.tenants import tenant_lock

        desired = change.desired
        assert desired is not None
        with tenant_lock(
            self.store, change.slug, self.holder, wait_seconds=self.lock_wait
        ) as lease:
            existing = self.store.get_tenant(change.slug)
            if existing is not None:
                # Created by someone else since the plan: converge it like any recorded tenant.
                return self._update_locked(diff_tenant(desired, existing), lease)
            return self._create_locked(desired, lease)

    def _create_locked(self, desired: DesiredTenant, lease: Lease) -> str:
        rendered = desired.template
        tenant = self.store.insert_tenant(
            Tenant(
                name=desired.name,
                slug=desired.slug,
                status=TenantStatus.PROVISIONING,
                template=desired.template_name,
                rendered_template=desired.rendered,
                custom_plugin_repo=desired.plugin_repo,
                env_overrides={k: dict(v) for k, v in desired.env_overrides.items()},
                resources=[
                    Resource(key=s.key, type=s.render_type, name=s.name) for s in rendered.resources
                ],
            ),
            lease=lease,
        )
        self.progress.event(desired.slug, None, "recorded; provisioning", "PROVISIONING")
        self._engine(lease).provision(tenant, self.waiting)
        return "created"

    def _update(self, change: TenantChange) -> str:
        from rcp.core.tenants import tenant_lock

        desired = change.desired
        assert desired is not None
        with tenant_lock(
            self.store, change.slug, self.holder, wait_seconds=self.lock_wait
        ) as lease:
            # The record may have moved since the plan: work from what it says now.
            recorded = self.store.get_tenant(change.slug)
            if recorded is None:
                return self._create_locked(desired, lease)
            return self._update_locked(diff_tenant(desired, recorded), lease)

    def _update_locked(self, change: TenantChange, lease: Lease) -> str:
        desired, tenant = change.desired, change.recorded
        assert desired is not None and tenant is not None
        if change.action == "noop":
            return "noop"
        if change.blocked:
            raise ConflictError(change.blocked, code="tenant_deleting")
        if change.unsupported:
            raise ConflictError(
                f"{change.slug}: {', '.join(change.unsupported)} cannot change in place on Render",
                hint=(
                    "keep the old value in the template, or recreate the tenant "
                    f"(`rcp tenant delete {change.slug} --yes`, then apply)"
                ),
                code="change_not_in_place",
            )
        suspended = tenant.status == TenantStatus.SUSPENDED
        if suspended and change.creates:
            raise ConflictError(
                f"{change.slug} is suspended; resume it before adding resources",
                hint=f"`rcp tenant resume {change.slug}`, then rerun apply",
                code="tenant_suspended",
            )
        engine = self._engine(lease)
        old_template = RenderedTemplate.from_dict(tenant.rendered_template)
        # The engine reads the definition from the tenant object: give it the desired one.
        tenant.rendered_template = desired.rendered
        tenant.env_overrides = {k: dict(v) for k, v in desired.env_overrides.items()}
        if change.creates:
            engine.provision(tenant, None)  # new resources get their full env at creation
        deploys: list[str] = []
        for update in change.resource_updates:
            resource = tenant.resource(update.key)
            assert resource is not None and resource.render_id is not None
            self._guard(lease)
            self._journal(lease, tenant, resource, "update", "pending", ",".join(update.changed))
            if update.kind is ResourceKind.SERVICE:
                self.gateway.update_service(resource.render_id, update.patch)
                deploys.append(update.key)
            else:
                remote = self.gateway.update_datastore(
                    update.kind, resource.render_id, update.patch
                )
                resource.state = remote.state
                self.store.save_resource(tenant.slug, resource, lease=lease)
            self._journal(lease, tenant, resource, "update", "done", ",".join(update.changed))
            self.progress.event(
                tenant.slug, update.key, f"updated {', '.join(update.changed)}", resource.state
            )
        for env_update in change.env_updates:
            resource = tenant.resource(env_update.key)
            assert resource is not None and resource.render_id is not None
            values = dict(env_update.set)
            values.update(self._resolve(engine, tenant, env_update.key, env_update.resolve))
            keys = ",".join(sorted(values) + sorted(env_update.unset))  # names only, never values
            self._journal(lease, tenant, resource, "env", "pending", keys)
            for env_key, value in sorted(values.items()):
                self._guard(lease)
                self.gateway.set_env_var(resource.render_id, env_key, value)
            for env_key in env_update.unset:
                self._guard(lease)
                self.gateway.delete_env_var(resource.render_id, env_key)
            self._journal(lease, tenant, resource, "env", "done", keys)
            self.progress.event(tenant.slug, env_update.key, f"env: {keys}", None)
            if env_update.key not in deploys:
                deploys.append(env_update.key)
        self._remove_resources(change, tenant, old_template, lease)
        for key in deploys if not suspended else []:
            resource = tenant.resource(key)
            assert resource is not None and resource.render_id is not None
            self._guard(lease)
            resource.deploy_id = self.gateway.trigger_deploy(resource.render_id)
            resource.state = "deploy_triggered"
            self.store.save_resource(tenant.slug, resource, lease=lease)
            self.progress.event(tenant.slug, key, "deploy started", resource.state)
        self.store.update_tenant(
            tenant.slug,
            lease=lease,
            rendered_template=desired.rendered,
            env_overrides=tenant.env_overrides,
        )
        if self.write_definition is not None and (
            tenant.name != desired.name
            or tenant.template != desired.template_name
            or tenant.custom_plugin_repo != desired.plugin_repo
        ):
            self.write_definition(
                tenant.slug, lease, desired.name, desired.template_name, desired.plugin_repo
            )
        if not suspended and (change.creates or deploys or change.resume):
            engine.provision(tenant, self.waiting)
        return "updated"

    def _resolve(
        self, engine: Engine, tenant: Tenant, key: str, wanted: list[Any]
    ) -> dict[str, str]:
        """Values of template-sourced vars (references resolved as the engine does on create;
        ``generateValue`` made here like Render makes it, since the per-key endpoint takes a
        value)."""
        if not wanted:
            return {}
        import base64
        import secrets

        template = RenderedTemplate.from_dict(tenant.rendered_template)
        spec = template.resource(key)
        deadline = None if self.waiting.timeout is None else self.clock() + self.waiting.timeout
        resolved = engine.resolve_env(tenant, template, spec, self.waiting, deadline)
        names = {var.key for var in wanted}
        values: dict[str, str] = {}
        for item in resolved:
            if item["key"] not in names:
                continue
            if item.get("generateValue"):
                values[item["key"]] = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
            elif "value" in item:
                values[item["key"]] = str(item["value"])
        return values

    def _remove_resources(
        self, change: TenantChange, tenant: Tenant, old: RenderedTemplate, lease: Lease
    ) -> None:
        order = [spec.key for spec in old.resources]
        for key in reversed(order):
            if key not in change.removed_resources:
                continue
            resource = tenant.resource(key)
            if resource is None:
                continue
            if resource.render_id:
                self._guard(lease)
                self._journal(lease, tenant, resource, "delete", "pending", None)
                gone = self.gateway.delete(resource.kind, resource.render_id)
                self._journal(lease, tenant, resource, "delete", "done", None)
                self.progress.event(
                    tenant.slug,
                    key,
                    f"deleted {resource.render_id}"
                    if gone
                    else f"{resource.render_id} already gone",
                    "deleted",
                )
            self.store.remove_resource(tenant.slug, key, lease=lease)
            tenant.resources = [r for r in tenant.resources if r.key != key]

    def _journal(
        self,
        lease: Lease,
        tenant: Tenant,
        resource: Resource,
        step: str,
        status: str,
        detail: str | None,
    ) -> None:
        self.store.journal(
            tenant.slug,
            lease=lease,
            step=step,
            resource_key=resource.key,
            status=status,
            render_name=resource.name,
            render_id=resource.render_id,
            detail=detail,
        )


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
