"""`rcp tenant adopt SLUG --resource KEY=RENDER_ID…`: existing Render resources taken under a
tenant record.

Checked before anything is written: the key is a resource of the tenant's template, the id's
prefix fits that resource's kind (``srv-``/``crn-`` services, ``dpg-`` Postgres, ``red-`` Key
Value), the resource exists on Render with the template's type, it is not recorded under
another tenant (or another key), and it does not replace a recorded resource that still
exists. Adopting the id already recorded is a no-op, so adopt is idempotent.

A slug with no record gets one (name = slug unless given, template ``default`` unless given);
its other template resources stay to be created by ``rcp tenant create`` / ``resume`` /
``check --repair``. A record whose every resource is now up becomes ``ACTIVE`` (all suspended:
``SUSPENDED``); otherwise a new record stays ``PROVISIONING``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rcp.core.models import (
    ENVIRONMENT_KEY,
    PROJECT_KEY,
    RemoteResource,
    RenderedTemplate,
    Resource,
    ResourceKind,
    Tenant,
    TenantStatus,
)
from rcp.core.ports import TenantStore
from rcp.core.provisioning import READY_STATES
from rcp.core.tenants.operation import Operation, Operator
from rcp.core.tenants.records import refuse_deleting
from rcp.errors import ConflictError, UsageError

ID_PREFIX_KINDS: dict[str, ResourceKind] = {
    "srv-": ResourceKind.SERVICE,
    "crn-": ResourceKind.SERVICE,
    "dpg-": ResourceKind.POSTGRES,
    "red-": ResourceKind.KEY_VALUE,
    "prj-": ResourceKind.PROJECT,
    "evm-": ResourceKind.ENVIRONMENT,
    "evg-": ResourceKind.ENV_GROUP,
}


def kind_of_id(render_id: str) -> ResourceKind | None:
    for prefix, kind in ID_PREFIX_KINDS.items():
        if render_id.startswith(prefix) and len(render_id) > len(prefix):
            return kind
    return None


def parse_resource_args(values: list[str], environment: str | None = None) -> dict[str, str]:
    """``KEY=RENDER_ID`` arguments → ``{KEY: RENDER_ID}`` (exit 2 on any malformed one, or an
    ``environment`` that is not an environment id)."""
    from rcp.core.slugs import is_render_id, validate_template_key

    if environment is not None and (
        kind_of_id(environment) is not ResourceKind.ENVIRONMENT or not is_render_id(environment)
    ):
        raise UsageError(f"invalid --environment {environment!r}: expected an evm-… id")
    if not values and environment is None:
        raise UsageError(
            "nothing to adopt: pass --resource KEY=RENDER_ID (repeatable) or --environment ID"
        )
    found: dict[str, str] = {}
    for value in values:
        key, sep, render_id = value.partition("=")
        if not sep or not key or not render_id:
            raise UsageError(
                f"invalid --resource {value!r}: expected KEY=RENDER_ID, e.g. web=srv-…"
            )
        validate_template_key(key)
        if kind_of_id(render_id) is None or not is_render_id(render_id):
            raise UsageError(
                f"invalid Render id {render_id!r} for {key}: expected srv-…, crn-…, dpg-…, red-…, "
                "prj-…, evm-… or evg-…"
            )
        if key in found:
            raise UsageError(f"--resource {key} is given more than once")
        if render_id in found.values():
            raise UsageError(f"{render_id} is given for more than one key")
        found[key] = render_id
    return found


@dataclass(frozen=True)
class AdoptPlan:
    """A validated adopt request; ``rendered`` is the template of the record (new or old)."""

    slug: str
    name: str
    template_name: str
    rendered: dict[str, Any]
    resources: dict[str, str]
    record_exists: bool
    # ``--environment``: a whole Render environment, its resources matched to keys by name.
    environment: str | None = None


def plan_adopt(
    store: TenantStore,
    *,
    slug: str,
    resources: list[str],
    name: str | None,
    template: str | None,
    config_dir: Path,
    environment: str | None = None,
) -> AdoptPlan:
    """Validate the request against the record (or the template a new record would get).
    Reads only; raises UsageError (2) or ConflictError (4)."""
    from rcp.core import slugs
    from rcp.core.tenants.lifecycle import plan_create

    slugs.validate_slug(slug)
    wanted = parse_resource_args(resources, environment)
    if name is not None:
        slugs.validate_name(name)
    existing = store.get_tenant(slug)
    if existing is None:
        created = plan_create(
            name=name or slug, slug=slug, template=template, plugin_repo=None, config_dir=config_dir
        )
        plan = AdoptPlan(
            slug,
            created.name,
            created.template_name,
            created.rendered,
            wanted,
            False,
            environment,
        )
    else:
        _check_same_record(existing, name, template, config_dir)
        plan = AdoptPlan(
            slug,
            existing.name,
            existing.template,
            existing.rendered_template,
            wanted,
            True,
            environment,
        )
    _check_keys(plan)
    return plan


def _check_same_record(
    existing: Tenant, name: str | None, template: str | None, config_dir: Path
) -> None:
    differences = []
    if name is not None and name != existing.name:
        differences.append(f"name {existing.name!r}")
    if template is not None:
        from rcp.core import templates

        if templates.load_template(template, config_dir).name != existing.template:
            differences.append(f"template {existing.template!r}")
    if differences:
        raise ConflictError(
            f"tenant {existing.slug} exists with a different definition ({', '.join(differences)})",
            hint="drop --name/--template to adopt into the existing record",
            code="tenant_conflict",
        )


def _check_keys(plan: AdoptPlan) -> None:
    template = RenderedTemplate.from_dict(plan.rendered)
    keys = [spec.key for spec in template.resources]
    if plan.environment is not None and template.isolation is None:
        raise UsageError(
            f"template {plan.template_name} has no isolation block: its tenants have no "
            "environment to adopt",
            hint="add an isolation block to the template (docs/templates.md), or adopt "
            "resources one by one with --resource KEY=RENDER_ID",
        )
    for key, render_id in plan.resources.items():
        if key not in keys:
            raise UsageError(
                f"{key} is not a resource of template {plan.template_name} "
                f"(resources: {', '.join(keys) or 'none'})"
            )
        spec = template.resource(key)
        if kind_of_id(render_id) is not spec.kind:
            raise UsageError(
                f"{render_id} cannot be {key}: {key} is a {spec.render_type} in template "
                f"{plan.template_name}"
            )


def adopt_resources(operator: Operator, plan: AdoptPlan) -> Tenant:
    with operator.operation(plan.slug) as op:
        existing = op.find()
        if existing is not None:
            refuse_deleting(existing, "adopt into")
            # Someone may have created the record since the plan was made: its template rules.
            plan = AdoptPlan(
                plan.slug,
                existing.name,
                existing.template,
                existing.rendered_template,
                plan.resources,
                True,
                plan.environment,
            )
            _check_keys(plan)
        template = RenderedTemplate.from_dict(plan.rendered)
        if plan.environment is not None:
            members = _environment_members(op, template, plan)
            plan = replace(plan, resources={**members, **plan.resources})
            _check_keys(plan)
        new = None
        if existing is None:
            new = op.new_record(
                name=plan.name, template_name=plan.template_name, rendered=plan.rendered
            )
        _check_not_recorded_elsewhere(op.store, plan, template)
        remotes: dict[str, RemoteResource] = {}
        for key, render_id in plan.resources.items():
            spec = template.resource(key)
            remote = op.gateway.get(spec.kind, render_id)
            if remote is None:
                raise UsageError(
                    f"{render_id} does not exist on Render", code="render_resource_not_found"
                )
            if remote.type != spec.render_type:
                raise UsageError(
                    f"{render_id} is a {remote.type}, but {key} is a {spec.render_type} in "
                    f"template {plan.template_name}",
                    code="resource_type_mismatch",
                )
            recorded = existing.resource(key) if existing else None
            if recorded and recorded.render_id and recorded.render_id != render_id:
                if op.gateway.get(recorded.kind, recorded.render_id) is not None:
                    raise ConflictError(
                        f"{key} of {plan.slug} is already {recorded.render_id}, which exists on Render",
                        hint=f"delete {recorded.render_id} first, or adopt into another tenant",
                        code="resource_conflict",
                    )
            remotes[key] = remote
        op.proceed()
        if new is not None:
            op.insert(new, "recorded")
        tenant = op.tenant()
        for key, remote in remotes.items():
            resource = tenant.resource(key)
            if resource is None:
                spec = template.resource(key)
                resource = Resource(key=key, type=spec.render_type, name=spec.name)
                tenant.resources.append(resource)
            resource.render_id = remote.render_id
            resource.name = remote.name or resource.name
            resource.state = remote.state
            resource.url = remote.url
            resource.deploy_id = remote.deploy_id
            op.store.save_resource(plan.slug, resource, lease=op.lease)
            op.journal(tenant, key, "adopt", "done", render_id=remote.render_id)
            op.progress.event(plan.slug, key, f"adopted {remote.render_id}", resource.state)
        _link_adopted(op, tenant, template, set(remotes))
        settled = _settled_status(tenant, template)
        if tenant.status == TenantStatus.PROVISIONING and settled is not None:
            op.store.update_tenant(plan.slug, lease=op.lease, status=settled, clear_error=True)
        return op.tenant()


def _environment_members(
    op: Operation, template: RenderedTemplate, plan: AdoptPlan
) -> dict[str, str]:
    """``--environment``: the environment (key ``environment``), its project when the tenant
    has its own (``project``), and each resource it holds matched to the template key whose
    Render name it carries. The environment must sit in the template's shared project when
    the template names one. Resources no key is named like stay where they are, reported
    (``tenant check`` lists them as ``unrecorded``)."""
    assert plan.environment is not None
    environment = op.gateway.get(ResourceKind.ENVIRONMENT, plan.environment)
    held = op.gateway.environment_resources(plan.environment)
    if environment is None or held is None:
        raise UsageError(
            f"{plan.environment} does not exist on Render", code="render_resource_not_found"
        )
    found = {ENVIRONMENT_KEY: plan.environment}
    project_id = op.gateway.environment_project(plan.environment)
    shared = template.shared_project
    if shared is None:
        if project_id is not None:
            found[PROJECT_KEY] = project_id
    else:
        project = op.gateway.get(ResourceKind.PROJECT, project_id) if project_id else None
        if project is None or project.name != shared:
            raise ConflictError(
                f"{plan.environment} is in project "
                f"{project.name if project else project_id}, but template "
                f"{plan.template_name} puts its tenants' environments in project {shared}",
                hint="adopt an environment of that project, or change the template",
                code="resource_conflict",
            )
    by_name = {spec.name: spec for spec in template.resources}
    for render_id in held:
        kind = kind_of_id(render_id)
        remote = op.gateway.get(kind, render_id) if kind is not None else None
        spec = by_name.get(remote.name) if remote is not None else None
        if spec is None or spec.kind is not kind:
            what = f"{render_id} ({remote.name})" if remote is not None else render_id
            op.progress.event(
                plan.slug,
                None,
                f"{what} is in {plan.environment} but no template key is named like it: "
                "not adopted",
                None,
            )
            continue
        found[spec.key] = render_id
    return found


def _link_adopted(
    op: Operation, tenant: Tenant, template: RenderedTemplate, adopted: set[str]
) -> None:
    """Link each service to the groups its template gives it where either side was just
    adopted (the per-service link endpoint; linking twice is harmless). No deploy: the
    variables apply at the service's next deploy."""
    for spec in template.resources:
        service = tenant.resource(spec.key)
        if service is None or not service.render_id:
            continue
        for group_key in spec.groups:
            group = tenant.resource(group_key)
            if group is None or not group.render_id:
                continue
            if spec.key not in adopted and group_key not in adopted:
                continue
            with op.step(tenant, service, "link", detail=f"group {group.name}"):
                op.gateway.link_env_group(group.render_id, service.render_id)
            op.progress.event(tenant.slug, spec.key, f"linked group {group.name}", None)


def _check_not_recorded_elsewhere(
    store: TenantStore, plan: AdoptPlan, template: RenderedTemplate
) -> None:
    """No resource may belong to two tenants (or two keys); a group the fleet shares is
    recorded by every tenant that links it."""
    wanted = {render_id: key for key, render_id in plan.resources.items()}
    shared = {spec.key for spec in template.resources if spec.shared}
    # An indexed lookup of the ids asked for: no scan of every tenant.
    for render_id, slug, recorded_key in store.render_id_owners(wanted):
        key = wanted[render_id]
        if slug != plan.slug and key in shared and recorded_key == key:
            continue
        if slug != plan.slug:
            raise ConflictError(
                f"{render_id} is recorded under tenant {slug} (as {recorded_key})",
                hint="a Render resource belongs to one tenant",
                code="resource_taken",
            )
        if recorded_key != key:
            raise ConflictError(
                f"{render_id} is already {plan.slug}'s {recorded_key}, not {key}",
                code="resource_taken",
            )


def _settled_status(tenant: Tenant, template: RenderedTemplate) -> TenantStatus | None:
    """ACTIVE when every template resource exists and is up, SUSPENDED when all are suspended."""
    resources = [tenant.resource(spec.key) for spec in template.resources]
    if any(r is None or not r.render_id for r in resources):
        return None
    states = {r.state for r in resources if r is not None}
    if states <= READY_STATES:
        return TenantStatus.ACTIVE
    if states == {"suspended"}:
        return TenantStatus.SUSPENDED
    return None
