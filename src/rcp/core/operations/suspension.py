"""`rcp tenant suspend|resume`: every service, Postgres and Key Value of a tenant through
Render's suspend/resume endpoints.

Both are idempotent: a resource Render already reports in the wanted state is not called
again, so a rerun after an interruption finishes the job. Suspend stops dependents first
(reverse creation order); resume starts datastores first, then waits through the engine until
every resource is live/available again and marks the tenant ``ACTIVE``. A resource deleted
outside rcp is skipped by suspend and recreated by resume (through the journal, as
``check --repair`` does), since a resumed tenant is meant to work.
"""

from __future__ import annotations

from rcp.core.models import Tenant, TenantStatus
from rcp.core.operations.common import (
    Guard,
    Operator,
    creation_order,
    journal_step,
    mark_for_recreation,
    masking_secrets,
    refuse_deleting,
    repoint_dependents,
)
from rcp.core.provisioning import Waiting
from rcp.core.tenants import get_tenant


def suspend_tenant(operator: Operator, slug: str) -> Tenant:
    """Suspend every recorded resource of the tenant (dependents first) → ``SUSPENDED``."""
    store, gateway, progress = operator.store, operator.gateway, operator.progress
    with operator.locked(slug) as lease, masking_secrets(store, slug):
        tenant = get_tenant(store, slug)
        refuse_deleting(tenant, "suspend")
        operator.on_locked()
        guard = Guard(store, lease, operator.stop)
        for resource in reversed(creation_order(tenant)):
            if not resource.render_id:
                progress.event(
                    slug, resource.key, "not created; nothing to suspend", resource.state
                )
                continue
            remote = gateway.get(resource.kind, resource.render_id)
            if remote is None:
                resource.state = "missing"
                store.save_resource(slug, resource, lease=lease)
                progress.event(
                    slug,
                    resource.key,
                    f"{resource.render_id} no longer exists on Render; skipped",
                    resource.state,
                )
                continue
            if remote.suspended:
                progress.event(
                    slug, resource.key, f"{resource.render_id} already suspended", "suspended"
                )
            else:
                guard.before_render_mutation()
                journal_step(
                    operator, lease, tenant, resource.key, "suspend", "pending", resource.render_id
                )
                operator.failpoint(f"suspend:{resource.key}:before")
                gateway.suspend(resource.kind, resource.render_id)
                operator.failpoint(f"suspend:{resource.key}:after")
                journal_step(
                    operator, lease, tenant, resource.key, "suspend", "done", resource.render_id
                )
                progress.event(slug, resource.key, f"suspended {resource.render_id}", "suspended")
            resource.state = "suspended"
            store.save_resource(slug, resource, lease=lease)
        store.update_tenant(slug, lease=lease, status=TenantStatus.SUSPENDED)
        progress.event(slug, None, "suspended", "SUSPENDED")
        return get_tenant(store, slug)


def resume_tenant(operator: Operator, slug: str, waiting: Waiting) -> Tenant:
    """Resume every suspended resource (datastores first), recreate any that vanished, and
    wait until all are up → ``ACTIVE``. Rerunning after a timeout or signal keeps going."""
    store, gateway, progress = operator.store, operator.gateway, operator.progress
    with operator.locked(slug) as lease, masking_secrets(store, slug):
        tenant = get_tenant(store, slug)
        refuse_deleting(tenant, "resume")
        operator.on_locked()
        guard = Guard(store, lease, operator.stop)
        recreated: set[str] = set()
        for resource in creation_order(tenant):
            if not resource.render_id:
                continue  # never created (or being recreated): the engine creates it below
            remote = gateway.get(resource.kind, resource.render_id)
            if remote is None:
                mark_for_recreation(operator, lease, tenant, resource, "no longer exists on Render")
                recreated.add(resource.key)
                continue
            if remote.suspended:
                guard.before_render_mutation()
                journal_step(
                    operator, lease, tenant, resource.key, "resume", "pending", resource.render_id
                )
                operator.failpoint(f"resume:{resource.key}:before")
                gateway.resume(resource.kind, resource.render_id)
                operator.failpoint(f"resume:{resource.key}:after")
                journal_step(
                    operator, lease, tenant, resource.key, "resume", "done", resource.render_id
                )
                progress.event(slug, resource.key, f"resumed {resource.render_id}", "resuming")
                # Not a ready state: the engine polls Render until it is live/available again.
                resource.state = "resuming"
            else:
                resource.state = remote.state
                resource.url = remote.url or resource.url
            store.save_resource(slug, resource, lease=lease)
        engine = operator.engine(lease)
        if recreated:
            engine.provision(tenant, None)  # create what is missing, without waiting yet
            repoint_dependents(operator, engine, guard, tenant, recreated, waiting)
        engine.provision(tenant, waiting)
        return get_tenant(store, slug)
