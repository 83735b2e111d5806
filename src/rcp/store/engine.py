"""SQLAlchemy engines for SQLite and Postgres that behave alike for a concurrently-run CLI.

SQLite: WAL (readers never block the one writer), a busy timeout, foreign keys, and every
transaction opened with ``BEGIN IMMEDIATE`` so a read-then-write never fails half-way with
"database is locked" (the SQLAlchemy pysqlite recipe: turn off the driver's own transaction
handling and emit BEGIN ourselves); connections marked ``READ_ONLY_OPTION`` begin a plain
(deferred) transaction instead. Postgres: psycopg 3, a small pool, pre-ping.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from rcp.errors import RcpError, RetryLater, StoreError
from rcp.urls import mask_url, sqlite_path, url_passwords

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option of a connection that only reads: SQLite then begins a deferred transaction.
READ_ONLY_OPTION = "rcp_read_only"
POSTGRES_CONNECT_TIMEOUT_S = 10
POSTGRES_LOCK_TIMEOUT_MS = SQLITE_BUSY_TIMEOUT_MS


def build_engine(normalised_url: str, original_url: str, *, setting: str) -> Engine:
    """An engine for a URL already passed through ``normalise_url``."""
    try:
        if normalised_url.startswith("sqlite"):
            return _sqlite_engine(normalised_url, original_url, setting=setting)
        return _postgres_engine(normalised_url)
    except (SQLAlchemyError, ValueError, TypeError) as exc:
        raise StoreError(
            f"{setting} is not a valid database URL ({mask_url(original_url)}): "
            f"{scrub(str(exc), original_url)}"
        ) from None


def _sqlite_engine(normalised_url: str, original_url: str, *, setting: str) -> Engine:
    path = sqlite_path(normalised_url)
    connect_args: dict[str, Any] = {
        "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
        # The engine is shared by the lease keep-alive thread and concurrent work.
        "check_same_thread": False,
    }
    if path is None:
        # One shared connection, or every checkout would see a different empty database.
        engine = create_engine(
            "sqlite://", connect_args=connect_args, poolclass=StaticPool, hide_parameters=True
        )
    else:
        _prepare_sqlite_file(Path(path), original_url, setting=setting)
        engine = create_engine(normalised_url, connect_args=connect_args, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Autocommit at the driver level: SQLAlchemy's begin event below owns BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if path is not None:
                cursor.execute("PRAGMA journal_mode = WAL")
                # Durable enough in WAL mode and much faster than FULL.
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            # A read: WAL gives it a snapshot without the write lock, so a long listing never
            # holds up writers (nor waits for them).
            connection.exec_driver_sql("BEGIN")
            return
        # Take the write lock up front: contention becomes a bounded wait on busy_timeout
        # instead of a lock-upgrade failure in the middle of a transaction.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _prepare_sqlite_file(path: Path, original_url: str, *, setting: str) -> None:
    """Create the parent directory and the database file itself, mode 0600 (it holds secrets).

    A new file appears complete (a valid, empty WAL database) or not at all, so an existing
    zero-length file is never one rcp is creating: it is a database that lost its content
    (truncated, or replaced by an empty file) and is refused rather than silently used as a
    new, empty database.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            _create_sqlite_file(path)
        elif path.stat().st_size == 0:
            raise corrupt_database_error(str(path))
    except OSError as exc:
        raise StoreError(
            f"cannot open the database file for {setting} ({mask_url(original_url)}): "
            f"{exc.strerror or exc}",
            hint=f"check the path and its permissions, or set {setting}",
        ) from None


def _create_sqlite_file(path: Path) -> None:
    """Initialise a database beside ``path`` and link it into place; if another process got
    there first, keep theirs."""
    import secrets

    staging = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.new")
    try:
        os.close(os.open(staging, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        connection = sqlite3.connect(staging)
        try:
            # Writes the header (WAL is recorded in it): the file is never zero-length.
            connection.execute("PRAGMA journal_mode = WAL")
        finally:
            connection.close()
        try:
            os.link(staging, path)  # never replaces a file another process linked first
        except FileExistsError:
            pass
        except OSError:
            # No hard links here (some network or FUSE file systems): an exclusive create.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    finally:
        for leftover in (staging, Path(f"{staging}-wal"), Path(f"{staging}-shm")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


CORRUPT_MESSAGE = "database file is corrupt or empty: restore from backup"


def corrupt_database_error(path: str | None) -> StoreError:
    where = f" ({path})" if path else ""
    return StoreError(
        f"{CORRUPT_MESSAGE}{where}",
        hint="`rcp backup import FILE` restores an export into a new database file; "
        "move the damaged file aside first",
        code="database_corrupt",
    )


def _postgres_engine(normalised_url: str) -> Engine:
    engine = create_engine(
        normalised_url,
        # Statement parameters are tenant data (env override values): never in logs or errors.
        hide_parameters=True,
        # A CLI run needs a handful of connections: main work, lease keep-alive, parallel apply.
        pool_size=4,
        max_overflow=8,
        pool_timeout=30,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": POSTGRES_CONNECT_TIMEOUT_S,
            "application_name": "rcp",
        },
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        # Like SQLite's busy timeout: a lock not granted in time is "busy, rerun" (exit 75),
        # not a command hanging behind another client for ever. Only where nobody chose a
        # value (the URL's options, the role or the database may set lock_timeout).
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SHOW lock_timeout")
                row = cursor.fetchone()
                if row is not None and str(row[0]) == "0":
                    cursor.execute(f"SET lock_timeout = {POSTGRES_LOCK_TIMEOUT_MS}")
            finally:
                cursor.close()
        finally:
            dbapi_connection.autocommit = autocommit

    return engine


def scrub(text: str, url: str) -> str:
    """``text`` (a driver's error message) with the URL's password replaced by ``***``."""
    for password in url_passwords(url):
        text = text.replace(password, "***")
    return text


def is_sqlite_busy(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" / "database is busy" errors."""
    orig = getattr(exc, "orig", exc)
    if not isinstance(orig, sqlite3.OperationalError):
        return False
    message = str(orig).lower()
    return "locked" in message or "busy" in message


# --------------------------------------------------------------------------- error classes
#
# What a failed database call means for the user decides the exit code: a lost connection, a
# lock not granted in time or a full disk is temporary (exit 75: rerun, the journal resumes);
# a damaged SQLite file needs a restore (exit 6); the rest is configuration or a bug (exit 6).

# SQLite primary result codes (the low byte of sqlite_errorcode).
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_NOMEM = 5, 6, 7
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_NOTADB = 10, 11, 13, 26
# Postgres SQLSTATEs that say "not now" rather than "not this way".
_PG_LOST = frozenset({"57P01", "57P02"})  # admin / crash shutdown ended the session
_PG_UNAVAILABLE = frozenset({"57P03", "53300", "53200"})  # starting up, too many clients, OOM
_PG_BUSY = frozenset({"55P03", "57014", "40001", "40P01"})  # lock/statement timeout, conflicts
_PG_FULL = frozenset({"53100"})


def transient_kind(exc: BaseException, sqlite_file: str | None = None) -> str | None:
    """``"lost"``, ``"unavailable"``, ``"busy"`` or ``"full"`` for a temporary database
    failure (rerunning later can succeed), else None."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        primary = code & 0xFF
        if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
            return "busy"
        if primary == _SQLITE_FULL:
            return "full"
        if primary == _SQLITE_NOMEM:
            return "unavailable"
        if primary == _SQLITE_IOERR and sqlite_file is not None and _nearly_full(sqlite_file):
            # SQLite reports a full disk as a plain I/O error when it hits it creating the
            # WAL or shared-memory file; the free space says which it was.
            return "full"
        return None
    if is_sqlite_busy(exc):
        return "busy"
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate.startswith("08") or sqlstate in _PG_LOST:
            return "lost"
        if sqlstate in _PG_UNAVAILABLE:
            return "unavailable"
        if sqlstate in _PG_BUSY:
            return "busy"
        if sqlstate in _PG_FULL:
            return "full"
    # SQLAlchemy recognised a dropped connection (no SQLSTATE: the socket closed under us).
    if getattr(exc, "connection_invalidated", False):
        return "lost"
    return None


_NEARLY_FULL_BYTES = 1 << 20


def _nearly_full(sqlite_file: str) -> bool:
    try:
        usage = os.statvfs(Path(sqlite_file).parent)
    except OSError:
        return False
    return usage.f_bavail * usage.f_frsize < _NEARLY_FULL_BYTES


def is_corrupt_sqlite(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    return isinstance(code, int) and (code & 0xFF) in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


_TRANSIENT_MESSAGES = {
    "lost": "the connection to the database was lost",
    "unavailable": "the database is not accepting work right now",
    "busy": "the database is busy: a lock was not granted in time",
    "full": "the database's disk is full",
}


def database_error(
    exc: BaseException,
    url: str,
    *,
    setting: str | None = None,
    sqlite_file: str | None = None,
    before_work: bool = False,
) -> RcpError | None:
    """The rcp error for a driver failure when its kind decides the outcome: ``RetryLater``
    (exit 75) for a temporary failure, the corrupt-file ``StoreError`` (exit 6) for a damaged
    SQLite file; None for anything else (callers keep their own wording). ``before_work``: the
    command has not changed anything yet (the hint differs)."""
    if is_corrupt_sqlite(exc):
        return corrupt_database_error(sqlite_file)
    kind = transient_kind(exc, sqlite_file)
    if kind is None:
        return None
    where = f" ({setting})" if setting else ""
    reason = first_line(scrub(str(getattr(exc, "orig", None) or exc), url))
    return RetryLater(
        f"{_TRANSIENT_MESSAGES[kind]}{where}: {reason}",
        hint=("free disk space, then " if kind == "full" else "")
        + (
            "rerun the same command (nothing was changed)"
            if before_work
            else "rerun the same command; it resumes where it stopped"
        ),
        code=f"database_{kind}",
    )


def first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else "unknown error"
