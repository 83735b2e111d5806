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

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from rcp.core.models import (
    AuditEntry,
    JournalEntry,
    Lease,
    LockHolder,
    Resource,
    SeenRevision,
    Tenant,
    TenantStatus,
    World,
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
from rcp.store.tables import audit_log as _audit
from rcp.store.tables import journal as _journal
from rcp.store.tables import template_revisions as _revisions
from rcp.store.tables import tenant_locks as _locks
from rcp.store.tables import tenant_resources as _resources
from rcp.store.tables import tenants as _tenants
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


class _AlreadySaved(Exception):
    """A concurrent run inserted the same template revision first."""


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
        self._transaction(lambda connection: connection.exec_driver_sql("SELECT 1"))

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
                    select(_tenants.c.slug).order_by(_tenants.c.slug)
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
                    select(selected[0], _tenants.c.slug, *selected[1:])
                    .join(_tenants, _tenants.c.id == _resources.c.tenant_id)
                    .where(column.in_(wanted[start : start + PAGE_SIZE]))
                )
                found.extend(tuple(row) for row in connection.execute(query))
        return sorted(found, key=lambda row: (row[1], row))

    def insert_tenant(self, tenant: Tenant, *, lease: Lease) -> Tenant:
        def work(connection: Connection) -> Tenant:
            self._fence(connection, lease, tenant.slug)
            if self._tenant_row(connection, tenant.slug) is not None:
                raise _tenant_exists(tenant.slug)
            now = self._now(connection)
            tenant_id = connection.execute(
                insert(_tenants)
                .values(**tenant_values(tenant, created_at=now, updated_at=now))
                .returning(_tenants.c.id)
            ).scalar_one()
            for resource in tenant.resources:
                connection.execute(insert(_resources).values(**resource_values(tenant_id, resource)))
            found = _tenants_by_slug(connection, [tenant.slug])
            return found[tenant.slug]

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
        fleet_managed: bool | None = None,
        world: World | None = None,
        tier: str | None = None,
        clear_tier: bool = False,
    ) -> None:
        def work(connection: Connection) -> None:
            self._fence(connection, lease, slug)
            row = self._require_tenant(connection, slug)
            values: dict[str, Any] = {}
            if world is not None:
                values["render_api_url"] = world.api_url
                values["render_owner_id"] = world.owner_id
            if fleet_managed is not None:
                values["fleet_managed"] = fleet_managed
            if clear_tier:
                values["tier"] = None
            if tier is not None:
                values["tier"] = tier
            if definition is not None:
                values["name"], values["template"], values["custom_plugin_repo"] = definition
            if status is not None:
                values["status"] = str(status)
            if clear_error:
                values["last_error"] = None
            if last_error is not None:
                values["last_error"] = last_error
            if env_overrides is not None:
                values["env_overrides"] = env_overrides
            if rendered_template is not None:
                values["rendered_template"] = rendered_template
            values["updated_at"] = self._now(connection)
            connection.execute(update(_tenants).where(_tenants.c.id == row.id).values(**values))

        self._transaction(work)

    def record_tenant_revision(
        self, slug: str, *, lease: Lease, revision_hash: str, label: str | None
    ) -> None:
        """The tenant runs this revision now (fenced). "Since" moves only when the hash
        differs from the one on record: reaching ACTIVE again on the same revision keeps it."""

        def work(connection: Connection) -> None:
            self._fence(connection, lease, slug)
            self._require_tenant(connection, slug)
            row = connection.execute(
                select(
                    _tenants.c.id,
                    _tenants.c.revision_hash,
                    _tenants.c.revision_label,
                    _tenants.c.revision_at,
                ).where(_tenants.c.slug == slug)
            ).one()
            values: dict[str, Any] = {"revision_hash": revision_hash, "revision_label": label}
            if row.revision_hash != revision_hash or row.revision_at is None:
                values["revision_at"] = self._now(connection)
            if (row.revision_hash, row.revision_label) == (revision_hash, label) and (
                "revision_at" not in values
            ):
                return
            connection.execute(update(_tenants).where(_tenants.c.id == row.id).values(**values))

        self._transaction(work)

    def save_template_revision(
        self, template: str, revision_hash: str, label: str | None, content: dict[str, Any]
    ) -> None:
        """Remember a revision of ``template`` (first seen now); nothing when already known.
        Not fenced: it belongs to the template, and two runs may save it at once."""

        def work(connection: Connection) -> None:
            known = connection.execute(
                select(_revisions.c.id).where(
                    _revisions.c.template == template, _revisions.c.hash == revision_hash
                )
            ).first()
            if known is not None:
                return
            connection.execute(
                insert(_revisions).values(
                    template=template,
                    hash=revision_hash,
                    label=label,
                    first_seen=self._now(connection),
                    content=content,
                )
            )

        try:
            self._transaction(work, on_conflict=lambda _exc: _AlreadySaved())
        except _AlreadySaved:
            pass  # another run saved it between our look and our insert: the same row

    def template_revisions(self, template: str) -> list[SeenRevision]:
        """Every revision of ``template`` rcp has seen, oldest first, each with the number of
        the template's tenants that run it now."""
        with self._reading(snapshot=True) as connection:
            counts: dict[str | None, int] = dict(
                connection.execute(
                    select(_tenants.c.revision_hash, func.count())
                    .where(_tenants.c.template == template)
                    .group_by(_tenants.c.revision_hash)
                ).all()
            )
            rows = connection.execute(
                select(_revisions)
                .where(_revisions.c.template == template)
                .order_by(_revisions.c.first_seen, _revisions.c.id)
            ).all()
        return [
            SeenRevision(
                template=row.template,
                hash=row.hash,
                label=row.label,
                first_seen=row.first_seen,
                content=row.content,
                tenants=int(counts.get(row.hash, 0)),
            )
            for row in rows
        ]

    def save_resource(self, slug: str, resource: Resource, *, lease: Lease) -> None:
        def work(connection: Connection) -> None:
            self._fence(connection, lease, slug)
            tenant_row = self._require_tenant(connection, slug)
            values = resource_values(tenant_row.id, resource)
            changed = connection.execute(
                update(_resources)
                .where(
                    _resources.c.tenant_id == tenant_row.id, _resources.c.key == resource.key
                )
                .values(**values)
            )
            if changed.rowcount == 0:
                connection.execute(insert(_resources).values(**values))
            self._touch(connection, tenant_row.id)

        self._transaction(work)

    def remove_resource(self, slug: str, key: str, *, lease: Lease) -> None:
        def work(connection: Connection) -> None:
            self._fence(connection, lease, slug)
            tenant_row = self._require_tenant(connection, slug)
            connection.execute(
                delete(_resources).where(
                    _resources.c.tenant_id == tenant_row.id, _resources.c.key == key
                )
            )
            self._touch(connection, tenant_row.id)

        self._transaction(work)

    def delete_tenant(self, slug: str, *, lease: Lease) -> None:
        def work(connection: Connection) -> None:
            self._fence(connection, lease, slug)
            tenant_row = self._require_tenant(connection, slug)
            # Explicit rather than relying on ON DELETE CASCADE (SQLite needs foreign_keys=ON).
            connection.execute(delete(_resources).where(_resources.c.tenant_id == tenant_row.id))
            connection.execute(delete(_tenants).where(_tenants.c.id == tenant_row.id))

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
        def work(connection: Connection) -> None:
            self._fence(connection, lease, slug)
            entry = JournalEntry(
                tenant_slug=slug,
                step=step,
                resource_key=resource_key,
                status=status,
                render_name=render_name,
                render_id=render_id,
                detail=detail,
                generation=lease.generation,
                at=self._now(connection),
            )
            connection.execute(insert(_journal).values(**journal_values(entry)))

        self._transaction(work)

    def list_journal(self, slug: str) -> list[JournalEntry]:
        """Every journal row of ``slug``, oldest first (it outlives the tenant record)."""
        with self._reading() as connection:
            rows = connection.execute(
                select(_journal).where(_journal.c.tenant_slug == slug).order_by(_journal.c.id)
            ).all()
        return [journal_entry_from_row(row) for row in rows]

    # ----------------------------------------------------------------- locks

    def acquire_lock(self, slug: str, holder: LockHolder, *, wait_seconds: float = 0.0) -> Lease:
        deadline = self._monotonic() + max(wait_seconds, 0.0)
        while True:
            try:
                outcome = self._transaction(
                    lambda connection: self._try_acquire(connection, slug, holder),
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
        def work(connection: Connection) -> None:
            result = connection.execute(
                update(_locks)
                .where(
                    _locks.c.slug == lease.slug,
                    _locks.c.generation == lease.generation,
                    _locks.c.acquired_at.is_not(None),
                )
                .values(heartbeat_at=self._now(connection))
            )
            if result.rowcount != 1:
                raise self._lost_error(connection, lease)

        self._transaction(work)

    def check_lock(self, lease: Lease) -> None:
        self._transaction(lambda connection: self._fence(connection, lease, lease.slug))

    def release_lock(self, lease: Lease) -> None:
        """Give the lease back. A lease already taken over is left alone (nothing to release).

        The row stays, holder cleared, so the next holder's generation is higher than ours.
        """

        def work(connection: Connection) -> None:
            connection.execute(
                update(_locks)
                .where(_locks.c.slug == lease.slug, _locks.c.generation == lease.generation)
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

        with self._reading() as connection:
            row = connection.execute(select(_locks).where(_locks.c.slug == slug)).first()
        return None if row is None else _lock_info(row)

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
        def work(connection: Connection) -> None:
            connection.execute(insert(_audit).values(**audit_values(entry)))

        self._transaction(work)

    def list_audit(
        self, *, tenant: str | None = None, since: datetime | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        """Matching entries, newest first."""
        query = select(_audit).order_by(_audit.c.id.desc())
        if tenant is not None:
            query = query.where(_audit.c.tenant == tenant)
        if since is not None:
            query = query.where(_audit.c.at >= since)
        if limit is not None:
            query = query.limit(limit)
        with self._reading() as connection:
            return [audit_entry_from_row(row) for row in connection.execute(query)]

    # ----------------------------------------------------------------- internals

    def _transaction(
        self,
        work: Callable[[Connection], T],
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
                with self._engine.begin() as connection:
                    return work(connection)
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

    def _now(self, connection: Connection) -> datetime:
        """Now, in UTC: the injected clock, else the database server's clock on Postgres."""
        if self._clock is not None:
            return self._clock()
        if self._engine.dialect.name == "postgresql":
            server_now = connection.exec_driver_sql("SELECT clock_timestamp()").scalar()
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

    def _fence(self, connection: Connection, lease: Lease, slug: str) -> None:
        """Lock the tenant's lease row for this transaction; LockLost unless it is still ours."""
        if lease.slug != slug:
            raise ValueError(f"a lease on {lease.slug!r} cannot write tenant {slug!r}")
        row = connection.execute(
            select(_locks).where(_locks.c.slug == slug).with_for_update()
        ).first()
        if row is None or row.generation != lease.generation or row.acquired_at is None:
            raise _lost(lease, None if row is None else _lock_info(row))

    def _lost_error(self, connection: Connection, lease: Lease) -> LockLost:
        row = connection.execute(select(_locks).where(_locks.c.slug == lease.slug)).first()
        return _lost(lease, None if row is None else _lock_info(row))

    def _try_acquire(
        self, connection: Connection, slug: str, holder: LockHolder
    ) -> Lease | LockInfo:
        """One attempt: the new lease, or the current holder when it may not be taken over."""
        now = self._now(connection)
        row = connection.execute(
            select(_locks).where(_locks.c.slug == slug).with_for_update()
        ).first()
        if row is None:
            # A racing insert fails here with IntegrityError → _InsertRace.
            connection.execute(
                insert(_locks).values(
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
            return Lease(slug=slug, holder=holder, generation=1, acquired_at=now)
        current = _lock_info(row)
        takeover_reason = self._takeover_reason(current, now)
        if takeover_reason is None:
            return current
        # Compare-and-set on the generation we read: of two racers only one can match.
        result = connection.execute(
            update(_locks)
            .where(_locks.c.slug == slug, _locks.c.generation == current.generation)
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
    def _tenant_row(connection: Connection, slug: str) -> Any:
        return connection.execute(
            select(_tenants.c.id).where(_tenants.c.slug == slug)
        ).first()

    def _require_tenant(self, connection: Connection, slug: str) -> Any:
        row = self._tenant_row(connection, slug)
        if row is None:
            raise TenantNotFound(f"tenant {slug} not found", hint="see `rcp tenant list`")
        return row

    def _touch(self, connection: Connection, tenant_id: int) -> None:
        connection.execute(
            update(_tenants)
            .where(_tenants.c.id == tenant_id)
            .values(updated_at=self._now(connection))
        )


# Built once: a statement made per call costs more than the query itself on SQLite.
_TENANT_BY_ID = select(_tenants).where(_tenants.c.id == bindparam("tenant_id"))
_RESOURCES_OF_TENANT = (
    select(_resources)
    .where(_resources.c.tenant_id == bindparam("tenant_id"))
    .order_by(_resources.c.id)
)


def _tenants_by_slug(connection: Connection, slugs: Sequence[str]) -> dict[str, Tenant]:
    """Tenants (with resources) among ``slugs`` (at most ``PAGE_SIZE`` of them): two queries."""
    if not slugs:
        return {}
    rows = connection.execute(select(_tenants).where(_tenants.c.slug.in_(slugs))).all()
    if not rows:
        return {}
    resources: dict[int, list[Resource]] = {row.id: [] for row in rows}
    query = (
        select(_resources)
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
            query = select(*columns).order_by(_tenants.c.slug).limit(PAGE_SIZE)
            if after is not None:
                query = query.where(_tenants.c.slug > after)
            if status is not None:
                query = query.where(_tenants.c.status == str(status))
            rows = connection.execute(query).all()
            if not rows:
                return []
            resources: dict[int, list[Resource]] = {row.id: [] for row in rows}
            in_range = (
                select(_resources)
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
            return [tenant_from_row(row, resources[row.id], details=False) for row in rows]

        tenants = run(page)
        yield from tenants
        if len(tenants) < PAGE_SIZE:
            return
        after = tenants[-1].slug


def _at_second(moment: datetime | None) -> str | None:
    """A timestamp for a message: whole seconds are what a reader wants to see."""
    return iso_z(moment.replace(microsecond=0)) if moment is not None else None


# Row → domain record, from Core result rows (here and in ``rcp.store.transfer``), which
# expose the columns as attributes.


_SUMMARY_COLUMNS = [
    column
    for column in _tenants.c
    if column.name not in ("rendered_template", "env_overrides")
]


def _lock_info(row: Any) -> LockInfo:
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


if TYPE_CHECKING:
    from rcp.core.ports import TenantStore

    def _implements_tenant_store(store: SqlStore) -> TenantStore:
        return store  # mypy checks SqlStore against the Protocol here
