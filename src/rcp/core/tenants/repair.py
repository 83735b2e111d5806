"""Recreating vanished resources through the journal, shared by ``resume`` and
``check --repair``, and the env a fresh provision would give a service."""

from __future__ import annotations

from typing import Any

from rcp.core.models import RenderedTemplate, Resource, ResourceSpec, Tenant
from rcp.core.provisioning import STATE_LINKING, Waiting
from rcp.core.tenants.operation import Operation
from rcp.core.tenants.records import service_specs, template_of
from rcp.errors import ProvisioningFailed


def mark_for_recreation(op: Operation, tenant: Tenant, resource: Resource, reason: str) -> None:
    """Forget a Render id that no longer exists, through the journal, so the engine recreates
    the resource under the template's name. A resource someone already made under that name
    is adopted instead (one match), never duplicated; several matches stop for an operator."""
    old_id = resource.render_id
    op.journal(tenant, resource.key, "recreate", "pending", render_id=old_id, detail=reason)
    try:
        resource.name = template_of(tenant).resource(resource.key).name
    except KeyError:
        pass  # not in the template: keep the recorded name
    matches = op.gateway.find_by_name(resource.kind, resource.name)
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
        op.progress.event(
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
        op.progress.event(tenant.slug, resource.key, f"{old_id} {reason}; recreating", None)
    op.store.save_resource(tenant.slug, resource, lease=op.lease)
    op.journal(tenant, resource.key, step, "done", render_id=resource.render_id, detail=detail)


def recreate_and_await(
    op: Operation, tenant: Tenant, recreated: set[str], waiting: Waiting
) -> None:
    """Create what is missing (``recreated``: keys whose old resource vanished), re-point the
    services that read them, then wait until everything is up → ``ACTIVE``."""
    relink_group_users(op, tenant, recreated)
    if recreated:
        op.engine.provision(tenant, None)  # create what is missing, without waiting yet
        repoint_dependents(op, tenant, recreated, waiting)
    op.engine.provision(tenant, waiting)


def relink_group_users(op: Operation, tenant: Tenant, recreated: set[str]) -> None:
    """Services linking an environment group recreated now (the new group has no links): the
    engine links them again and deploys, as after a create (state ``linking``)."""
    for spec in template_of(tenant).resources:
        resource = tenant.resource(spec.key)
        if resource is None or not resource.render_id or spec.key in recreated:
            continue
        if recreated & set(spec.groups):
            resource.state = STATE_LINKING
            op.store.save_resource(tenant.slug, resource, lease=op.lease)


def repoint_dependents(op: Operation, tenant: Tenant, recreated: set[str], waiting: Waiting) -> None:
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
        resolved = effective_env(op, tenant, template, spec, waiting)
        for item in resolved:
            if item["key"] in stale and "value" in item:
                op.guard()
                op.gateway.set_env_var(resource.render_id, item["key"], item["value"])
        op.guard()
        resource.deploy_id = op.gateway.trigger_deploy(resource.render_id)
        resource.state = "build_in_progress"
        op.store.save_resource(tenant.slug, resource, lease=op.lease)
        op.progress.event(
            tenant.slug,
            spec.key,
            f"updated {', '.join(sorted(stale))} and deployed",
            resource.state,
        )


def effective_env(
    op: Operation,
    tenant: Tenant,
    template: RenderedTemplate,
    spec: ResourceSpec,
    waiting: Waiting,
) -> list[dict[str, Any]]:
    """The env vars rcp would create ``spec`` with now: template values, references resolved,
    tenant overrides on top (``{"key", "value"}`` or ``{"key", "generateValue": True}``).

    Reuses the engine's own resolution so an unset, a repair or a fleet update restores
    exactly what a fresh provision would set.
    """
    engine = op.engine
    deadline = None if waiting.timeout is None else engine.clock() + waiting.timeout
    return engine.resolve_env(tenant, template, spec, waiting, deadline)


def generated_value() -> str:
    """Like Render's ``generateValue``: a base64-encoded 256-bit random value (the per-key
    endpoint takes a value, so rcp makes one the way Render does)."""
    import base64
    import secrets

    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")
