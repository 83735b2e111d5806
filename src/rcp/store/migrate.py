"""Schema migrations: status, and upgrade-to-head that is safe when many rcp processes start at once.

The common case (schema already at head) is a single lock-free query and never imports Alembic
(~0.3 s). Otherwise the upgrade runs under a cross-process lock and re-checks before migrating,
so the processes that lose the race find the schema at head and do nothing:

* Postgres: ``pg_advisory_xact_lock`` on a fixed key, in the same transaction as the check and
  the DDL (Postgres DDL is transactional), so the lock is released exactly when the new schema
  becomes visible.
* SQLite: an exclusive ``flock`` on ``<db>.migrate.lock`` around a ``BEGIN IMMEDIATE``
  transaction holding the check and the DDL.

A database whose revision this code does not know was migrated by a newer rcp: refused.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, inspect, text

from rcp.errors import RetryLater, StoreError

if TYPE_CHECKING:
    from alembic.config import Config

# The newest revision in migrations/versions (a test asserts they agree). Lets the at-head check
# skip importing Alembic.
HEAD_REVISION = "0008"
SCRIPT_LOCATION = "rcp.store:migrations"
VERSION_TABLE = "alembic_version"

# Fixed advisory-lock key for migrations: the bytes of "rcp_migr" as a signed bigint.
POSTGRES_MIGRATION_LOCK_KEY = int.from_bytes(b"rcp_migr", "big", signed=True)
MIGRATION_LOCK_TIMEOUT_S = 120.0

# alembic.command works through module-level state (alembic.context): one upgrade at a time
# per process, whatever the threads do.
_alembic_in_process = threading.Lock()


def current_revision(connection: Connection) -> str | None:
    """The revision recorded in the database, or None for an empty (unmigrated) database."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if not rows:
        return None
    if len(rows) > 1:
        # Branched histories never happen in rcp; several rows mean someone else's Alembic.
        raise StoreError(
            f"the database has {len(rows)} schema revisions ({', '.join(sorted(rows))}); "
            "it was not created by rcp",
        )
    return str(rows[0])


def schema_status(engine: Engine) -> dict[str, Any]:
    """``{"current": rev | None, "head": rev, "at_head": bool}``."""
    with engine.connect() as connection:
        current = current_revision(connection)
    return {"current": current, "head": HEAD_REVISION, "at_head": current == HEAD_REVISION}


def ensure_schema(engine: Engine, *, sqlite_file: str | None) -> bool:
    """Bring the schema to head. True when this call migrated, False when it was already there.

    Raises ``StoreError`` when the database is at a revision newer than this code knows.
    """
    with engine.connect() as connection:
        if current_revision(connection) == HEAD_REVISION:
            return False
    with _alembic_in_process, _migration_file_lock(sqlite_file):
        with engine.connect() as connection, _foreign_keys_off_on_sqlite(connection):
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    _take_postgres_migration_lock(connection)
                current = current_revision(connection)
                if current == HEAD_REVISION:
                    return False
                _refuse_unknown_revision(current)
                from alembic import command

                command.upgrade(_alembic_config(connection), "head")
    return True


@contextlib.contextmanager
def _foreign_keys_off_on_sqlite(connection: Connection) -> Iterator[None]:
    """SQLite alters a table in batch mode by copying it and dropping the old one: with foreign
    keys enforced, dropping ``tenants`` would cascade and delete every tenant's resources. So
    enforcement is off while migrations run (SQLite ignores the pragma inside a transaction:
    it is set before ours begins), the copied rows are checked afterwards, and it is on again
    for whatever uses the pooled connection next. Postgres alters tables in place."""
    if connection.dialect.name != "sqlite":
        yield
        return
    # The driver connection is in autocommit (rcp.store.engine): a pragma sent on it directly
    # runs outside any transaction, which SQLAlchemy's begin would otherwise open first.
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise StoreError(
                f"the schema migration left {len(broken)} rows whose foreign keys point nowhere",
                hint="restore the database from a backup and report this",
            )
    finally:
        raw.execute("PRAGMA foreign_keys = ON")


def known_revisions() -> set[str]:
    """Every revision shipped with this rcp (imports Alembic)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(None))
    return {rev.revision for rev in script.walk_revisions()}


def script_head() -> str | None:
    """The head revision according to the migration scripts themselves (imports Alembic)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()


def _refuse_unknown_revision(current: str | None) -> None:
    if current is None or current in known_revisions():
        return
    raise StoreError(
        f"the database schema (revision {current}) is newer than this rcp knows "
        f"(up to {HEAD_REVISION})",
        hint="upgrade rcp to the version that migrated this database",
    )


def _alembic_config(connection: Connection | None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    # env.py runs on the connection (and transaction) we already hold.
    config.attributes["connection"] = connection
    return config


def _take_postgres_migration_lock(connection: Connection) -> None:
    # Bounded wait, then back to the server default so the DDL itself is not limited.
    connection.execute(text(f"SET LOCAL lock_timeout = '{int(MIGRATION_LOCK_TIMEOUT_S)}s'"))
    try:
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_MIGRATION_LOCK_KEY}
        )
    except Exception as exc:
        if "lock timeout" in str(exc).lower():
            # A lock timeout is temporary (exit 75), not a configuration error.
            raise RetryLater(
                "timed out waiting for another rcp process to finish migrating the database",
                hint="retry in a minute; if it persists, check for a stuck rcp db upgrade",
            ) from None
        raise
    connection.execute(text("SET LOCAL lock_timeout = 0"))


@contextlib.contextmanager
def _migration_file_lock(sqlite_file: str | None) -> Iterator[None]:
    """Exclusive lock on ``<db>.migrate.lock`` (SQLite only; Postgres locks in the database)."""
    if sqlite_file is None:
        yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: BEGIN IMMEDIATE alone serialises
        yield
        return
    lock_path = Path(f"{sqlite_file}.migrate.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + MIGRATION_LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RetryLater(
                        "timed out waiting for another rcp process to finish migrating "
                        f"the database (lock file {lock_path})",
                        hint="retry in a minute; if it persists, check for a stuck rcp db upgrade",
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
