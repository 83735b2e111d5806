"""`rcp tenant check`: drift and health of tenants as Render reports them, and `--repair`.

Problems (``problem`` values scripts can match on):

- ``missing``       a recorded resource no longer exists on Render (404)
- ``not_created``   a template resource was never created (no Render id on record)
- ``suspended``     suspended on Render although the tenant is not ``SUSPENDED`` (out of band)
- ``not_suspended`` running on Render although the tenant is ``SUSPENDED``
- ``deploy_failed`` a service's latest deploy ended failed (``build_failed``, …)
- ``unavailable``   a datastore is in a failed state
- ``plan_drift``    the plan on Render differs from the tenant's rendered template
- ``tenant_error``  the tenant is ``ERROR`` (detail: its last error)
- ``deleting``      a delete did not finish

``--repair`` reconciles through the journal, under the tenant lock:
a tenant that should run (``ACTIVE``, ``PROVISIONING``, ``ERROR``) gets suspended resources
resumed and missing ones recreated by the engine (which looks the name up first), dependents
re-pointed at recreated datastores, then the engine waits until everything is up → ``ACTIVE``;
a service whose latest deploy failed (build, pre-deploy command, update) is deployed again;
a ``SUSPENDED`` tenant gets resources running out of band suspended again. Plan drift and
canceled deploys are reported, not repaired: both need an operator's decision (cost, intent).
After a repair the tenant is inspected again; a problem that is gone is ``repaired: true``,
and the tenant is healthy when nothing is left.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rcp.core.models import RemoteResource, Tenant, TenantStatus
from rcp.core.ports import RenderGateway
from rcp.core.provisioning import (
    DATASTORE_FAILED,
    DEPLOY_FAILURE_PHASE,
    SERVICE_FAILED,
    Waiting,
)
from rcp.core.tenants.operation import Operation, Operator
from rcp.core.tenants.records import template_of
from rcp.core.tenants.redeploy import redeploy_if_failed
from rcp.core.tenants.repair import mark_for_recreation, recreate_and_await
from rcp.errors import LockBusy, ProvisioningFailed, TenantNotFound

RUNNING_STATUSES = (TenantStatus.ACTIVE, TenantStatus.PROVISIONING, TenantStatus.ERROR)
# "deactivated" is what an older deploy becomes when a newer one goes live: not a failure of
# the latest deploy.
DEPLOY_FAILED = SERVICE_FAILED - {"deactivated"}


@dataclass
class Problem:
    resource: str | None
    problem: str
    detail: str
    repaired: bool = False

    @property
    def identity(self) -> tuple[str | None, str]:
        return (self.resource, self.problem)

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "problem": self.problem,
            "detail": self.detail,
            "repaired": self.repaired,
        }


@dataclass
class TenantHealth:
    slug: str
    status: str
    problems: list[Problem] = field(default_factory=list)
    # A repair ran on this tenant (it had problems): a fleet-wide repair audits it on its own.
    repaired: bool = False
    seconds: float = 0.0

    @property
    def healthy(self) -> bool:
        return all(p.repaired for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "healthy": self.healthy,
            "status": self.status,
            "problems": [p.to_json() for p in self.problems],
        }


@dataclass
class CheckReport:
    tenants: list[TenantHealth]

    @property
    def healthy(self) -> bool:
        return all(t.healthy for t in self.tenants)

    def to_json(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "tenants": [t.to_json() for t in self.tenants]}


def _same_plan(template_plan: str, remote_plan: str) -> bool:
    # Blueprint spells plans with hyphens (basic-256mb), the API with underscores.
    return template_plan.replace("-", "_").lower() == remote_plan.replace("-", "_").lower()


def inspect_tenant(gateway: RenderGateway, tenant: Tenant) -> list[Problem]:
    """Compare the record with Render (read-only)."""
    problems: list[Problem] = []
    status = tenant.status
    if status == TenantStatus.DELETING:
        problems.append(
            Problem(
                None,
                "deleting",
                f"a delete did not finish; rerun `rcp tenant delete {tenant.slug} --yes`",
            )
        )
    if status == TenantStatus.ERROR:
        problems.append(
            Problem(None, "tenant_error", tenant.last_error or "the tenant is in ERROR")
        )
    for spec in template_of(tenant).resources:
        resource = tenant.resource(spec.key)
        if resource is None or not resource.render_id:
            problems.append(
                Problem(spec.key, "not_created", f"{spec.name} was never created on Render")
            )
            continue
        remote = gateway.get(resource.kind, resource.render_id)
        if remote is None:
            problems.append(
                Problem(spec.key, "missing", f"{resource.render_id} no longer exists on Render")
            )
            continue
        problems.extend(_remote_problems(tenant, spec.key, spec.plan, resource.render_id, remote))
    return problems


def _remote_problems(
    tenant: Tenant, key: str, template_plan: str | None, render_id: str, remote: RemoteResource
) -> list[Problem]:
    found: list[Problem] = []
    if tenant.status == TenantStatus.SUSPENDED:
        if not remote.suspended:
            found.append(
                Problem(key, "not_suspended", f"{render_id} is running but the tenant is SUSPENDED")
            )
    elif remote.suspended and tenant.status != TenantStatus.DELETING:
        found.append(Problem(key, "suspended", f"{render_id} was suspended outside rcp"))
    if remote.state in DEPLOY_FAILED:
        deploy = f"deploy {remote.deploy_id}" if remote.deploy_id else "the latest deploy"
        phase = DEPLOY_FAILURE_PHASE.get(remote.state)
        ended = f"ended {remote.state}" + (f" in the {phase} phase" if phase else "")
        found.append(Problem(key, "deploy_failed", f"{deploy} of {render_id} {ended}"))
    elif remote.state in DATASTORE_FAILED:
        found.append(Problem(key, "unavailable", f"{render_id} is {remote.state}"))
    if template_plan and remote.plan and not _same_plan(template_plan, remote.plan):
        found.append(
            Problem(
                key,
                "plan_drift",
                f"plan on Render is {remote.plan}, the template says {template_plan}",
            )
        )
    return found


def check_tenants(
    operator: Operator,
    tenants: Iterable[Tenant],
    *,
    repair: bool,
    waiting: Waiting,
    skip_busy: bool = False,
) -> CheckReport:
    """Inspect each tenant; with ``repair``, reconcile and inspect again.

    ``skip_busy`` (a ``--all`` run): a tenant another command holds is inspected without
    repair, its problems marked as not repaired, instead of failing the whole run with exit 4.
    """
    results: list[TenantHealth] = []
    for tenant in tenants:
        if repair:
            started = time.monotonic()
            try:
                health = _repair(operator, tenant.slug, waiting)
                health.seconds = time.monotonic() - started
                results.append(health)
            except TenantNotFound:
                continue  # deleted since the list was read: nothing left to check
            except LockBusy as busy:
                if not skip_busy:
                    raise
                problems = inspect_tenant(operator.gateway, tenant)
                for problem in problems:
                    problem.detail = f"{problem.detail} (not repaired: {busy.message})"
                results.append(TenantHealth(tenant.slug, str(tenant.status), problems))
        else:
            results.append(
                TenantHealth(
                    tenant.slug, str(tenant.status), inspect_tenant(operator.gateway, tenant)
                )
            )
    return CheckReport(results)


def _repair(operator: Operator, slug: str, waiting: Waiting) -> TenantHealth:
    with operator.operation(slug) as op:
        tenant = op.tenant()
        found = inspect_tenant(op.gateway, tenant)
        op.proceed()
        failure: str | None = None
        if found:
            try:
                _reconcile(op, tenant, found, waiting)
            except ProvisioningFailed as exc:
                # Reported with the tenant's problems (exit 5 either way), so that one broken
                # tenant does not hide the others of a `--all` run.
                failure = exc.message
        after = op.tenant()
        remaining = inspect_tenant(op.gateway, after)
    left = {p.identity for p in remaining}
    for problem in found:
        problem.repaired = problem.identity not in left
        if not problem.repaired and failure:
            problem.detail = f"{problem.detail} (repair failed: {failure})"
    known = {p.identity for p in found}
    problems = found + [p for p in remaining if p.identity not in known]
    return TenantHealth(slug, str(after.status), problems, repaired=bool(found))


def _reconcile(op: Operation, tenant: Tenant, problems: list[Problem], waiting: Waiting) -> None:
    slug = tenant.slug
    kinds = {p.problem for p in problems}
    if tenant.status == TenantStatus.SUSPENDED:
        for problem in problems:
            resource = tenant.resource(problem.resource or "")
            if problem.problem != "not_suspended" or resource is None or not resource.render_id:
                continue
            with op.step(tenant, resource, "suspend", detail="check --repair"):
                op.gateway.suspend(resource.kind, resource.render_id)
            resource.state = "suspended"
            op.store.save_resource(slug, resource, lease=op.lease)
            op.progress.event(
                slug, resource.key, f"suspended {resource.render_id} again", "suspended"
            )
        return
    if tenant.status not in RUNNING_STATUSES:
        return  # DELETING: only `rcp tenant delete` finishes it
    recreated: set[str] = set()
    redeployed: set[str] = set()
    for problem in problems:
        resource = tenant.resource(problem.resource or "")
        if resource is None or not resource.render_id:
            continue
        if problem.problem == "deploy_failed":
            # A deploy that failed its build, pre-deploy command or update: deploy again (a
            # canceled one stays reported: someone stopped it on purpose).
            if redeploy_if_failed(op, tenant, resource, detail="check --repair"):
                redeployed.add(resource.key)
        elif problem.problem == "suspended":
            with op.step(tenant, resource, "resume", detail="check --repair"):
                op.gateway.resume(resource.kind, resource.render_id)
            resource.state = "resuming"
            op.store.save_resource(slug, resource, lease=op.lease)
            op.progress.event(slug, resource.key, f"resumed {resource.render_id}", "resuming")
        elif problem.problem == "missing":
            mark_for_recreation(op, tenant, resource, "no longer exists on Render")
            recreated.add(resource.key)
    actionable = kinds & {"suspended", "missing", "not_created", "tenant_error"}
    if not actionable and not redeployed:
        return  # plan drift, canceled deploys: reported only
    recreate_and_await(op, tenant, recreated, waiting)
