"""The fleet plan: desired tenants (the fleet file) against the records, nothing else.

A plan is computed from the database alone — no Render call — so ``rcp plan`` is fast, free of
API budget, and the same records make the same plan. Records are what rcp last made true on
Render (a tenant stores the rendered template it was provisioned from and its env overrides;
``apply`` updates both after changing Render), so "differs from the record" is "needs a call".

Per tenant the action is ``create`` (no record), ``update`` (a real difference: record fields,
resources to add or remove, patchable fields, env values, or an unfinished provisioning to
resume), ``delete`` (on record, not in the file, with prune) or ``noop``. Env values never
appear in a plan: only their keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from rcp.core.cost import PriceTable, money, price_tenant
from rcp.core.fleet.spec import ALL_SERVICES, DesiredTenant, FleetFile
from rcp.core.models import (
    EnvVarSpec,
    RenderedTemplate,
    ResourceKind,
    ResourceSpec,
    Tenant,
    TenantStatus,
)
from rcp.core.ports import TenantStore
from rcp.core.provisioning import READY_STATES

Action = Literal["create", "update", "delete", "noop"]
# `apply --prune` deletes at most this share of the managed tenants (at least 1) unless
# --allow-mass-delete: an emptied or truncated fleet file must not wipe the fleet.
MASS_DELETE_PERCENT = 10.0

# Create-body fields Render lets us PATCH in place, per kind (dotted paths into the body).
# Anything else that differs (region, runtime family, Postgres version, …) needs a new resource.
PATCHABLE: dict[ResourceKind, frozenset[str]] = {
    ResourceKind.SERVICE: frozenset(
        {
            "repo",
            "branch",
            "autoDeploy",
            "rootDir",
            "serviceDetails.plan",
            "serviceDetails.runtime",
            "serviceDetails.healthCheckPath",
            "serviceDetails.preDeployCommand",
            "serviceDetails.schedule",
            "serviceDetails.envSpecificDetails.buildCommand",
            "serviceDetails.envSpecificDetails.startCommand",
            "serviceDetails.envSpecificDetails.dockerCommand",
            "serviceDetails.envSpecificDetails.dockerContext",
            "serviceDetails.envSpecificDetails.dockerfilePath",
        }
    ),
    ResourceKind.POSTGRES: frozenset(
        {"plan", "diskSizeGB", "enableHighAvailability", "enableDiskAutoscaling", "ipAllowList"}
    ),
    ResourceKind.KEY_VALUE: frozenset({"plan", "maxmemoryPolicy", "ipAllowList"}),
    # A tenant's environment (spec ``environmentPATCHInput``); its project has nothing of the
    # template's to change (its name is the slug's).
    ResourceKind.ENVIRONMENT: frozenset(
        {"protectedStatus", "networkIsolationEnabled", "ipAllowList"}
    ),
    ResourceKind.PROJECT: frozenset(),
}
# Create-body fields that matter only when the resource is created: a per-tenant project is
# created with its environment's settings, which later change on the environment itself.
CREATE_ONLY: dict[ResourceKind, frozenset[str]] = {
    ResourceKind.PROJECT: frozenset({"environments"}),
}
# Fields whose removal from a template can be expressed as a PATCH (an empty string clears them).
CLEARABLE = frozenset({"rootDir", "serviceDetails.preDeployCommand"})


@dataclass
class ResourceUpdate:
    """An existing resource whose template definition changed."""

    key: str
    kind: ResourceKind
    patch: dict[str, Any]  # the PATCH body; empty when only unsupported paths changed
    changed: list[str]  # dotted paths that change in place
    unsupported: list[str]  # dotted paths that cannot change in place


@dataclass
class EnvUpdate:
    """Env var changes of one existing service (values never leave this object)."""

    key: str
    set: dict[str, str] = field(default_factory=dict)  # literal values to PUT
    resolve: list[EnvVarSpec] = field(default_factory=list)  # template-sourced: compute, PUT
    unset: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.set or self.resolve or self.unset)


@dataclass
class LinkUpdate:
    """Environment groups a service gains (link) or loses (unlink) with the new template."""

    key: str
    link: list[str] = field(default_factory=list)
    unlink: list[str] = field(default_factory=list)


@dataclass
class TenantChange:
    slug: str
    action: Action
    desired: DesiredTenant | None = None
    recorded: Tenant | None = None
    details: list[dict[str, Any]] = field(default_factory=list)
    # resources that apply will create: (key, kind), in creation order
    creates: list[tuple[str, ResourceKind]] = field(default_factory=list)
    resource_updates: list[ResourceUpdate] = field(default_factory=list)
    env_updates: list[EnvUpdate] = field(default_factory=list)
    link_updates: list[LinkUpdate] = field(default_factory=list)
    removed_resources: list[str] = field(default_factory=list)
    record_changed: bool = False  # name / template / plugin repo / rendered template / overrides
    revision_changed: bool = False  # the file's template revision is not the recorded one
    resume: bool = False  # an unfinished provisioning to finish
    blocked: str | None = None  # why apply must refuse this tenant (e.g. being deleted)
    # Monthly USD of the recorded and of the desired resources (None: a plan the price table
    # does not know; 0 for a side that does not exist); set by ``price_plan``.
    cost_before: Decimal | None = None
    cost_after: Decimal | None = None
    priced: bool = False

    @property
    def cost_change(self) -> Decimal | None:
        if self.cost_before is None or self.cost_after is None:
            return None
        return self.cost_after - self.cost_before

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"slug": self.slug, "action": self.action, "details": self.details}
        before, after = revision_change(self.recorded, self.desired)
        data["revision"] = {"from": before, "to": after}
        if self.priced:
            data["cost"] = {
                "monthly_usd_before": money(self.cost_before),
                "monthly_usd_after": money(self.cost_after),
                "monthly_usd_change": money(self.cost_change),
            }
        return data

    @property
    def unsupported(self) -> list[str]:
        return [
            f"{update.key}.{path}"
            for update in self.resource_updates
            for path in update.unsupported
        ]


@dataclass
class FleetPlan:
    changes: list[TenantChange]
    # Tenants on record but not in the file that stay as they are: without prune, all of them;
    # with prune, those no fleet apply created or updated (made by hand, adopted, imported).
    unmanaged: list[str] = field(default_factory=list)
    prune: bool = False
    # Recorded tenants that a fleet file manages (counted with prune: the mass-delete guard).
    managed_total: int = 0
    # SHA-256 over the records the plan read (see ``records_fingerprint``).
    records_fingerprint: str = ""
    # The price table's date and currency once ``price_plan`` ran.
    prices_as_of: str | None = None
    currency: str | None = None

    def delete_threshold(self, percent: float = MASS_DELETE_PERCENT) -> int:
        """Most tenants apply may delete without --allow-mass-delete: ``percent`` of the
        managed tenants, at least 1."""
        return max(1, int(self.managed_total * percent / 100))

    @property
    def cost_change(self) -> Decimal | None:
        total = Decimal(0)
        for change in self.changes:
            if change.cost_change is None:
                return None
            total += change.cost_change
        return total

    def summary(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "delete": 0, "noop": 0}
        for change in self.changes:
            counts[change.action] += 1
        return counts

    @property
    def pending(self) -> list[TenantChange]:
        return [c for c in self.changes if c.action != "noop"]

    @property
    def deletions(self) -> list[TenantChange]:
        return [c for c in self.changes if c.action == "delete"]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "changes": [c.to_json() for c in self.changes],
            "summary": self.summary(),
            "unmanaged": list(self.unmanaged),
        }
        if self.prices_as_of is not None:
            data["cost"] = {
                "currency": self.currency,
                "prices_as_of": self.prices_as_of,
                "monthly_usd_change": money(self.cost_change),
            }
        return data


def price_plan(plan: FleetPlan, prices: PriceTable) -> FleetPlan:
    """Give each change its monthly cost before and after (the price table of ``rcp cost``)."""
    for change in plan.changes:
        before = change.recorded.rendered_template if change.recorded is not None else None
        after = change.desired.rendered if change.desired is not None else None
        if change.action == "delete":
            after = None
        change.cost_before = _monthly(before, prices)
        change.cost_after = _monthly(after, prices)
        change.priced = True
    plan.prices_as_of = prices.prices_as_of.isoformat()
    plan.currency = prices.currency
    return plan


def _monthly(rendered: dict[str, Any] | None, prices: PriceTable) -> Decimal | None:
    if not rendered:
        return Decimal(0)
    shell = Tenant(
        name="-", slug="-", status=TenantStatus.ACTIVE, template="-", rendered_template=rendered
    )
    total = Decimal(0)
    for item in price_tenant(shell, prices):
        if item.monthly_usd is None:
            return None
        total += item.monthly_usd
    return total


def records_fingerprint(recorded: Iterable[Tenant], slugs: Iterable[str]) -> str:
    """SHA-256 over what a plan reads from the records: every recorded slug, and of each record
    read its definition, status, fleet flag and resources. A saved plan is refused when it
    changed (someone created, deleted or changed a tenant since)."""
    import hashlib
    import json

    def of(tenant: Tenant) -> dict[str, Any]:
        return {
            "slug": tenant.slug,
            "name": tenant.name,
            "status": str(tenant.status),
            "template": tenant.template,
            "plugin_repo": tenant.custom_plugin_repo,
            "rendered": tenant.rendered_template,
            # Values matter (a change is a change) but never leave this hash.
            "env": tenant.env_overrides,
            "fleet_managed": tenant.fleet_managed,
            "resources": [[r.key, r.type, r.name, r.render_id, r.state] for r in tenant.resources],
        }

    document = {
        "slugs": sorted(slugs),
        "tenants": [of(t) for t in sorted(recorded, key=lambda t: t.slug)],
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def plan_fleet(fleet: FleetFile, store: TenantStore, *, prune: bool) -> FleetPlan:
    """The plan of ``fleet`` against the records, reading only what it needs: the tenants the
    file names, the list of recorded slugs, and (with ``prune``) the tenants to delete."""
    wanted = set(fleet.slugs())
    recorded = store.get_tenants(wanted)
    slugs = store.list_slugs()
    if prune:
        recorded.update(store.get_tenants(slug for slug in slugs if slug not in wanted))
    plan = compute_plan(fleet, list(recorded.values()), prune=prune, recorded_slugs=slugs)
    plan.records_fingerprint = records_fingerprint(recorded.values(), slugs)
    return plan


def compute_plan(
    fleet: FleetFile,
    recorded: list[Tenant],
    *,
    prune: bool,
    recorded_slugs: Iterable[str] | None = None,
) -> FleetPlan:
    """``recorded``: the records of the file's tenants (and, with ``prune``, of every other
    tenant); ``recorded_slugs``: every recorded slug (default: those of ``recorded``)."""
    by_slug = {t.slug: t for t in recorded}
    changes = [diff_tenant(desired, by_slug.get(desired.slug)) for desired in fleet.tenants]
    wanted = set(fleet.slugs())
    every_slug = by_slug if recorded_slugs is None else recorded_slugs
    strays = sorted(slug for slug in every_slug if slug not in wanted)
    if not prune:
        return FleetPlan(changes=changes, unmanaged=strays)
    kept: list[str] = []
    for slug in strays:
        tenant = by_slug[slug]
        if not tenant.fleet_managed:
            kept.append(slug)  # made by hand, adopted or imported: prune never deletes it
            continue
        details = [
            {
                "change": "delete_resource",
                "resource": r.key,
                "type": r.type,
                "render_id": r.render_id,
            }
            for r in tenant.resources
        ]
        changes.append(TenantChange(slug=slug, action="delete", recorded=tenant, details=details))
    managed = sum(1 for tenant in by_slug.values() if tenant.fleet_managed)
    return FleetPlan(changes=changes, unmanaged=kept, prune=True, managed_total=managed)


def diff_tenant(desired: DesiredTenant, recorded: Tenant | None) -> TenantChange:
    template = desired.template
    if recorded is None:
        change = TenantChange(slug=desired.slug, action="create", desired=desired)
        change.creates = [(spec.key, spec.kind) for spec in template.resources]
        change.details = [_create_detail(spec) for spec in template.resources]
        env_keys = sorted({k for values in desired.env_overrides.values() for k in values})
        if env_keys:
            change.details.append({"change": "env", "set": env_keys})
        return change
    change = TenantChange(slug=desired.slug, action="noop", desired=desired, recorded=recorded)
    if recorded.status == TenantStatus.DELETING:
        change.action = "update"
        change.blocked = f"tenant {desired.slug} is being deleted; finish with `rcp tenant delete {desired.slug} --yes`"
        change.details.append({"change": "blocked", "reason": "being deleted"})
        return change
    _diff_record(desired, recorded, change)
    old = RenderedTemplate.from_dict(recorded.rendered_template)
    old_specs = {spec.key: spec for spec in old.resources}
    for spec in template.resources:
        resource = recorded.resource(spec.key)
        previous = old_specs.get(spec.key)
        if previous is None or resource is None or not resource.render_id:
            change.creates.append((spec.key, spec.kind))
            if previous is None:
                change.details.append(_create_detail(spec))
            continue
        if previous.render_type != spec.render_type:
            update = ResourceUpdate(spec.key, spec.kind, {}, [], ["type"])
        elif spec.kind is ResourceKind.ENVIRONMENT and old.isolation != template.isolation:
            # Another project (shared ↔ own, or another shared one): Render cannot move an
            # environment between projects.
            update = ResourceUpdate(spec.key, spec.kind, {}, [], ["isolation.project"])
        else:
            update = _diff_body(spec.key, spec.kind, previous.body, spec.body)
        if update.changed or update.unsupported:
            change.resource_updates.append(update)
            detail: dict[str, Any] = {"change": "update_resource", "resource": spec.key}
            if update.changed:
                detail["fields"] = {
                    path: {"from": _get(previous.body, path), "to": _get(spec.body, path)}
                    for path in update.changed
                }
            if update.unsupported:
                detail["unsupported"] = update.unsupported
            change.details.append(detail)
    for spec in old.resources:
        if spec.key not in {s.key for s in template.resources}:
            change.removed_resources.append(spec.key)
            resource = recorded.resource(spec.key)
            change.details.append(
                {
                    "change": "delete_resource",
                    "resource": spec.key,
                    "type": spec.render_type,
                    "render_id": resource.render_id if resource else None,
                }
            )
    _diff_env(desired, recorded, old, change)
    _diff_links(desired, recorded, old, change)
    incomplete = [
        r.key
        for r in recorded.resources
        if r.key in {s.key for s in template.resources}
        and r.render_id
        and r.state not in READY_STATES
    ]
    if recorded.status in (TenantStatus.PROVISIONING, TenantStatus.ERROR) or (
        recorded.status == TenantStatus.ACTIVE
        and any(key for key, _ in change.creates if key in old_specs)
    ):
        change.resume = True
        change.details.append(
            {
                "change": "resume",
                "status": str(recorded.status),
                "missing": [key for key, _ in change.creates if key in old_specs],
                "not_ready": incomplete,
            }
        )
    if change.revision_changed and not change.details and not change.creates:
        before, after = revision_change(recorded, desired)
        change.details.append({"change": "revision", "from": before, "to": after})
    if change.record_changed and not change.details and not change.creates:
        # e.g. an override moved from every service to the only one: Render keeps its values.
        change.details.append({"change": "record", "reason": "stored definition only"})
    if change.details or change.creates or change.removed_resources:
        change.action = "update"
    if recorded.status == TenantStatus.SUSPENDED and change.action == "update":
        change.details.append(
            {"change": "note", "reason": "suspended: no deploy now; changes take effect on resume"}
        )
    return change


def _create_detail(spec: ResourceSpec) -> dict[str, Any]:
    return {
        "change": "create_resource",
        "resource": spec.key,
        "type": spec.render_type,
        "plan": spec.plan,
    }


def _diff_record(desired: DesiredTenant, recorded: Tenant, change: TenantChange) -> None:
    for label, old, new in (
        ("name", recorded.name, desired.name),
        ("template", recorded.template, desired.template_name),
        ("plugin_repo", recorded.custom_plugin_repo, desired.plugin_repo),
        ("tier", recorded.tier, desired.tier),
    ):
        if old != new:
            change.details.append({"change": label, "from": old, "to": new})
            change.record_changed = True
    before, after = revision_change(recorded, desired)
    if before is not None and after is not None and before["hash"] != after["hash"]:
        # A new revision is worth an apply even when Render sees no difference (a relabel, a
        # record backfilled to another revision): apply records it. Shown as the change's
        # "revision", and as a detail of its own when it is the only difference. A record with
        # no revision yet (adopted, imported, never ACTIVE) gets one with its next real change.
        change.revision_changed = True
        change.record_changed = True
    if _without_revision(recorded.rendered_template) != _without_revision(desired.rendered):
        change.record_changed = True
    if _normalised(recorded.env_overrides) != _normalised(desired.env_overrides):
        change.record_changed = True


def revision_change(
    recorded: Tenant | None, desired: DesiredTenant | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The tenant's revision now and the one the fleet file gives it, each ``{"hash",
    "short", "label"}`` (None: no record, no revision on record, or not in the file)."""
    from rcp.core.templates.revisions import short_hash

    before = after = None
    if recorded is not None and recorded.template_revision is not None:
        ref = recorded.template_revision
        before = {"hash": ref.hash, "short": short_hash(ref.hash), "label": ref.label}
    if desired is not None:
        carried = desired.rendered.get("revision")
        if isinstance(carried, dict) and carried.get("hash"):
            digest = str(carried["hash"])
            after = {"hash": digest, "short": short_hash(digest), "label": carried.get("label")}
    return before, after


def _without_revision(rendered: dict[str, Any]) -> dict[str, Any]:
    """What a rendering says to Render: its revision is the record's, compared on its own."""
    return {key: value for key, value in rendered.items() if key != "revision"}


def _normalised(overrides: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {key: dict(values) for key, values in overrides.items() if values}


def _flatten(body: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in body.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def _get(body: dict[str, Any], path: str) -> Any:
    node: Any = body
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = body
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _diff_body(
    key: str, kind: ResourceKind, old: dict[str, Any], new: dict[str, Any]
) -> ResourceUpdate:
    old_flat, new_flat = _flatten(old), _flatten(new)
    update = ResourceUpdate(key, kind, {}, [], [])
    for path in sorted(set(old_flat) | set(new_flat)):
        before, after = old_flat.get(path), new_flat.get(path)
        if before == after or path in CREATE_ONLY.get(kind, ()):
            continue
        if path not in PATCHABLE.get(kind, frozenset()):
            update.unsupported.append(path)
        elif path not in new_flat:
            if path in CLEARABLE:
                _put(update.patch, path, "")
                update.changed.append(path)
            else:
                update.unsupported.append(path)
        else:
            _put(update.patch, path, after)
            update.changed.append(path)
    return update


def effective_env(
    spec: ResourceSpec, overrides: dict[str, dict[str, str]]
) -> tuple[dict[str, str], dict[str, EnvVarSpec]]:
    """What rcp sets on one service (or environment group): literal values (template values
    under the tenant's overrides, as the engine resolves them) and the template-sourced vars no
    override hides. A group takes only its own overrides (``--group``), not every service's."""
    literal = {var.key: var.value for var in spec.env if var.value is not None}
    merged: dict[str, str] = {}
    if spec.kind is not ResourceKind.ENV_GROUP:
        merged.update(overrides.get(ALL_SERVICES, {}))
    merged.update(overrides.get(spec.key, {}))
    literal.update(merged)
    sourced = {var.key: var for var in spec.env if var.value is None and var.key not in literal}
    return {k: v for k, v in literal.items() if v is not None}, sourced


def _diff_env(
    desired: DesiredTenant, recorded: Tenant, old: RenderedTemplate, change: TenantChange
) -> None:
    old_specs = {spec.key: spec for spec in old.resources}
    for spec in desired.template.resources:
        previous = old_specs.get(spec.key)
        resource = recorded.resource(spec.key)
        # A group the fleet shares has the fleet's values (`rcp group env`), not a tenant's.
        own_group = spec.kind is ResourceKind.ENV_GROUP and not spec.shared
        if (
            (spec.kind is not ResourceKind.SERVICE and not own_group)
            or previous is None
            or previous.shared != spec.shared
            or previous.render_type != spec.render_type
            or resource is None
            or not resource.render_id
        ):
            continue  # created with its full env, or not a service
        old_literal, old_sourced = effective_env(previous, recorded.env_overrides)
        new_literal, new_sourced = effective_env(spec, desired.env_overrides)
        update = EnvUpdate(spec.key)
        for env_key, value in sorted(new_literal.items()):
            if old_literal.get(env_key) != value:
                update.set[env_key] = value
        for env_key, var in sorted(new_sourced.items()):
            before = old_sourced.get(env_key)
            if before is None or before.to_dict() != var.to_dict():
                # Newly sourced, or an override removed: compute the template's value again.
                update.resolve.append(var)
        for env_key in sorted(set(old_literal) | set(old_sourced)):
            if env_key not in new_literal and env_key not in new_sourced:
                update.unset.append(env_key)
        if update:
            change.env_updates.append(update)
            detail: dict[str, Any] = {"change": "env", "resource": spec.key}
            if own_group:
                detail["group"] = True
            if update.set:
                detail["set"] = sorted(update.set)
            if update.resolve:
                detail["from_template"] = sorted(var.key for var in update.resolve)
            if update.unset:
                detail["unset"] = update.unset
            change.details.append(detail)


def _diff_links(
    desired: DesiredTenant, recorded: Tenant, old: RenderedTemplate, change: TenantChange
) -> None:
    """Groups an existing service gains or loses (``fromGroup`` added or removed). A service
    created now is linked by the engine after its create."""
    old_specs = {spec.key: spec for spec in old.resources}
    for spec in desired.template.resources:
        previous = old_specs.get(spec.key)
        resource = recorded.resource(spec.key)
        if (
            spec.kind is not ResourceKind.SERVICE
            or previous is None
            or resource is None
            or not resource.render_id
        ):
            continue
        update = LinkUpdate(
            spec.key,
            link=[g for g in spec.groups if g not in previous.groups],
            unlink=[g for g in previous.groups if g not in spec.groups],
        )
        if update.link or update.unlink:
            change.link_updates.append(update)
            detail: dict[str, Any] = {"change": "groups", "resource": spec.key}
            if update.link:
                detail["link"] = update.link
            if update.unlink:
                detail["unlink"] = update.unlink
            change.details.append(detail)
