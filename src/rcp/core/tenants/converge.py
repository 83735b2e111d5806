"""One tenant of a fleet file made true (`rcp apply`): the per-tenant half of a fleet apply.
The fleet module (``rcp.core.fleet.apply``) decides what runs when; this does one tenant under
its lease, through the same ``Operation`` as every other tenant command:

- no record: a new record (with its env overrides; refused when another tenant uses its
  Render names) provisioned through the engine;
- a record: the difference computed again under the lease (the record may have moved since
  the plan), then: create new resources, PATCH changed ones, per-key env PUT/DELETE, delete
  resources the template dropped, one deploy per changed service, record the new definition,
  and wait until everything is up. Render changes come before the record, so a rerun after a
  crash sees the same difference and repeats idempotent calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rcp.core.models import RenderedTemplate, ResourceKind, Tenant, TenantStatus
from rcp.core.provisioning import Waiting
from rcp.core.tenants.operation import Operation, Operator
from rcp.core.tenants.records import check_render_names_free
from rcp.core.tenants.redeploy import redeploy_failed
from rcp.core.tenants.repair import effective_env, generated_value
from rcp.errors import ConflictError, RcpError, RetryLater

if TYPE_CHECKING:
    # Not at run time: rcp.core.fleet imports this module (fleet → tenants, never back).
    from rcp.core.fleet.diff import EnvUpdate, LinkUpdate, TenantChange
    from rcp.core.fleet.spec import DesiredTenant


def converge_tenant(
    operator: Operator,
    change: TenantChange,
    waiting: Waiting,
    *,
    started_deploys: Mapping[str, str] | None = None,
    rollback_to: Mapping[str, str] | None = None,
    manage: bool = True,
) -> str:
    """Create or update the tenant ``change.desired`` describes; the outcome (``created``,
    ``updated`` or ``noop``).

    For rollouts (``rcp.core.rollout``): ``started_deploys`` ({service key: deploy id}) are
    deploys an earlier, killed run already started for this very change — awaited, not started
    again; ``rollback_to`` ({service key: deploy id}) services go back to that deploy's build
    (Render's rollback) instead of a new deploy; ``manage=False`` leaves the record's
    fleet-managed flag as it is (a rollout is not a fleet file)."""
    from rcp.core.fleet.diff import diff_tenant

    desired = change.desired
    assert desired is not None
    values = [value for scope in desired.env_overrides.values() for value in scope.values()]
    with operator.operation(change.slug, secrets=values) as op:
        recorded = op.find()
        if recorded is None:
            # A create, or an update of a tenant deleted since the plan.
            return _create(op, desired, waiting)
        # Created by someone else since the plan, or changed meanwhile: from the record as it
        # is now.
        return _update(
            op,
            diff_tenant(desired, recorded),
            waiting,
            _Deploys(started_deploys or {}, rollback_to or {}, manage),
        )


def _create(op: Operation, desired: DesiredTenant, waiting: Waiting) -> str:
    tenant = op.new_record(
        name=desired.name,
        template_name=desired.template_name,
        rendered=desired.rendered,
        plugin_repo=desired.plugin_repo,
        env_overrides=desired.env_overrides,
    )
    tenant.fleet_managed = True  # created by apply: the fleet file manages it (prune may delete)
    tenant.tier = desired.tier
    op.proceed()
    op.remember_revision(desired.revision)
    recorded = op.insert(tenant)
    try:
        op.engine.provision(recorded, waiting)
    except RetryLater as exc:
        _roll_back(op, exc)
        raise
    return "created"


def _roll_back(op: Operation, deferred: RetryLater) -> None:
    """A new tenant that Render's create limit stopped part-way (another process spent the
    hour's budget after this one was admitted) is not left half-built until the next window:
    what it created is deleted again with its record, and it is reported deferred like a tenant
    that never started. Deletes count against the write budget, not the creation one; if they
    cannot go now either, the record stays and a rerun resumes it."""
    tenant = op.tenant()
    created = [r.key for r in tenant.resources if r.render_id]
    try:
        op.engine.destroy(tenant)
    except RcpError as exc:
        deferred.message = (
            f"{deferred.message}; rolling back what it created ({', '.join(created)}) "
            f"failed too: {exc.message}"
        )
        deferred.hint = (
            f"finish the roll-back with `rcp tenant delete {tenant.slug} --yes`, then rerun "
            "the same apply after the time given"
        )
        return
    undone = f"; created {', '.join(created)} deleted again" if created else ""
    deferred.message = f"not started: {deferred.message}{undone}"


@dataclass(frozen=True)
class _Deploys:
    started: Mapping[str, str]
    rollback_to: Mapping[str, str]
    manage: bool = True


def _update(
    op: Operation, change: TenantChange, waiting: Waiting, how: _Deploys | None = None
) -> str:
    how = how or _Deploys({}, {})
    desired, tenant = change.desired, change.recorded
    assert desired is not None and tenant is not None
    if change.action == "noop":
        return "noop"
    _refuse(op, change, tenant)
    op.proceed()
    op.remember_revision(desired.revision)
    engine = op.engine
    old_template = RenderedTemplate.from_dict(tenant.rendered_template)
    suspended = tenant.status == TenantStatus.SUSPENDED
    # The engine reads the definition from the tenant object: give it the desired one.
    tenant.rendered_template = desired.rendered
    tenant.env_overrides = {k: dict(v) for k, v in desired.env_overrides.items()}
    if change.creates:
        engine.provision(tenant, None)  # new resources get their full env at creation
    deploys: list[str] = []
    for update in change.resource_updates:
        resource = tenant.resource(update.key)
        assert resource is not None and resource.render_id is not None
        with op.step(tenant, resource, "update", detail=",".join(update.changed)):
            if update.kind is ResourceKind.SERVICE:
                op.gateway.update_service(resource.render_id, update.patch)
                deploys.append(update.key)
            elif update.kind is ResourceKind.ENVIRONMENT:
                op.gateway.update_environment(resource.render_id, update.patch)
            else:
                remote = op.gateway.update_datastore(update.kind, resource.render_id, update.patch)
                resource.state = remote.state
                op.store.save_resource(tenant.slug, resource, lease=op.lease)
        op.progress.event(
            tenant.slug, update.key, f"updated {', '.join(update.changed)}", resource.state
        )
    new_template = RenderedTemplate.from_dict(desired.rendered)
    for env_update in change.env_updates:
        resource = tenant.resource(env_update.key)
        assert resource is not None and resource.render_id is not None
        if resource.kind is ResourceKind.ENV_GROUP:
            _update_group_env(op, tenant, env_update)
            # The services linked to the group deploy to pick the values up.
            for spec in new_template.resources:
                if env_update.key in spec.groups and spec.key not in deploys:
                    linked = tenant.resource(spec.key)
                    if linked is not None and linked.render_id:
                        deploys.append(spec.key)
            continue
        values = dict(env_update.set)
        values.update(_resolve(op, tenant, env_update.key, env_update.resolve, waiting))
        keys = ",".join(sorted(values) + sorted(env_update.unset))  # names only, never values
        with op.step(tenant, resource, "env", detail=keys):
            for env_key, value in sorted(values.items()):
                op.guard()
                op.gateway.set_env_var(resource.render_id, env_key, value)
            for env_key in env_update.unset:
                op.guard()
                op.gateway.delete_env_var(resource.render_id, env_key)
        op.progress.event(tenant.slug, env_update.key, f"env: {keys}", None)
        if env_update.key not in deploys:
            deploys.append(env_update.key)
    for link_update in change.link_updates:
        if _update_links(op, tenant, link_update) and link_update.key not in deploys:
            deploys.append(link_update.key)
    _remove_resources(op, change, tenant, old_template)
    for key in deploys if not suspended else []:
        resource = tenant.resource(key)
        assert resource is not None and resource.render_id is not None
        if key in how.started:
            resource.deploy_id = how.started[key]  # started by a killed run: await that one
            message = f"deploy {resource.deploy_id} already started"
        elif key in how.rollback_to:
            target = how.rollback_to[key]
            with op.step(tenant, resource, "rollback", detail=target):
                resource.deploy_id = op.gateway.rollback_deploy(resource.render_id, target)
            message = f"rolling back to the build of {target}"
        else:
            with op.step(tenant, resource, "deploy", detail="update"):
                resource.deploy_id = op.gateway.trigger_deploy(resource.render_id)
            message = "deploy started"
        resource.state = "deploy_triggered"
        op.store.save_resource(tenant.slug, resource, lease=op.lease)
        op.progress.event(tenant.slug, key, message, resource.state)
    definition = (desired.name, desired.template_name, desired.plugin_repo)
    op.store.update_tenant(
        tenant.slug,
        lease=op.lease,
        rendered_template=desired.rendered,
        env_overrides=tenant.env_overrides,
        definition=(
            definition
            if definition != (tenant.name, tenant.template, tenant.custom_plugin_repo)
            else None
        ),
        # updated by apply: from now on the fleet file manages it (a rollout leaves it be)
        fleet_managed=True if how.manage else None,
        tier=desired.tier,
        clear_tier=desired.tier is None,
    )
    if not suspended and (change.creates or deploys or change.resume):
        # An unfinished tenant whose deploy failed: deploy it again rather than re-read it.
        redeploy_failed(op, tenant, exclude=deploys)
        engine.provision(tenant, waiting)  # records the revision when ACTIVE
    elif tenant.status in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED):
        # Nothing to deploy (a relabel, a record-only change) or suspended (Render has the
        # new configuration; it deploys on resume): the tenant runs the revision now.
        engine.record_revision(tenant)
    return "updated"


def _refuse(op: Operation, change: TenantChange, tenant: Tenant) -> None:
    """What apply cannot do in place (exit 4), checked before any Render call."""
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
    if tenant.status == TenantStatus.SUSPENDED and change.creates:
        raise ConflictError(
            f"{change.slug} is suspended; resume it before adding resources",
            hint=f"`rcp tenant resume {change.slug}`, then rerun apply",
            code="tenant_suspended",
        )
    if change.creates and change.desired is not None:
        # Resources added to a recorded tenant must not take another tenant's Render names.
        added = {key for key, _kind in change.creates}
        names = {
            spec.name
            for spec in change.desired.template.resources
            if spec.key in added and not spec.shared  # the fleet's groups have one name for all
        }
        check_render_names_free(op.store, change.slug, names)


def _resolve(
    op: Operation, tenant: Tenant, key: str, wanted: list[Any], waiting: Waiting
) -> dict[str, str]:
    """Values of template-sourced vars (references resolved as the engine does on create;
    ``generateValue`` made here like Render makes it, since the per-key endpoint takes a
    value)."""
    if not wanted:
        return {}
    template = RenderedTemplate.from_dict(tenant.rendered_template)
    resolved = effective_env(op, tenant, template, template.resource(key), waiting)
    names = {var.key for var in wanted}
    values: dict[str, str] = {}
    for item in resolved:
        if item["key"] not in names:
            continue
        if item.get("generateValue"):
            values[item["key"]] = generated_value()
        elif "value" in item:
            values[item["key"]] = str(item["value"])
    return values


def _update_group_env(op: Operation, tenant: Tenant, update: EnvUpdate) -> None:
    """Per-key PUT/DELETE on the tenant's own group (a generated value made as Render makes
    it: the per-key endpoint takes a value)."""
    resource = tenant.resource(update.key)
    assert resource is not None and resource.render_id is not None
    values = dict(update.set)
    for var in update.resolve:
        if var.generate:
            values[var.key] = generated_value()
    keys = ",".join(sorted(values) + sorted(update.unset))  # names only, never values
    with op.step(tenant, resource, "env", detail=keys):
        for env_key, value in sorted(values.items()):
            op.guard()
            op.gateway.set_env_group_var(resource.render_id, env_key, value)
        for env_key in update.unset:
            op.guard()
            op.gateway.delete_env_group_var(resource.render_id, env_key)
    op.progress.event(tenant.slug, update.key, f"env: {keys}", None)


def _update_links(op: Operation, tenant: Tenant, update: LinkUpdate) -> bool:
    """Link and unlink one service's groups, one per-service call each (no other service's
    link is touched). Whether anything changed (the service then deploys)."""
    service = tenant.resource(update.key)
    if service is None or not service.render_id:
        return False
    changed = False
    for group_key, linking in [(g, True) for g in update.link] + [
        (g, False) for g in update.unlink
    ]:
        group = tenant.resource(group_key)
        if group is None or not group.render_id:
            continue
        step = "link" if linking else "unlink"
        with op.step(tenant, service, step, detail=f"group {group.name}"):
            if linking:
                op.gateway.link_env_group(group.render_id, service.render_id)
            else:
                op.gateway.unlink_env_group(group.render_id, service.render_id)
        op.progress.event(tenant.slug, update.key, f"{step}ed group {group.name}", None)
        changed = True
    return changed


def _remove_resources(
    op: Operation, change: TenantChange, tenant: Tenant, old: RenderedTemplate
) -> None:
    order = [spec.key for spec in old.resources]
    shared = {spec.key for spec in old.resources if spec.shared}
    for key in reversed(order):
        if key not in change.removed_resources:
            continue
        resource = tenant.resource(key)
        if resource is None:
            continue
        if key in shared:
            # The fleet's group stays (other tenants link it); this tenant's links went with
            # the link updates.
            pass
        elif resource.render_id:
            if resource.kind is ResourceKind.ENVIRONMENT:
                # The template dropped its isolation block: the tenant's resources stay, out of
                # the environment (Render refuses to delete one that is not empty).
                op.engine.empty_environment(tenant, resource, resource.render_id)
            with op.step(tenant, resource, "delete"):
                gone = op.gateway.delete(resource.kind, resource.render_id)
            op.progress.event(
                tenant.slug,
                key,
                f"deleted {resource.render_id}" if gone else f"{resource.render_id} already gone",
                "deleted",
            )
        op.store.remove_resource(tenant.slug, key, lease=op.lease)
        tenant.resources = [r for r in tenant.resources if r.key != key]
