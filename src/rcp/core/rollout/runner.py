"""Moving a rollout on: wave by wave, one ``converge_tenant`` per tenant (the update path of
``rcp apply``, under the tenant's lease, journalled step by step), a health gate after each
tenant, the failure budget, pause/abort from another process, and rollback.

Durability (why a kill at any point and a rerun update no tenant twice):

- The waves are fixed and stored when the rollout starts; each tenant's step is a row whose
  state moves ``pending → updating → done | failed`` (``current`` when it already ran the
  revision, ``skipped`` when it left the template).
- Before a tenant's first Render call its row records ``updating`` with what it ran before
  (rendered template, revision) and, per service the update deploys, the newest deploy Render
  lists (the *baseline*). A rerun finding ``updating`` compares each such service's newest
  deploy with its baseline: a newer one is the deploy the killed run started, and it is awaited
  instead of starting another. Everything else ``converge_tenant`` does is idempotent (a PATCH,
  a per-key env PUT), and once the record holds the new configuration the difference is empty.
- ``done`` tenants are never touched again; ``pending`` ones only in their wave's turn.
- One process runs a rollout at a time: its lease (``rollout:<id>`` in the tenant lease table,
  fenced and renewed like a tenant's) is taken for the run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rcp.core.models import RenderedTemplate, Tenant, TenantStatus
from rcp.core.ports import HealthProbe, RolloutStore, TenantStore
from rcp.core.provisioning import Waiting
from rcp.core.rollout.model import (
    RESUMABLE,
    TOUCHED,
    UNFINISHED,
    Rollout,
    RolloutOptions,
    RolloutState,
    RolloutStep,
    StepState,
    parse_waves,
)
from rcp.errors import (
    ConflictError,
    Interrupted,
    LockBusy,
    RcpError,
    RetryLater,
    Unhealthy,
    UsageError,
)

if TYPE_CHECKING:
    from rcp.core.fleet.spec import DesiredTenant
    from rcp.core.templates import Template
    from rcp.core.templates.revisions import TemplateRevision
    from rcp.core.tenants.operation import Operator

HEALTH_POLL_SECONDS = 1.0
# How often a running rollout reads its own state (a pause or abort from another process).
CONTROL_POLL_SECONDS = 1.0
# Create-body paths whose change means new code: a rollback returns those services to the
# build of their previous deploy (Render's rollback) rather than building the old config anew.
CODE_PATHS = frozenset(
    {
        "repo",
        "branch",
        "rootDir",
        "serviceDetails.runtime",
        "serviceDetails.envSpecificDetails.buildCommand",
        "serviceDetails.envSpecificDetails.dockerContext",
        "serviceDetails.envSpecificDetails.dockerfilePath",
    }
)


def lease_name(rollout_id: int) -> str:
    """The lease a running rollout holds (never a tenant slug: those have no colon)."""
    return f"rollout:{rollout_id}"


# ---- starting -----------------------------------------------------------------------------


def plan_rollout(
    store: TenantStore,
    template: Template,
    options: RolloutOptions,
    *,
    actor: str,
) -> Rollout:
    """The rollout of ``template``'s current revision to every tenant recorded on it (of the
    tiers given, tier by tier; slug order within), cut into waves. Nothing is written."""
    from rcp.core.templates.revisions import revision_of

    revision = revision_of(template)
    tenants = [
        tenant
        for tenant in store.iter_tenants(details=False)
        if tenant.template == template.name and tenant.status != TenantStatus.DELETING
    ]
    if options.tiers:
        order = {tier: index for index, tier in enumerate(options.tiers)}
        tenants = [t for t in tenants if t.tier in order]
        tenants.sort(key=lambda t: (order[t.tier or ""], t.slug))
    else:
        tenants.sort(key=lambda t: t.slug)
    if not tenants:
        tiers = f" in tiers {', '.join(options.tiers)}" if options.tiers else ""
        raise UsageError(
            f"no tenant runs template {template.name}{tiers}: nothing to roll out",
            hint="`rcp tenant list` shows each tenant's template (and tier)",
            code="nothing_to_roll_out",
        )
    steps: list[RolloutStep] = []
    position = 0
    for wave, size in enumerate(parse_waves(options.waves).sizes(len(tenants))):
        for tenant in tenants[position : position + size]:
            steps.append(RolloutStep(tenant.slug, wave, position, tier=tenant.tier))
            position += 1
    return Rollout(
        template=template.name,
        revision_hash=revision.hash,
        revision_label=revision.label,
        revision_content=revision.content,
        options=options,
        steps=steps,
        actor=actor,
    )


def start_or_continue(rollouts: RolloutStore, planned: Rollout) -> tuple[Rollout, bool]:
    """(the rollout to run, whether it is new). An unfinished rollout of the same template and
    revision is continued (its stored waves and options); of another revision, refused (exit 4)
    until it is finished, aborted or rolled back."""
    latest = rollouts.latest_rollout(planned.template)
    if latest is not None and latest.state in UNFINISHED:
        if latest.revision_hash == planned.revision_hash and latest.state in RESUMABLE:
            return latest, False
        raise ConflictError(
            f"rollout {latest.id} of template {latest.template} (revision "
            f"{latest.revision_hash[:12]}) is {latest.state}",
            hint=(
                f"finish it (`rcp rollout resume {latest.template}`), or "
                f"`rcp rollout abort {latest.template}` / `rcp rollout rollback "
                f"{latest.template}` first"
            ),
            code="rollout_unfinished",
        )
    return rollouts.insert_rollout(planned), True


def find_rollout(rollouts: RolloutStore, template: str | None) -> Rollout:
    """The latest rollout (of ``template``); exit 3 when there is none."""
    from rcp.errors import TenantNotFound

    rollout = rollouts.latest_rollout(template)
    if rollout is None:
        of = f" of template {template}" if template else ""
        raise TenantNotFound(
            f"no rollout{of} on record",
            hint="`rcp rollout start TEMPLATE` starts one",
            code="rollout_not_found",
        )
    return rollout


def request_state(
    rollouts: RolloutStore, template: str, state: RolloutState, actor: str
) -> Rollout:
    """`rollout pause` / `abort`: written for the running process to see (it stops starting
    tenants, lets those in flight finish, and exits)."""
    rollout = find_rollout(rollouts, template)
    allowed = {
        RolloutState.PAUSED: frozenset({RolloutState.RUNNING}),
        RolloutState.ABORTED: RESUMABLE,
    }[state]
    verb = "paused" if state == RolloutState.PAUSED else "aborted"
    assert rollout.id is not None
    if not rollouts.set_state(rollout.id, state, f"{verb} by {actor}", only_from=allowed):
        current = rollouts.rollout_state(rollout.id)[0]
        raise ConflictError(
            f"rollout {rollout.id} of template {template} is {current}: it cannot be {verb}",
            code="rollout_state",
        )
    found = rollouts.get_rollout(rollout.id)
    assert found is not None
    return found


# ---- running ------------------------------------------------------------------------------


@dataclass
class StepEvent:
    """What the progress display and the audit hear about one finished tenant step."""

    rollout: Rollout
    step: RolloutStep
    rollback: bool = False


@dataclass
class RolloutReport:
    rollout: Rollout
    # Why the run ended before the rollout completed: a RetryLater / Interrupted to raise, or
    # None (completed, paused, aborted, halted: the rollout's state says which).
    stopped_by: RcpError | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = self.rollout.to_json()
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass
class RolloutRunner:
    operator: Operator
    rollouts: RolloutStore
    waiting: Waiting
    probe: HealthProbe | None = None
    on_step: Callable[[StepEvent], None] = lambda _event: None
    on_wave: Callable[[Rollout, int, str], None] = lambda _rollout, _wave, _what: None
    wall_clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop_reason: RcpError | None = None
        self._halted = False
        self._control_checked = -1e9
        self._control: tuple[RolloutState, str | None] = (RolloutState.RUNNING, None)

    @property
    def store(self) -> TenantStore:
        return self.operator.store

    # -- the rollout's lease ----------------------------------------------------------------

    def _leased(self, rollout: Rollout) -> Any:
        from contextlib import contextmanager

        @contextmanager
        def held() -> Any:
            assert rollout.id is not None
            try:
                lease = self.store.acquire_lock(lease_name(rollout.id), self.operator.holder)
            except LockBusy as exc:
                raise LockBusy(
                    exc.message.replace(
                        f"tenant {lease_name(rollout.id)}", f"rollout {rollout.id}"
                    ),
                    hint=exc.hint,
                ) from None
            try:
                with self.store.keep_alive(lease):
                    yield
            finally:
                try:
                    self.store.release_lock(lease)
                except RcpError:
                    pass

        return held()

    # -- forward ----------------------------------------------------------------------------

    def run(self, rollout: Rollout) -> RolloutReport:
        """Continue ``rollout`` from where it stands until it completes, halts, is paused or
        aborted, or the run is stopped (signal, rate limit beyond the wait budget)."""
        assert rollout.id is not None
        started = self.operator.clock()
        with self._leased(rollout):
            fresh = self.rollouts.get_rollout(rollout.id)
            assert fresh is not None
            rollout = fresh
            if rollout.state not in RESUMABLE:
                raise ConflictError(
                    f"rollout {rollout.id} of template {rollout.template} is {rollout.state}: "
                    "there is nothing to continue",
                    code="rollout_state",
                )
            assert rollout.id is not None
            self.rollouts.set_state(rollout.id, RolloutState.RUNNING, None, only_from=RESUMABLE)
            rollout.state, rollout.message = RolloutState.RUNNING, None
            self._control = (RolloutState.RUNNING, None)
            while len(rollout.wave_finished_at) < rollout.wave_count:
                rollout.wave_finished_at.append(None)
            while rollout.current_wave < rollout.wave_count:
                index = rollout.current_wave
                if not self._pause_before(rollout, index):
                    break
                self.on_wave(rollout, index, "started")
                self._run_wave(rollout, index)
                if self._ended(rollout):
                    break
                rollout.wave_finished_at[index] = self.wall_clock()
                rollout.current_wave = index + 1
                self.rollouts.save_progress(rollout)
                self.on_wave(rollout, index, "finished")
            else:
                self._move(rollout, RolloutState.COMPLETED, None, RESUMABLE)
        return RolloutReport(rollout, self._stop_reason, self.operator.clock() - started)

    def _ended(self, rollout: Rollout) -> bool:
        """After a wave's tenants stopped: did the run end (halt, pause, abort, stop)?"""
        assert rollout.id is not None
        if self._halted:
            failed = [s.slug for s in rollout.steps if s.state == StepState.FAILED]
            why = (
                f"halted in wave {rollout.current_wave + 1}: {len(failed)} tenants failed "
                f"({', '.join(failed)}), more than --max-failures {rollout.options.max_failures} "
                f"allows ({rollout.failures_allowed()})"
            )
            # An abort written meanwhile stands; a pause does not hide the halt.
            only_from = frozenset({RolloutState.RUNNING, RolloutState.PAUSED})
            self._move(rollout, RolloutState.HALTED, why, only_from)
            return True
        state, message = self.rollouts.rollout_state(rollout.id)
        if state in (RolloutState.PAUSED, RolloutState.ABORTED):
            rollout.state, rollout.message = state, message
            return True
        if self._stop_reason is not None:
            return True  # state stays running: a rerun continues
        return any(
            step.state in (StepState.PENDING, StepState.UPDATING)
            for step in rollout.wave(rollout.current_wave)
        )

    def _move(
        self,
        rollout: Rollout,
        state: RolloutState,
        message: str | None,
        only_from: frozenset[RolloutState],
    ) -> None:
        """Compare and set the rollout's state; ``rollout`` then holds what is recorded."""
        assert rollout.id is not None
        self.rollouts.set_state(rollout.id, state, message, only_from=only_from)
        rollout.state, rollout.message = self.rollouts.rollout_state(rollout.id)

    def _pause_before(self, rollout: Rollout, index: int) -> bool:
        """Wait out --pause-between after the previous wave (counted from when it finished, so
        a rerun waits only what is left); False when the run should end meanwhile."""
        pause = rollout.options.pause_between
        if index == 0 or pause <= 0:
            return True
        finished = rollout.wave_finished_at[index - 1]
        if finished is None:
            return True
        self.on_wave(rollout, index, "pausing")
        while True:
            left = pause - (self.wall_clock() - finished).total_seconds()
            if left <= 0:
                return True
            if self._should_stop(rollout):
                self._ended(rollout)
                return False
            self.operator.sleep(min(left, CONTROL_POLL_SECONDS))

    def _should_stop(self, rollout: Rollout) -> bool:
        assert rollout.id is not None
        if self._halted or self._stop_reason is not None:
            return True
        if self.operator.stop.requested:
            with self._lock:
                if self._stop_reason is None:
                    self._stop_reason = Interrupted(
                        "rollout stopped by signal; `rcp rollout resume` continues it",
                        signal_number=self.operator.stop.signal_number or 2,
                    )
            return True
        now = self.operator.clock()
        with self._lock:
            if now - self._control_checked >= CONTROL_POLL_SECONDS:
                self._control_checked = now
                self._control = self.rollouts.rollout_state(rollout.id)
            return self._control[0] != RolloutState.RUNNING

    def _run_wave(self, rollout: Rollout, index: int) -> None:
        todo = [
            step
            for step in rollout.wave(index)
            if step.state in (StepState.PENDING, StepState.UPDATING, StepState.FAILED)
        ]
        retried = {step.slug for step in todo}
        with self._lock:
            self._failed = {
                s.slug
                for s in rollout.steps
                if s.state == StepState.FAILED and s.slug not in retried
            }
            self._check_budget(rollout)
        if not todo or self._halted:
            return
        revision = self._revision(rollout)
        workers = max(1, min(rollout.options.concurrency, len(todo)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rcp-rollout") as pool:
            futures = [pool.submit(self._one, rollout, revision, step) for step in todo]
            for future in futures:
                future.result()

    def _check_budget(self, rollout: Rollout) -> None:
        if len(self._failed) > rollout.failures_allowed():
            self._halted = True

    def _revision(self, rollout: Rollout) -> TemplateRevision:
        from rcp.core.templates.revisions import TemplateRevision

        return TemplateRevision(
            template=rollout.template,
            hash=rollout.revision_hash,
            label=rollout.revision_label,
            content=rollout.revision_content,
        )

    def _one(self, rollout: Rollout, revision: TemplateRevision, step: RolloutStep) -> None:
        if self._should_stop(rollout):
            return  # not started: stays as it is for the rerun
        assert rollout.id is not None
        try:
            self._forward(rollout, revision, step)
        except Interrupted as exc:
            with self._lock:
                self._stop_reason = self._stop_reason or exc
            return  # stays updating: the rerun resumes it
        except RetryLater as exc:
            with self._lock:
                self._stop_reason = self._stop_reason or exc
            return
        except RcpError as exc:
            self._fail(rollout, step, exc.message, exc.code)
        except Exception as exc:  # one tenant's bug must not sink the rollout's record
            self._fail(
                rollout, step, f"internal error ({type(exc).__name__}): {exc}", "internal_error"
            )
        self.on_step(StepEvent(rollout, step))

    def _fail(self, rollout: Rollout, step: RolloutStep, message: str, code: str | None) -> None:
        assert rollout.id is not None
        step.state = StepState.FAILED
        step.error, step.error_code = message, code
        step.finished_at = self.wall_clock()
        self.rollouts.save_step(rollout.id, step)
        with self._lock:
            self._failed.add(step.slug)
            self._check_budget(rollout)

    def _desired(self, tenant: Tenant, rendered: dict[str, Any], revision: Any) -> DesiredTenant:
        from rcp.core.fleet.spec import DesiredTenant

        return DesiredTenant(
            name=tenant.name,
            slug=tenant.slug,
            template_name=tenant.template,
            plugin_repo=tenant.custom_plugin_repo,
            rendered=rendered,
            env_overrides={k: dict(v) for k, v in tenant.env_overrides.items()},
            tier=tenant.tier,
            revision=revision,
        )

    def _forward(self, rollout: Rollout, revision: TemplateRevision, step: RolloutStep) -> None:
        from rcp.core.fleet.diff import diff_tenant
        from rcp.core.templates.revisions import instantiate
        from rcp.core.tenants.converge import converge_tenant

        assert rollout.id is not None
        tenant = self.store.get_tenant(step.slug)
        if tenant is None or tenant.template != rollout.template:
            step.state = StepState.SKIPPED
            step.error = (
                "deleted since the rollout started"
                if tenant is None
                else (f"moved to template {tenant.template} since the rollout started")
            )
            step.finished_at = self.wall_clock()
            self.rollouts.save_step(rollout.id, step)
            return
        rendered = instantiate(
            revision, slug=tenant.slug, name=tenant.name, plugin_repo=tenant.custom_plugin_repo
        )
        change = diff_tenant(self._desired(tenant, rendered, revision), tenant)
        started: dict[str, str] = {}
        if step.state == StepState.PENDING:
            if change.action == "noop":
                step.state = StepState.CURRENT
                step.started_at = step.finished_at = self.wall_clock()
                self.rollouts.save_step(rollout.id, step)
                return
            step.previous = {
                "rendered": tenant.rendered_template,
                "revision": tenant.rendered_template.get("revision"),
                "deploys": self._baseline(tenant, _deployed_keys(change)),
            }
        elif step.state == StepState.UPDATING:
            started = self._started_since(tenant, (step.previous or {}).get("deploys") or {})
        step.state = StepState.UPDATING
        step.error = step.error_code = None
        step.started_at = self.wall_clock()
        step.finished_at = None
        self.rollouts.save_step(rollout.id, step)  # before the first Render call
        converge_tenant(self.operator, change, self.waiting, started_deploys=started, manage=False)
        self._health(rollout.options, step.slug)
        step.state = StepState.DONE
        step.finished_at = self.wall_clock()
        self.rollouts.save_step(rollout.id, step)

    def _baseline(self, tenant: Tenant, keys: set[str]) -> dict[str, str]:
        """Per service the update deploys, the newest deploy Render lists now."""
        baseline: dict[str, str] = {}
        for resource in tenant.resources:
            if resource.key not in keys or not resource.render_id:
                continue
            deploys = self.operator.gateway.list_deploys(resource.render_id, 1)
            if deploys:
                baseline[resource.key] = deploys[0].id
        return baseline

    def _started_since(self, tenant: Tenant, baseline: Mapping[str, str]) -> dict[str, str]:
        """Deploys a killed run started for this step: each service's newest deploy when it is
        not the baseline recorded before the step's first call."""
        started: dict[str, str] = {}
        for key, before in baseline.items():
            resource = tenant.resource(key)
            if resource is None or not resource.render_id:
                continue
            deploys = self.operator.gateway.list_deploys(resource.render_id, 1)
            if deploys and deploys[0].id != before:
                started[key] = deploys[0].id
        return started

    def _health(self, options: RolloutOptions, slug: str) -> None:
        """Every web service of the tenant answers 2xx on its health path (``--health-path``,
        else the template's ``healthCheckPath``), within the grace period."""
        if self.probe is None:
            return
        tenant = self.store.get_tenant(slug)
        if tenant is None:
            return
        template = RenderedTemplate.from_dict(tenant.rendered_template)
        for spec in template.resources:
            if spec.render_type != "web_service":
                continue
            details = spec.body.get("serviceDetails") or {}
            path = options.health_path or details.get("healthCheckPath")
            resource = tenant.resource(spec.key)
            if not path or resource is None or not resource.url:
                continue
            self._await_healthy(slug, spec.key, resource.url, path, options.health_timeout)

    def _await_healthy(self, slug: str, key: str, url: str, path: str, grace: float) -> None:
        assert self.probe is not None
        deadline = self.operator.clock() + grace
        while True:
            status = self.probe.status(url, path)
            if status is not None and 200 <= status < 300:
                self.operator.progress.event(slug, key, f"GET {path}: {status}", "healthy")
                return
            if self.operator.clock() >= deadline or self.operator.stop.requested:
                answer = f"answered {status}" if status is not None else "did not answer"
                raise Unhealthy(
                    f"{slug}: {key}: health check GET {url}{path} {answer} "
                    f"(for {grace:g} s after its deploy went live)",
                    hint=f"`rcp tenant logs {slug} --service {key}` shows what the service says",
                    code="health_check_failed",
                )
            self.operator.sleep(HEALTH_POLL_SECONDS)

    # -- rollback ---------------------------------------------------------------------------

    def rollback(self, rollout: Rollout) -> RolloutReport:
        """Return every tenant the rollout touched to the configuration it ran before (latest
        first); services whose code changed go back to their previous deploy's build (Render's
        rollback), the others get a deploy of the old configuration. Rerunnable: tenants
        already rolled back are left alone."""
        assert rollout.id is not None
        started = self.operator.clock()
        with self._leased(rollout):
            fresh = self.rollouts.get_rollout(rollout.id)
            assert fresh is not None
            rollout = fresh
            if rollout.state == RolloutState.ROLLED_BACK:
                return RolloutReport(rollout, None, 0.0)
            assert rollout.id is not None
            everything = frozenset(RolloutState) - {RolloutState.ROLLED_BACK}
            self.rollouts.set_state(
                rollout.id, RolloutState.ROLLING_BACK, None, only_from=everything
            )
            rollout.state, rollout.message = RolloutState.ROLLING_BACK, None
            targets = [s for s in reversed(rollout.steps) if s.state in TOUCHED and s.previous]
            workers = max(1, min(rollout.options.concurrency, len(targets) or 1))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rcp-rollback") as pool:
                for future in [pool.submit(self._back_one, rollout, s) for s in targets]:
                    future.result()
            if self._stop_reason is None:
                failed = [s.slug for s in rollout.steps if s.state == StepState.ROLLBACK_FAILED]
                rolling = frozenset({RolloutState.ROLLING_BACK})
                if failed:
                    message = f"rollback failed for {', '.join(failed)}; rerun rollback"
                    self._move(rollout, RolloutState.ROLLING_BACK, message, rolling)
                else:
                    self._move(rollout, RolloutState.ROLLED_BACK, None, rolling)
        return RolloutReport(rollout, self._stop_reason, self.operator.clock() - started)

    def _back_one(self, rollout: Rollout, step: RolloutStep) -> None:
        assert rollout.id is not None
        if self.operator.stop.requested or self._stop_reason is not None:
            return
        try:
            self._backward(rollout, step)
        except (Interrupted, RetryLater) as exc:
            with self._lock:
                self._stop_reason = self._stop_reason or exc
            return
        except RcpError as exc:
            step.state = StepState.ROLLBACK_FAILED
            step.error, step.error_code = exc.message, exc.code
            step.finished_at = self.wall_clock()
            self.rollouts.save_step(rollout.id, step)
        self.on_step(StepEvent(rollout, step, rollback=True))

    def _backward(self, rollout: Rollout, step: RolloutStep) -> None:
        from rcp.core.fleet.diff import diff_tenant
        from rcp.core.tenants.converge import converge_tenant

        assert rollout.id is not None and step.previous is not None
        tenant = self.store.get_tenant(step.slug)
        if tenant is None:
            step.state = StepState.SKIPPED
            step.error = "deleted since the rollout"
            self.rollouts.save_step(rollout.id, step)
            return
        change = diff_tenant(self._desired(tenant, step.previous["rendered"], None), tenant)
        baseline: Mapping[str, str] = step.previous.get("deploys") or {}
        started = (
            self._started_since(tenant, step.previous.get("rollback_baseline") or {})
            if step.state == StepState.ROLLING_BACK
            else {}
        )
        rollback_to = {
            update.key: baseline[update.key]
            for update in change.resource_updates
            if update.key in baseline and CODE_PATHS.intersection(update.changed)
        }
        if step.state != StepState.ROLLING_BACK:
            # A rerun of the rollback tells its own deploys by the services' newest deploys now.
            step.previous = {
                **step.previous,
                "rollback_baseline": self._baseline(tenant, _deployed_keys(change)),
            }
        step.state = StepState.ROLLING_BACK
        step.error = step.error_code = None
        step.started_at = self.wall_clock()
        self.rollouts.save_step(rollout.id, step)
        converge_tenant(
            self.operator,
            change,
            self.waiting,
            started_deploys=started,
            rollback_to=rollback_to,
            manage=False,
        )
        step.state = StepState.ROLLED_BACK
        step.finished_at = self.wall_clock()
        self.rollouts.save_step(rollout.id, step)


def _deployed_keys(change: Any) -> set[str]:
    """The services an update deploys: changed in place, or with changed env vars."""
    from rcp.core.models import ResourceKind

    keys = {u.key for u in change.resource_updates if u.kind is ResourceKind.SERVICE}
    keys.update(u.key for u in change.env_updates)
    return keys
