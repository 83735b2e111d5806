"""`rcp tenant env list|set|unset`: per-tenant env var overrides.

Overrides live in the tenant record as ``env_overrides``: service key → ``{KEY: value}``, with
``"*"`` (``ALL_SERVICES``) for values that apply to every service of the tenant — the engine
applies ``"*"`` first and the service's own map on top whenever it creates a service, so
overrides survive re-provisioning. ``set``/``unset`` write the record first (the record is what
a rerun or a recreate re-applies), then push each affected service's *effective* value through
Render's per-key endpoints, then deploy unless told not to.

After ``unset`` a service carries what a fresh provision would give it: a remaining override,
else the template's value (references resolved by the engine), else nothing (the key is
deleted on Render).

With ``--group KEY`` the overrides are the tenant's own environment group's (scope = the
group's key; template keys are unique, so no service has it): stored the same way, pushed with
the group's per-key endpoints, then the services linked to the group are deployed. A group the
fleet shares is changed with ``rcp group env`` instead (``rcp.core.groups``).

Values are secrets: they appear in no journal row, progress event or error message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rcp.core.models import Resource, Tenant, TenantStatus
from rcp.core.provisioning import Waiting
from rcp.core.tenants.operation import Operation, Operator
from rcp.core.tenants.records import group_specs, refuse_deleting, service_specs, template_of
from rcp.core.tenants.repair import effective_env, generated_value
from rcp.errors import UsageError

ALL_SERVICES = "*"
MASK = "***"
# POSIX-style names plus '.' and '-', which Render accepts; no leading digit.
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,255}")


def validate_env_key(key: str, *, where: str = "env var name") -> str:
    if not _ENV_KEY.fullmatch(key):
        raise UsageError(
            f"invalid {where} {key!r}: use letters, digits, '_', '.' or '-', not starting with a digit"
        )
    return key


def parse_assignments(args: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` arguments → ``{KEY: VALUE}``. Messages never repeat an argument that may
    be a value (an argument without '=' could be a secret typed in the wrong place)."""
    values: dict[str, str] = {}
    for position, arg in enumerate(args, start=1):
        if "=" not in arg:
            raise UsageError(
                f"argument {position} after the slug is not KEY=VALUE",
                hint="pass KEY=VALUE, or --stdin KEY to read a secret value from stdin",
            )
        key, value = arg.split("=", 1)
        if not _ENV_KEY.fullmatch(key):
            # Not echoed: a mistyped secret containing '=' would otherwise be printed.
            raise UsageError(
                f"argument {position} after the slug has an invalid env var name: use letters, "
                "digits, '_', '.' or '-', not starting with a digit"
            )
        if key in values:
            raise UsageError(f"{key} is given more than once")
        values[key] = value
    return values


def env_entries(
    tenant: Tenant, *, service: str | None = None, group: str | None = None, reveal: bool = False
) -> list[dict[str, str | None]]:
    """The stored overrides as ``[{"service", "key", "value"}]``, values masked unless
    ``reveal``. With ``service``, the entries that apply to it (its own and ``"*"``); with
    ``group``, that group's. A group's entries have ``"service": null`` and ``"group"``."""
    groups = {spec.key for spec in group_specs(tenant)}
    rows: list[dict[str, str | None]] = []
    for scope in sorted(tenant.env_overrides):
        if service is not None and scope not in (service, ALL_SERVICES):
            continue
        if group is not None and scope != group:
            continue
        for key, value in sorted(tenant.env_overrides[scope].items()):
            shown = value if reveal else MASK
            if scope in groups:
                rows.append({"service": None, "group": scope, "key": key, "value": shown})
            else:
                rows.append({"service": scope, "key": key, "value": shown})
    return rows


@dataclass
class PushedService:
    service: str
    render_id: str
    keys: list[str]
    deployed: bool = False
    deploy_id: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "render_id": self.render_id,
            "keys": self.keys,
            "deployed": self.deployed,
            "deploy_id": self.deploy_id,
            "note": self.note,
        }


@dataclass
class EnvChange:
    """What ``set``/``unset`` did; ``env`` is the tenant's overrides afterwards (masked).
    With ``--group``: ``group`` is the group pushed to, ``services`` the linked ones deployed."""

    slug: str
    env: list[dict[str, str | None]]
    services: list[PushedService] = field(default_factory=list)
    group: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "slug": self.slug,
            "env": self.env,
            "services": [s.to_json() for s in self.services],
        }
        if self.group is not None:
            data["group"] = self.group
        return data


def check_group_key(tenant: Tenant, group: str | None) -> None:
    """``--group`` must name one of the tenant's own groups (exit 2 otherwise; a group the
    fleet shares is changed with ``rcp group env``)."""
    if group is None:
        return
    specs = group_specs(tenant)
    for spec in specs:
        if spec.key == group:
            if spec.shared:
                raise UsageError(
                    f"group {group!r} of tenant {tenant.slug} is shared by the fleet",
                    hint=f"change it for every tenant with `rcp group env set {spec.name} …`",
                )
            return
    known = ", ".join(spec.key for spec in specs if not spec.shared) or "none"
    raise UsageError(f"tenant {tenant.slug} has no environment group {group!r} (groups: {known})")


def _service_scopes(tenant: Tenant) -> set[str]:
    return {ALL_SERVICES, *(spec.key for spec in service_specs(tenant))}


def _group_env(
    op: Operation, tenant: Tenant, group: str, values: dict[str, str | None], deploy: bool
) -> EnvChange:
    """Push ``values`` to the tenant's group ``group`` (None: delete the key), then deploy the
    services linked to it unless ``deploy`` is False."""
    resource = tenant.resource(group)
    keys = sorted(values)
    pushed: list[PushedService] = []
    summary: dict[str, Any] = {"group": group, "render_id": None, "keys": keys}
    if resource is None or not resource.render_id:
        # Not created yet: the engine creates it with the stored overrides.
        return EnvChange(tenant.slug, env_entries(tenant), pushed, summary)
    summary["render_id"] = resource.render_id
    verb = "set" if all(v is not None for v in values.values()) else "unset"
    with op.step(tenant, resource, "env", detail=f"{verb} {', '.join(keys)}"):
        for key in keys:
            op.guard()
            value = values[key]
            if value is None:
                op.gateway.delete_env_group_var(resource.render_id, key)
            else:
                op.gateway.set_env_group_var(resource.render_id, key, value)
    op.progress.event(tenant.slug, group, f"{verb} {', '.join(keys)}", None)
    for spec in service_specs(tenant):
        service = tenant.resource(spec.key)
        if group in spec.groups and service is not None and service.render_id:
            pushed.append(PushedService(spec.key, service.render_id, keys))
    if deploy:
        _deploy(op, tenant, pushed)
    return EnvChange(tenant.slug, env_entries(tenant), pushed, summary)


def check_service_key(tenant: Tenant, service: str | None) -> None:
    """``--service`` must name a service of the tenant's template (exit 2 otherwise)."""
    if service is None:
        return
    keys = [spec.key for spec in service_specs(tenant)]
    if service not in keys:
        known = ", ".join(keys) or "none"
        raise UsageError(
            f"tenant {tenant.slug} has no service {service!r} (services: {known})",
            hint="datastores have no env vars; omit --service to apply to every service",
        )


def set_env(
    operator: Operator,
    slug: str,
    values: dict[str, str],
    *,
    service: str | None,
    deploy: bool,
    group: str | None = None,
) -> EnvChange:
    if not values:
        raise UsageError("nothing to set: pass KEY=VALUE or --stdin KEY")
    if service is not None and group is not None:
        raise UsageError("give --service or --group, not both")
    with operator.operation(slug, secrets=values.values()) as op:
        tenant = op.tenant()
        refuse_deleting(tenant, "change the env of")
        check_service_key(tenant, service)
        check_group_key(tenant, group)
        op.proceed()
        overrides = {scope: dict(vars_) for scope, vars_ in tenant.env_overrides.items()}
        if group is not None:
            overrides.setdefault(group, {}).update(values)
            op.store.update_tenant(slug, lease=op.lease, env_overrides=overrides)
            tenant.env_overrides = overrides
            return _group_env(op, tenant, group, dict(values), deploy)
        if service is None:
            # Every service gets these values: a service's own older value would win over "*".
            services = _service_scopes(tenant)
            for scope, vars_ in overrides.items():
                if scope != ALL_SERVICES and scope in services:
                    for key in values:
                        vars_.pop(key, None)
        overrides.setdefault(service or ALL_SERVICES, {}).update(values)
        overrides = {scope: vars_ for scope, vars_ in overrides.items() if vars_}
        op.store.update_tenant(slug, lease=op.lease, env_overrides=overrides)
        tenant.env_overrides = overrides
        pushed: list[PushedService] = []
        for resource in _target_services(tenant, service):
            assert resource.render_id is not None
            effective = {**overrides.get(ALL_SERVICES, {}), **overrides.get(resource.key, {})}
            keys = sorted(values)
            # key names only in the journal, never values
            with op.step(tenant, resource, "env", detail=f"set {', '.join(keys)}"):
                for key in keys:
                    op.guard()
                    op.gateway.set_env_var(resource.render_id, key, effective[key])
            op.progress.event(slug, resource.key, f"set {', '.join(keys)}", None)
            pushed.append(PushedService(resource.key, resource.render_id, keys))
        if deploy:
            _deploy(op, tenant, pushed)
        return EnvChange(slug, env_entries(tenant), pushed)


def unset_env(
    operator: Operator,
    slug: str,
    keys: list[str],
    *,
    service: str | None,
    deploy: bool,
    waiting: Waiting,
    group: str | None = None,
) -> EnvChange:
    if not keys:
        raise UsageError("nothing to unset: pass one or more KEY names")
    if service is not None and group is not None:
        raise UsageError("give --service or --group, not both")
    for key in keys:
        validate_env_key(key)
    with operator.operation(slug) as op:
        tenant = op.tenant()
        refuse_deleting(tenant, "change the env of")
        check_service_key(tenant, service)
        check_group_key(tenant, group)
        op.proceed()
        previous = tenant.env_overrides
        overrides = {scope: dict(vars_) for scope, vars_ in tenant.env_overrides.items()}
        if group is not None:
            return _unset_group(op, tenant, group, sorted(set(keys)), overrides, deploy)
        # Without --service the keys go from every service scope; with it, from that service
        # only (a "*" value then still applies to it, and is what it gets pushed). A group's
        # overrides are left alone (--group).
        services = _service_scopes(tenant)
        scopes = [service] if service else [scope for scope in overrides if scope in services]
        for scope in scopes:
            for key in keys:
                overrides.get(scope, {}).pop(key, None)
        overrides = {scope: vars_ for scope, vars_ in overrides.items() if vars_}
        op.store.update_tenant(slug, lease=op.lease, env_overrides=overrides)
        tenant.env_overrides = overrides
        template = template_of(tenant)
        pushed: list[PushedService] = []
        wanted = sorted(set(keys))
        for resource in _target_services(tenant, service):
            assert resource.render_id is not None
            spec = template.resource(resource.key)
            effective: dict[str, dict[str, Any]] = {}
            if any(var.key in wanted for var in spec.env):
                # The template defines some of them: resolve exactly as a provision would.
                effective = {
                    item["key"]: item
                    for item in effective_env(op, tenant, template, spec, waiting)
                }
            else:
                merged = {**overrides.get(ALL_SERVICES, {}), **overrides.get(resource.key, {})}
                effective = {k: {"key": k, "value": v} for k, v in merged.items()}
            overridden_before = {
                **previous.get(ALL_SERVICES, {}),
                **previous.get(resource.key, {}),
            }
            with op.step(tenant, resource, "env", detail=f"unset {', '.join(wanted)}"):
                for key in wanted:
                    item = effective.get(key)
                    if item is not None and "value" not in item and key not in overridden_before:
                        continue  # a generated value rcp never overrode: keep it, do not rotate it
                    op.guard()
                    if item is None:
                        op.gateway.delete_env_var(resource.render_id, key)
                    elif "value" in item:
                        op.gateway.set_env_var(resource.render_id, key, item["value"])
                    else:
                        # generateValue: the generated value was overwritten by the override,
                        # and the per-key endpoint takes a value: make one as Render does.
                        op.gateway.set_env_var(resource.render_id, key, generated_value())
            op.progress.event(slug, resource.key, f"unset {', '.join(wanted)}", None)
            pushed.append(PushedService(resource.key, resource.render_id, wanted))
        if deploy:
            _deploy(op, tenant, pushed)
        return EnvChange(slug, env_entries(tenant), pushed)


def _unset_group(
    op: Operation,
    tenant: Tenant,
    group: str,
    keys: list[str],
    overrides: dict[str, dict[str, str]],
    deploy: bool,
) -> EnvChange:
    """Drop the group's overrides of ``keys``: each gets back the template's value, or is
    deleted from the group when the template has none. A generated value the tenant never
    overrode is kept (not rotated)."""
    before = dict(overrides.get(group, {}))
    for key in keys:
        overrides.get(group, {}).pop(key, None)
    overrides = {scope: vars_ for scope, vars_ in overrides.items() if vars_}
    op.store.update_tenant(tenant.slug, lease=op.lease, env_overrides=overrides)
    tenant.env_overrides = overrides
    spec = template_of(tenant).resource(group)
    template_values = {var.key: var for var in spec.env}
    values: dict[str, str | None] = {}
    for key in keys:
        var = template_values.get(key)
        if var is None:
            values[key] = None
        elif var.value is not None:
            values[key] = var.value
        elif key in before:
            values[key] = generated_value()  # the override replaced the generated value
    if not values:
        return EnvChange(tenant.slug, env_entries(tenant), [], {"group": group, "keys": []})
    return _group_env(op, tenant, group, values, deploy)


def _target_services(tenant: Tenant, service: str | None) -> list[Resource]:
    """Services to push to: the one named, else all; only those that exist on Render (the
    engine applies the overrides to the others when it creates them)."""
    targets: list[Resource] = []
    for spec in service_specs(tenant):
        if service is not None and spec.key != service:
            continue
        resource = tenant.resource(spec.key)
        if resource is not None and resource.render_id:
            targets.append(resource)
    return targets


def _deploy(op: Operation, tenant: Tenant, pushed: list[PushedService]) -> None:
    for item in pushed:
        resource = tenant.resource(item.service)
        assert resource is not None and resource.render_id is not None
        if tenant.status == TenantStatus.SUSPENDED or resource.state == "suspended":
            item.note = "suspended: not deployed; the values apply at the next deploy"
            op.progress.event(tenant.slug, item.service, "suspended; deploy skipped", None)
            continue
        op.guard()
        item.deploy_id = op.gateway.trigger_deploy(resource.render_id)
        item.deployed = True
        resource.deploy_id = item.deploy_id
        resource.state = "build_in_progress"
        op.store.save_resource(tenant.slug, resource, lease=op.lease)
        op.progress.event(
            tenant.slug,
            item.service,
            f"deploy {item.deploy_id} started" if item.deploy_id else "deploy queued",
            resource.state,
        )
