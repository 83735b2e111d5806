"""`rcp tenant create|delete|status --live`: a tenant's whole life on Render."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcp.core.models import Lease, RemoteResource, Tenant, TenantStatus, utcnow
from rcp.core.ports import RenderGateway, TenantStore
from rcp.core.provisioning import Waiting
from rcp.core.tenants.operation import Operation, Operator
from rcp.core.tenants.redeploy import redeploy_failed
from rcp.errors import ConflictError, ProvisioningFailed

if TYPE_CHECKING:
    from rcp.core.templates.revisions import TemplateRevision


@dataclass(frozen=True)
class CreatePlan:
    """A validated create request: everything checked, nothing written yet."""

    name: str
    slug: str
    template_name: str
    rendered: dict[str, Any]
    plugin_repo: str | None
    template_given: bool
    # The --template argument as given (a name or a path), for commands rcp suggests.
    template_arg: str | None = None
    revision: TemplateRevision | None = None  # the template revision ``rendered`` comes from


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
    from rcp.core.templates.revisions import revision_of

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
        template_arg=template,
        revision=revision_of(loaded),
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
    operator: Operator,
    plan: CreatePlan,
    *,
    waiting: Waiting | None,
    if_exists: str,
    adopt_existing: bool = False,
) -> Tenant:
    """Record the tenant and provision it; an existing tenant with the same definition is
    resumed (idempotent; a service whose deploy failed is deployed again), or refused with
    ``if_exists == "fail"``. A new tenant whose Render
    names another tenant already uses is refused (exit 4) before anything is written.

    Before the first create of a resource no earlier attempt of ours touched (no Render id,
    not ``create_pending``), its Render name is looked up: a resource carrying it is refused
    (exit 4, naming it and the ``rcp tenant adopt`` command) unless ``adopt_existing``, which
    adopts it; several are exit 5 (an operator chooses)."""
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
        found = _existing_by_name(op, new or existing, plan, adopt_existing=adopt_existing)
        op.proceed()
        if new is not None:
            op.remember_revision(plan.revision)
            tenant = op.insert(new)
        else:
            assert existing is not None
            tenant = existing
            if tenant.status == TenantStatus.ACTIVE and all(r.render_id for r in tenant.resources):
                return tenant
            op.progress.event(plan.slug, None, f"resuming ({tenant.status})", str(tenant.status))
            # A deploy that failed for good is deployed again, not read back as the outcome.
            redeploy_failed(op, tenant)
        _adopt_found(op, tenant, found)
        op.engine.provision(tenant, waiting)
        return op.tenant()


def _existing_by_name(
    op: Operation, tenant: Tenant | None, plan: CreatePlan, *, adopt_existing: bool
) -> list[tuple[str, RemoteResource]]:
    """The resources on Render already carrying the names of the tenant's resources that
    nothing of ours ever tried to create: ``(key, resource)`` to adopt, or a refusal."""
    from rcp.core.ownership import named_resources
    from rcp.core.tenants.records import template_of

    if tenant is None:
        return []
    untouched = [
        r.key for r in tenant.resources if not r.render_id and r.state != "create_pending"
    ]
    if not untouched:
        return []
    entries = [e for e in named_resources(op.gateway, op.store, tenant, keys=untouched) if e.matches]
    if not entries:
        return []
    several = [e for e in entries if len(e.matches) > 1]
    if several:
        listed = "; ".join(
            f"{e.name}: {', '.join(m.render_id for m in e.matches)}" for e in several
        )
        raise ProvisioningFailed(
            f"several Render resources carry the names of tenant {plan.slug}'s resources "
            f"({listed}); an operator must choose",
            hint=(
                f"take the right one with `rcp tenant adopt {plan.slug} --resource KEY=ID`, "
                f"then `rcp tenant check {plan.slug} --repair --delete-duplicates` deletes the "
                "others"
            ),
        )
    template = template_of(tenant)
    for entry in entries:
        match = entry.matches[0]
        if match.type != entry.render_type:
            raise ConflictError(
                f"{match.render_id} on Render is named {entry.name} but is a {match.type}; "
                f"{entry.key} of tenant {plan.slug} is a {template.resource(entry.key).render_type}",
                hint="rename or delete it on Render, or create the tenant under another --slug",
                code="resource_exists",
            )
    found = [(e.key, e.matches[0]) for e in entries]
    if adopt_existing:
        return found
    listed = ", ".join(f"{remote.name} ({remote.render_id})" for _, remote in found)
    raise ConflictError(
        f"Render already has {listed}, carrying tenant {plan.slug}'s names, and no record "
        "holds them (a lost database, or a create Render acted on after rcp gave up?)",
        hint=(
            f"take them over with `{_adopt_command(plan, tenant, found)}`, "
            "or rerun this command with --adopt-existing"
        ),
        code="resource_exists",
    )


def _adopt_command(
    plan: CreatePlan, tenant: Tenant, found: list[tuple[str, RemoteResource]]
) -> str:
    """The ``rcp tenant adopt`` command that takes ``found`` under the tenant's record (a new
    record with the name and template this create would give it)."""
    import shlex

    words = ["rcp", "tenant", "adopt", plan.slug]
    if tenant.id is None:  # no record yet: adopt makes it, with this create's definition
        if plan.name != plan.slug:
            words += ["--name", plan.name]
        if plan.template_name != "default":
            words += ["--template", plan.template_arg or plan.template_name]
    for key, remote in found:
        words += ["--resource", f"{key}={remote.render_id}"]
    return " ".join(shlex.quote(word) for word in words)


def _adopt_found(op: Operation, tenant: Tenant, found: list[tuple[str, RemoteResource]]) -> None:
    """Record the resources found by name (``--adopt-existing``), journalled."""
    for key, remote in found:
        resource = tenant.resource(key)
        if resource is None:
            continue
        resource.render_id = remote.render_id
        resource.state = remote.state
        resource.url = remote.url
        resource.deploy_id = remote.deploy_id
        op.store.save_resource(tenant.slug, resource, lease=op.lease)
        op.journal(tenant, key, "adopt", "done", render_id=remote.render_id, detail="found by name")
        op.progress.event(tenant.slug, key, f"adopted {remote.render_id} by name", remote.state)


def live_status(operator: Operator, tenant: Tenant) -> Tenant:
    """Refresh from Render; persist (and flip PROVISIONING → ACTIVE) when the tenant is free.
    Reads only on Render, so it is not audited (no ``proceed``). A record of another world
    is refused (exit 6) before Render is asked about its ids."""
    from rcp.core.tenants.worlds import require_world
    from rcp.errors import LockBusy

    require_world(operator.gateway, tenant)
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
