"""Row ↔ domain record: the one mapping between the tables and ``rcp.core.models``.

``*_from_row`` read result rows (they expose the columns as attributes); ``*_values`` give
the column values of a record, for ``insert(table).values(...)`` or ``update(...)``. The repository
(``rcp.store.repository``) and the transfers (``rcp.store.transfer``: backup, db copy) both use
them, so a column added to a table is mapped in one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rcp.core.models import AuditEntry, JournalEntry, Resource, Tenant, TenantStatus

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
    )


def tenant_values(
    tenant: Tenant, *, created_at: datetime | None = None, updated_at: datetime | None = None
) -> dict[str, Any]:
    """The tenant row of ``tenant`` (its own timestamps unless others are given); resources
    are rows of their own (``resource_values``)."""
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
        "created_at": created_at or tenant.created_at,
        "updated_at": updated_at or tenant.updated_at,
    }


# ----------------------------------------------------------------------------- resources


def resource_from_row(row: Any) -> Resource:
    return Resource(
        key=row.key,
        type=row.type,
        name=row.name,
        render_id=row.render_id,
        state=row.state,
        url=row.url,
        deploy_id=row.deploy_id,
        last_error=row.last_error,
    )


def resource_values(tenant_id: int, resource: Resource) -> dict[str, Any]:
    """The row of ``resource`` under the tenant row ``tenant_id``."""
    return {
        "tenant_id": tenant_id,
        "key": resource.key,
        "type": resource.type,
        "name": resource.name,
        "render_id": resource.render_id,
        "state": resource.state,
        "url": resource.url,
        "deploy_id": resource.deploy_id,
        "last_error": resource.last_error,
    }


# ------------------------------------------------------------------------------- journal


def journal_entry_from_row(row: Any) -> JournalEntry:
    return JournalEntry(
        id=row.id,
        tenant_slug=row.tenant_slug,
        step=row.step,
        resource_key=row.resource_key,
        status=row.status,
        render_name=row.render_name,
        render_id=row.render_id,
        detail=row.detail,
        generation=row.generation,
        at=row.at,
    )


def journal_values(entry: JournalEntry) -> dict[str, Any]:
    """A new journal row (the database assigns its id)."""
    return {
        "tenant_slug": entry.tenant_slug,
        "step": entry.step,
        "resource_key": entry.resource_key,
        "status": entry.status,
        "render_name": entry.render_name,
        "render_id": entry.render_id,
        "detail": entry.detail,
        "generation": entry.generation,
        "at": entry.at,
    }


# --------------------------------------------------------------------------------- audit


def audit_entry_from_row(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        command=row.command,
        tenant=row.tenant,
        outcome=row.outcome,
        exit_code=row.exit_code,
        duration_ms=row.duration_ms,
    )


def audit_values(entry: AuditEntry) -> dict[str, Any]:
    """A new audit row (the database assigns its id)."""
    return {
        "at": entry.at,
        "actor": entry.actor,
        "command": entry.command,
        "tenant": entry.tenant,
        "outcome": entry.outcome,
        "exit_code": entry.exit_code,
        "duration_ms": entry.duration_ms,
    }
