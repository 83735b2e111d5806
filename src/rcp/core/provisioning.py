"""The provisioning engine: plan → apply with a journal, resume, reconcile by name, readiness.

Rules (docs/reliability.md):
- before each Render mutation the step is committed as pending (resource state
  ``create_pending`` + a journal row), after it the Render id is committed;
- a resource left ``create_pending`` without an id by an earlier run, or whose create ended with
  an unknown outcome (read error, dropped connection, 5xx), is looked up by its deterministic
  name first: one match → adopt, none → create, several → stop (exit 5) naming them;
- every mutation is preceded by a fencing check of the tenant lease and by a look at the stop
  flag (SIGINT/SIGTERM: no new Render call after the signal).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rcp.core import references
from rcp.core.models import (
    PROJECT_KEY,
    Lease,
    RemoteResource,
    RenderedTemplate,
    Resource,
    ResourceKind,
    ResourceSpec,
    Tenant,
    TenantRevision,
    TenantStatus,
    utcnow,
)
from rcp.core.ownership import NAMED_KINDS, named_resources
from rcp.core.ports import ProgressSink, RenderGateway, TenantStore
from rcp.core.readiness import ReadinessPoller
from rcp.errors import (
    AuthError,
    Interrupted,
    ProvisioningFailed,
    RcpError,
    RenderBadRequest,
    RenderNotFound,
    RenderServerError,
    RenderTransportError,
    RetryLater,
    TimedOut,
)

SERVICE_READY = {"live"}
# Deploy statuses `tenant check` reports as a failed latest deploy (see tenants/check.py).
SERVICE_FAILED = {
    "build_failed",
    "update_failed",
    "pre_deploy_failed",
    "canceled",
    "deactivated",
}
DATASTORE_READY = {"available"}
# Projects, environments and env groups: usable once their create is answered (Render's JSON
# for them has neither a status nor deploys; rcp.render.kinds calls that state "exists").
STATE_EXISTS = "exists"
EXISTS_READY = {STATE_EXISTS}
# A tenant's new environment whose resources from before it are not all moved in yet.
STATE_GATHERING = "gathering"
READY_STATES = SERVICE_READY | DATASTORE_READY | EXISTS_READY
# Kinds that live in a tenant's environment (spec: their create bodies take ``environmentId``).
ENVIRONMENT_MEMBER_KINDS = frozenset(
    {ResourceKind.SERVICE, ResourceKind.POSTGRES, ResourceKind.KEY_VALUE, ResourceKind.ENV_GROUP}
)
# Tenants of one `rcp apply` run in threads of one process: the first to find the fleet's
# shared project missing creates it while the others wait, so it is created once.
_SHARED_PROJECT_LOCK = threading.Lock()
# A service created by this tenant whose groups are not all linked yet (with the deploy that
# follows the links): a rerun finishes the links before anything else (see ``_link_groups``).
STATE_LINKING = "linking"
# How long a run waits for another tenant's run that is creating the same shared group.
SHARED_GROUP_LOCK_WAIT = 120.0
# Datastore statuses `tenant check` reports as unavailable: bad *now*, even when transient.
DATASTORE_FAILED = {"recovery_failed", "unavailable"}

# Readiness (waiting for a create, resume or deploy) stops only on what nothing will leave by
# itself. A deploy that failed its build, pre-deploy command or update stays failed.
DEPLOY_FAILED_FINAL = frozenset({"build_failed", "update_failed", "pre_deploy_failed"})
# A deploy another one replaced: Render cancels the one in progress when a newer deploy starts
# (or a queued one when a more recent one is queued) and deactivates the live one when a newer
# one goes live or the service is suspended. The wait then follows the service's current
# deploy; `canceled`/`deactivated` as the service's latest deploy (between a resume's 202 and
# its new deploy) is waited through, up to the timeout.
DEPLOY_SUPERSEDED = frozenset({"canceled", "deactivated"})
# The phase of a deploy each final failure ended in (Render's deploy statuses: the build, the
# pre-deploy command, or the update that starts the new instances).
DEPLOY_FAILURE_PHASE = {
    "build_failed": "build",
    "pre_deploy_failed": "pre-deploy",
    "update_failed": "update",
}
# Datastores: only a failed recovery is final. `unavailable`, `config_restart`,
# `updating_instance`, `maintenance_*`, `recovery_in_progress` are states Render passes through.
DATASTORE_FAILED_FINAL = frozenset({"recovery_failed"})


class StopFlag:
    """Set by the signal handler: the first SIGINT/SIGTERM lets the in-flight call finish and
    starts no new Render call."""

    def __init__(self) -> None:
        self.signal_number: int | None = None

    @property
    def requested(self) -> bool:
        return self.signal_number is not None

    def request(self, signal_number: int) -> None:
        if self.signal_number is None:
            self.signal_number = signal_number

    def raise_if_requested(self, message: str) -> None:
        """``Interrupted`` (exit 130/143 after the signal) when a stop was asked for."""
        if self.signal_number is not None:
            raise Interrupted(message, signal_number=self.signal_number)


@dataclass
class Guard:
    """The one check before every Render mutation: no new call after a signal, and only while
    the lease is still ours (fencing: a holder paused past its lease must not act for the new
    one). The engine and every tenant operation (``rcp.core.tenants.Operation.guard``) use it."""

    store: TenantStore
    lease: Lease
    stop: StopFlag

    def before_render_mutation(self) -> None:
        self.stop.raise_if_requested(
            "stopped by signal before the next Render call; rerun the same command to resume"
        )
        self.store.check_lock(self.lease)


@dataclass
class Waiting:
    """How readiness is awaited."""

    timeout: float | None = 1800.0
    # Render seconds (``ReadinessPoller.time_scale`` maps them onto the clock). Polls start
    # ``poll_initial`` apart and grow by ``poll_factor`` up to ``poll_max``, the interval at
    # which anything that may be ready is polled: 4 s, so that readiness is seen within 5 s of
    # Render's time, the request's own latency included.
    poll_initial: float = 0.5
    poll_factor: float = 1.5
    poll_max: float = 4.0
    # The same for resources read in batches (one request serves every tenant of the run, so
    # ticks are cheap): tighter, so that a slow tick still sees readiness within 5 s.
    batch_max: float = 2.5


@dataclass
class Engine:
    """The provisioner of one tenant under one lease. Built by
    ``rcp.core.tenants.Operator.engine`` (the one place that wires it from a run's settings);
    use cases reach it as ``Operation.engine``."""

    store: TenantStore
    gateway: RenderGateway
    progress: ProgressSink
    lease: Lease
    stop: StopFlag = field(default_factory=StopFlag)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    # Failpoints for the fault-tolerance tests (rcp.cli._signals): called with each step name
    # ("create:<key>:before|after|committed", "delete:<key>:…", "wait:poll").
    failpoint: Callable[[str], None] = lambda _step: None
    # After a create with an unknown outcome: how long to keep looking for it by name before
    # creating again (Render may act on a request whose answer we gave up waiting for).
    unknown_outcome_settle: float = 3.0
    # How long a request may stay in flight (the client's read timeout). A create_pending step
    # left by a run that died less than this long ago may still be acted on by Render: resuming
    # it keeps looking the name up until that window has passed.
    in_flight_window: float = 0.0
    # When each resource was created by this run: the first readiness poll waits one interval,
    # since nothing Render has only just accepted is ready yet (one request saved per poll).
    created_at: dict[str, float] = field(default_factory=dict)
    # Resource key → the deploy that was a service's latest when we asked Render for a new one
    # without learning its id (202 with no body): while Render still shows that one as the
    # latest, ours has not appeared yet, and its ended status says nothing about ours.
    replaced_deploys: dict[str, str] = field(default_factory=dict)
    # The run's shared poller (``Operator.readiness``); None: one of this engine's own.
    poller: ReadinessPoller | None = None
    guard: Guard = field(init=False, repr=False)
    # The id of the project the tenant's environment lives in, once looked up.
    _known_project: str | None = field(default=None, init=False, repr=False)
    readiness: ReadinessPoller = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.guard = Guard(self.store, self.lease, self.stop)
        self.readiness = self.poller or ReadinessPoller(self.gateway, clock=self.clock)

    # ---- guards -------------------------------------------------------------------------

    def journal(
        self,
        tenant: Tenant,
        key: str,
        render_name: str | None,
        step: str,
        status: str,
        *,
        render_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        """One journal row of this tenant's lease (committed before returning; never a
        secret in ``detail``)."""
        self.store.journal(
            tenant.slug,
            lease=self.lease,
            step=step,
            resource_key=key,
            status=status,
            render_name=render_name,
            render_id=render_id,
            detail=detail,
        )

    def _check_stop(self) -> None:
        self.stop.raise_if_requested("stopped by signal; rerun the same command to resume")

    def _pause(self, seconds: float, deadline: float | None) -> None:
        """Sleep in short slices so a signal or the deadline ends the wait promptly."""
        end = self.clock() + seconds
        if deadline is not None:
            end = min(end, deadline)
        while True:
            self._check_stop()
            left = end - self.clock()
            if left <= 0:
                return
            self.sleep(min(left, 0.2))

    # ---- create -------------------------------------------------------------------------

    def provision(self, tenant: Tenant, waiting: Waiting | None) -> Tenant:
        """Create every missing resource of the tenant, then (unless ``waiting`` is None) wait
        until all are ready and mark the tenant ACTIVE. Resumes whatever an earlier run left."""
        template = RenderedTemplate.from_dict(tenant.rendered_template)
        deadline = None
        if waiting is not None and waiting.timeout is not None:
            deadline = self.clock() + waiting.timeout
        if tenant.status not in (TenantStatus.PROVISIONING,):
            self.store.update_tenant(
                tenant.slug, lease=self.lease, status=TenantStatus.PROVISIONING
            )
            tenant.status = TenantStatus.PROVISIONING
        total = len(template.resources)
        for index, spec in enumerate(template.resources, start=1):
            resource = tenant.resource(spec.key)
            if resource is None:
                resource = Resource(key=spec.key, type=spec.render_type, name=spec.name)
                tenant.resources.append(resource)
                self.store.save_resource(tenant.slug, resource, lease=self.lease)
            if resource.render_id:
                if resource.state == STATE_LINKING:
                    self._link_groups(tenant, spec, resource)
                elif resource.state == STATE_GATHERING:
                    self._gather_into_environment(tenant, resource)
                continue
            if spec.kind is ResourceKind.ENV_GROUP:
                self._create_group(tenant, template, spec, resource)
            else:
                env = self.resolve_env(tenant, template, spec, waiting, deadline)
                body = self._create_body(tenant, template, spec)
                self._create_one(tenant, spec, resource, env, body)
                if resource.state == STATE_GATHERING:
                    self._gather_into_environment(tenant, resource)
            self.progress.event(
                tenant.slug,
                spec.key,
                f"created {resource.render_id} ({index}/{total})",
                resource.state,
            )
            if resource.state == STATE_LINKING:
                self._link_groups(tenant, spec, resource)
        if waiting is None:
            return tenant
        self._await_ready(tenant, [r.key for r in tenant.resources], waiting, deadline)
        self.store.update_tenant(
            tenant.slug, lease=self.lease, status=TenantStatus.ACTIVE, clear_error=True
        )
        tenant.status = TenantStatus.ACTIVE
        tenant.last_error = None
        self.record_revision(tenant)
        self.progress.event(tenant.slug, None, "active", "ACTIVE")
        return tenant

    def _create_body(
        self, tenant: Tenant, template: RenderedTemplate, spec: ResourceSpec
    ) -> dict[str, Any]:
        """The create request of ``spec``: an environment names its project (created first when
        the fleet's shared one is missing); anything else of a tenant with an environment is
        created in it (``environmentId``, which every such create body takes per the spec)."""
        body = dict(spec.body)
        if spec.kind is ResourceKind.ENVIRONMENT:
            body["projectId"] = self._project_id(tenant, template, spec, create=True)
        elif spec.kind in ENVIRONMENT_MEMBER_KINDS and not spec.shared:
            environment = tenant.environment
            if environment is not None:
                body["environmentId"] = environment.render_id
        return body

    def _project_id(
        self, tenant: Tenant, template: RenderedTemplate, environment: ResourceSpec, *, create: bool
    ) -> str | None:
        """The id of the project the tenant's environment lives in: its own (created before the
        environment), or the fleet's shared one, found by name and created when missing
        (``create``) with this tenant's environment in it (Render creates a project with at
        least one environment). None when there is none and ``create`` is false."""
        if self._known_project is not None:
            return self._known_project
        shared = template.shared_project
        if shared is None:
            own = tenant.resource(PROJECT_KEY)
            if own is None or own.render_id is None:
                if create:
                    raise ProvisioningFailed(
                        f"{environment.key} needs {PROJECT_KEY}, which has not been created"
                    )
                return None
            self._known_project = own.render_id
            return own.render_id
        with _SHARED_PROJECT_LOCK:
            found = self._shared_project_lookup(tenant, shared)
            if found is None and create:
                found = self._create_shared_project(tenant, shared, environment)
        self._known_project = found
        return found

    def _shared_project_lookup(self, tenant: Tenant, name: str) -> str | None:
        matches = self.gateway.find_by_name(ResourceKind.PROJECT, name)
        if len(matches) > 1:
            ids = ", ".join(m.render_id for m in matches)
            message = (
                f"{len(matches)} Render projects are named {name} ({ids}); the template's "
                "isolation block needs exactly one: an operator must merge or rename the others"
            )
            self.store.update_tenant(tenant.slug, lease=self.lease, last_error=message)
            raise ProvisioningFailed(message)
        return matches[0].render_id if matches else None

    def _create_shared_project(self, tenant: Tenant, name: str, environment: ResourceSpec) -> str:
        """Create the fleet's shared project with the tenant's environment in it. Journaled
        under the key ``project``; the project belongs to no tenant (never deleted with one).
        A create with an unknown outcome is looked up again before it is given up on."""
        self.guard.before_render_mutation()
        self.journal(tenant, PROJECT_KEY, name, "create", "pending", detail="shared project")
        self.failpoint(f"create:{PROJECT_KEY}:before")
        body = {"name": name, "environments": [dict(environment.body)]}
        try:
            remote = self.gateway.create(ResourceKind.PROJECT, body, [])
        except (RenderTransportError, RenderServerError) as exc:
            if isinstance(exc, RenderTransportError) and not exc.maybe_sent:
                raise
            deadline = self.clock() + self.unknown_outcome_settle
            while True:
                found = self._shared_project_lookup(tenant, name)
                if found is not None:
                    return found
                if self.clock() >= deadline:
                    raise
                self._pause(0.5, deadline)
        self.failpoint(f"create:{PROJECT_KEY}:after")
        self.journal(
            tenant,
            PROJECT_KEY,
            name,
            "create",
            "done",
            render_id=remote.render_id,
            detail="shared project",
        )
        self.progress.event(
            tenant.slug, PROJECT_KEY, f"created shared project {name} ({remote.render_id})", None
        )
        return remote.render_id

    def _find_existing(self, tenant: Tenant, spec: ResourceSpec) -> list[RemoteResource]:
        """Render's resources of ``spec``'s kind named like it (an environment: within the
        tenant's project; none when that project does not exist)."""
        if spec.kind is ResourceKind.ENVIRONMENT:
            template = RenderedTemplate.from_dict(tenant.rendered_template)
            project_id = self._project_id(tenant, template, spec, create=False)
            if project_id is None:
                return []
            return self.gateway.find_environment(project_id, spec.name)
        return self.gateway.find_by_name(spec.kind, spec.name)

    def _environment_members(self, tenant: Tenant) -> list[str]:
        """Ids of the tenant's resources that belong in its environment (a group the fleet
        shares is no tenant's: it stays where it is)."""
        shared = {
            spec.key
            for spec in RenderedTemplate.from_dict(tenant.rendered_template).resources
            if spec.shared
        }
        return [
            r.render_id
            for r in tenant.resources
            if r.render_id and r.kind in ENVIRONMENT_MEMBER_KINDS and r.key not in shared
        ]

    def _gather_into_environment(self, tenant: Tenant, environment: Resource) -> None:
        """Resources the tenant had before its template gave it an environment are moved in
        (``POST /environments/{id}/resources``), so the environment holds all of them. The
        environment is recorded ``gathering`` with its id (``_record_created``) until this is
        done, so a run killed in between does it on the rerun."""
        assert environment.render_id is not None
        ids = self._environment_members(tenant)
        held = set(self.gateway.environment_resources(environment.render_id) or [])
        moving = [render_id for render_id in ids if render_id not in held]
        if not moving:
            self._gathered(tenant, environment)
            return
        self.guard.before_render_mutation()
        self.journal(
            tenant,
            environment.key,
            environment.name,
            "gather",
            "pending",
            render_id=environment.render_id,
            detail=",".join(moving),
        )
        self.failpoint(f"gather:{environment.key}:before")
        self.gateway.add_to_environment(environment.render_id, moving)
        self.failpoint(f"gather:{environment.key}:after")
        self.journal(
            tenant,
            environment.key,
            environment.name,
            "gather",
            "done",
            render_id=environment.render_id,
        )
        self.progress.event(
            tenant.slug,
            environment.key,
            f"moved {len(moving)} resource(s) into {environment.render_id}",
            None,
        )
        self._gathered(tenant, environment)

    def _gathered(self, tenant: Tenant, environment: Resource) -> None:
        environment.state = STATE_EXISTS
        self.store.save_resource(tenant.slug, environment, lease=self.lease)

    # ---- environment groups -----------------------------------------------------------------

    def _create_group(
        self, tenant: Tenant, template: RenderedTemplate, spec: ResourceSpec, resource: Resource
    ) -> None:
        """Create a group with its variables in the create itself (filled before any service
        links it; a tenant's own group in its environment, when it has one). A shared group is
        one for the fleet: under a lock named after it, the group of that name is adopted when
        it exists (another tenant created it) and created once otherwise."""
        body = self._create_body(tenant, template, spec)
        body["envVars"] = self.resolve_group_env(tenant, spec)
        if not spec.shared:
            self._create_one(tenant, spec, resource, [], body)
            return
        self.guard.before_render_mutation()
        lock = self.store.acquire_lock(
            shared_group_lock(spec.name), self.lease.holder, wait_seconds=SHARED_GROUP_LOCK_WAIT
        )
        try:
            # Renewed while held: a create waiting on rate limits may outlast one lease period.
            with self.store.keep_alive(lock):
                if self._adopt_by_name(tenant, spec, resource):
                    return
                self._create_one(tenant, spec, resource, [], body)
        finally:
            self.store.release_lock(lock)

    def resolve_group_env(self, tenant: Tenant, spec: ResourceSpec) -> list[dict[str, Any]]:
        """A group's variables as its create sends them: the template's, with a per-tenant
        group's overrides (``rcp tenant env set --group``) on top. A shared group's values
        are the fleet's (``rcp group env set``), not a tenant's."""
        resolved: list[dict[str, Any]] = []
        for var in spec.env:
            if var.generate:
                resolved.append({"key": var.key, "generateValue": True})
            elif var.value is not None:
                resolved.append({"key": var.key, "value": var.value})
        overrides = {} if spec.shared else tenant.env_overrides.get(spec.key, {})
        if overrides:
            resolved = [v for v in resolved if v["key"] not in overrides]
            resolved.extend({"key": k, "value": v} for k, v in sorted(overrides.items()))
        return resolved

    def _link_groups(self, tenant: Tenant, spec: ResourceSpec, resource: Resource) -> None:
        """Link a just-created service to its groups, one per-service link each (Render's
        ``POST /env-groups/{id}/services/{serviceId}``: no other service's link is touched),
        then deploy it again: the deploy its create started began before the links, and the
        new one (which supersedes it) starts with the groups' variables. Journalled; a rerun
        repeats what a kill interrupted (a link is idempotent)."""
        assert resource.render_id is not None
        for group_key in spec.groups:
            group = tenant.resource(group_key)
            if group is None or not group.render_id:
                raise ProvisioningFailed(
                    f"{spec.key} needs group {group_key}, which has not been created"
                )
            self.guard.before_render_mutation()
            self.journal(tenant, spec.key, group.name, "link", "pending", render_id=group.render_id)
            self.failpoint(f"link:{spec.key}:before")
            self.gateway.link_env_group(group.render_id, resource.render_id)
            self.failpoint(f"link:{spec.key}:after")
            self.journal(tenant, spec.key, group.name, "link", "done", render_id=group.render_id)
            self.progress.event(tenant.slug, spec.key, f"linked group {group.name}", None)
        self.guard.before_render_mutation()
        self.journal(tenant, spec.key, spec.name, "deploy", "pending", render_id=resource.render_id)
        self.failpoint(f"deploy:{spec.key}:before")
        previous = resource.deploy_id
        deploy_id = self.gateway.trigger_deploy(resource.render_id)
        self.failpoint(f"deploy:{spec.key}:after")
        if deploy_id is None and previous is not None:
            # 202 without a body: until Render lists a newer deploy, the old one is not ours.
            self.replaced_deploys[spec.key] = previous
        resource.deploy_id = deploy_id or previous
        resource.state = "queued"
        self.created_at.setdefault(spec.key, self.clock())
        self.store.save_resource(tenant.slug, resource, lease=self.lease)
        self.journal(tenant, spec.key, spec.name, "deploy", "done", render_id=resource.render_id)
        self.progress.event(
            tenant.slug, spec.key, "deploy started with the groups' variables", resource.state
        )

    def record_revision(self, tenant: Tenant) -> None:
        """The tenant runs the template revision its rendered template comes from: recorded
        when it reaches ACTIVE (or, for a change Render needs no deploy for, when the change is
        recorded). A rendering from before revisions carries none: nothing to record."""
        revision = RenderedTemplate.from_dict(tenant.rendered_template).revision
        if not revision or not revision.get("hash"):
            return
        digest, label = str(revision["hash"]), revision.get("label")
        self.store.record_tenant_revision(
            tenant.slug, lease=self.lease, revision_hash=digest, label=label
        )
        current = tenant.template_revision
        since = current.since if current is not None and current.hash == digest else utcnow()
        tenant.template_revision = TenantRevision(digest, label, since)

    def _create_one(
        self,
        tenant: Tenant,
        spec: ResourceSpec,
        resource: Resource,
        env: list[dict[str, Any]],
        body: dict[str, Any] | None = None,
    ) -> None:
        if body is None:
            body = spec.body
        unknown_outcome = resource.state == "create_pending"
        if spec.kind is ResourceKind.ENVIRONMENT and not unknown_outcome:
            # A project is created with its environment (Render's projectPOSTInput): the tenant's
            # own project's create, or the shared one's, may have made it already.
            if self._adopt_by_name(tenant, spec, resource):
                return
        if unknown_outcome:
            # An earlier run committed the step but never recorded an id: Render may or may not
            # have acted (and a request of a killed run may still be in its queue). Look before
            # creating.
            if self._adopt_after_settling(
                tenant, spec, resource, at_least=self._in_flight_remaining(tenant)
            ):
                return
        self.guard.before_render_mutation()
        resource.state = "create_pending"
        self.store.save_resource(tenant.slug, resource, lease=self.lease)
        self.journal(tenant, spec.key, spec.name, "create", "pending")
        self.failpoint(f"create:{spec.key}:before")
        try:
            remote = self.gateway.create(spec.kind, body, env)
        except (RenderTransportError, RenderServerError) as exc:
            if isinstance(exc, RenderTransportError) and not exc.maybe_sent:
                self._not_created(tenant, spec, resource, exc)
                raise
            self.progress.event(
                tenant.slug, spec.key, "outcome of create unknown; reconciling by name", None
            )
            if self._adopt_after_settling(tenant, spec, resource):
                return
            self.guard.before_render_mutation()
            remote = self.gateway.create(spec.kind, body, env)
        except RenderBadRequest as exc:
            # 409: the name is taken — most likely by our own earlier attempt.
            if exc.status == 409 and self._adopt_by_name(tenant, spec, resource):
                return
            self._not_created(tenant, spec, resource, exc)
            raise
        except (RetryLater, AuthError) as exc:
            self._not_created(tenant, spec, resource, exc)
            raise
        self.failpoint(f"create:{spec.key}:after")
        self._record_created(tenant, spec, resource, remote)

    def _not_created(
        self, tenant: Tenant, spec: ResourceSpec, resource: Resource, error: Exception
    ) -> None:
        """Render refused the create outright (4xx, 429 beyond the budget, a connection that
        never opened): nothing exists under the name because of it, so the step goes back to
        plain ``pending`` and the rerun creates without first waiting for a late arrival."""
        resource.state = "pending"
        try:
            self.store.save_resource(tenant.slug, resource, lease=self.lease)
            self.journal(
                tenant, spec.key, spec.name, "create", "failed", detail=type(error).__name__
            )
        except RcpError:
            # Cannot record it (lease lost, database gone): the step stays create_pending and
            # the rerun looks the name up first, which is merely slower.
            resource.state = "create_pending"

    def _in_flight_remaining(self, tenant: Tenant) -> float:
        """Seconds until a request sent by the run that last wrote this tenant can no longer
        land (its last write was the pending step of the create it died in)."""
        if self.in_flight_window <= 0 or tenant.updated_at is None:
            return 0.0
        last_write = tenant.updated_at
        if last_write.tzinfo is None:
            last_write = last_write.replace(tzinfo=UTC)
        age = (datetime.now(UTC) - last_write).total_seconds()
        # Clamped: clocks of CI runners and the database may disagree.
        return min(max(self.in_flight_window - age, 0.0), self.in_flight_window)

    def _adopt_after_settling(
        self, tenant: Tenant, spec: ResourceSpec, resource: Resource, *, at_least: float = 0.0
    ) -> bool:
        """Look the name up until ``unknown_outcome_settle`` (or ``at_least``) seconds have
        passed.

        A create that timed out on our side, or was sent by a run that died, may still be
        acted on by Render a moment later (the request was in its queue); one immediate lookup
        would miss it and our repeat would make a duplicate. Looking again costs little on this
        rare path.
        """
        window = max(self.unknown_outcome_settle, at_least)
        deadline = self.clock() + window
        interval = 0.25
        announced = False
        while True:
            if self._adopt_by_name(tenant, spec, resource):
                return True
            if self.clock() >= deadline:
                return False
            if not announced and window > 5:
                announced = True
                self.progress.event(
                    tenant.slug,
                    spec.key,
                    f"not on Render yet; waiting up to {window:.0f} s for an earlier attempt's "
                    "create to show up before creating it",
                    None,
                )
            self._pause(interval, deadline)
            interval = min(interval * 2, 2.0)

    def _adopt_by_name(self, tenant: Tenant, spec: ResourceSpec, resource: Resource) -> bool:
        matches = self._find_existing(tenant, spec)
        if len(matches) > 1:
            ids = ", ".join(m.render_id for m in matches)
            message = (
                f"{len(matches)} Render resources are named {spec.name} ({ids}); "
                "an operator must delete the extra ones (or adopt one with `rcp tenant adopt`)"
            )
            self.store.update_tenant(tenant.slug, lease=self.lease, last_error=message)
            raise ProvisioningFailed(message)
        if not matches:
            return False
        self.progress.event(tenant.slug, spec.key, f"adopted {matches[0].render_id} by name", None)
        self._record_created(tenant, spec, resource, matches[0])
        return True

    def _record_created(
        self, tenant: Tenant, spec: ResourceSpec, resource: Resource, remote: RemoteResource
    ) -> None:
        resource.render_id = remote.render_id
        # A service with groups is not done with its create until they are linked (and it is
        # deployed again): the state says so in the same write that records the id.
        resource.state = STATE_LINKING if spec.groups else remote.state
        if spec.kind is ResourceKind.ENVIRONMENT and self._environment_members(tenant):
            # The tenant has resources from before its environment: recorded with the id, so a
            # run killed before they are moved in moves them on the rerun.
            resource.state = STATE_GATHERING
        resource.url = remote.url
        resource.deploy_id = remote.deploy_id
        self.created_at[resource.key] = self.clock()
        self.store.save_resource(tenant.slug, resource, lease=self.lease)
        self.journal(tenant, spec.key, spec.name, "create", "done", render_id=remote.render_id)
        self.failpoint(f"create:{spec.key}:committed")

    def resolve_env(
        self,
        tenant: Tenant,
        template: RenderedTemplate,
        spec: ResourceSpec,
        waiting: Waiting | None,
        deadline: float | None,
    ) -> list[dict[str, Any]]:
        """The envVars a fresh create of ``spec`` sends: template values (with references to
        other resources looked up, waiting for a datastore to be available when needed), then
        the tenant's overrides ("*" for every service, then the service's own) on top."""
        if spec.kind is not ResourceKind.SERVICE:
            return []
        resolved: list[dict[str, Any]] = []
        connection_cache: dict[str, dict[str, str]] = {}
        for var in spec.env:
            if var.generate:
                resolved.append({"key": var.key, "generateValue": True})
            elif var.value is not None:
                resolved.append({"key": var.key, "value": var.value})
            elif var.from_resource is not None:
                source_key, prop = var.from_resource
                source = _created_source(tenant, spec, source_key)
                resolved.append(
                    {
                        "key": var.key,
                        "value": self._resource_property(
                            tenant, source, prop, connection_cache, waiting, deadline
                        ),
                    }
                )
            elif var.from_env_var is not None:
                source_key, env_key = var.from_env_var
                source = _created_source(tenant, spec, source_key)
                assert source.render_id is not None
                values = self.gateway.list_env_vars(source.render_id)
                if env_key in values:
                    resolved.append({"key": var.key, "value": values[env_key]})
        # Tenant overrides win over template values (they are re-applied on every provision).
        overrides: dict[str, str] = {}
        overrides.update(tenant.env_overrides.get("*", {}))
        overrides.update(tenant.env_overrides.get(spec.key, {}))
        if overrides:
            resolved = [v for v in resolved if v["key"] not in overrides]
            resolved.extend({"key": k, "value": v} for k, v in sorted(overrides.items()))
        del template
        return resolved

    def _resource_property(
        self,
        tenant: Tenant,
        source: Resource,
        prop: str,
        cache: dict[str, dict[str, str]],
        waiting: Waiting | None,
        deadline: float | None,
    ) -> str:
        """``prop`` of another resource of the tenant, with Render's semantics
        (``rcp.core.references``): a datastore's internal connection details, a service's
        address on the private network."""
        assert source.render_id is not None
        if source.kind is not ResourceKind.SERVICE:
            # Render hands out connection details once the datastore is available. A service's
            # address is known from its create on.
            self._await_ready(tenant, [source.key], waiting or Waiting(), deadline)
        if source.render_id not in cache:
            try:
                cache[source.render_id] = self.gateway.connection_info(
                    source.kind, source.render_id
                )
            except RenderNotFound:
                raise ProvisioningFailed(
                    f"{source.key} ({source.render_id}) no longer exists on Render",
                    hint=f"'rcp tenant check {tenant.slug} --repair' recreates missing resources",
                ) from None
        try:
            return references.reference_value(source.kind, cache[source.render_id], prop)
        except references.ReferenceUnavailable as exc:
            raise ProvisioningFailed(f"cannot read {prop} of {source.key}: {exc}") from None

    # ---- readiness ----------------------------------------------------------------------

    def _await_ready(
        self,
        tenant: Tenant,
        keys: list[str],
        waiting: Waiting,
        deadline: float | None,
        *,
        quiet: bool = False,
    ) -> None:
        """Poll until every resource in ``keys`` is ready (``rcp.core.readiness``: datastores
        in batches shared with the run's other tenants, a service's deploy on its own, each
        when it may be ready), recording each change; ``_fail`` on a final failure."""
        readiness = self.readiness
        pending = list(keys)
        began = self.clock()
        schedule: dict[str, _PollSchedule] = {}
        try:
            while True:
                now = self.clock()
                due: list[tuple[str, float]] = []
                waiting_keys: list[str] = []
                for key in pending:
                    resource = tenant.resource(key)
                    if resource is None or resource.render_id is None:
                        continue
                    if resource.state in READY_STATES:
                        continue
                    plan = schedule.get(key)
                    if plan is None:
                        plan = schedule[key] = self._poll_schedule(tenant, resource, began, waiting)
                    at = self._due_at(plan, waiting)
                    if at <= now:
                        due.append((key, at))
                    else:
                        waiting_keys.append(key)
                if not due and not waiting_keys:
                    return
                still = list(waiting_keys)
                if due:
                    self.failpoint("wait:poll")
                    # A holder paused past its lease must not even read on: the new holder
                    # owns the tenant now (LockLost before any further Render call).
                    self.store.check_lock(self.lease)
                for key, at in due:
                    resource = tenant.resource(key)
                    assert resource is not None and resource.render_id is not None
                    plan = schedule[key]
                    if self._poll_once(tenant, resource, plan, at, quiet):
                        continue
                    still.append(key)
                pending = still
                if not pending:
                    return
                if deadline is not None and self.clock() >= deadline:
                    raise TimedOut(
                        f"timed out waiting for {', '.join(pending)} of {tenant.slug}; "
                        "rerun the same command to keep waiting",
                    )
                wake = min(self._due_at(schedule[key], waiting) for key in pending)
                # Re-planned at least every poll_max: what the run learns meanwhile (another
                # tenant's resource ready) may move a quiet period's end earlier.
                pause = min(wake - self.clock(), readiness.clock_seconds(waiting.poll_max))
                self._pause(max(pause, 0.0), deadline)
        finally:
            for plan in schedule.values():
                plan.release(readiness)

    def _poll_schedule(
        self, tenant: Tenant, resource: Resource, began: float, waiting: Waiting
    ) -> _PollSchedule:
        """When this wait polls ``resource``: from its create (this run made it) or from now."""
        assert resource.render_id is not None
        created = self.created_at.get(resource.key)
        batched = self.readiness.batched(resource.kind)
        plan = _PollSchedule(
            kind=resource.kind,
            render_id=resource.render_id,
            name=resource.name,
            # Resources of one template's key take about as long as each other (the learning
            # class); only a create's wait says how long a resource takes from the start.
            klass=f"{tenant.template}/{resource.key}/{resource.type}" if created else None,
            started=created if created is not None else began,
            # Nothing Render has only just accepted is ready yet: the first poll after a create
            # waits one interval (one request saved per resource).
            first=(created + self.readiness.clock_seconds(waiting.poll_initial))
            if created is not None
            else began,
            interval=waiting.poll_initial,
            factor=waiting.poll_factor,
            cap=waiting.batch_max if batched else waiting.poll_max,
            batched=batched,
        )
        if plan.batched:
            self.readiness.watch(plan.kind, plan.render_id, plan.name)
        if plan.klass is not None:
            self.readiness.started(plan.klass, plan.render_id, plan.started)
        return plan

    def _due_at(self, plan: _PollSchedule, waiting: Waiting) -> float:
        """The next poll of ``resource``: one interval after the last (growing by
        ``poll_factor`` up to ``poll_max``), not before the quiet period the run's experience
        allows (``ReadinessPoller.quiet_until``), on the shared grid when read in batches."""
        readiness = self.readiness
        at = (
            plan.first
            if plan.last is None
            else plan.last + readiness.clock_seconds(plan.interval)
        )
        if plan.klass is not None:
            # A batch is read for every awaited resource of the kind at once: peers say little
            # there (a tick costs one request however many are due), and Render's datastores
            # vary more than one template's deploys do.
            quiet_end = readiness.quiet_until(
                plan.klass, plan.render_id, plan.started, waiting.poll_max, peers=not plan.batched
            )
            if quiet_end > at:
                at = quiet_end
                # Past its quiet period a resource may be ready at any moment.
                plan.interval = plan.cap
        if plan.batched:
            at = readiness.next_tick(plan.interval, at)
        return at

    def _poll_once(
        self, tenant: Tenant, resource: Resource, plan: _PollSchedule, due: float, quiet: bool
    ) -> bool:
        """One poll of an awaited resource; True when it is ready."""
        key = resource.key
        awaited_deploy = resource.deploy_id
        polled_at = self.clock()
        state, url = self._poll_state(resource, plan, due)
        # The cadence runs from when each poll was due, so a late wake-up does not push every
        # later poll (or a batch tick) back by a whole interval.
        late = polled_at - due >= self.readiness.clock_seconds(plan.interval)
        plan.last = polled_at if late else due
        if state is None:
            message = f"{key} ({resource.render_id}) disappeared from Render"
            self._fail(tenant, message, resource)
        assert state is not None
        followed = awaited_deploy is not None and resource.deploy_id != awaited_deploy
        ready = state in READY_STATES
        if (
            state != resource.state
            or (url and url != resource.url)
            or resource.deploy_id != awaited_deploy
            or (ready and resource.last_error)
        ):
            resource.state = state
            resource.url = url or resource.url
            if ready:
                resource.last_error = None  # up again: the old failure is history
            self.store.save_resource(tenant.slug, resource, lease=self.lease)
            if followed and not quiet:
                self.progress.event(
                    tenant.slug,
                    key,
                    f"deploy {awaited_deploy} was superseded; following {resource.deploy_id}",
                    resource.state,
                )
            elif not quiet:
                self.progress.event(tenant.slug, key, resource.state, resource.state)
        if _failed_for_good(resource):
            self._fail(tenant, describe_failure(resource), resource)
        if resource.state in READY_STATES:
            plan.ready_after = plan.not_ready_age
            return True
        plan.not_ready_age = (polled_at - plan.started) * self.readiness.time_scale
        plan.interval = min(plan.interval * plan.factor, plan.cap)
        return False

    def _poll_state(
        self, resource: Resource, plan: _PollSchedule | None = None, due: float = 0.0
    ) -> tuple[str | None, str | None]:
        """(state, url) of a resource being awaited; (None, None) when it is gone.

        A service is judged by its current deploy. One this run created is polled through the
        deploy its create started (one request instead of the service and its deploy list)
        while that deploy is the one that counts. When it was superseded (``canceled``,
        ``deactivated``), or failed, the service itself is read: if its latest deploy is a
        newer one, that deploy is followed from then on (``resource.deploy_id`` changes).
        Anything else (a resumed run, a resume, a later deploy) reads the service itself.
        """
        assert resource.render_id is not None
        is_service = resource.kind is ResourceKind.SERVICE
        if (
            is_service
            and resource.deploy_id
            and resource.key in self.created_at
            and resource.state != "suspended"
        ):
            status = self.gateway.deploy_status(resource.render_id, resource.deploy_id)
            if status is not None and not (
                status in DEPLOY_SUPERSEDED or status in DEPLOY_FAILED_FINAL
            ):
                return status, None
            # Ended (or gone): whether it still counts is the service's to say. A failed deploy
            # that is still the latest one comes back as the service's state, and fails.
        if plan is not None and plan.batched:
            remote = self.readiness.read(
                resource.kind, resource.render_id, resource.name, due, self._check_stop
            )
        else:
            remote = self.gateway.get(resource.kind, resource.render_id)
        if remote is None:
            return None, None
        if is_service and not remote.suspended and remote.deploy_id:
            if self.replaced_deploys.get(resource.key) == remote.deploy_id:
                # The deploy we asked for has not appeared yet (see ``replaced_deploys``).
                return "queued", remote.url
            # The service's current deploy is the one that counts (and the one a failure names).
            resource.deploy_id = remote.deploy_id
        return remote.state, remote.url

    def _fail(self, tenant: Tenant, message: str, resource: Resource | None = None) -> None:
        """The tenant (and the resource, when one failed) ERROR with ``message``; exit 5."""
        if resource is not None:
            resource.last_error = message
            self.store.save_resource(tenant.slug, resource, lease=self.lease)
        self.store.update_tenant(
            tenant.slug, lease=self.lease, status=TenantStatus.ERROR, last_error=message
        )
        tenant.status = TenantStatus.ERROR
        tenant.last_error = message
        slug = tenant.slug
        if resource is not None and resource.state in DEPLOY_FAILURE_PHASE:
            hint = (
                f"`rcp tenant logs {slug} --service {resource.key}` shows why; once fixed, "
                f"`rcp tenant redeploy {slug}` (or rerun `rcp tenant create`) deploys again"
            )
        else:
            hint = f"see `rcp tenant show {slug}`; fix the cause and rerun `rcp tenant create`"
        raise ProvisioningFailed(f"provisioning {slug} failed: {message}", hint=hint)

    # ---- refresh (status --live) ----------------------------------------------------------

    def refresh(self, tenant: Tenant, *, persist: bool) -> Tenant:
        """Read every resource's state from Render; PROVISIONING → ACTIVE when all are up."""
        for resource in tenant.resources:
            if not resource.render_id:
                continue
            remote = self.gateway.get(resource.kind, resource.render_id)
            resource.state = "missing" if remote is None else remote.state
            if remote is not None and remote.url:
                resource.url = remote.url
            if persist:
                self.store.save_resource(tenant.slug, resource, lease=self.lease)
        ready = all(r.state in READY_STATES for r in tenant.resources)
        template = RenderedTemplate.from_dict(tenant.rendered_template)
        complete = {r.key for r in tenant.resources if r.render_id} >= {
            s.key for s in template.resources
        }
        if tenant.status == TenantStatus.PROVISIONING and ready and complete:
            tenant.status = TenantStatus.ACTIVE
            if persist:
                self.store.update_tenant(
                    tenant.slug, lease=self.lease, status=TenantStatus.ACTIVE, clear_error=True
                )
                self.record_revision(tenant)
        return tenant

    # ---- delete -------------------------------------------------------------------------

    def empty_environment(self, tenant: Tenant, resource: Resource, render_id: str) -> None:
        """Take whatever the tenant's environment still holds out of it (into no environment:
        nothing is deleted that the tenant's record does not hold), so Render lets it go."""
        held = self.gateway.environment_resources(render_id)
        if not held:
            return
        self.guard.before_render_mutation()
        self.journal(
            tenant,
            resource.key,
            resource.name,
            "empty",
            "pending",
            render_id=render_id,
            detail=",".join(held),
        )
        self.failpoint(f"empty:{resource.key}:before")
        self.gateway.remove_from_environment(render_id, held)
        self.failpoint(f"empty:{resource.key}:after")
        self.journal(tenant, resource.key, resource.name, "empty", "done", render_id=render_id)
        self.progress.event(
            tenant.slug,
            resource.key,
            f"moved {len(held)} resource(s) the record does not hold out of {render_id}: "
            + ", ".join(held),
            None,
        )

    def destroy(self, tenant: Tenant) -> list[str]:
        """Delete every Render resource in reverse creation order (404 = already gone), then
        the record. On failure the tenant stays DELETING with a message naming the resource."""
        if tenant.status != TenantStatus.DELETING:
            self.store.update_tenant(tenant.slug, lease=self.lease, status=TenantStatus.DELETING)
            tenant.status = TenantStatus.DELETING
        template = RenderedTemplate.from_dict(tenant.rendered_template)
        order = [s.key for s in template.resources]
        extra = [r.key for r in tenant.resources if r.key not in order]
        shared = {s.key for s in template.resources if s.shared}
        self._unlink_shared_groups(tenant, template)
        # Whatever carries a template key's Render name is the tenant's too, recorded or not
        # (rcp.core.ownership): a create Render acted on after we gave up, a lost database, an
        # older backup imported over a newer record.
        by_name = {
            entry.key: [m.render_id for m in entry.others]
            for entry in named_resources(self.gateway, self.store, tenant)
            if entry.key not in shared
        }
        deleted: list[str] = []
        for key in reversed(order + extra):
            resource = tenant.resource(key)
            if resource is None:
                if not by_name.get(key):
                    continue
                # An earlier run removed the row; what still carries the name goes too.
                spec = template.resource(key)
                resource = Resource(key=key, type=spec.render_type, name=spec.name)
            ids: list[str] = []
            if key in shared:
                # The fleet's group: this tenant's links are gone; the group stays.
                pass
            elif resource.render_id:
                ids.append(resource.render_id)
            elif resource.state == "create_pending" and resource.kind not in NAMED_KINDS:
                # A create whose outcome was never recorded: an orphan may exist under the name.
                spec = _spec_of(template, resource)
                ids.extend(m.render_id for m in self._find_existing(tenant, spec))
            ids.extend(render_id for render_id in by_name.get(key, []) if render_id not in ids)
            for render_id in ids:
                if resource.kind is ResourceKind.ENVIRONMENT:
                    # Render refuses to delete an environment that holds anything (409).
                    self.empty_environment(tenant, resource, render_id)
                self.guard.before_render_mutation()
                self.journal(tenant, key, resource.name, "delete", "pending", render_id=render_id)
                self.failpoint(f"delete:{key}:before")
                try:
                    try:
                        gone_now = self.gateway.delete(resource.kind, render_id)
                    except RenderBadRequest as exc:
                        if exc.status != 409 or resource.kind is not ResourceKind.ENVIRONMENT:
                            raise
                        # Something was put in it meanwhile: out again, then delete.
                        self.empty_environment(tenant, resource, render_id)
                        self.guard.before_render_mutation()
                        gone_now = self.gateway.delete(resource.kind, render_id)
                except Exception as exc:
                    message = f"could not delete {key} ({render_id}): {exc}"
                    resource.last_error = message
                    self.store.save_resource(tenant.slug, resource, lease=self.lease)
                    self.store.update_tenant(tenant.slug, lease=self.lease, last_error=message)
                    raise
                self.failpoint(f"delete:{key}:after")
                if gone_now:
                    deleted.append(render_id)
                self.journal(tenant, key, resource.name, "delete", "done", render_id=render_id)
                self.progress.event(
                    tenant.slug,
                    key,
                    f"deleted {render_id}" if gone_now else f"{render_id} already gone",
                    "deleted",
                )
            self.store.remove_resource(tenant.slug, key, lease=self.lease)
            self.failpoint(f"delete:{key}:committed")
        self.store.delete_tenant(tenant.slug, lease=self.lease)
        return deleted

    def _unlink_shared_groups(self, tenant: Tenant, template: RenderedTemplate) -> None:
        """Unlink the tenant's services from the groups the fleet shares (one per-service
        unlink each: other tenants' links stay). Journalled; a link already gone is fine."""
        for spec in template.resources:
            for group_key in spec.groups:
                group_spec = next((s for s in template.resources if s.key == group_key), None)
                group = tenant.resource(group_key)
                service = tenant.resource(spec.key)
                if group_spec is None or not group_spec.shared:
                    continue
                if group is None or not group.render_id or service is None:
                    continue
                if not service.render_id:
                    continue
                self.guard.before_render_mutation()
                self.journal(
                    tenant, spec.key, group.name, "unlink", "pending", render_id=group.render_id
                )
                self.failpoint(f"unlink:{spec.key}:before")
                linked = self.gateway.unlink_env_group(group.render_id, service.render_id)
                self.failpoint(f"unlink:{spec.key}:after")
                self.journal(
                    tenant, spec.key, group.name, "unlink", "done", render_id=group.render_id
                )
                self.progress.event(
                    tenant.slug,
                    spec.key,
                    f"unlinked group {group.name}" if linked else f"group {group.name} not linked",
                    None,
                )


def _spec_of(template: RenderedTemplate, resource: Resource) -> ResourceSpec:
    """The template's spec of a recorded resource (a stand-in when the template dropped it)."""
    for spec in template.resources:
        if spec.key == resource.key:
            return spec
    return ResourceSpec(key=resource.key, render_type=resource.type, name=resource.name, body={})


def describe_failure(resource: Resource) -> str:
    """A resource's final failure as errors and records name it: for a deploy, the service,
    the deploy id, its status and the phase it failed in."""
    phase = DEPLOY_FAILURE_PHASE.get(resource.state)
    if resource.kind is ResourceKind.SERVICE and phase is not None:
        deploy = f"deploy {resource.deploy_id}" if resource.deploy_id else "its latest deploy"
        return (
            f"{resource.key} ({resource.render_id}): {deploy} ended {resource.state} "
            f"in the {phase} phase"
        )
    return f"{resource.key} ({resource.render_id}) reached {resource.state}"


def _failed_for_good(resource: Resource) -> bool:
    """Whether the awaited resource reached a state no wait will get it out of."""
    if resource.kind is ResourceKind.SERVICE:
        return resource.state in DEPLOY_FAILED_FINAL
    return resource.state in DATASTORE_FAILED_FINAL


def _created_source(tenant: Tenant, spec: ResourceSpec, source_key: str) -> Resource:
    """The resource ``spec`` reads a value from; it must exist on Render by now (template order
    puts it first)."""
    source = tenant.resource(source_key)
    if source is None or not source.render_id:
        raise ProvisioningFailed(f"{spec.key} needs {source_key}, which has not been created")
    return source


def shared_group_lock(name: str) -> str:
    """The lock (a lease row, like a tenant's) that serialises runs creating or changing the
    shared group ``name``: a fixed-length key that cannot be a tenant slug (those start with
    a letter)."""
    return "~evg-" + hashlib.sha256(name.encode()).hexdigest()[:32]


@dataclass
class _PollSchedule:
    """One awaited resource's polling: when it started, when it was last polled, the current
    interval (Render seconds) and what the run may learn from it."""

    kind: ResourceKind
    render_id: str
    name: str
    klass: str | None
    started: float
    first: float
    interval: float
    factor: float
    cap: float
    batched: bool
    last: float | None = None
    # Render seconds after the start at which it was last seen not ready, and that figure once
    # it was seen ready (a lower bound of how long its class takes).
    not_ready_age: float | None = None
    ready_after: float | None = None

    def release(self, readiness: ReadinessPoller) -> None:
        if self.batched:
            readiness.unwatch(self.kind, self.render_id)
        if self.klass is not None:
            readiness.finished(self.klass, self.render_id, self.ready_after)
