"""``Operator`` (who acts, with what) and ``Operation`` (one tenant, under its lease): the one
path every mutating tenant use case takes.

A use case is written as::

    def suspend_tenant(operator: Operator, slug: str) -> Tenant:
        with operator.operation(slug) as op:        # lease (+ heartbeat), secrets masked
            tenant = op.tenant()                    # re-read under the lease (exit 3 if gone)
            refuse_deleting(tenant, "suspend")      # preconditions: exit 2/4, not audited
            op.proceed()                            # from here on the command is audited
            for resource in ...:
                with op.step(tenant, resource, "suspend"):   # guard, journal, failpoints
                    op.gateway.suspend(resource.kind, resource.render_id)
            op.engine.provision(tenant, waiting)    # the provisioner, same lease and stop flag
            return op.tenant()

What the pieces guarantee (docs/reliability.md):

- ``operator.operation(slug)`` takes the tenant lease (``--lock-timeout`` = ``lock_wait``),
  renews it while the block runs, releases it after, and masks the tenant's env values (and
  any ``secrets`` given) in every error escaping the block;
- ``op.guard()`` before each Render mutation: no new call after SIGINT/SIGTERM, and only while
  the lease is still ours (the same ``Guard`` the engine uses);
- ``op.step(...)`` is that guard plus the journal: a ``pending`` row before the call, ``done``
  after it, and the ``<step>:<key>:before|after`` failpoints of the fault tests around it;
- ``op.engine`` is the provisioning engine on this lease, built in one place
  (``Operator.engine``) from the run's stop flag, clock, failpoints and the gateway's in-flight
  window;
- ``op.new_record(...)`` is the one way to make a new tenant record from a rendered template;
  it refuses (exit 4) a tenant whose Render names another tenant already uses;
- one world per record: before the block runs, the API key and workspace are checked
  (``GET /owners``) and a record of another world (Render API base or workspace, e.g. a real
  tenant seen from the sandbox) is refused with exit 6 — before any write or Render mutation.
  New records carry the run's world; a record without one (older than the fields) takes the
  run's world at ``proceed()``;
- after ``proceed()`` (something may have been written), a Render 4xx that escapes the block
  leaves the tenant ``ERROR`` (``DELETING`` stays ``DELETING``) with ``last_error`` set, and
  exits 5 — or 6 for 401/403 — never 2, which means "refused before any write".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from rcp.core.models import (
    Lease,
    LockHolder,
    RenderedTemplate,
    Resource,
    Tenant,
    TenantStatus,
    World,
)
from rcp.core.ports import ProgressSink, RenderGateway, TenantStore
from rcp.core.provisioning import Engine, Guard, StopFlag
from rcp.core.readiness import ReadinessPoller
from rcp.core.tenants.records import check_render_names_free, get_tenant
from rcp.core.tenants.worlds import require_world
from rcp.errors import (
    AuthError,
    ProvisioningFailed,
    RcpError,
    RenderBadRequest,
    RenderNotFound,
)

if TYPE_CHECKING:
    from rcp.core.templates.revisions import TemplateRevision


def _nothing() -> None:
    return None


def _no_failpoint(_step: str) -> None:
    return None


@dataclass
class Operator:
    """Everything a tenant operation needs besides its own arguments: the adapters, who holds
    the lock, the run's stop flag and test hooks. One per command run (``rcp apply`` shares one
    across its worker threads: every field is read-only or thread-safe)."""

    store: TenantStore
    gateway: RenderGateway
    progress: ProgressSink
    holder: LockHolder
    stop: StopFlag = field(default_factory=StopFlag)
    lock_wait: float = 0.0
    # Called once per locked tenant when the preconditions passed (the CLI audits from there).
    on_locked: Callable[[], None] = _nothing
    failpoint: Callable[[str], None] = _no_failpoint
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    # Engine tuning for in-process tests (None: the engine's default settle time, and the
    # gateway's own in-flight window).
    unknown_outcome_settle: float | None = None
    in_flight_window: float | None = None
    # The run's own secrets (API key, database password): never written into a record's
    # last_error, even when Render echoes them.
    secrets: tuple[str, ...] = ()
    # Render seconds per second of ``clock`` (a sandbox on a scaled clock; 1 on Render).
    time_scale: float = 1.0
    # Readiness polling shared by every tenant of the run (batched reads, learned pace).
    readiness: ReadinessPoller = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.readiness = ReadinessPoller(
            self.gateway, clock=self.clock, time_scale=self.time_scale
        )

    @contextmanager
    def operation(self, slug: str, *, secrets: Iterable[str] = ()) -> Iterator[Operation]:
        """The tenant's lease for the block (LockBusy, exit 4, naming the holder when another
        command has it), renewed every 10 s; errors escaping the block have the tenant's env
        values and ``secrets`` (e.g. values being set) replaced by ``***``. Before the block:
        the API key and workspace are checked and a record of another world is refused
        (WorldMismatch, exit 6)."""
        lease = self.store.acquire_lock(slug, self.holder, wait_seconds=self.lock_wait)
        try:
            with self.store.keep_alive(lease):
                recorded = self.store.get_tenant(slug)
                masked = [
                    *tenant_secrets(recorded),
                    *(value for value in secrets if value),
                    *(value for value in self.secrets if value),
                ]
                with redacting(masked):
                    world = (
                        self.gateway.world()
                        if recorded is None
                        else require_world(self.gateway, recorded)
                    )
                    operation = Operation(
                        self,
                        slug,
                        lease,
                        world=world,
                        recorded_world=None if recorded is None else recorded.world,
                    )
                    try:
                        yield operation
                    except (RenderBadRequest, RenderNotFound, AuthError) as exc:
                        if not operation.proceeded:
                            raise
                        _redact_exception(exc, sorted(masked, key=len, reverse=True))
                        raise operation.record_render_refusal(exc) from None
        finally:
            try:
                self.store.release_lock(lease)
            except Exception:  # a lost lease needs no release; the original error matters more
                pass

    def engine(self, lease: Lease) -> Engine:
        """The provisioning engine on ``lease``: the only place an ``Engine`` is built."""
        engine = Engine(
            store=self.store,
            gateway=self.gateway,
            progress=self.progress,
            lease=lease,
            stop=self.stop,
            sleep=self.sleep,
            clock=self.clock,
            failpoint=self.failpoint,
            poller=self.readiness,
        )
        if self.unknown_outcome_settle is not None:
            engine.unknown_outcome_settle = self.unknown_outcome_settle
        engine.in_flight_window = (
            self.gateway.in_flight_seconds
            if self.in_flight_window is None
            else self.in_flight_window
        )
        return engine

    def with_gateway(self, gateway: RenderGateway) -> Operator:
        """The same operator talking to Render through ``gateway`` (e.g. a fleet's gate)."""
        return replace(self, gateway=gateway)


@dataclass
class Operation:
    """One mutating use case on one tenant, under its lease. Made by ``Operator.operation``."""

    operator: Operator
    slug: str
    lease: Lease
    # This run's Render API base and workspace (checked against the record's before the block).
    world: World = field(default_factory=lambda: World(api_url=None, owner_id=None))
    # The record's world when the operation began (None: there was no record).
    recorded_world: World | None = None
    # Set by ``proceed()``: from here on something may have been written.
    proceeded: bool = False

    def __post_init__(self) -> None:
        self._guard = Guard(self.operator.store, self.lease, self.operator.stop)

    # ---- the adapters -------------------------------------------------------------------

    @property
    def store(self) -> TenantStore:
        return self.operator.store

    @property
    def gateway(self) -> RenderGateway:
        return self.operator.gateway

    @property
    def progress(self) -> ProgressSink:
        return self.operator.progress

    @cached_property
    def engine(self) -> Engine:
        """The provisioner on this lease (same stop flag, failpoints and clock)."""
        return self.operator.engine(self.lease)

    # ---- reading under the lease --------------------------------------------------------

    def find(self) -> Tenant | None:
        """The record as it is now (another command may have changed it before we locked)."""
        return self.store.get_tenant(self.slug)

    def tenant(self) -> Tenant:
        """The record as it is now; TenantNotFound (exit 3) when there is none."""
        return get_tenant(self.store, self.slug)

    # ---- acting -------------------------------------------------------------------------

    def proceed(self) -> None:
        """The preconditions passed: call once before the first write (the CLI audits the
        command from here; a refusal before it leaves no audit entry). A record with no world
        on record (older than the fields) takes this run's."""
        self.operator.on_locked()
        self.proceeded = True
        recorded = self.recorded_world
        if recorded is not None and not (recorded.api_url and recorded.owner_id):
            if self.find() is not None:
                self.store.update_tenant(self.slug, lease=self.lease, world=self.world)
            self.recorded_world = self.world

    def record_render_refusal(self, error: RcpError) -> RcpError:
        """Render refused a call after this operation may have written: the tenant is left
        ``ERROR`` (a tenant being deleted stays ``DELETING``) with ``last_error`` = the refusal,
        and the error to raise — AuthError as it is (exit 6), any other 4xx as
        ProvisioningFailed (exit 5) keeping its code."""
        message = error.message
        try:
            tenant = self.find()
            if tenant is not None:
                status = (
                    None if tenant.status == TenantStatus.DELETING else TenantStatus.ERROR
                )
                self.store.update_tenant(
                    self.slug, lease=self.lease, status=status, last_error=message
                )
        except RcpError:
            # Cannot record it (lease lost, database gone): the refusal is what to report.
            pass
        if isinstance(error, AuthError):
            return error
        return ProvisioningFailed(
            f"{self.slug}: {message}",
            hint=error.hint
            or f"see `rcp tenant show {self.slug}`; fix the cause and rerun the command",
            code=error.code,
        )

    def guard(self) -> None:
        """Before every Render mutation: Interrupted after a signal, LockLost when the lease
        moved on."""
        self._guard.before_render_mutation()

    def failpoint(self, step: str) -> None:
        self.operator.failpoint(step)

    @contextmanager
    def step(
        self, tenant: Tenant, resource: Resource, step: str, *, detail: str | None = None
    ) -> Iterator[None]:
        """One journalled Render mutation of ``resource``: guard, ``pending`` row, failpoint
        ``<step>:<key>:before``; the block makes the call(s); then failpoint ``…:after`` and the
        ``done`` row. ``detail`` must never carry a secret (key names, not values). An error in
        the block leaves the step pending: the rerun sees it and repeats idempotent calls."""
        render_id = resource.render_id
        self.guard()
        self.journal(tenant, resource.key, step, "pending", render_id=render_id, detail=detail)
        self.failpoint(f"{step}:{resource.key}:before")
        yield
        self.failpoint(f"{step}:{resource.key}:after")
        self.journal(tenant, resource.key, step, "done", render_id=render_id, detail=detail)

    def journal(
        self,
        tenant: Tenant,
        key: str,
        step: str,
        status: str,
        *,
        render_id: str | None,
        detail: str | None = None,
    ) -> None:
        """One journal row for ``key`` (its recorded Render name; never a secret)."""
        resource = tenant.resource(key)
        name = resource.name if resource else None
        self.engine.journal(tenant, key, name, step, status, render_id=render_id, detail=detail)

    # ---- new records --------------------------------------------------------------------

    def new_record(
        self,
        *,
        name: str,
        template_name: str,
        rendered: dict[str, Any],
        plugin_repo: str | None = None,
        env_overrides: dict[str, dict[str, str]] | None = None,
    ) -> Tenant:
        """A new ``PROVISIONING`` record with one not-yet-created resource per template
        resource — not written yet (``insert``). Refuses (ConflictError, exit 4) when another
        tenant already uses one of its Render names."""
        template = RenderedTemplate.from_dict(rendered)
        check_render_names_free(
            self.store,
            self.slug,
            # Groups shared by the fleet have one name for every tenant: nobody's own.
            {spec.name for spec in template.resources if not spec.shared},
        )
        return Tenant(
            render_api_url=self.world.api_url,
            render_owner_id=self.world.owner_id,
            name=name,
            slug=self.slug,
            status=TenantStatus.PROVISIONING,
            template=template_name,
            rendered_template=rendered,
            custom_plugin_repo=plugin_repo,
            env_overrides={scope: dict(values) for scope, values in (env_overrides or {}).items()},
            resources=[
                Resource(key=spec.key, type=spec.render_type, name=spec.name)
                for spec in template.resources
            ],
        )

    def remember_revision(self, revision: TemplateRevision | None) -> None:
        """Keep the template revision a tenant is about to be provisioned from (``rcp template
        history``; its content is what a rollback re-applies). Call after ``proceed``."""
        if revision is not None:
            self.store.save_template_revision(
                revision.template, revision.hash, revision.label, revision.content
            )

    def insert(self, tenant: Tenant, message: str = "recorded; provisioning") -> Tenant:
        """Write a record made by ``new_record`` (fenced by the lease)."""
        inserted = self.store.insert_tenant(tenant, lease=self.lease)
        self.progress.event(self.slug, None, message, str(inserted.status))
        return inserted


def tenant_secrets(tenant: Tenant | None) -> list[str]:
    """The tenant's env override values: never to be printed unless revealed."""
    if tenant is None:
        return []
    return [value for values in tenant.env_overrides.values() for value in values.values() if value]


@contextmanager
def redacting(secrets: list[str]) -> Iterator[None]:
    """Errors escaping the block have ``secrets`` replaced by ``***`` in their text.

    The CLI already masks the API key and database password in every message; a tenant's env
    values are only known once its record is loaded, so the operation masks them — an
    unexpected exception (a driver error quoting a value, say) must not print them either.
    """
    try:
        yield
    except BaseException as exc:
        wanted = sorted((s for s in secrets if s), key=len, reverse=True)
        if wanted:
            _redact_exception(exc, wanted)
        raise


def _redact_exception(exc: BaseException, secrets: list[str]) -> None:
    def clean(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    exc.args = tuple(clean(a) if isinstance(a, str) else a for a in exc.args)
    for attribute in ("message", "hint"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str):
            try:
                setattr(exc, attribute, clean(value))
            except AttributeError:  # read-only on some exception types
                pass
