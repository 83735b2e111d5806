"""``open_store``: from a database URL to a ready ``SqlStore`` (reachable, schema at head)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import NoReturn

from sqlalchemy.exc import SQLAlchemyError

from rcp.errors import StoreError
from rcp.store import migrate
from rcp.store.engine import build_engine, database_error, first_line, is_sqlite_busy, scrub
from rcp.store.repository import HEARTBEAT_SECONDS, LEASE_SECONDS, SqlStore
from rcp.urls import mask_url, normalise_url, sqlite_path


def open_store(
    url: str,
    *,
    setting: str = "RCP_DATABASE_URL",
    auto_upgrade: bool = True,
    clock: Callable[[], datetime] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    lease_seconds: float | None = None,
    heartbeat_seconds: float | None = None,
) -> SqlStore:
    """Open the control-plane database at ``url``.

    Accepts ``sqlite:///path`` (file and parent directory created, file mode 0600),
    ``postgresql://…`` and ``postgres://…``. Checks the database answers, then, unless
    ``auto_upgrade`` is False, migrates it to head under a cross-process lock.

    Raises ``StoreError`` (exit 6) naming ``setting``, password masked, for a malformed or
    unreachable URL, and for a schema newer than this rcp. The remaining arguments go to
    ``SqlStore`` (tests inject clocks; ``clock=None`` means the database server's clock on
    Postgres, the local one on SQLite). ``lease_seconds`` defaults to 30 (the fault suite
    shortens it through ``rcp.testhooks``), ``heartbeat_seconds`` to a third of the lease.
    """
    if lease_seconds is None:
        lease_seconds = LEASE_SECONDS
    if heartbeat_seconds is None:
        heartbeat_seconds = (
            HEARTBEAT_SECONDS if lease_seconds == LEASE_SECONDS else lease_seconds / 3
        )
    normalised = normalise_url(url, setting=setting)
    sqlite_file = sqlite_path(normalised) if normalised.startswith("sqlite") else None
    engine = build_engine(normalised, url, setting=setting)
    store = SqlStore(
        engine,
        url=url,
        sqlite_file=sqlite_file,
        clock=clock,
        monotonic=monotonic,
        sleep=sleep,
        lease_seconds=lease_seconds,
        heartbeat_seconds=heartbeat_seconds,
    )
    try:
        _check_reachable(store, url, setting=setting, sqlite_file=sqlite_file)
        if auto_upgrade:
            try:
                migrate.ensure_schema(engine, sqlite_file=sqlite_file)
            except SQLAlchemyError as exc:
                classified = database_error(
                    exc, url, setting=setting, sqlite_file=sqlite_file, before_work=True
                )
                if classified is not None:
                    raise classified from None
                raise StoreError(
                    f"could not migrate the database of {setting} ({mask_url(url)}): "
                    f"{first_line(scrub(str(getattr(exc, 'orig', None) or exc), url))}"
                ) from None
    except BaseException:
        store.close()
        raise
    return store


def _check_reachable(
    store: SqlStore, url: str, *, setting: str, sqlite_file: str | None
) -> None:
    # SQLite: the first connection may switch a brand-new file to WAL while other processes
    # do the same; a "database is locked" there is contention, not an unreachable database.
    for attempt in range(CONNECT_BUSY_RETRIES + 1):
        try:
            with store.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            return
        except SQLAlchemyError as exc:
            if is_sqlite_busy(exc) and attempt < CONNECT_BUSY_RETRIES:
                store.engine.dispose()  # drop the half-configured connection
                time.sleep(0.05 * (attempt + 1))
                continue
            _raise_unreachable(exc, url, setting=setting, sqlite_file=sqlite_file)


CONNECT_BUSY_RETRIES = 5


def _raise_unreachable(
    exc: SQLAlchemyError, url: str, *, setting: str, sqlite_file: str | None
) -> NoReturn:
    # Busy, starting up, too many clients, disk full: temporary (exit 75). A damaged file:
    # restore (exit 6). Refused or unknown host, bad credentials, no such database: the
    # setting is wrong (exit 6).
    classified = database_error(
        exc, url, setting=setting, sqlite_file=sqlite_file, before_work=True
    )
    if classified is not None:
        raise classified from None
    reason = first_line(scrub(str(getattr(exc, "orig", None) or exc), url))
    if url.strip().lower().startswith("sqlite"):
        # No server involved: the file, its folder or their permissions.
        hint = f"check {setting}: the file's folder must exist and be writable by you"
    else:
        hint = f"check {setting} and that the Postgres server is running and reachable"
    raise StoreError(
        f"cannot connect to the database of {setting} ({mask_url(url)}): {reason}", hint=hint
    ) from None
