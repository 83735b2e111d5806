"""Ownership by name: the Render resources that carry a tenant's names.

Every resource rcp creates for a tenant is named ``<slug>-<key>`` (the template's Render name).
A resource with such a name whose id the record does not hold is still the tenant's: it bills,
and only its name ties it to the tenant. It is left by a lost or new rcp database, by a create
Render acted on after rcp had given up waiting for the answer, or by an older backup imported
over a newer record. So ``tenant check`` reports it, ``check --repair`` adopts or deletes it,
``tenant delete`` deletes it, and ``tenant create`` refuses to create a second one.

A resource recorded under another tenant (or another key of this one) is never counted as this
key's: its record says whose it is.

Lookups use Render's list endpoints filtered by name (``GET /services?name=…&ownerId=…``,
``/postgres?name=…``, ``/key-value?name=…``), one request per kind (and page) for all of a
tenant's names; ``sweep`` lists each kind of the whole workspace once for every tenant.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from rcp.core.models import RemoteResource, RenderedTemplate, ResourceKind, Tenant
from rcp.core.ports import RenderGateway, TenantStore

# The kinds Render lists by name across a workspace (the kinds tenant templates declare).
NAMED_KINDS = (ResourceKind.SERVICE, ResourceKind.POSTGRES, ResourceKind.KEY_VALUE)


@dataclass
class KeyMatches:
    """What carries one key's Render name: ``recorded`` is the record's id for the key (None
    when it holds none), ``matches`` every resource on Render with the name that no other
    tenant or key records — the recorded one among them when it still exists."""

    key: str
    name: str
    kind: ResourceKind
    render_type: str
    recorded: str | None
    matches: list[RemoteResource] = field(default_factory=list)

    @property
    def others(self) -> list[RemoteResource]:
        """The matches whose id is not the recorded one (orphans)."""
        return [m for m in self.matches if m.render_id != self.recorded]


def _named_keys(tenant: Tenant, keys: Collection[str] | None = None) -> list[KeyMatches]:
    """The template's keys of named kinds (all, or ``keys``), in template order, no matches
    yet."""
    template = RenderedTemplate.from_dict(tenant.rendered_template)
    entries = []
    for spec in template.resources:
        if spec.kind not in NAMED_KINDS or (keys is not None and spec.key not in keys):
            continue
        resource = tenant.resource(spec.key)
        entries.append(
            KeyMatches(
                key=spec.key,
                name=spec.name,
                kind=spec.kind,
                render_type=spec.render_type,
                recorded=resource.render_id if resource is not None else None,
            )
        )
    return entries


def named_resources(
    gateway: RenderGateway,
    store: TenantStore,
    tenant: Tenant,
    *,
    keys: Collection[str] | None = None,
) -> list[KeyMatches]:
    """Each template key's (or each of ``keys``') Render name looked up on Render, in
    template order: one list request (per page) per kind."""
    entries = _named_keys(tenant, keys)
    for kind in NAMED_KINDS:
        names = {entry.name: entry for entry in entries if entry.kind is kind}
        if not names:
            continue
        for remote in gateway.list_named(kind, list(names)):
            entry = names.get(remote.name)
            if entry is not None:
                entry.matches.append(remote)
    _drop_claimed_elsewhere(store, [(tenant.slug, entry) for entry in entries])
    return entries


def _drop_claimed_elsewhere(store: TenantStore, entries: list[tuple[str, KeyMatches]]) -> None:
    """A match recorded under another tenant, or another key of this one, is not this key's
    (one indexed lookup of every id)."""
    ids = {m.render_id for _, entry in entries for m in entry.matches}
    if not ids:
        return
    owners = {render_id: (owner, key) for render_id, owner, key in store.render_id_owners(ids)}
    for slug, entry in entries:
        mine = (slug, entry.key)
        entry.matches = [m for m in entry.matches if owners.get(m.render_id, mine) == mine]


def sweep(gateway: RenderGateway, store: TenantStore) -> dict[str, list[KeyMatches]]:
    """Every Render resource of the workspace (each named kind listed once, page by page)
    that carries a recorded tenant's ``<slug>-<key>`` name but whose id that key's record does
    not hold: slug → that tenant's keys with such resources (their matches include the
    recorded resource too, as ``named_resources`` gives them)."""
    from rcp.core.slugs import render_name_splits

    listed = [remote for kind in NAMED_KINDS for remote in gateway.list_named(kind, None)]
    candidates = {slug for remote in listed for slug, _ in render_name_splits(remote.name)}
    tenants = store.get_tenants(sorted(candidates)) if candidates else {}
    per_tenant: dict[str, dict[tuple[ResourceKind, str], KeyMatches]] = {}
    for remote in listed:
        for slug, _key in render_name_splits(remote.name):
            tenant = tenants.get(slug)
            if tenant is None:
                continue
            names = per_tenant.get(slug)
            if names is None:
                names = per_tenant[slug] = {
                    (entry.kind, entry.name): entry for entry in _named_keys(tenant)
                }
            entry = names.get((remote.kind, remote.name))
            if entry is not None:
                entry.matches.append(remote)
    everything = [(slug, entry) for slug, names in per_tenant.items() for entry in names.values()]
    _drop_claimed_elsewhere(store, everything)
    found: dict[str, list[KeyMatches]] = {}
    for slug, entry in everything:
        if entry.others:
            found.setdefault(slug, []).append(entry)
    return dict(sorted(found.items()))


# Names per list request when many tenants are looked up at once: Render's name filter takes an
# array in the query string, and a URL of a few kilobytes is what every proxy passes.
NAMES_PER_REQUEST = 50


def unrecorded_by_name(
    gateway: RenderGateway, store: TenantStore, wanted: dict[str, list[tuple[str, ResourceKind, str]]]
) -> dict[str, list[tuple[str, RemoteResource]]]:
    """For many tenants at once (slug → ``(key, kind, Render name)`` of the resources about to
    be created), the Render resources already carrying those names that no record holds:
    slug → ``(key, resource)``. One list request per kind per ``NAMES_PER_REQUEST`` names."""
    owner_of: dict[tuple[ResourceKind, str], tuple[str, str]] = {}
    for slug, resources in wanted.items():
        for key, kind, name in resources:
            if kind in NAMED_KINDS:
                owner_of[(kind, name)] = (slug, key)
    listed: list[RemoteResource] = []
    for kind in NAMED_KINDS:
        names = sorted(name for (of_kind, name) in owner_of if of_kind is kind)
        for start in range(0, len(names), NAMES_PER_REQUEST):
            listed.extend(gateway.list_named(kind, names[start : start + NAMES_PER_REQUEST]))
    if not listed:
        return {}
    recorded = {render_id for render_id, _slug, _key in store.render_id_owners(
        {remote.render_id for remote in listed}
    )}
    found: dict[str, list[tuple[str, RemoteResource]]] = {}
    for remote in listed:
        owner = owner_of.get((remote.kind, remote.name))
        if owner is None or remote.render_id in recorded:
            continue  # another tenant's (its record says so): the name-clash check's to refuse
        slug, key = owner
        found.setdefault(slug, []).append((key, remote))
    return found
