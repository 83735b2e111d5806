"""Pieces every tenant operation shares: who acts (``Operator``), the mutation guard, resource
ordering, and the recreate-through-the-journal path used by ``resume`` and ``check --repair``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rcp.core.models import (
    Lease,
    LockHolder,
    RenderedTemplate,
    Resource,
    ResourceKind,
    ResourceSpec,
    Tenant,
    TenantStatus,
)
from rcp.core.ports import ProgressSink, RenderGateway, TenantStore
from rcp.core.provisioning import Engine, StopFlag, Waiting
from rcp.core.tenants import redacting, tenant_lock, tenant_secrets
from rcp.errors import ConflictError, Interrupted, ProvisioningFailed


def _nothing() -> None:
    return None


def _no_failpoint(_step: str) -> None:
    return None


@dataclass
class Operator:
    """Everything an operation needs besides its own arguments."""

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

    @contextmanager
    def locked(self, slug: str) -> Iterator[Lease]:
        """The tenant lock (``--lock-timeout`` = ``lock_wait``), renewed while the block runs."""
        with tenant_lock(self.store, slug, self.holder, wait_seconds=self.lock_wait) as lease:
            yield lease

    def engine(self, lease: Lease) -> Engine:
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


@contextmanager
def masking_secrets(store: TenantStore, slug: str, extra: Iterable[str] = ()) -> Iterator[None]:
    """Errors escaping the block have the tenant's env values (and ``extra``, e.g. values being
    set) replaced by ``***``: whatever an adapter quotes, a secret is never printed."""
    with redacting(tenant_secrets(store.get_tenant(slug)) + [value for value in extra if value]):
        yield


@dataclass
class Guard:
    """Checked before every Render mutation: no new call after a signal, and only while the
    lease is still ours (fencing)."""

    store: TenantStore
    lease: Lease
    stop: StopFlag

    def before_render_mutation(self) -> None:
        if self.stop.requested:
            raise Interrupted(
                "stopped by signal before the next Render call; rerun the same command to resume",
                signal_number=self.stop.signal_number or 2,
            )
        self.store.check_lock(self.lease)


def journal_step(
    operator: Operator,
    lease: Lease,
    tenant: Tenant,
    key: str,
    step: str,
    status: str,
    render_id: str | None,
    detail: str | None = None,
) -> None:
    """One journal row for a Render mutation of ``key`` (never carries a secret)."""
    resource = tenant.resource(key)
    operator.store.journal(
        tenant.slug,
        lease=lease,
        step=step,
        resource_key=key,
        status=status,
        render_name=resource.name if resource else None,
        render_id=render_id,
        detail=detail,
    )


def template_of(tenant: Tenant) -> RenderedTemplate:
    return RenderedTemplate.from_dict(tenant.rendered_template)


def creation_order(tenant: Tenant) -> list[Resource]:
    """The tenant's resources in template order (dependencies first), extras last."""
    order = [spec.key for spec in template_of(tenant).resources]
    ordered = [r for key in order if (r := tenant.resource(key)) is not None]
    return ordered + [r for r in tenant.resources if r.key not in order]


def service_specs(tenant: Tenant) -> list[ResourceSpec]:
    return [s for s in template_of(tenant).resources if s.kind is ResourceKind.SERVICE]


def refuse_deleting(tenant: Tenant, action: str) -> None:
    if tenant.status == TenantStatus.DELETING:
        raise ConflictError(
            f"tenant {tenant.slug} is being deleted; cannot {action} it",
            hint=f"finish with `rcp tenant delete {tenant.slug} --yes`",
            code="tenant_deleting",
        )


def mark_for_recreation(
    operator: Operator, lease: Lease, tenant: Tenant, resource: Resource, reason: str
) -> None:
    """Forget a Render id that no longer exists, through the journal, so the engine recreates
    the resource under the template's name. A resource someone already made under that name
    is adopted instead (one match), never duplicated; several matches stop for an operator."""
    old_id = resource.render_id
    operator.store.journal(
        tenant.slug,
        lease=lease,
        step="recreate",
        resource_key=resource.key,
        status="pending",
        render_name=resource.name,
        render_id=old_id,
        detail=reason,
    )
    try:
        resource.name = template_of(tenant).resource(resource.key).name
    except KeyError:
        pass  # not in the template: keep the recorded name
    matches = operator.gateway.find_by_name(resource.kind, resource.name)
    if len(matches) > 1:
        listed = ", ".join(m.render_id for m in matches)
        raise ProvisioningFailed(
            f"{len(matches)} Render resources are named {resource.name} ({listed}); "
            "an operator must delete the extra ones",
            hint=f"or take one with `rcp tenant adopt {tenant.slug} --resource {resource.key}=ID`",
        )
    if matches:
        found = matches[0]
        resource.render_id = found.render_id
        resource.state = found.state
        resource.url = found.url
        resource.deploy_id = found.deploy_id
        step, detail = "adopt", f"found by name after {old_id} {reason}"
        operator.progress.event(
            tenant.slug, resource.key, f"{old_id} {reason}; adopted {found.render_id} by name", None
        )
    else:
        # The old resource is known to be gone and nothing carries the name: a plain create
        # ("pending"), with no in-flight request of ours to wait for.
        resource.render_id = None
        resource.state = "pending"
        resource.url = None
        resource.deploy_id = None
        step, detail = "recreate", reason
        operator.progress.event(tenant.slug, resource.key, f"{old_id} {reason}; recreating", None)
    operator.store.save_resource(tenant.slug, resource, lease=lease)
    operator.store.journal(
        tenant.slug,
        lease=lease,
        step=step,
        resource_key=resource.key,
        status="done",
        render_name=resource.name,
        render_id=resource.render_id,
        detail=detail,
    )


def repoint_dependents(
    operator: Operator,
    engine: Engine,
    guard: Guard,
    tenant: Tenant,
    recreated: set[str],
    waiting: Waiting,
) -> None:
    """Services that read a recreated resource (``fromDatabase`` / ``fromService``) still carry
    the old connection details: push the new values and deploy, so they pick them up."""
    template = template_of(tenant)
    for spec in service_specs(tenant):
        resource = tenant.resource(spec.key)
        if spec.key in recreated or resource is None or not resource.render_id:
            continue  # a service created now got fresh values at create time
        stale = {
            var.key
            for var in spec.env
            if (var.from_resource and var.from_resource[0] in recreated)
            or (var.from_env_var and var.from_env_var[0] in recreated)
        }
        if not stale:
            continue
        resolved = effective_env(engine, tenant, template, spec, waiting)
        for item in resolved:
            if item["key"] in stale and "value" in item:
                guard.before_render_mutation()
                operator.gateway.set_env_var(resource.render_id, item["key"], item["value"])
        guard.before_render_mutation()
        resource.deploy_id = operator.gateway.trigger_deploy(resource.render_id)
        resource.state = "build_in_progress"
        operator.store.save_resource(tenant.slug, resource, lease=guard.lease)
        operator.progress.event(
            tenant.slug,
            spec.key,
            f"updated {', '.join(sorted(stale))} and deployed",
            resource.state,
        )


def effective_env(
    engine: Engine,
    tenant: Tenant,
    template: RenderedTemplate,
    spec: ResourceSpec,
    waiting: Waiting,
) -> list[dict[str, Any]]:
    """The env vars rcp would create ``spec`` with now: template values, references resolved,
    tenant overrides on top (``{"key", "value"}`` or ``{"key", "generateValue": True}``).

    Reuses the engine's own resolution so an unset or a repair restores exactly what a fresh
    provision would set.
    """
    deadline = None if waiting.timeout is None else engine.clock() + waiting.timeout
    return engine.resolve_env(tenant, template, spec, waiting, deadline)
