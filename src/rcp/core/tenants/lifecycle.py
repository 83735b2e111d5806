"""`rcp tenant create|delete|status --live`: a tenant's whole life on Render."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcp.core.models import Lease, Tenant, TenantStatus, utcnow
from rcp.core.ports import RenderGateway, TenantStore
from rcp.core.provisioning import Waiting
from rcp.core.tenants.operation import Operator
from rcp.core.tenants.redeploy import redeploy_failed
from rcp.errors import ConflictError


@dataclass(frozen=True)
class CreatePlan:
    """A validated create request: everything checked, nothing written yet."""

    name: str
    slug: str
    template_name: str
    rendered: dict[str, Any]
    plugin_repo: str | None
    template_given: bool


def plan_create(
    *,
    name: str,
    slug: str | None,
    template: str | None,
    plugin_repo: str | None,
    config_dir: Path,
) -> CreatePlan:
    """Validate input and render the template. Raises UsageError (exit 2); no I/O but reading
    the template file."""
    from rcp.core import slugs, templates

    clean_name = slugs.validate_name(name)
    clean_slug = slugs.validate_slug(slug) if slug is not None else slugs.derive_slug(clean_name)
    repo = slugs.validate_url(plugin_repo) if plugin_repo is not None else None
    loaded = templates.load_template(template or "default", config_dir)
    templates.validate_template(loaded)
    rendered = templates.render_template(
        loaded, slug=clean_slug, name=clean_name, plugin_repo=repo
    )
    return CreatePlan(
        name=clean_name,
        slug=clean_slug,
        template_name=loaded.name,
        rendered=rendered.to_dict(),
        plugin_repo=repo,
        template_given=template is not None,
    )


def _check_same_definition(existing: Tenant, plan: CreatePlan) -> None:
    differences = []
    if existing.name != plan.name:
        differences.append(f"name {existing.name!r}")
    if plan.template_given and existing.template != plan.template_name:
        differences.append(f"template {existing.template!r}")
    if plan.plugin_repo is not None and existing.custom_plugin_repo != plan.plugin_repo:
        differences.append(f"plugin repo {existing.custom_plugin_repo!r}")
    if differences:
        raise ConflictError(
            f"tenant {plan.slug} exists with a different definition ({', '.join(differences)})",
            hint="use another --slug, or delete the existing tenant first",
            code="tenant_conflict",
        )


def create_tenant(
    operator: Operator, plan: CreatePlan, *, waiting: Waiting | None, if_exists: str
) -> Tenant:
    """Record the tenant and provision it; an existing tenant with the same definition is
    resumed (idempotent; a service whose deploy failed is deployed again), or refused with
    ``if_exists == "fail"``. A new tenant whose Render
    names another tenant already uses is refused (exit 4) before anything is written."""
    with operator.operation(plan.slug) as op:
        existing = op.find()
        new: Tenant | None = None
        if existing is not None:
            if if_exists == "fail":
                raise ConflictError(
                    f"tenant {plan.slug} already exists",
                    hint="drop --if-exists fail to resume it",
                    code="tenant_exists",
                )
            _check_same_definition(existing, plan)
            if existing.status == TenantStatus.DELETING:
                raise ConflictError(
                    f"tenant {plan.slug} is being deleted",
                    hint=f"finish with `rcp tenant delete {plan.slug} --yes`",
                    code="tenant_deleting",
                )
        else:
            new = op.new_record(
                name=plan.name,
                template_name=plan.template_name,
                rendered=plan.rendered,
                plugin_repo=plan.plugin_repo,
            )
        op.proceed()
        if new is not None:
            tenant = op.insert(new)
        else:
            assert existing is not None
            tenant = existing
            if tenant.status == TenantStatus.ACTIVE and all(r.render_id for r in tenant.resources):
                return tenant
            op.progress.event(plan.slug, None, f"resuming ({tenant.status})", str(tenant.status))
            # A deploy that failed for good is deployed again, not read back as the outcome.
            redeploy_failed(op, tenant)
        op.engine.provision(tenant, waiting)
        return op.tenant()


def live_status(operator: Operator, tenant: Tenant) -> Tenant:
    """Refresh from Render; persist (and flip PROVISIONING → ACTIVE) when the tenant is free.
    Reads only on Render, so it is not audited (no ``proceed``)."""
    from rcp.errors import LockBusy

    try:
        with operator.operation(tenant.slug) as op:
            op.engine.refresh(tenant, persist=True)
            return op.find() or tenant
    except LockBusy:
        # Someone is working on the tenant: report what Render says without writing.
        unheld = Lease(
            slug=tenant.slug,
            holder=operator.holder,
            generation=-1,
            acquired_at=tenant.updated_at or utcnow(),
        )
        return operator.engine(unheld).refresh(tenant, persist=False)


@dataclass(frozen=True)
class DoomedResource:
    """A Render resource ``tenant delete`` would delete: recorded, or carrying the name of one
    of the tenant's template keys (``recorded`` False)."""

    key: str
    render_id: str
    name: str
    recorded: bool


def deletion_preview(gateway: RenderGateway, store: TenantStore, tenant: Tenant) -> list[DoomedResource]:
    """What ``delete_tenant`` would delete now, in its order (reverse creation order); reads
    only (one list request per kind)."""
    from rcp.core.ownership import named_resources
    from rcp.core.tenants.records import creation_order

    by_name = {entry.key: entry for entry in named_resources(gateway, store, tenant)}
    doomed: list[DoomedResource] = []
    keys = [r.key for r in creation_order(tenant)]
    keys += [key for key in by_name if key not in keys]
    for key in reversed(keys):
        resource = tenant.resource(key)
        entry = by_name.get(key)
        if resource is not None and resource.render_id:
            doomed.append(DoomedResource(key, resource.render_id, resource.name, True))
        for match in entry.others if entry is not None else []:
            doomed.append(DoomedResource(key, match.render_id, match.name, False))
    return doomed


def delete_tenant(operator: Operator, slug: str) -> list[str]:
    """Delete every Render resource of the tenant (reverse creation order), also those that
    carry its template keys' names without being recorded, then the record; the Render ids
    deleted now."""
    with operator.operation(slug) as op:
        tenant = op.tenant()
        op.proceed()
        return op.engine.destroy(tenant)
