"""Row ↔ domain record: the one mapping between the tables and ``rcp.core.models``.

``*_from_row`` read result rows (they expose the columns as attributes); ``*_values`` give
the column values of a record, for ``insert(table).values(...)`` or ``update(...)``. The repository
(``rcp.store.repository``) and the transfers (``rcp.store.transfer``: backup, db copy) both use
them, so a column added to a table is mapped in one place.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar

from rcp.core.models import (
    AuditEntry,
    JournalEntry,
    Resource,
    Tenant,
    TenantRevision,
    TenantStatus,
)

R = TypeVar("R")

# ------------------------------------------------------------------------------- tenants


def tenant_from_row(row: Any, resources: list[Resource], *, details: bool = True) -> Tenant:
    """``details=False``: a summary row, read without the rendered template and the env
    overrides (listings that do not show them need not load them)."""
    return Tenant(
        id=row.id,
        name=row.name,
        slug=row.slug,
        status=TenantStatus(row.status),
        template=row.template,
        rendered_template=row.rendered_template if details else {},
        custom_plugin_repo=row.custom_plugin_repo,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_error=row.last_error,
        env_overrides=row.env_overrides if details else {},
        resources=resources,
        fleet_managed=bool(row.fleet_managed),
        render_api_url=row.render_api_url,
        render_owner_id=row.render_owner_id,
        template_revision=(
            TenantRevision(row.revision_hash, row.revision_label, row.revision_at)
            if row.revision_hash
            else None
        ),
        tier=row.tier,
    )


def tenant_values(
    tenant: Tenant, *, created_at: datetime | None = None, updated_at: datetime | None = None
) -> dict[str, Any]:
    """The tenant row of ``tenant`` (its own timestamps unless others are given); resources
    are rows of their own (``resource_values``)."""
    revision = tenant.template_revision
    return {
        "name": tenant.name,
        "slug": tenant.slug,
        "status": str(tenant.status),
        "template": tenant.template,
        "rendered_template": tenant.rendered_template,
        "custom_plugin_repo": tenant.custom_plugin_repo,
        "env_overrides": tenant.env_overrides,
        "last_error": tenant.last_error,
        "fleet_managed": tenant.fleet_managed,
        "render_api_url": tenant.render_api_url,
        "render_owner_id": tenant.render_owner_id,
        "revision_hash": revision.hash if revision else None,
        "revision_label": revision.label if revision else None,
        "revision_at": revision.since if revision else None,
        "tier": tenant.tier,
        "created_at": created_at or tenant.created_at,
        "updated_at": updated_at or tenant.updated_at,
    }


# ------------------------------------------------- resources, journal, audit: column = field
#
# These records map one to one onto their tables: each field is the column of the same name
# (``id`` is the database's, never written). A field added to the record is a column to add to
# the table and a migration — not a line here.

_RESOURCE_FIELDS = tuple(f.name for f in fields(Resource))
_JOURNAL_FIELDS = tuple(f.name for f in fields(JournalEntry))
_AUDIT_FIELDS = tuple(f.name for f in fields(AuditEntry))


def _record(record_type: type[R], names: tuple[str, ...], row: Any) -> R:
    return record_type(**{name: getattr(row, name) for name in names})


def _values(record: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(record, name) for name in names if name != "id"}


def resource_from_row(row: Any) -> Resource:
    return _record(Resource, _RESOURCE_FIELDS, row)


def resource_values(tenant_id: int, resource: Resource) -> dict[str, Any]:
    """The row of ``resource`` under the tenant row ``tenant_id``."""
    return {"tenant_id": tenant_id, **_values(resource, _RESOURCE_FIELDS)}


def journal_entry_from_row(row: Any) -> JournalEntry:
    return _record(JournalEntry, _JOURNAL_FIELDS, row)


def journal_values(entry: JournalEntry) -> dict[str, Any]:
    """A new journal row (the database assigns its id)."""
    return _values(entry, _JOURNAL_FIELDS)


def audit_entry_from_row(row: Any) -> AuditEntry:
    return _record(AuditEntry, _AUDIT_FIELDS, row)


def audit_values(entry: AuditEntry) -> dict[str, Any]:
    """A new audit row (the database assigns its id)."""
    return _values(entry, _AUDIT_FIELDS)
