"""Accept now, work later (``rcp serve``): a request records what is wanted under the tenant's
lease and is answered at once; the work itself runs in the background as the ordinary use case
(``create_tenant`` / ``delete_tenant``), which resumes from the record exactly as a rerun of the
CLI command would — also after a crash, on whichever server gets the lease."""

from __future__ import annotations

from rcp.core.models import Tenant, TenantStatus
from rcp.core.tenants.lifecycle import CreatePlan, _check_same_definition
from rcp.core.tenants.operation import Operator
from rcp.errors import ConflictError, LockBusy


def plan_of_record(tenant: Tenant) -> CreatePlan:
    """The create plan a recorded tenant was made from (its stored rendered template): what
    resuming its provisioning runs with."""
    return CreatePlan(
        name=tenant.name,
        slug=tenant.slug,
        template_name=tenant.template,
        rendered=tenant.rendered_template,
        plugin_repo=tenant.custom_plugin_repo,
        template_given=False,
    )


def _same_create(existing: Tenant, plan: CreatePlan) -> Tenant:
    """An existing record answers a create of the same definition (idempotent); another
    definition, or a tenant being deleted, is a conflict (exit 4 / HTTP 409)."""
    _check_same_definition(existing, plan)
    if existing.status == TenantStatus.DELETING:
        raise ConflictError(
            f"tenant {plan.slug} is being deleted",
            hint="create it again once the deletion finished",
            code="tenant_deleting",
        )
    return existing


def accept_create(operator: Operator, plan: CreatePlan) -> tuple[Tenant, bool]:
    """Record the tenant ``PROVISIONING`` without calling Render: (the record, True), or (the
    existing record, False) when the slug exists with the same definition.

    Concurrent creates of one slug make one record: the lease admits one writer at a time,
    and a create that cannot get the lease (another request is recording the tenant, or a
    provisioning run holds it) answers with the record that run made.
    """
    existing = operator.store.get_tenant(plan.slug)
    if existing is not None:
        return _same_create(existing, plan), False
    try:
        with operator.operation(plan.slug) as op:
            existing = op.find()
            if existing is not None:
                return _same_create(existing, plan), False
            new = op.new_record(
                name=plan.name,
                template_name=plan.template_name,
                rendered=plan.rendered,
                plugin_repo=plan.plugin_repo,
            )
            op.proceed()
            op.remember_revision(plan.revision)
            return op.insert(new, "recorded; provisioning in the background"), True
    except LockBusy:
        existing = operator.store.get_tenant(plan.slug)
        if existing is None:
            raise
        return _same_create(existing, plan), False


def accept_delete(operator: Operator, slug: str) -> Tenant:
    """Mark the tenant ``DELETING`` (no Render call yet): from here on nothing but the
    deletion is accepted for it, and whoever resumes unfinished tenants finishes it."""
    with operator.operation(slug) as op:
        tenant = op.tenant()
        op.proceed()
        if tenant.status != TenantStatus.DELETING:
            op.store.update_tenant(slug, lease=op.lease, status=TenantStatus.DELETING)
        return op.tenant()
