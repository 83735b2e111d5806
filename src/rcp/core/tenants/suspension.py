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

from rcp.core.models import RUNNING_KINDS, Tenant, TenantStatus
from rcp.core.provisioning import Waiting
from rcp.core.tenants.operation import Operator
from rcp.core.tenants.records import creation_order, refuse_deleting
from rcp.core.tenants.repair import mark_for_recreation, recreate_and_await


def suspend_tenant(operator: Operator, slug: str) -> Tenant:
    """Suspend every recorded resource of the tenant (dependents first) → ``SUSPENDED``."""
    with operator.operation(slug) as op:
        tenant = op.tenant()
        refuse_deleting(tenant, "suspend")
        op.proceed()
        for resource in reversed(creation_order(tenant)):
            if resource.kind not in RUNNING_KINDS:
                continue  # an env group, project or environment: nothing runs to suspend
            if not resource.render_id:
                op.progress.event(
                    slug, resource.key, "not created; nothing to suspend", resource.state
                )
                continue
            remote = op.gateway.get(resource.kind, resource.render_id)
            if remote is None:
                resource.state = "missing"
                op.store.save_resource(slug, resource, lease=op.lease)
                op.progress.event(
                    slug,
                    resource.key,
                    f"{resource.render_id} no longer exists on Render; skipped",
                    resource.state,
                )
                continue
            if remote.suspended:
                op.progress.event(
                    slug, resource.key, f"{resource.render_id} already suspended", "suspended"
                )
            else:
                with op.step(tenant, resource, "suspend"):
                    op.gateway.suspend(resource.kind, resource.render_id)
                op.progress.event(
                    slug, resource.key, f"suspended {resource.render_id}", "suspended"
                )
            resource.state = "suspended"
            op.store.save_resource(slug, resource, lease=op.lease)
        op.store.update_tenant(slug, lease=op.lease, status=TenantStatus.SUSPENDED)
        op.progress.event(slug, None, "suspended", "SUSPENDED")
        return op.tenant()


def resume_tenant(operator: Operator, slug: str, waiting: Waiting) -> Tenant:
    """Resume every suspended resource (datastores first), recreate any that vanished, and
    wait until all are up → ``ACTIVE``. Rerunning after a timeout or signal keeps going."""
    with operator.operation(slug) as op:
        tenant = op.tenant()
        refuse_deleting(tenant, "resume")
        op.proceed()
        recreated: set[str] = set()
        for resource in creation_order(tenant):
            if not resource.render_id:
                continue  # never created (or being recreated): the engine creates it below
            remote = op.gateway.get(resource.kind, resource.render_id)
            if remote is None:
                mark_for_recreation(op, tenant, resource, "no longer exists on Render")
                recreated.add(resource.key)
                continue
            if remote.suspended and resource.kind in RUNNING_KINDS:
                with op.step(tenant, resource, "resume"):
                    op.gateway.resume(resource.kind, resource.render_id)
                op.progress.event(slug, resource.key, f"resumed {resource.render_id}", "resuming")
                # Not a ready state: the engine polls Render until it is live/available again.
                resource.state = "resuming"
            else:
                resource.state = remote.state
                resource.url = remote.url or resource.url
            op.store.save_resource(slug, resource, lease=op.lease)
        recreate_and_await(op, tenant, recreated, waiting)
        return op.tenant()
