"""Row ↔ record mapping (rcp.store.records): every field of a record has its column, and a
record written through the mapping reads back equal (the repository, backup and db copy all
map through it)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

import pytest

from rcp.core.models import AuditEntry, JournalEntry, Resource, Tenant, TenantStatus
from rcp.store import records
from rcp.store.tables import audit_log, journal, tenant_resources, tenants

AT = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("record_type", "table"),
    [(Resource, tenant_resources), (JournalEntry, journal), (AuditEntry, audit_log)],
)
def test_every_field_is_a_column(record_type: type, table: object) -> None:
    columns = {column.name for column in table.c}  # type: ignore[attr-defined]
    assert {field.name for field in fields(record_type)} <= columns


class _Row:
    """A result row: the columns as attributes."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


def test_records_round_trip_through_their_values() -> None:
    resource = Resource(
        key="web", type="web_service", name="acme-web", render_id="srv-1", state="live",
        url="https://acme.example", deploy_id="dep-1", last_error="build failed",
    )
    assert records.resource_from_row(_Row(id=7, **records.resource_values(3, resource))) == resource
    entry = JournalEntry(
        tenant_slug="acme", step="create", resource_key="web", status="done",
        render_name="acme-web", render_id="srv-1", detail="x", generation=2, at=AT, id=None,
    )
    assert "id" not in records.journal_values(entry)
    assert records.journal_entry_from_row(_Row(id=None, **records.journal_values(entry))) == entry
    audit = AuditEntry(actor="a", command="rcp x", tenant="acme", outcome="ok", exit_code=0,
                       duration_ms=5, at=AT)
    assert records.audit_entry_from_row(_Row(id=None, **records.audit_values(audit))) == audit
    tenant = Tenant(
        name="Acme", slug="acme", status=TenantStatus.ACTIVE, template="default",
        rendered_template={"resources": []}, env_overrides={"web": {"K": "v"}},
        created_at=AT, updated_at=AT, fleet_managed=True,
    )
    values = records.tenant_values(tenant)
    assert set(values) <= {column.name for column in tenants.c}
    assert records.tenant_from_row(_Row(id=None, **values), []) == tenant
    summary = records.tenant_from_row(_Row(id=None, **values), [], details=False)
    assert summary.rendered_template == {} and summary.env_overrides == {}
