"""``SqlStore``: the ``TenantStore`` of ``rcp.core.ports`` on SQLite or Postgres.

Every public method is one short transaction. Writes that take a ``lease`` are fenced: the same
transaction first locks the tenant's lease row (``SELECT … FOR UPDATE`` on Postgres; SQLite's
``BEGIN IMMEDIATE`` already holds the database write lock) and checks that its generation is
still ours, so a process whose lease was taken over cannot write anything afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, Table, bindparam, delete, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlmodel import Session, col, select

from rcp.core.models import (
    AuditEntry,
    Lease,
    LockHolder,
    Resource,
    Tenant,
    TenantStatus,
    iso_z,
    utcnow,
)
from rcp.errors import (
    ConflictError,
    LockBusy,
    LockLost,
    RcpError,
    RetryLater,
    StoreError,
    TenantNotFound,
)
from rcp.store import migrate
from rcp.store.engine import READ_ONLY_OPTION, database_error, is_sqlite_busy, scrub
from rcp.store.tables import AuditRow, JournalRow, TenantLockRow, TenantResourceRow, TenantRow
from rcp.urls import mask_url

log = logging.getLogger("rcp.store")

T = TypeVar("T")

LEASE_SECONDS = 30.0  # a holder that has not renewed for this long may be taken over
HEARTBEAT_SECONDS = 10.0  # keep_alive renews this often (a third of the lease)
LOCK_POLL_SECONDS = 0.5  # how often a waiting acquire_lock looks again
# SQLite already waits busy_timeout inside the driver; these retries only cover the rare
# SQLITE_BUSY that escapes it (e.g. a checkpoint racing a WAL switch).
BUSY_RETRIES = 5
BUSY_RETRY_BASE_SECONDS = 0.05
# Tenants read per query when many are read: a page is one bounded query whatever the number
# of tenants, and far below every backend's bound-parameter limit (SQLite 32,766, Postgres
# 65,535) when slugs are looked up by list.
PAGE_SIZE = 500

_tenants: Table = TenantRow.__table__  # type: ignore[attr-defined]
_resources: Table = TenantResourceRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LockInfo:
    """The lease row of a tenant as stored (holder fields are None when nobody holds it)."""

    slug: str
    generation: int
    actor: str | None
    host: str | None
    pid: int | None
    command: str | None
    acquired_at: datetime | None
    heartbeat_at: datetime | None

    @property
    def held(self) -> bool:
        return self.acquired_at is not None

    @property
    def holder_label(self) -> str:
        """``actor@host``, without repeating the host when the actor already ends with it."""
        actor = self.actor or "unknown"
        if not self.host or actor.endswith(f"@{self.host}"):
            return actor
        return f"{actor}@{self.host}"


@dataclass(frozen=True)
class JournalEntry:
    id: int
    tenant_slug: str
    step: str
    resource_key: str | None
    status: str
    render_name: str | None
    render_id: str | None
    detail: str | None
    generation: int
    at: datetime


class _InsertRace(Exception):
    """Two processes inserted the same lease row at once (Postgres); the loser looks again."""


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host. Unknown counts as alive."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        # PermissionError: it exists but belongs to someone else.
        return True
    return True


class SqlStore:
    """Tenants, resources, journal, leases and audit log in one SQL database."""

    def __init__(
        self,
        engine: Engine,
        *,
        url: str,
        sqlite_file: str | None = None,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        lease_seconds: float = LEASE_SECONDS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        hostname: str | None = None,
        is_pid_alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        self._engine = engine
        self._url = url
        self._sqlite_file = sqlite_file
        # No clock given: Postgres uses the server's clock, so leases written by CI runners
        # whose clocks disagree still expire on one time line; SQLite is one host anyway.
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._lease = timedelta(seconds=lease_seconds)
        self._heartbeat_seconds = heartbeat_seconds
        self._hostname = hostname or socket.gethostname()
        self._is_pid_alive = is_pid_alive

    # ----------------------------------------------------------------- housekeeping

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def url(self) -> str:
        """The database URL with its password masked."""
        return mask_url(self._url)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def ping(self) -> None:
        """Raise ``StoreError`` unless the database answers."""
        self._transaction(lambda session: session.connection().exec_driver_sql("SELECT 1"))

    def schema_status(self) -> dict[str, Any]:
        """``{"current": revision | None, "head": revision, "at_head": bool}``."""
        try:
            return migrate.schema_status(self._engine)
        except SQLAlchemyError as exc:
            raise self._store_error(exc) from None

    def upgrade(self) -> bool:
        """Migrate to head under the cross-process migration lock; True when anything ran."""
        try:
            return migrate.ensure_schema(self._engine, sqlite_file=self._sqlite_file)
        except SQLAlchemyError as exc:
            raise self._store_error(exc) from None

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----------------------------------------------------------------- tenants

    def get_tenant(self, slug: str) -> Tenant | None:
        with self._reading() as connection:
            found = _tenants_by_slug(connection, [slug])
        return found.get(slug)

    def get_tenants(self, slugs: Iterable[str]) -> dict[str, Tenant]:
        """The recorded tenants among ``slugs``, by slug (absent slugs are left out).

        Looked up a page of slugs at a time: a fleet file of any length never builds a query
        with one parameter per tenant beyond ``PAGE_SIZE``."""
        wanted = sorted(set(slugs))
        found: dict[str, Tenant] = {}
        with self._reading(snapshot=True) as connection:
            for start in range(0, len(wanted), PAGE_SIZE):
                found.update(_tenants_by_slug(connection, wanted[start : start + PAGE_SIZE]))
        return found

    def list_slugs(self) -> list[str]:
        """Every recorded slug, sorted (one column: what a fleet plan needs of the others)."""
        with self._reading() as connection:
            return list(
                connection.execute(
                    core_select(_tenants.c.slug).order_by(_tenants.c.slug)
                ).scalars()
            )

    def iter_tenants(
        self, status: TenantStatus | None = None, *, snapshot: bool = True, details: bool = True
    ) -> Iterator[Tenant]:
        """Every tenant (with resources) in slug order, read ``PAGE_SIZE`` at a time, so memory
        does not grow with the number of tenants.

        ``snapshot``: all pages come from one read transaction (one moment; on SQLite a
        deferred transaction, which never blocks writers). A caller that writes between tenants
        or runs for long (``status --live``, ``check --all``) passes False: each page is then
        its own short transaction, and a tenant created meanwhile may or may not appear.
        ``details=False`` leaves ``rendered_template`` and ``env_overrides`` empty (not even
        read): what a listing needs, at a fraction of the cost of decoding them.
        """
        if snapshot:
            with self._reading(snapshot=True) as connection:
                yield from _tenant_pages(lambda work: work(connection), status, details)
        else:

            def in_own_transaction(work: Callable[[Connection], T]) -> T:
                with self._reading() as connection:
                    return work(connection)

            yield from _tenant_pages(in_own_transaction, status, details)

    def get_tenant_by_id(self, tenant_id: int) -> Tenant | None:
        """The tenant with this numeric id (``rcp serve`` accepts ids and slugs in paths): two
        prepared queries, as it is the server's hot path."""
        with self._reading() as connection:
            row = connection.execute(_TENANT_BY_ID, {"tenant_id": tenant_id}).first()
            if row is None:
                return None
            resources = [
                resource_from_row(res)
                for res in connection.execute(_RESOURCES_OF_TENANT, {"tenant_id": tenant_id})
            ]
        return tenant_from_row(row, resources)

    def list_tenants(self, status: TenantStatus | None = None) -> list[Tenant]:
        return list(self.iter_tenants(status))

    def render_name_owners(self, names: Collection[str]) -> list[tuple[str, str]]:
        """``(render name, slug)`` of every recorded resource named one of ``names``, by slug
        (an indexed lookup of just those names)."""
        return self._owners(_resources.c.name, names, _resources.c.name)

    def render_id_owners(self, render_ids: Collection[str]) -> list[tuple[str, str, str]]:
        """``(render id, slug, resource key)`` of every recorded resource with one of
        ``render_ids``, by slug (indexed)."""
        return self._owners(
            _resources.c.render_id, render_ids, _resources.c.render_id, _resources.c.key
        )

    def _owners(self, column: Any, values: Collection[str], *selected: Any) -> list[Any]:
        wanted = sorted(set(values))
        found: list[Any] = []
        with self._reading() as connection:
            for start in range(0, len(wanted), PAGE_SIZE):
                query = (
                    core_select(selected[0], _tenants.c.slug, *selected[1:])
                    .join(_tenants, _tenants.c.id == _resources.c.tenant_id)
                    .where(column.in_(wanted[start : start + PAGE_SIZE]))
                )
                found.extend(tuple(row) for row in connection.execute(query))
        return sorted(found, key=lambda row: (row[1], row))

    def insert_tenant(self, tenant: Tenant, *, lease: Lease) -> Tenant:
        def work(session: Session) -> Tenant:
            self._fence(session, lease, tenant.slug)
            if self._tenant_row(session, tenant.slug) is not None:
                raise _tenant_exists(tenant.slug)
            now = self._now(session)
            row = TenantRow(
                name=tenant.name,
                slug=tenant.slug,
                status=str(tenant.status),
                template=tenant.template,
                rendered_template=tenant.rendered_template,
                custom_plugin_repo=tenant.custom_plugin_repo,
                env_overrides=tenant.env_overrides,
                last_error=tenant.last_error,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()  # assigns row.id for the resources' foreign key
            assert row.id is not None
            for resource in tenant.resources:
                session.add(_resource_row(row.id, resource))
            session.flush()
            return self._load_tenant(session, row)

        return self._transaction(work, on_conflict=lambda _exc: _tenant_exists(tenant.slug))

    def update_tenant(
        self,
        slug: str,
        *,
        lease: Lease,
        status: TenantStatus | None = None,
        last_error: str | None = None,
        clear_error: bool = False,
        env_overrides: dict[str, dict[str, str]] | None = None,
        rendered_template: dict[str, Any] | None = None,
        definition: tuple[str, str, str | None] | None = None,
    ) -> None:
        def work(session: Session) -> None:
            self._fence(session, lease, slug)
            row = self._require_tenant(session, slug)
            if definition is not None:
                row.name, row.template, row.custom_plugin_repo = definition
            if status is not None:
                row.status = str(status)
            if clear_error:
                row.last_error = None
            if last_error is not None:
                row.last_error = last_error
            if env_overrides is not None:
                row.env_overrides = env_overrides
            if rendered_template is not None:
                row.rendered_template = rendered_template
            row.updated_at = self._now(session)
            session.add(row)

        self._transaction(work)

    def save_resource(self, slug: str, resource: Resource, *, lease: Lease) -> None:
        def work(session: Session) -> None:
            self._fence(session, lease, slug)
            tenant_row = self._require_tenant(session, slug)
            assert tenant_row.id is not None
            existing = session.exec(
                select(TenantResourceRow).where(
                    col(TenantResourceRow.tenant_id) == tenant_row.id,
                    col(TenantResourceRow.key) == resource.key,
                )
            ).first()
            if existing is None:
                session.add(_resource_row(tenant_row.id, resource))
            else:
                existing.type = resource.type
                existing.name = resource.name
                existing.render_id = resource.render_id
                existing.state = resource.state
                existing.url = resource.url
                existing.deploy_id = resource.deploy_id
                session.add(existing)
            tenant_row.updated_at = self._now(session)
            session.add(tenant_row)

        self._transaction(work)

    def remove_resource(self, slug: str, key: str, *, lease: Lease) -> None:
        def work(session: Session) -> None:
            self._fence(session, lease, slug)
            tenant_row = self._require_tenant(session, slug)
            session.exec(
                delete(TenantResourceRow).where(
                    col(TenantResourceRow.tenant_id) == tenant_row.id,
                    col(TenantResourceRow.key) == key,
                )
            )
            tenant_row.updated_at = self._now(session)
            session.add(tenant_row)

        self._transaction(work)

    def delete_tenant(self, slug: str, *, lease: Lease) -> None:
        def work(session: Session) -> None:
            self._fence(session, lease, slug)
            tenant_row = self._require_tenant(session, slug)
            # Explicit rather than relying on ON DELETE CASCADE (SQLite needs foreign_keys=ON).
            session.exec(
                delete(TenantResourceRow).where(col(TenantResourceRow.tenant_id) == tenant_row.id)
            )
            session.exec(delete(TenantRow).where(col(TenantRow.id) == tenant_row.id))

        self._transaction(work)

    # ----------------------------------------------------------------- journal

    def journal(
        self,
        slug: str,
        *,
        lease: Lease,
        step: str,
        resource_key: str | None,
        status: str,
        render_name: str | None = None,
        render_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        def work(session: Session) -> None:
            self._fence(session, lease, slug)
            session.add(
                JournalRow(
                    tenant_slug=slug,
                    step=step,
                    resource_key=resource_key,
                    status=status,
                    render_name=render_name,
                    render_id=render_id,
                    detail=detail,
                    generation=lease.generation,
                    at=self._now(session),
                )
            )

        self._transaction(work)

    def list_journal(self, slug: str) -> list[JournalEntry]:
        """Every journal row of ``slug``, oldest first (it outlives the tenant record)."""

        def work(session: Session) -> list[JournalEntry]:
            rows = session.exec(
                select(JournalRow)
                .where(col(JournalRow.tenant_slug) == slug)
                .order_by(col(JournalRow.id))
            ).all()
            return [
                JournalEntry(
                    id=_id(row.id),
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
                for row in rows
            ]

        return self._transaction(work)

    # ----------------------------------------------------------------- locks

    def acquire_lock(self, slug: str, holder: LockHolder, *, wait_seconds: float = 0.0) -> Lease:
        deadline = self._monotonic() + max(wait_seconds, 0.0)
        while True:
            try:
                outcome = self._transaction(
                    lambda session: self._try_acquire(session, slug, holder),
                    on_conflict=lambda _exc: _InsertRace(),
                )
            except _InsertRace:
                continue  # the other insert won; the next pass sees its row
            if isinstance(outcome, Lease):
                return outcome
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                raise self._busy_error(outcome, waited=wait_seconds)
            self._sleep(min(LOCK_POLL_SECONDS, remaining))

    def renew_lock(self, lease: Lease) -> None:
        def work(session: Session) -> None:
            result = session.exec(
                update(TenantLockRow)
                .where(
                    col(TenantLockRow.slug) == lease.slug,
                    col(TenantLockRow.generation) == lease.generation,
                    col(TenantLockRow.acquired_at).is_not(None),
                )
                .values(heartbeat_at=self._now(session))
            )
            if result.rowcount != 1:
                raise self._lost_error(session, lease)

        self._transaction(work)

    def check_lock(self, lease: Lease) -> None:
        self._transaction(lambda session: self._fence(session, lease, lease.slug))

    def release_lock(self, lease: Lease) -> None:
        """Give the lease back. A lease already taken over is left alone (nothing to release).

        The row stays, holder cleared, so the next holder's generation is higher than ours.
        """

        def work(session: Session) -> None:
            session.exec(
                update(TenantLockRow)
                .where(
                    col(TenantLockRow.slug) == lease.slug,
                    col(TenantLockRow.generation) == lease.generation,
                )
                .values(
                    actor=None,
                    host=None,
                    pid=None,
                    command=None,
                    acquired_at=None,
                    heartbeat_at=None,
                )
            )

        self._transaction(work)

    def get_lock(self, slug: str) -> LockInfo | None:
        """The tenant's lease row as stored (for diagnostics), None if never locked."""

        def work(session: Session) -> LockInfo | None:
            row = session.get(TenantLockRow, slug)
            return None if row is None else _lock_info(row)

        return self._transaction(work)

    @contextlib.contextmanager
    def keep_alive(self, lease: Lease) -> Iterator[None]:
        """Renew ``lease`` every ``heartbeat_seconds`` from a daemon thread while inside.

        A lost lease stops the renewals (the next fenced write raises ``LockLost``); database
        hiccups are logged and retried at the next beat.
        """
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self._heartbeat_seconds):
                try:
                    self.renew_lock(lease)
                except LockLost as exc:
                    log.warning("stopped renewing the lock on %s: %s", lease.slug, exc)
                    return
                except RcpError as exc:
                    log.warning("could not renew the lock on %s: %s", lease.slug, exc)

        thread = threading.Thread(target=beat, name=f"rcp-lease-{lease.slug}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=self._heartbeat_seconds + 5)

    # ----------------------------------------------------------------- audit

    def append_audit(self, entry: AuditEntry) -> None:
        def work(session: Session) -> None:
            session.add(
                AuditRow(
                    at=entry.at,
                    actor=entry.actor,
                    command=entry.command,
                    tenant=entry.tenant,
                    outcome=entry.outcome,
                    exit_code=entry.exit_code,
                    duration_ms=entry.duration_ms,
                )
            )

        self._transaction(work)

    def list_audit(
        self, *, tenant: str | None = None, since: datetime | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        """Matching entries, newest first."""

        def work(session: Session) -> list[AuditEntry]:
            query = select(AuditRow).order_by(col(AuditRow.id).desc())
            if tenant is not None:
                query = query.where(col(AuditRow.tenant) == tenant)
            if since is not None:
                query = query.where(col(AuditRow.at) >= since)
            if limit is not None:
                query = query.limit(limit)
            return [audit_entry_from_row(row) for row in session.exec(query).all()]

        return self._transaction(work)

    # ----------------------------------------------------------------- internals

    def _transaction(
        self,
        work: Callable[[Session], T],
        *,
        on_conflict: Callable[[IntegrityError], Exception] | None = None,
    ) -> T:
        """Run ``work`` in one transaction; commit on success, roll back on any exception.

        Maps driver errors to rcp errors: SQLite busy → retried, then ``RetryLater``; a
        constraint violation → ``on_conflict(exc)`` (default ``StoreError``); anything else →
        ``StoreError`` with the password scrubbed.
        """
        attempt = 0
        while True:
            try:
                with Session(self._engine, expire_on_commit=False) as session, session.begin():
                    return work(session)
            except IntegrityError as exc:
                if on_conflict is not None:
                    raise on_conflict(exc) from None
                raise self._store_error(exc) from None
            except OperationalError as exc:
                if _is_postgres_retryable(exc) and attempt < BUSY_RETRIES:
                    attempt += 1
                    self._sleep(BUSY_RETRY_BASE_SECONDS * 2**attempt)
                    continue
                if is_sqlite_busy(exc):
                    if attempt < BUSY_RETRIES:
                        attempt += 1
                        self._sleep(BUSY_RETRY_BASE_SECONDS * 2**attempt)
                        continue
                    raise RetryLater(
                        "the database is busy: other rcp processes are writing to it",
                        hint="retry in a few seconds",
                    ) from None
                raise self._store_error(exc) from None
            except SQLAlchemyError as exc:
                raise self._store_error(exc) from None

    @contextlib.contextmanager
    def _reading(self, *, snapshot: bool = False) -> Iterator[Connection]:
        """A read-only transaction on a Core connection (no ORM: reads are the hot path of
        scripts). ``snapshot`` makes Postgres read one moment across several statements;
        SQLite's deferred transaction is one moment already."""
        try:
            with self._engine.connect() as connection:
                connection.execution_options(**{READ_ONLY_OPTION: True})
                if snapshot and self.dialect == "postgresql":
                    connection.execution_options(
                        isolation_level="REPEATABLE READ", postgresql_readonly=True
                    )
                with connection.begin():
                    yield connection
        except OperationalError as exc:
            if is_sqlite_busy(exc):
                raise RetryLater(
                    "the database is busy: other rcp processes are writing to it",
                    hint="retry in a few seconds",
                ) from None
            raise self._store_error(exc) from None
        except SQLAlchemyError as exc:
            raise self._store_error(exc) from None

    def _now(self, session: Session) -> datetime:
        """Now, in UTC: the injected clock, else the database server's clock on Postgres."""
        if self._clock is not None:
            return self._clock()
        if self._engine.dialect.name == "postgresql":
            server_now = session.connection().exec_driver_sql("SELECT clock_timestamp()").scalar()
            if isinstance(server_now, datetime):
                return server_now.astimezone(UTC)
        return utcnow()

    def _store_error(self, exc: SQLAlchemyError) -> RcpError:
        # Lost connection, busy, disk full → exit 75; a damaged SQLite file → restore.
        classified = database_error(exc, self._url, sqlite_file=self._sqlite_file)
        if classified is not None:
            return classified
        orig = getattr(exc, "orig", None) or exc
        reason = scrub(
            str(orig).strip().splitlines()[0] if str(orig).strip() else repr(orig), self._url
        )
        lowered = reason.lower()
        hint = None
        if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
            hint = "the database schema is missing or out of date; run `rcp db upgrade`"
        return StoreError(f"database error ({self.url}): {reason}", hint=hint)

    def _fence(self, session: Session, lease: Lease, slug: str) -> None:
        """Lock the tenant's lease row for this transaction; LockLost unless it is still ours."""
        if lease.slug != slug:
            raise ValueError(f"a lease on {lease.slug!r} cannot write tenant {slug!r}")
        row = session.exec(
            select(TenantLockRow).where(col(TenantLockRow.slug) == slug).with_for_update()
        ).first()
        if row is None or row.generation != lease.generation or row.acquired_at is None:
            raise _lost(lease, None if row is None else _lock_info(row))

    def _lost_error(self, session: Session, lease: Lease) -> LockLost:
        row = session.get(TenantLockRow, lease.slug)
        return _lost(lease, None if row is None else _lock_info(row))

    def _try_acquire(self, session: Session, slug: str, holder: LockHolder) -> Lease | LockInfo:
        """One attempt: the new lease, or the current holder when it may not be taken over."""
        now = self._now(session)
        row = session.exec(
            select(TenantLockRow).where(col(TenantLockRow.slug) == slug).with_for_update()
        ).first()
        if row is None:
            session.add(
                TenantLockRow(
                    slug=slug,
                    actor=holder.actor,
                    host=holder.host,
                    pid=holder.pid,
                    command=holder.command,
                    generation=1,
                    acquired_at=now,
                    heartbeat_at=now,
                )
            )
            session.flush()  # a racing insert fails here with IntegrityError → _InsertRace
            return Lease(slug=slug, holder=holder, generation=1, acquired_at=now)
        current = _lock_info(row)
        takeover_reason = self._takeover_reason(current, now)
        if takeover_reason is None:
            return current
        # Compare-and-set on the generation we read: of two racers only one can match.
        result = session.exec(
            update(TenantLockRow)
            .where(
                col(TenantLockRow.slug) == slug,
                col(TenantLockRow.generation) == current.generation,
            )
            .values(
                actor=holder.actor,
                host=holder.host,
                pid=holder.pid,
                command=holder.command,
                generation=current.generation + 1,
                acquired_at=now,
                heartbeat_at=now,
            )
        )
        if result.rowcount != 1:
            return current
        if current.held:
            log.warning(
                "took over the lock on %s from %s (pid %s): %s",
                slug,
                current.holder_label,
                current.pid,
                takeover_reason,
            )
        return Lease(slug=slug, holder=holder, generation=current.generation + 1, acquired_at=now)

    def _takeover_reason(self, current: LockInfo, now: datetime) -> str | None:
        """Why the lease may be taken, or None while its holder is alive and renewing."""
        if not current.held:
            return "free"
        if (
            current.host == self._hostname
            and current.pid is not None
            and not self._is_pid_alive(current.pid)
        ):
            return "its process is gone"
        if current.heartbeat_at is None or now - current.heartbeat_at > self._lease:
            return f"no heartbeat since {_at_second(current.heartbeat_at)}"
        return None

    def _busy_error(self, holder: LockInfo, *, waited: float) -> LockBusy:
        since = _at_second(holder.acquired_at)
        message = (
            f"tenant {holder.slug} is locked by {holder.holder_label} (pid {holder.pid}) "
            f"since {since}"
        )
        if waited > 0:
            message += f"; still locked after waiting {waited:g}s"
        else:
            message += "; retry later or pass --lock-timeout"
        expires = (
            _at_second(holder.heartbeat_at + self._lease)
            if holder.heartbeat_at is not None
            else None
        )
        hint = f"it is running: {holder.command}" if holder.command else None
        if expires:
            expiry = f"its lease expires at {expires} unless renewed"
            hint = f"{hint}; {expiry}" if hint else expiry
        return LockBusy(message, hint=hint)

    @staticmethod
    def _tenant_row(session: Session, slug: str) -> TenantRow | None:
        return session.exec(select(TenantRow).where(col(TenantRow.slug) == slug)).first()

    def _require_tenant(self, session: Session, slug: str) -> TenantRow:
        row = self._tenant_row(session, slug)
        if row is None:
            raise TenantNotFound(f"tenant {slug} not found", hint="see `rcp tenant list`")
        return row

    def _load_tenant(self, session: Session, row: TenantRow) -> Tenant:
        resources = session.exec(
            select(TenantResourceRow)
            .where(col(TenantResourceRow.tenant_id) == row.id)
            .order_by(col(TenantResourceRow.id))
        ).all()
        return tenant_from_row(row, [resource_from_row(res) for res in resources])


# Built once: a statement made per call costs more than the query itself on SQLite.
_TENANT_BY_ID = core_select(_tenants).where(_tenants.c.id == bindparam("tenant_id"))
_RESOURCES_OF_TENANT = (
    core_select(_resources)
    .where(_resources.c.tenant_id == bindparam("tenant_id"))
    .order_by(_resources.c.id)
)


def _tenants_by_slug(connection: Connection, slugs: Sequence[str]) -> dict[str, Tenant]:
    """Tenants (with resources) among ``slugs`` (at most ``PAGE_SIZE`` of them): two queries."""
    if not slugs:
        return {}
    rows = connection.execute(core_select(_tenants).where(_tenants.c.slug.in_(slugs))).all()
    if not rows:
        return {}
    resources: dict[int, list[Resource]] = {row.id: [] for row in rows}
    query = (
        core_select(_resources)
        .where(_resources.c.tenant_id.in_(list(resources)))
        .order_by(_resources.c.id)
    )
    for res in connection.execute(query):
        resources[res.tenant_id].append(resource_from_row(res))
    return {row.slug: tenant_from_row(row, resources[row.id]) for row in rows}


def _tenant_pages(
    run: Callable[[Callable[[Connection], list[Tenant]]], list[Tenant]],
    status: TenantStatus | None,
    details: bool,
) -> Iterator[Tenant]:
    """Every tenant in slug order, one page (``PAGE_SIZE`` tenants, two queries whose
    parameters do not depend on the number of tenants) per ``run`` call: keyset pagination on
    the unique slug, the resources of a page by a join on its slug range."""
    after: str | None = None
    while True:

        def page(connection: Connection, after: str | None = after) -> list[Tenant]:
            columns = _tenants.c if details else _SUMMARY_COLUMNS
            query = core_select(*columns).order_by(_tenants.c.slug).limit(PAGE_SIZE)
            if after is not None:
                query = query.where(_tenants.c.slug > after)
            if status is not None:
                query = query.where(_tenants.c.status == str(status))
            rows = connection.execute(query).all()
            if not rows:
                return []
            resources: dict[int, list[Resource]] = {row.id: [] for row in rows}
            in_range = (
                core_select(_resources)
                .join(_tenants, _tenants.c.id == _resources.c.tenant_id)
                .where(_tenants.c.slug >= rows[0].slug, _tenants.c.slug <= rows[-1].slug)
                .order_by(_resources.c.id)
            )
            for res in connection.execute(in_range):
                # Tenants of the range that the status filter left out are skipped.
                found = resources.get(res.tenant_id)
                if found is not None:
                    found.append(resource_from_row(res))
            if details:
                return [tenant_from_row(row, resources[row.id]) for row in rows]
            return [_summary_from_row(row, resources[row.id]) for row in rows]

        tenants = run(page)
        yield from tenants
        if len(tenants) < PAGE_SIZE:
            return
        after = tenants[-1].slug


def _at_second(moment: datetime | None) -> str | None:
    """A timestamp for a message: whole seconds are what a reader wants to see."""
    return iso_z(moment.replace(microsecond=0)) if moment is not None else None


# Row → domain record. Rows are ORM objects or Core result rows (``rcp.store.transfer``):
# both expose the columns as attributes.


def tenant_from_row(row: Any, resources: list[Resource]) -> Tenant:
    return Tenant(
        id=row.id,
        name=row.name,
        slug=row.slug,
        status=TenantStatus(row.status),
        template=row.template,
        rendered_template=row.rendered_template,
        custom_plugin_repo=row.custom_plugin_repo,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_error=row.last_error,
        env_overrides=row.env_overrides,
        resources=resources,
    )


_SUMMARY_COLUMNS = [
    column
    for column in _tenants.c
    if column.name not in ("rendered_template", "env_overrides")
]


def _summary_from_row(row: Any, resources: list[Resource]) -> Tenant:
    return Tenant(
        id=row.id,
        name=row.name,
        slug=row.slug,
        status=TenantStatus(row.status),
        template=row.template,
        rendered_template={},
        custom_plugin_repo=row.custom_plugin_repo,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_error=row.last_error,
        env_overrides={},
        resources=resources,
    )


def resource_from_row(row: Any) -> Resource:
    return Resource(
        key=row.key,
        type=row.type,
        name=row.name,
        render_id=row.render_id,
        state=row.state,
        url=row.url,
        deploy_id=row.deploy_id,
    )


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


def _resource_row(tenant_id: int, resource: Resource) -> TenantResourceRow:
    return TenantResourceRow(
        tenant_id=tenant_id,
        key=resource.key,
        type=resource.type,
        name=resource.name,
        render_id=resource.render_id,
        state=resource.state,
        url=resource.url,
        deploy_id=resource.deploy_id,
    )


def _lock_info(row: TenantLockRow) -> LockInfo:
    return LockInfo(
        slug=row.slug,
        generation=row.generation,
        actor=row.actor,
        host=row.host,
        pid=row.pid,
        command=row.command,
        acquired_at=row.acquired_at,
        heartbeat_at=row.heartbeat_at,
    )


def _lost(lease: Lease, current: LockInfo | None) -> LockLost:
    if current is not None and current.held and current.generation != lease.generation:
        now_held = (
            f"it is now held by {current.holder_label} (pid {current.pid}) "
            f"since {_at_second(current.acquired_at)}"
        )
    else:
        now_held = "it was released"
    return LockLost(
        f"lost the lock on tenant {lease.slug} (generation {lease.generation}): {now_held}",
        hint="another rcp process took over after this one stopped renewing; rerun to resume",
    )


def _tenant_exists(slug: str) -> ConflictError:
    return ConflictError(
        f"tenant {slug} already exists",
        hint=f"see `rcp tenant show {slug}`, or pick another --slug",
    )


def _is_postgres_retryable(exc: OperationalError) -> bool:
    """Serialization failure or deadlock: Postgres rolled the transaction back; run it again."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in {"40001", "40P01"}


def _id(value: int | None) -> int:
    assert value is not None, "rows read back from the database always have an id"
    return value


if TYPE_CHECKING:
    from rcp.core.ports import TenantStore

    def _implements_tenant_store(store: SqlStore) -> TenantStore:
        return store  # mypy checks SqlStore against the Protocol here
