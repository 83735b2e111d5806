"""Reading tenant records, and the rules every use case applies to them (no Render call)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator

from rcp.core.models import (
    RenderedTemplate,
    Resource,
    ResourceKind,
    ResourceSpec,
    Tenant,
    TenantStatus,
)
from rcp.core.ports import TenantStore
from rcp.errors import ConflictError, TenantNotFound, UsageError


def get_tenant(store: TenantStore, slug: str) -> Tenant:
    tenant = store.get_tenant(slug)
    if tenant is None:
        raise TenantNotFound(
            f"tenant {slug} not found", hint="see `rcp tenant list` for the tenants on record"
        )
    return tenant


def list_tenants(store: TenantStore, status: str | None) -> list[Tenant]:
    return store.list_tenants(_status(status))


def iter_tenants(
    store: TenantStore,
    status: str | None = None,
    *,
    details: bool = False,
    revision: str | None = None,
) -> Iterator[Tenant]:
    """Every tenant (optionally of one status, or running one template revision) in slug
    order, read a page at a time: what listings stream. Without ``details`` the records lack
    rendered_template and env_overrides (the tenant JSON holds neither). ``revision`` is a
    hash prefix or a ``version:`` label (``runs_revision``)."""
    wanted = _status(status)
    if revision is None:
        return store.iter_tenants(wanted, details=details)
    check_revision_filter(revision)
    return (
        tenant
        for tenant in store.iter_tenants(wanted, details=details)
        if runs_revision(tenant, revision)
    )


# A hash prefix shorter than this could match by accident (and reads like a label).
MIN_HASH_PREFIX = 4
_HEX = frozenset("0123456789abcdef")


def check_revision_filter(value: str) -> None:
    if not value.strip() or len(value) > 64:
        raise UsageError(
            f"invalid --revision value {value!r}: give a revision hash prefix "
            f"(at least {MIN_HASH_PREFIX} hex digits) or a version label"
        )


def runs_revision(tenant: Tenant, value: str) -> bool:
    """Whether the tenant runs the revision ``value`` names: its ``version:`` label exactly,
    or a prefix (at least 4 hex digits, any case) of its hash."""
    current = tenant.template_revision
    if current is None:
        return False
    if current.label is not None and current.label == value:
        return True
    prefix = value.lower()
    return len(prefix) >= MIN_HASH_PREFIX and set(prefix) <= _HEX and current.hash.startswith(prefix)


def _status(status: str | None) -> TenantStatus | None:
    if status is None:
        return None
    try:
        return TenantStatus(status.upper())
    except ValueError:
        names = ", ".join(s.value for s in TenantStatus)
        raise UsageError(f"unknown status {status!r}; expected one of {names}") from None


def render_name_conflict(
    slug: str, wanted: Collection[str], owners: Iterable[tuple[str, str]]
) -> ConflictError | None:
    """Render names are ``<slug>-<key>`` and slugs and keys share the hyphen, so tenant ``acme``
    with key ``b-web`` and tenant ``acme-b`` with key ``web`` would both own ``acme-b-web``; a
    lookup by name would then take the other tenant's resource. The refusal for ``slug``
    needing ``wanted`` when some are owned by another tenant (``owners``: ``(render name,
    slug)`` pairs, by slug), or None. The first such tenant by slug is named."""
    others = [(name, owner) for name, owner in owners if owner != slug and name in wanted]
    if not others:
        return None
    other = others[0][1]
    clash = sorted({name for name, owner in others if owner == other})
    return ConflictError(
        f"tenant {other} already uses the Render name(s) {', '.join(clash)} "
        f"that tenant {slug} would need",
        hint="choose another slug (or another template)",
        code="render_name_conflict",
    )


def check_render_names_free(store: TenantStore, slug: str, wanted: set[str]) -> None:
    """ConflictError (exit 4) when a recorded tenant other than ``slug`` uses a name of
    ``wanted`` (an indexed lookup, whatever the number of tenants)."""
    if not wanted:
        return
    conflict = render_name_conflict(slug, wanted, store.render_name_owners(wanted))
    if conflict is not None:
        raise conflict


def refuse_deleting(tenant: Tenant, action: str) -> None:
    """A tenant half-way through ``rcp tenant delete`` only takes that command (exit 4)."""
    if tenant.status == TenantStatus.DELETING:
        raise ConflictError(
            f"tenant {tenant.slug} is being deleted; cannot {action} it",
            hint=f"finish with `rcp tenant delete {tenant.slug} --yes`",
            code="tenant_deleting",
        )


def template_of(tenant: Tenant) -> RenderedTemplate:
    return RenderedTemplate.from_dict(tenant.rendered_template)


def creation_order(tenant: Tenant) -> list[Resource]:
    """The tenant's resources in template order (dependencies first), extras last."""
    order = [spec.key for spec in template_of(tenant).resources]
    ordered = [r for key in order if (r := tenant.resource(key)) is not None]
    return ordered + [r for r in tenant.resources if r.key not in order]


def service_specs(tenant: Tenant) -> list[ResourceSpec]:
    return [s for s in template_of(tenant).resources if s.kind is ResourceKind.SERVICE]


def group_specs(tenant: Tenant, *, shared: bool | None = None) -> list[ResourceSpec]:
    """The tenant's environment groups (``shared``: only the fleet's, or only its own)."""
    return [
        s
        for s in template_of(tenant).resources
        if s.kind is ResourceKind.ENV_GROUP and (shared is None or s.shared == shared)
    ]
