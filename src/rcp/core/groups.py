"""`rcp group …`: the environment groups the fleet shares (template ``envVarGroups`` with
``shared: true``).

A shared group is one Render group, named as the template gives it, created by the first tenant
that needs it and linked to the services of every tenant whose template uses it (``fromGroup``);
deleting a tenant only unlinks its services. Which groups exist and who uses them is read from
the tenant records (each tenant records the shared groups it links, with their Render id); their
variables live on Render only — a change is made there (per-key endpoints), under the group's
lock (``rcp.core.provisioning.shared_group_lock``, the one a tenant's first create takes too),
then every linked service of every tenant using the group is deployed, each under its tenant's
lease, unless told not to.

Values are secrets: masked unless revealed, never in journal rows, progress or errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rcp.core.models import Tenant, TenantStatus
from rcp.core.ports import RenderGateway, TenantStore
from rcp.core.provisioning import shared_group_lock
from rcp.core.tenants.env import MASK
from rcp.core.tenants.operation import Operator
from rcp.core.tenants.records import group_specs, service_specs
from rcp.core.tenants.worlds import require_same_world
from rcp.errors import TenantNotFound, UsageError


@dataclass
class GroupUser:
    """One service of one tenant that links the group (as the tenant's record says)."""

    slug: str
    service: str
    render_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {"tenant": self.slug, "service": self.service, "render_id": self.render_id}


@dataclass
class SharedGroup:
    name: str
    render_id: str | None = None
    tenants: list[str] = field(default_factory=list)
    services: list[GroupUser] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "render_id": self.render_id,
            "tenants": list(self.tenants),
            "services": [s.to_json() for s in self.services],
        }


def shared_groups(store: TenantStore) -> list[SharedGroup]:
    """Every shared group some tenant's template uses, by name, with the tenants and services
    linking it (from the records: no Render call)."""
    found: dict[str, SharedGroup] = {}
    for tenant in store.iter_tenants(snapshot=True, details=True):
        _collect(tenant, found)
    return [found[name] for name in sorted(found)]


def _collect(tenant: Tenant, found: dict[str, SharedGroup]) -> None:
    for spec in group_specs(tenant, shared=True):
        group = found.setdefault(spec.name, SharedGroup(spec.name))
        resource = tenant.resource(spec.key)
        if group.render_id is None and resource is not None and resource.render_id:
            group.render_id = resource.render_id
        if tenant.slug not in group.tenants:
            group.tenants.append(tenant.slug)
        for service in service_specs(tenant):
            if spec.key in service.groups:
                recorded = tenant.resource(service.key)
                group.services.append(
                    GroupUser(tenant.slug, service.key, recorded.render_id if recorded else None)
                )


def validate_group_name(name: str) -> str:
    """A shared group's name is a template key (1–20 of a-z, 0-9, single hyphens)."""
    from rcp.core.slugs import validate_template_key

    try:
        return validate_template_key(name)
    except UsageError:
        raise UsageError(
            f"invalid group name {name!r}: shared group names are template keys "
            "(1-20 characters of a-z, 0-9 and single hyphens)"
        ) from None


def get_shared_group(store: TenantStore, name: str) -> SharedGroup:
    """The shared group ``name`` as the records know it; exit 3 when no tenant uses it, or when
    none has created it yet (nothing on Render to show or change)."""
    validate_group_name(name)
    for group in shared_groups(store):
        if group.name == name:
            if group.render_id is None:
                raise TenantNotFound(
                    f"shared group {name} has not been created on Render yet",
                    hint="it is created with the first tenant that uses it",
                    code="group_not_found",
                )
            return group
    raise TenantNotFound(
        f"no shared environment group {name!r} on record",
        hint="`rcp group list` lists the groups tenants' templates share",
        code="group_not_found",
    )


def group_env(
    store: TenantStore, gateway: RenderGateway, name: str, *, reveal: bool = False
) -> list[dict[str, str]]:
    """The group's variables on Render as ``[{"key", "value"}]`` (by key), masked unless
    ``reveal``."""
    group = get_shared_group(store, name)
    assert group.render_id is not None
    _same_world(store, gateway, group)
    values = gateway.env_group_vars(group.render_id)
    if values is None:
        raise TenantNotFound(
            f"shared group {name} ({group.render_id}) no longer exists on Render",
            hint="`rcp tenant check --all --repair` recreates missing resources",
            code="group_not_found",
        )
    return [
        {"key": key, "value": value if reveal else MASK} for key, value in sorted(values.items())
    ]


def show_group(
    store: TenantStore, gateway: RenderGateway, name: str, *, reveal: bool = False
) -> dict[str, Any]:
    """The group's record (tenants, services) with Render's side: its variables (masked) and
    the services Render has linked (``linked``: ids; ``unrecorded_links``: linked services no
    tenant record names)."""
    group = get_shared_group(store, name)
    env = group_env(store, gateway, name, reveal=reveal)
    assert group.render_id is not None
    links = gateway.env_group_links(group.render_id) or []
    recorded = {user.render_id for user in group.services if user.render_id}
    return {
        **group.to_json(),
        "env": env,
        "linked": sorted(links),
        "unlinked_services": [
            user.to_json()
            for user in group.services
            if user.render_id is not None and user.render_id not in links
        ],
        "unrecorded_links": sorted(set(links) - recorded),
    }


@dataclass
class DeployedService:
    tenant: str
    service: str
    render_id: str
    deployed: bool = False
    deploy_id: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "service": self.service,
            "render_id": self.render_id,
            "deployed": self.deployed,
            "deploy_id": self.deploy_id,
            "note": self.note,
        }


@dataclass
class GroupChange:
    name: str
    render_id: str
    keys: list[str]
    env: list[dict[str, str]]
    services: list[DeployedService] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "render_id": self.render_id,
            "keys": list(self.keys),
            "env": self.env,
            "services": [s.to_json() for s in self.services],
        }


def change_group_env(
    operator: Operator,
    name: str,
    values: dict[str, str | None],
    *,
    deploy: bool,
) -> GroupChange:
    """Set (a value) or unset (None) the group's variables on Render, under the group's lock;
    then, unless ``deploy`` is False, deploy every service linked to it, each under its
    tenant's lease (a suspended one is noted, not deployed)."""
    if not values:
        raise UsageError("nothing to change: pass KEY=VALUE, --stdin KEY or KEY names")
    group = get_shared_group(operator.store, name)
    assert group.render_id is not None
    _same_world(operator.store, operator.gateway, group)
    keys = sorted(values)
    secrets = [value for value in values.values() if value]
    with operator.operation(shared_group_lock(name), secrets=secrets) as op:
        op.proceed()
        for key in keys:
            op.guard()
            value = values[key]
            if value is None:
                op.gateway.delete_env_group_var(group.render_id, key)
            else:
                op.gateway.set_env_group_var(group.render_id, key, value)
        verb = "set" if all(v is not None for v in values.values()) else "unset"
        op.progress.event(name, None, f"{verb} {', '.join(keys)}", None)
    deployed: list[DeployedService] = []
    if deploy:
        for slug in group.tenants:
            deployed.extend(_deploy_linked(operator, slug, name))
    env = group_env(operator.store, operator.gateway, name)
    return GroupChange(name, group.render_id, keys, env, deployed)


def _same_world(store: TenantStore, gateway: RenderGateway, group: SharedGroup) -> None:
    """The group is known from tenant records: only from the world (API base, workspace) they
    were recorded in may it be read or changed (exit 6 otherwise, before any Render call)."""
    tenants = store.get_tenants(group.tenants)
    require_same_world(gateway, tenants.values())


def _deploy_linked(operator: Operator, slug: str, name: str) -> list[DeployedService]:
    """Deploy the tenant's services that link the shared group ``name`` (journalled under the
    tenant's lease, like ``rcp tenant redeploy``)."""
    done: list[DeployedService] = []
    with operator.operation(slug) as op:
        tenant = op.find()
        if tenant is None or tenant.status == TenantStatus.DELETING:
            return done
        keys = {spec.key for spec in group_specs(tenant, shared=True) if spec.name == name}
        for spec in service_specs(tenant):
            resource = tenant.resource(spec.key)
            if not keys & set(spec.groups) or resource is None or not resource.render_id:
                continue
            item = DeployedService(slug, spec.key, resource.render_id)
            done.append(item)
            if tenant.status == TenantStatus.SUSPENDED or resource.state == "suspended":
                item.note = "suspended: not deployed; the values apply at the next deploy"
                continue
            with op.step(tenant, resource, "deploy", detail=f"group {name} changed"):
                item.deploy_id = op.gateway.trigger_deploy(resource.render_id)
            item.deployed = True
            resource.deploy_id = item.deploy_id
            resource.state = "build_in_progress"
            op.store.save_resource(slug, resource, lease=op.lease)
            op.progress.event(
                slug,
                spec.key,
                f"deploy {item.deploy_id} started" if item.deploy_id else "deploy queued",
                resource.state,
            )
    return done
