"""Moving control-plane state in and out of a database: backup snapshots and ``db copy``.

``SnapshotStore`` gives ``rcp.core.backup`` what export and import need (a consistent read of
everything, the restore of whole tenants in one fenced transaction). ``copy_database`` copies
every table, row ids included, into another, empty database and checks the result.

Reads that must see one moment use one transaction: SQLite's ``BEGIN IMMEDIATE`` (see
``engine``) already gives that, Postgres runs them ``REPEATABLE READ``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, delete, func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError

from rcp.core.backup import Snapshot, TenantBackup, audit_identity
from rcp.core.models import AuditEntry, JournalEntry, Lease, LockHolder, Resource, Tenant
from rcp.errors import ConflictError, LockLost, RcpError, StoreError
from rcp.store.engine import READ_ONLY_OPTION, database_error, scrub
from rcp.store.records import (
    audit_entry_from_row,
    audit_values,
    journal_entry_from_row,
    journal_values,
    resource_from_row,
    resource_values,
    tenant_from_row,
    tenant_values,
)
from rcp.store.repository import PAGE_SIZE, SqlStore
from rcp.store.tables import audit_log as _audit
from rcp.store.tables import journal as _journal
from rcp.store.tables import metadata
from rcp.store.tables import tenant_locks as _locks
from rcp.store.tables import tenant_resources as _resources
from rcp.store.tables import tenants as _tenants

T = TypeVar("T")

# Parents before children (foreign keys); the same order empties them in reverse.
COPY_ORDER = (
    "tenants",
    "tenant_resources",
    "journal",
    "tenant_locks",
    "audit_log",
    "api_tokens",
    "template_revisions",
    "rollouts",
    "rollout_steps",
)
# Lease holder columns: a copy starts with every lease released (generation kept, so fencing
# numbers only ever grow for a slug).
_LOCK_HOLDER_COLUMNS = ("actor", "host", "pid", "command", "acquired_at", "heartbeat_at")


def _store_error(store: SqlStore, exc: SQLAlchemyError, raw_url: str | None) -> RcpError:
    # Lost connection, busy, disk full → exit 75 (the copy/import is all or nothing: rerun).
    classified = database_error(exc, raw_url or store.url)
    if classified is not None:
        return classified
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    reason = lines[0] if lines else type(orig).__name__
    if raw_url is not None:
        reason = scrub(reason, raw_url)
    return StoreError(f"database error ({store.url}): {reason}")


@contextmanager
def _connection(
    store: SqlStore,
    *,
    snapshot: bool = False,
    raw_url: str | None = None,
    read_only: bool = False,
) -> Iterator[Connection]:
    """One transaction on ``store``; ``snapshot`` makes Postgres read a single moment;
    ``read_only`` lets SQLite read its snapshot without taking the write lock (a streamed
    export may last as long as its reader takes)."""
    engine = store.engine
    try:
        with engine.connect() as connection:
            if read_only:
                connection.execution_options(**{READ_ONLY_OPTION: True})
            if snapshot and store.dialect == "postgresql":
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                yield connection
    except SQLAlchemyError as exc:
        raise _store_error(store, exc, raw_url) from None


def _run(
    store: SqlStore,
    work: Callable[[Connection], T],
    *,
    snapshot: bool = False,
    raw_url: str | None = None,
) -> T:
    """``work`` in one transaction. ``raw_url`` (with its password) lets driver messages be
    scrubbed of that password; the store's own URL is masked by the output layer anyway."""
    with _connection(store, snapshot=snapshot, raw_url=raw_url) as connection:
        return work(connection)


# ----------------------------------------------------------------------------- snapshots


class SnapshotStore:
    """``rcp.core.backup.BackupStore`` on a ``SqlStore``."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def read_snapshot(self) -> Snapshot:
        """Every tenant (resources, env overrides, journal) and the whole audit log."""

        def work(connection: Connection) -> Snapshot:
            tenant_rows = connection.execute(select(_tenants).order_by(_tenants.c.slug)).all()
            resources: dict[int, list[Resource]] = {}
            for row in connection.execute(select(_resources).order_by(_resources.c.id)):
                resources.setdefault(row.tenant_id, []).append(resource_from_row(row))
            journals: dict[str, list[JournalEntry]] = {}
            for row in connection.execute(select(_journal).order_by(_journal.c.id)):
                journals.setdefault(row.tenant_slug, []).append(journal_entry_from_row(row))
            audit = [
                audit_entry_from_row(row)
                for row in connection.execute(select(_audit).order_by(_audit.c.id))
            ]
            return Snapshot(
                tenants=[
                    TenantBackup(
                        tenant=tenant_from_row(row, resources.get(row.id, [])),
                        journal=journals.get(row.slug, []),
                    )
                    for row in tenant_rows
                ],
                audit=audit,
            )

        return _run(self.store, work, snapshot=True)

    @contextmanager
    def streamed_snapshot(self) -> Iterator[SnapshotReader]:
        """One read-only snapshot transaction for as long as the block runs; its reader yields
        the tenants and audit entries a page at a time (memory independent of their number)."""
        with _connection(self.store, snapshot=True, read_only=True) as connection:
            yield SnapshotReader(connection)

    def existing_tenants(self, slugs: Sequence[str]) -> dict[str, Tenant]:
        return self.store.get_tenants(slugs)

    def existing_audit(self) -> set[tuple[Any, ...]]:
        def work(connection: Connection) -> set[tuple[Any, ...]]:
            return {audit_identity(audit_entry_from_row(row)) for row in connection.execute(select(_audit))}

        return _run(self.store, work)

    def acquire_lock(self, slug: str, holder: LockHolder, *, wait_seconds: float = 0.0) -> Lease:
        return self.store.acquire_lock(slug, holder, wait_seconds=wait_seconds)

    def release_lock(self, lease: Lease) -> None:
        self.store.release_lock(lease)

    def restore(
        self,
        tenants: Sequence[TenantBackup],
        audit: Sequence[AuditEntry],
        leases: Sequence[Lease],
    ) -> None:
        def work(connection: Connection) -> None:
            for lease in leases:
                _fence(connection, lease)
            for item in tenants:
                _replace_tenant(connection, item)
            for entry in audit:
                connection.execute(insert(_audit).values(**audit_values(entry)))

        _run(self.store, work)


class SnapshotReader:
    """The tenants (resources, journal) and audit log of one snapshot, ``PAGE_SIZE`` rows per
    query: keyset pages on the slug (tenants) and the id (audit)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def tenants(self) -> Iterator[TenantBackup]:
        after: str | None = None
        while True:
            query = select(_tenants).order_by(_tenants.c.slug).limit(PAGE_SIZE)
            if after is not None:
                query = query.where(_tenants.c.slug > after)
            rows = self._connection.execute(query).all()
            if not rows:
                return
            first, last = rows[0].slug, rows[-1].slug
            resources: dict[int, list[Resource]] = {row.id: [] for row in rows}
            in_range = (
                select(_resources)
                .join(_tenants, _tenants.c.id == _resources.c.tenant_id)
                .where(_tenants.c.slug >= first, _tenants.c.slug <= last)
                .order_by(_resources.c.id)
            )
            for row in self._connection.execute(in_range):
                resources[row.tenant_id].append(resource_from_row(row))
            journals: dict[str, list[JournalEntry]] = {row.slug: [] for row in rows}
            journal_range = (
                select(_journal)
                .where(_journal.c.tenant_slug >= first, _journal.c.tenant_slug <= last)
                .order_by(_journal.c.id)
            )
            for row in self._connection.execute(journal_range):
                # The journal outlives tenants: rows of a deleted slug in the range stay out.
                found = journals.get(row.tenant_slug)
                if found is not None:
                    found.append(journal_entry_from_row(row))
            for row in rows:
                yield TenantBackup(
                    tenant=tenant_from_row(row, resources[row.id]), journal=journals[row.slug]
                )
            if len(rows) < PAGE_SIZE:
                return
            after = last

    def audit(self) -> Iterator[AuditEntry]:
        after = 0
        while True:
            rows = self._connection.execute(
                select(_audit).where(_audit.c.id > after).order_by(_audit.c.id).limit(PAGE_SIZE)
            ).all()
            yield from (audit_entry_from_row(row) for row in rows)
            if len(rows) < PAGE_SIZE:
                return
            after = rows[-1].id


def _fence(connection: Connection, lease: Lease) -> None:
    row = connection.execute(
        select(_locks).where(_locks.c.slug == lease.slug).with_for_update()
    ).first()
    if row is None or row.generation != lease.generation or row.acquired_at is None:
        raise LockLost(
            f"lost the lock on tenant {lease.slug} during the import",
            hint="another rcp process took it over; rerun the import",
        )


def _replace_tenant(connection: Connection, item: TenantBackup) -> None:
    tenant = item.tenant
    current = connection.execute(
        select(_tenants.c.id).where(_tenants.c.slug == tenant.slug)
    ).scalar()
    if current is not None:
        connection.execute(delete(_resources).where(_resources.c.tenant_id == current))
        connection.execute(delete(_tenants).where(_tenants.c.id == current))
    # The journal is keyed by slug and outlives records: the backup's history replaces it.
    connection.execute(delete(_journal).where(_journal.c.tenant_slug == tenant.slug))
    tenant_id = connection.execute(
        insert(_tenants).values(**tenant_values(tenant)).returning(_tenants.c.id)
    ).scalar_one()
    for resource in tenant.resources:
        connection.execute(insert(_resources).values(**resource_values(tenant_id, resource)))
    for entry in item.journal:
        # Under the tenant it is restored as (a document's entries carry no slug of their own).
        connection.execute(
            insert(_journal).values(**journal_values(replace(entry, tenant_slug=tenant.slug)))
        )


# ----------------------------------------------------------------------------- bulk seeding


def bulk_insert_tenants(store: SqlStore, tenants: Iterable[Tenant], *, batch: int = 5_000) -> int:
    """Insert many tenants with their resources, ``batch`` per transaction: how benchmarks and
    scale tests seed 100,000 records in seconds. Not a tenant operation: no lease, no journal,
    no audit; the slugs must be free (a taken one fails the batch with a constraint error).
    Returns the number inserted."""
    from rcp.core.models import utcnow

    inserted = 0
    pending: list[Tenant] = []

    def flush(connection: Connection) -> None:
        highest = connection.execute(select(func.coalesce(func.max(_tenants.c.id), 0)))
        next_id = int(highest.scalar_one()) + 1
        now = utcnow()
        tenant_rows: list[dict[str, Any]] = []
        resource_rows: list[dict[str, Any]] = []
        for offset, tenant in enumerate(pending):
            tenant_id = next_id + offset
            tenant_rows.append(
                {
                    "id": tenant_id,
                    **tenant_values(
                        tenant,
                        created_at=tenant.created_at or now,
                        updated_at=tenant.updated_at or now,
                    ),
                }
            )
            resource_rows.extend(resource_values(tenant_id, r) for r in tenant.resources)
        connection.execute(insert(_tenants), tenant_rows)
        if resource_rows:
            connection.execute(insert(_resources), resource_rows)
        if store.dialect == "postgresql":
            # Explicit ids leave the serial sequence behind: move it past them.
            connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('tenants', 'id'), "
                    "(SELECT MAX(id) FROM tenants) + 1, false)"
                )
            )

    for tenant in tenants:
        pending.append(tenant)
        if len(pending) >= batch:
            _run(store, flush)
            inserted += len(pending)
            pending = []
    if pending:
        _run(store, flush)
        inserted += len(pending)
    return inserted


# ----------------------------------------------------------------------------- db copy


@dataclass(frozen=True)
class CopyReport:
    tables: dict[str, int]  # rows copied per table
    checksum: str  # of every copied row, identical on both sides
    held_leases: list[str]  # slugs whose lease was held at copy time (copied released)

    def to_json(self) -> dict[str, Any]:
        return {
            "tables": self.tables,
            "checksum": self.checksum,
            "verified": True,
            "held_leases": self.held_leases,
        }


def _table(name: str) -> Table:
    return metadata.tables[name]


def _ordered(table: Table) -> Any:
    return select(table).order_by(*table.primary_key.columns)


def _read_all(connection: Connection) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [dict(row._mapping) for row in connection.execute(_ordered(_table(name)))]
        for name in COPY_ORDER
    }


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _checksum(tables: dict[str, list[dict[str, Any]]]) -> str:
    """One digest over every row of every table (values as the application sees them)."""
    digest = hashlib.sha256()
    for name in COPY_ORDER:
        for row in tables[name]:
            canonical = {column: _canonical(value) for column, value in row.items()}
            digest.update(name.encode())
            digest.update(json.dumps(canonical, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def row_counts(store: SqlStore, *, raw_url: str | None = None) -> dict[str, int]:
    def work(connection: Connection) -> dict[str, int]:
        return {
            name: int(
                connection.execute(select(func.count()).select_from(_table(name))).scalar_one()
            )
            for name in COPY_ORDER
        }

    return _run(store, work, raw_url=raw_url)


def copy_database(
    source: SqlStore,
    target: SqlStore,
    *,
    target_url: str | None = None,
    on_ready: Callable[[], None] | None = None,
) -> CopyReport:
    """Copy every row of ``source`` into ``target`` (migrated, empty), then verify.

    ``on_ready`` runs once the target is known to be empty, before anything is written.

    Raises ConflictError (exit 4) when the target holds any row: a copy never merges. The
    verification reads the target back and compares row counts and a checksum of every row;
    a difference is an error (exit 1) and the target should be discarded.
    """
    occupied = {
        name: count for name, count in row_counts(target, raw_url=target_url).items() if count
    }
    if occupied:
        listed = ", ".join(f"{name}: {count}" for name, count in occupied.items())
        raise ConflictError(
            f"the target database is not empty ({listed}); db copy only fills an empty one",
            hint="point --to at a new, empty database (rcp creates the schema itself)",
            code="target_not_empty",
        )
    if on_ready is not None:
        on_ready()  # preconditions passed: from here on the command is audited
    rows = _run(source, _read_all, snapshot=True)
    held = sorted(row["slug"] for row in rows["tenant_locks"] if row["acquired_at"] is not None)
    for row in rows["tenant_locks"]:
        for column in _LOCK_HOLDER_COLUMNS:
            row[column] = None
    expected = _checksum(rows)

    def write(connection: Connection) -> None:
        for name in COPY_ORDER:
            if rows[name]:
                connection.execute(insert(_table(name)), rows[name])
        if target.dialect == "postgresql":
            # Explicit ids leave the serial sequences behind: move them past the copied rows.
            for name in COPY_ORDER:
                if "id" in _table(name).columns:
                    connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
                        )
                    )

    _run(target, write, raw_url=target_url)
    copied = _run(target, _read_all, snapshot=True, raw_url=target_url)
    counts = {name: len(copied[name]) for name in COPY_ORDER}
    expected_counts = {name: len(rows[name]) for name in COPY_ORDER}
    actual = _checksum(copied)
    if counts != expected_counts or actual != expected:
        raise RcpError(
            f"the copy in {target.url} does not match the source "
            f"(rows {counts} vs {expected_counts})",
            hint="discard the target database and run `rcp db copy` again",
            code="copy_mismatch",
        )
    return CopyReport(tables=counts, checksum=actual, held_leases=held)
