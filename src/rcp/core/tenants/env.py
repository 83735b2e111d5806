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

Values are secrets: they appear in no journal row, progress event or error message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rcp.core.models import Resource, Tenant, TenantStatus
from rcp.core.provisioning import Waiting
from rcp.core.tenants.operation import Operation, Operator
from rcp.core.tenants.records import refuse_deleting, service_specs, template_of
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
    tenant: Tenant, *, service: str | None = None, reveal: bool = False
) -> list[dict[str, str]]:
    """The stored overrides as ``[{"service", "key", "value"}]``, values masked unless
    ``reveal``. With ``service``, the entries that apply to it (its own and ``"*"``)."""
    rows: list[dict[str, str]] = []
    for scope in sorted(tenant.env_overrides):
        if service is not None and scope not in (service, ALL_SERVICES):
            continue
        for key, value in sorted(tenant.env_overrides[scope].items()):
            rows.append({"service": scope, "key": key, "value": value if reveal else MASK})
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
    """What ``set``/``unset`` did; ``env`` is the tenant's overrides afterwards (masked)."""

    slug: str
    env: list[dict[str, str]]
    services: list[PushedService] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "env": self.env,
            "services": [s.to_json() for s in self.services],
        }


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
) -> EnvChange:
    if not values:
        raise UsageError("nothing to set: pass KEY=VALUE or --stdin KEY")
    with operator.operation(slug, secrets=values.values()) as op:
        tenant = op.tenant()
        refuse_deleting(tenant, "change the env of")
        check_service_key(tenant, service)
        op.proceed()
        overrides = {scope: dict(vars_) for scope, vars_ in tenant.env_overrides.items()}
        if service is None:
            # Every service gets these values: a service's own older value would win over "*".
            for scope, vars_ in overrides.items():
                if scope != ALL_SERVICES:
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
) -> EnvChange:
    if not keys:
        raise UsageError("nothing to unset: pass one or more KEY names")
    for key in keys:
        validate_env_key(key)
    with operator.operation(slug) as op:
        tenant = op.tenant()
        refuse_deleting(tenant, "change the env of")
        check_service_key(tenant, service)
        op.proceed()
        previous = tenant.env_overrides
        overrides = {scope: dict(vars_) for scope, vars_ in tenant.env_overrides.items()}
        # Without --service the keys go from every scope; with it, from that service only
        # (a "*" value then still applies to it, and is what it gets pushed).
        scopes = [service] if service else list(overrides)
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
