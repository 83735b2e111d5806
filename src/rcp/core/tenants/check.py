"""`rcp tenant check`: drift and health of tenants as Render reports them, and `--repair`.

Problems (``problem`` values scripts can match on):

- ``missing``       a recorded resource no longer exists on Render (404)
- ``not_created``   a template resource was never created (no Render id on record)
- ``suspended``     suspended on Render although the tenant is not ``SUSPENDED`` (out of band)
- ``not_suspended`` running on Render although the tenant is ``SUSPENDED``
- ``deploy_failed`` a service's latest deploy ended failed (``build_failed``, …)
- ``unavailable``   a datastore is in a failed state
- ``plan_drift``    the plan on Render differs from the tenant's rendered template
- ``group_unlinked`` a service is not linked to an environment group its template gives it
- ``tenant_error``  the tenant is ``ERROR`` (detail: its last error)
- ``deleting``      a delete did not finish
- ``duplicate``     a resource on Render carries the key's Render name (``<slug>-<key>``) but is
                    not the one the record holds (detail and ``render_id``: which)
- ``unrecorded``    a resource on Render carries the key's Render name, and the record holds no
                    id for the key (replaces ``not_created``: it was created, not recorded)

Render names are looked up (``rcp.core.ownership``) for a single tenant always, and for
``--all`` with ``--unrecorded`` by one sweep of the workspace.

``--repair`` reconciles through the journal, under the tenant lock:
a tenant that should run (``ACTIVE``, ``PROVISIONING``, ``ERROR``) gets suspended resources
resumed and missing ones recreated by the engine (which looks the name up first), dependents
re-pointed at recreated datastores, then the engine waits until everything is up → ``ACTIVE``;
a service whose latest deploy failed (build, pre-deploy command, update) is deployed again;
a service missing a group's link (or whose group was recreated) is linked again and deployed;
a ``SUSPENDED`` tenant gets resources running out of band suspended again. Plan drift and
canceled deploys are reported, not repaired: both need an operator's decision (cost, intent).
Ownership by name: a single ``unrecorded`` resource is adopted (journal step ``adopt``); several
for one key stop the tenant's repair (an operator adopts one with ``rcp tenant adopt``);
``duplicate`` ones are deleted only with ``delete_duplicates`` (step ``delete_duplicate``) and only
while the recorded resource exists — a recorded resource that vanished is replaced by the one
named like it instead (``repair.mark_for_recreation``).
After a repair the tenant is inspected again; a problem that is gone is ``repaired: true``,
and the tenant is healthy when nothing is left.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rcp.core.models import RemoteResource, Resource, Tenant, TenantStatus
from rcp.core.ownership import KeyMatches, named_resources, sweep
from rcp.core.ports import RenderGateway, TenantStore
from rcp.core.provisioning import (
    DATASTORE_FAILED,
    DEPLOY_FAILURE_PHASE,
    SERVICE_FAILED,
    STATE_LINKING,
    Waiting,
)
from rcp.core.tenants.adopt import kind_of_id
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
    # duplicate / unrecorded: the resource on Render the problem is about, and its name
    render_id: str | None = None
    name: str | None = None

    @property
    def identity(self) -> tuple[str | None, str, str | None]:
        return (self.resource, self.problem, self.render_id)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "resource": self.resource,
            "problem": self.problem,
            "detail": self.detail,
            "repaired": self.repaired,
        }
        if self.render_id is not None:
            data["render_id"] = self.render_id
            data["name"] = self.name
        return data


NAME_PROBLEMS = ("duplicate", "unrecorded")


@dataclass
class NameLookup:
    """Whose Render names a check looks up: none (``store`` None), every tenant's
    (``rcp tenant check SLUG``), or those a workspace sweep found (``--all --unrecorded``)."""

    store: TenantStore | None = None
    swept: dict[str, list[KeyMatches]] | None = None

    def matches(self, gateway: RenderGateway, tenant: Tenant, *, fresh: bool) -> list[KeyMatches]:
        """``fresh``: look up again (after a repair) rather than reuse the sweep's findings."""
        if self.store is None:
            return []
        if self.swept is not None:
            if tenant.slug not in self.swept:
                return []
            if not fresh:
                return self.swept[tenant.slug]
        return named_resources(gateway, self.store, tenant)


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


def inspect_tenant(
    gateway: RenderGateway,
    tenant: Tenant,
    names: NameLookup | None = None,
    *,
    fresh: bool = False,
) -> list[Problem]:
    """Compare the record with Render (read-only); with ``names``, also what carries the
    tenant's Render names. A record of another world is refused (exit 6) before Render is
    asked about its ids or names."""
    from rcp.core.tenants.worlds import require_world

    require_world(gateway, tenant)
    problems = _record_problems(gateway, tenant)
    found = [] if names is None else name_problems(names.matches(gateway, tenant, fresh=fresh))
    seen = {p.render_id for p in found}
    found += [p for p in environment_problems(gateway, tenant) if p.render_id not in seen]
    created = {p.resource for p in found if p.problem == "unrecorded"}
    kept = [p for p in problems if not (p.problem == "not_created" and p.resource in created)]
    return kept + found


def environment_problems(gateway: RenderGateway, tenant: Tenant) -> list[Problem]:
    """``unrecorded``: what the tenant's Render environment holds that its record does not (one
    read of the environment, then one of each such resource). One named like a template key
    the record holds no id for is that key's (``--repair`` adopts it); anything else is
    reported with no key (an operator moves it out or deletes it)."""
    environment = tenant.environment
    if environment is None or environment.render_id is None:
        return []
    held = gateway.environment_resources(environment.render_id)
    if held is None:
        return []  # the environment itself is gone: reported as missing
    recorded = {r.render_id for r in tenant.resources if r.render_id}
    template = template_of(tenant)
    recorded_keys = {r.key for r in tenant.resources if r.render_id}
    open_keys = {spec.name: spec for spec in template.resources if spec.key not in recorded_keys}
    found: list[Problem] = []
    for render_id in held:
        if render_id in recorded:
            continue
        kind = kind_of_id(render_id)
        remote = gateway.get(kind, render_id) if kind is not None else None
        name = remote.name if remote is not None else None
        spec = open_keys.get(name or "")
        key = (
            spec.key
            if spec is not None and remote is not None and remote.type == spec.render_type
            else None
        )
        what = f"{render_id}" + (f" ({name})" if name else "")
        detail = (
            f"{what} is in the tenant's environment {environment.render_id} but no record holds it"
        )
        if key is None:
            detail += "; no template key is named like it: move it out or delete it"
        found.append(Problem(key, "unrecorded", detail, render_id=render_id, name=name))
    return found


def name_problems(entries: list[KeyMatches]) -> list[Problem]:
    """``duplicate`` / ``unrecorded`` problems of the resources carrying the tenant's names."""
    found: list[Problem] = []
    for entry in entries:
        for match in entry.others:
            kind = (
                ""
                if match.type == entry.render_type
                else (f"; it is a {match.type}, the template says {entry.render_type}")
            )
            if entry.recorded:
                detail = (
                    f"{match.render_id} is also named {entry.name}; the record holds "
                    f"{entry.recorded}{kind}"
                )
                problem = "duplicate"
            else:
                detail = f"{match.render_id} is named {entry.name} but no record holds it{kind}"
                problem = "unrecorded"
            found.append(
                Problem(entry.key, problem, detail, render_id=match.render_id, name=entry.name)
            )
    return found


def _record_problems(gateway: RenderGateway, tenant: Tenant) -> list[Problem]:
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
    problems.extend(_link_problems(gateway, tenant, {p.resource for p in problems}))
    return problems


def _link_problems(
    gateway: RenderGateway, tenant: Tenant, troubled: set[str | None]
) -> list[Problem]:
    """Services not linked to a group their template gives them (one read per group; pairs
    where either side already has a problem are left to that problem)."""
    found: list[Problem] = []
    links: dict[str, list[str] | None] = {}
    for spec in template_of(tenant).resources:
        service = tenant.resource(spec.key)
        if not spec.groups or service is None or not service.render_id:
            continue
        if spec.key in troubled:
            continue
        for group_key in spec.groups:
            group = tenant.resource(group_key)
            if group is None or not group.render_id or group_key in troubled:
                continue
            if group.render_id not in links:
                links[group.render_id] = gateway.env_group_links(group.render_id)
            linked = links[group.render_id]
            if linked is not None and service.render_id not in linked:
                found.append(
                    Problem(
                        spec.key,
                        "group_unlinked",
                        f"{service.render_id} is not linked to group {group.name} "
                        f"({group.render_id})",
                    )
                )
    return found


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
    names: str | None = None,
    delete_duplicates: bool = False,
) -> CheckReport:
    """Inspect each tenant; with ``repair``, reconcile and inspect again.

    ``skip_busy`` (a ``--all`` run): a tenant another command holds is inspected without
    repair, its problems marked as not repaired, instead of failing the whole run with exit 4.
    ``names``: how Render names are looked up (duplicates, unrecorded resources) — ``"each"``
    tenant's on its own, ``"sweep"``: the whole workspace listed once (for many tenants), None:
    not at all; ``delete_duplicates``: a repair deletes duplicates (else they are reported).
    """
    lookup = _name_lookup(operator, names)
    results: list[TenantHealth] = []
    for tenant in tenants:
        if repair:
            started = time.monotonic()
            try:
                health = _repair(operator, tenant.slug, waiting, lookup, delete_duplicates)
                health.seconds = time.monotonic() - started
                results.append(health)
            except TenantNotFound:
                continue  # deleted since the list was read: nothing left to check
            except LockBusy as busy:
                if not skip_busy:
                    raise
                problems = inspect_tenant(operator.gateway, tenant, lookup)
                for problem in problems:
                    problem.detail = f"{problem.detail} (not repaired: {busy.message})"
                results.append(TenantHealth(tenant.slug, str(tenant.status), problems))
        else:
            results.append(
                TenantHealth(
                    tenant.slug,
                    str(tenant.status),
                    inspect_tenant(operator.gateway, tenant, lookup),
                )
            )
    return CheckReport(results)


def _name_lookup(operator: Operator, names: str | None) -> NameLookup | None:
    if names is None:
        return None
    if names == "sweep":
        return NameLookup(operator.store, sweep(operator.gateway, operator.store))
    if names == "each":
        return NameLookup(operator.store)
    raise ValueError(f"unknown name lookup {names!r}")


def _repair(
    operator: Operator,
    slug: str,
    waiting: Waiting,
    names: NameLookup | None,
    delete_duplicates: bool,
) -> TenantHealth:
    with operator.operation(slug) as op:
        tenant = op.tenant()
        found = inspect_tenant(op.gateway, tenant, names, fresh=True)
        op.proceed()
        failure: str | None = None
        if found:
            try:
                _reconcile(op, tenant, found, waiting, delete_duplicates)
            except ProvisioningFailed as exc:
                # Reported with the tenant's problems (exit 5 either way), so that one broken
                # tenant does not hide the others of a `--all` run.
                failure = exc.message
        after = op.tenant()
        remaining = inspect_tenant(op.gateway, after, names, fresh=True)
    left = {p.identity for p in remaining}
    for problem in found:
        problem.repaired = problem.identity not in left
        if not problem.repaired and failure:
            problem.detail = f"{problem.detail} (repair failed: {failure})"
        elif not problem.repaired and problem.problem == "duplicate" and not delete_duplicates:
            problem.detail = f"{problem.detail} (not deleted: rerun with --delete-duplicates)"
    known = {p.identity for p in found}
    problems = found + [p for p in remaining if p.identity not in known]
    return TenantHealth(slug, str(after.status), problems, repaired=bool(found))


def _reconcile(
    op: Operation,
    tenant: Tenant,
    problems: list[Problem],
    waiting: Waiting,
    delete_duplicates: bool,
) -> None:
    slug = tenant.slug
    kinds = {p.problem for p in problems}
    if tenant.status == TenantStatus.DELETING:
        return  # only `rcp tenant delete` finishes it
    _adopt_unrecorded(op, tenant, problems)
    if delete_duplicates:
        _delete_duplicates(op, tenant, problems)
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
        return
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
    # Services missing a link: the engine links them again (and deploys, so the variables
    # apply) as it does after a create. Those of a group recreated now: recreate_and_await.
    for problem in problems:
        resource = tenant.resource(problem.resource or "")
        if problem.problem != "group_unlinked" or resource is None or not resource.render_id:
            continue
        if resource.key not in recreated:
            resource.state = STATE_LINKING
            op.store.save_resource(slug, resource, lease=op.lease)
    actionable = kinds & {
        "suspended",
        "missing",
        "not_created",
        "tenant_error",
        "unrecorded",
        "group_unlinked",
    }
    if not actionable and not redeployed:
        return  # plan drift, canceled deploys, duplicates: reported (or deleted) only
    recreate_and_await(op, tenant, recreated, waiting)


def _adopt_unrecorded(op: Operation, tenant: Tenant, problems: list[Problem]) -> None:
    """A key with no recorded id and exactly one resource carrying its name (of the template's
    type) takes that resource; several stop the repair for an operator to choose."""
    by_key: dict[str, list[Problem]] = {}
    for problem in problems:
        if problem.problem == "unrecorded" and problem.resource is not None:
            by_key.setdefault(problem.resource, []).append(problem)
    template = template_of(tenant)
    for key, found in by_key.items():
        spec = template.resource(key)
        if len(found) > 1:
            listed = ", ".join(p.render_id or "?" for p in found)
            raise ProvisioningFailed(
                f"{len(found)} Render resources are named {spec.name} ({listed}) and none is "
                f"recorded; an operator must choose",
                hint=(
                    f"take one with `rcp tenant adopt {tenant.slug} --resource {key}=ID`, then "
                    f"`rcp tenant check {tenant.slug} --repair --delete-duplicates` deletes the "
                    "others"
                ),
            )
        (problem,) = found
        assert problem.render_id is not None
        remote = op.gateway.get(spec.kind, problem.render_id)
        if remote is None or remote.type != spec.render_type:
            continue  # gone since, or not what the template declares: stays reported
        resource = tenant.resource(key)
        if resource is None:
            resource = Resource(key=key, type=spec.render_type, name=spec.name)
            tenant.resources.append(resource)
        resource.render_id = remote.render_id
        resource.name = spec.name
        resource.state = remote.state
        resource.url = remote.url
        resource.deploy_id = remote.deploy_id
        op.store.save_resource(tenant.slug, resource, lease=op.lease)
        op.journal(tenant, key, "adopt", "done", render_id=remote.render_id, detail="found by name")
        op.progress.event(tenant.slug, key, f"adopted {remote.render_id} by name", remote.state)


def _delete_duplicates(op: Operation, tenant: Tenant, problems: list[Problem]) -> None:
    """Delete the resources carrying a key's name besides the recorded one, while that one
    still exists (a vanished one is replaced by a match instead: ``missing``)."""
    vanished = {p.resource for p in problems if p.problem == "missing"}
    for problem in problems:
        if problem.problem != "duplicate" or problem.resource in vanished:
            continue
        resource = tenant.resource(problem.resource or "")
        if resource is None or problem.render_id is None:
            continue
        duplicate = problem.render_id
        detail = f"duplicate of {resource.render_id}"
        op.guard()
        op.journal(
            tenant, resource.key, "delete_duplicate", "pending", render_id=duplicate, detail=detail
        )
        op.failpoint(f"delete_duplicate:{resource.key}:before")
        gone_now = op.gateway.delete(resource.kind, duplicate)
        op.failpoint(f"delete_duplicate:{resource.key}:after")
        op.journal(
            tenant, resource.key, "delete_duplicate", "done", render_id=duplicate, detail=detail
        )
        op.progress.event(
            tenant.slug,
            resource.key,
            f"deleted duplicate {duplicate}" if gone_now else f"duplicate {duplicate} already gone",
            None,
        )
