"""Redeploy: a new deploy of a tenant's services (or one), awaited until live — how a failed
deploy is recovered. Each deploy is one journalled step; the wait is the engine's, so a run
stopped while waiting is finished by a rerun (or by ``rcp serve``'s resume of unfinished
tenants, since the tenant is ``PROVISIONING`` meanwhile, as during ``resume``)."""

from __future__ import annotations

from rcp.core.models import Resource, Tenant, TenantStatus
from rcp.core.provisioning import Waiting
from rcp.core.tenants.operation import Operator
from rcp.core.tenants.records import refuse_deleting, service_specs
from rcp.errors import ConflictError, UsageError


def redeploy_targets(tenant: Tenant, service: str | None) -> list[Resource]:
    """The services to deploy (all created services, or the one named). UsageError (exit 2)
    for a key that is not a service of the tenant; ConflictError (exit 4) when the tenant is
    being deleted or is suspended."""
    refuse_deleting(tenant, "redeploy")
    keys = [spec.key for spec in service_specs(tenant)]
    if service is not None and service not in keys:
        known = ", ".join(keys) or "none"
        raise UsageError(
            f"tenant {tenant.slug} has no service {service!r} (services: {known})",
            hint="datastores are not deployed; omit the service to redeploy every service",
        )
    if tenant.status == TenantStatus.SUSPENDED:
        raise ConflictError(
            f"tenant {tenant.slug} is suspended; resume it first",
            code="tenant_suspended",
        )
    targets = [
        resource
        for key in keys
        if (service is None or key == service)
        and (resource := tenant.resource(key)) is not None
        and resource.render_id
    ]
    if not targets:
        raise ConflictError(
            f"tenant {tenant.slug} has no service on Render yet to redeploy",
            hint="wait until its provisioning has created the services",
            code="nothing_to_deploy",
        )
    return targets


def redeploy_tenant(
    operator: Operator, slug: str, *, service: str | None, waiting: Waiting
) -> Tenant:
    """Start a deploy of each target service, then wait until every resource is up → ACTIVE
    (a deploy that fails leaves the tenant ERROR naming it, exit 5)."""
    with operator.operation(slug) as op:
        tenant = op.tenant()
        targets = redeploy_targets(tenant, service)
        op.proceed()
        for resource in targets:
            assert resource.render_id is not None
            with op.step(tenant, resource, "deploy", detail="redeploy"):
                resource.deploy_id = op.gateway.trigger_deploy(resource.render_id)
            resource.state = "build_in_progress"
            op.store.save_resource(slug, resource, lease=op.lease)
            op.progress.event(
                slug,
                resource.key,
                f"deploy {resource.deploy_id} started" if resource.deploy_id else "deploy queued",
                resource.state,
            )
        op.engine.provision(tenant, waiting)
        return op.tenant()
