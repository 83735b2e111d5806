"""Redeploy: a new deploy of a tenant's services (or one), awaited until live — how a failed
deploy is recovered (``rcp tenant redeploy``, ``POST /api/tenants/{id}/redeploy/``).

Each deploy is one journalled step; the wait is the engine's, so a run stopped while waiting
is finished by a rerun (or by ``rcp serve``'s resume of unfinished tenants, since the tenant is
``PROVISIONING`` meanwhile, as during ``resume``).

A rerun of ``tenant create``, ``check --repair`` and a fleet apply that finishes a tenant use
``redeploy_failed`` here: a service whose deploy failed for good (build, pre-deploy command,
update) is deployed again instead of its old failure being read back.
"""

from __future__ import annotations

from collections.abc import Collection

from rcp.core.models import Resource, ResourceKind, Tenant, TenantStatus
from rcp.core.provisioning import DEPLOY_FAILED_FINAL, Waiting
from rcp.core.tenants.operation import Operation, Operator
from rcp.core.tenants.records import refuse_deleting, service_specs
from rcp.errors import ConflictError, UsageError

# What a service's state reads once a deploy was asked for and before Render says more:
# Render's first deploy status.
DEPLOY_REQUESTED = "created"


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
            hint=f"`rcp tenant resume {tenant.slug}` deploys its services again",
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
            hint=f"`rcp tenant create` on the same name (or slug {tenant.slug}) creates them",
            code="nothing_to_deploy",
        )
    return targets


def redeploy_tenant(
    operator: Operator,
    slug: str,
    *,
    service: str | None,
    waiting: Waiting | None,
    clear_cache: bool = False,
) -> Tenant:
    """Start a deploy of each target service, then (unless ``waiting`` is None) wait until
    every resource is up → ACTIVE. A deploy that fails leaves the tenant ERROR naming the
    service, the deploy, its status and phase (exit 5). Without waiting the tenant stays
    ``PROVISIONING`` until a wait or ``status --live`` sees everything up."""
    with operator.operation(slug) as op:
        tenant = op.tenant()
        targets = redeploy_targets(tenant, service)
        op.proceed()
        for resource in targets:
            start_deploy(op, tenant, resource, clear_cache=clear_cache, detail="redeploy")
        op.engine.provision(tenant, waiting)
        return op.tenant()


_UNREAD = object()


def start_deploy(
    op: Operation,
    tenant: Tenant,
    resource: Resource,
    *,
    detail: str,
    clear_cache: bool = False,
    latest: str | None | object = _UNREAD,
) -> str | None:
    """One journalled deploy of a created service; the engine's next wait follows it. The
    deploy's id, or None when Render queued it without saying which (202, no body).

    ``latest``: the service's latest deploy id before this one, when the caller has just read
    it (else it is read here). Render answers some triggers 202 with no body (private
    services, Git-backed cron jobs, in its recorded answers); the wait must then not take the
    deploy before ours, with its old outcome, for ours (``Engine.replaced_deploys``)."""
    assert resource.kind is ResourceKind.SERVICE and resource.render_id is not None
    before = _latest_deploy(op, resource.render_id) if latest is _UNREAD else latest
    with op.step(tenant, resource, "deploy", detail=detail):
        deploy_id = op.gateway.trigger_deploy(resource.render_id, clear_cache=clear_cache)
    if deploy_id is None:
        after = _latest_deploy(op, resource.render_id)
        if after is not None and after != before:
            deploy_id = after  # ours: the service's latest deploy now
        elif isinstance(before, str):
            op.engine.replaced_deploys[resource.key] = before
    resource.deploy_id = deploy_id
    resource.state = DEPLOY_REQUESTED
    op.store.save_resource(tenant.slug, resource, lease=op.lease)
    op.progress.event(
        tenant.slug,
        resource.key,
        f"deploy {deploy_id} started" if deploy_id else "deploy queued",
        resource.state,
    )
    return deploy_id


def _latest_deploy(op: Operation, service_id: str) -> str | None:
    deploys = op.gateway.list_deploys(service_id, 1)
    return deploys[0].id if deploys else None


def redeploy_if_failed(op: Operation, tenant: Tenant, resource: Resource, *, detail: str) -> bool:
    """Deploy ``resource`` again when Render says its latest deploy failed for good (build,
    pre-deploy command or update); True when a deploy was started. A service someone deployed
    meanwhile is followed instead (its state recorded, no new deploy)."""
    if resource.kind is not ResourceKind.SERVICE or not resource.render_id:
        return False
    remote = op.gateway.get(resource.kind, resource.render_id)
    if remote is None or remote.suspended:
        return False  # gone or suspended: the engine and the checks report that
    if remote.state not in DEPLOY_FAILED_FINAL:
        if remote.state != resource.state or remote.deploy_id != resource.deploy_id:
            resource.state = remote.state
            resource.deploy_id = remote.deploy_id or resource.deploy_id
            op.store.save_resource(tenant.slug, resource, lease=op.lease)
        return False
    failed = remote.deploy_id
    op.progress.event(
        tenant.slug,
        resource.key,
        f"deploy {failed or '(latest)'} ended {remote.state}; deploying again",
        remote.state,
    )
    start_deploy(op, tenant, resource, detail=detail, latest=failed)
    return True


def redeploy_failed(
    op: Operation, tenant: Tenant, *, exclude: Collection[str] = ()
) -> list[str]:
    """Before an unfinished tenant is awaited again (a rerun of ``tenant create``, a fleet
    apply): every service recorded with a failed deploy that Render confirms is still its
    latest gets a new deploy, so the wait follows that one instead of re-reading the failure.
    The keys deployed (``exclude``: services the caller deploys itself)."""
    deployed: list[str] = []
    for resource in tenant.resources:
        if resource.key in exclude or resource.state not in DEPLOY_FAILED_FINAL:
            continue
        if redeploy_if_failed(op, tenant, resource, detail="after a failed deploy"):
            deployed.append(resource.key)
    return deployed
