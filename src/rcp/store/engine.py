"""SQLAlchemy engines for SQLite and Postgres that behave alike for a concurrently-run CLI.

SQLite: WAL (readers never block the one writer), a busy timeout, foreign keys, and every
transaction opened with ``BEGIN IMMEDIATE`` so a read-then-write never fails half-way with
"database is locked" (the SQLAlchemy pysqlite recipe: turn off the driver's own transaction
handling and emit BEGIN ourselves); connections marked ``READ_ONLY_OPTION`` begin a plain
(deferred) transaction instead. Postgres: psycopg 3, a small pool, pre-ping.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from rcp.errors import StoreError
from rcp.urls import mask_url, sqlite_path, url_passwords

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option of a connection that only reads: SQLite then begins a deferred transaction.
READ_ONLY_OPTION = "rcp_read_only"
POSTGRES_CONNECT_TIMEOUT_S = 10


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
        engine = create_engine("sqlite://", connect_args=connect_args, poolclass=StaticPool)
    else:
        _prepare_sqlite_file(Path(path), original_url, setting=setting)
        engine = create_engine(normalised_url, connect_args=connect_args)

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
    """Create the parent directory and the database file itself, mode 0600 (it holds secrets)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
    except OSError as exc:
        raise StoreError(
            f"cannot open the database file for {setting} ({mask_url(original_url)}): "
            f"{exc.strerror or exc}",
            hint="check the path and its permissions, or set RCP_DATABASE_URL",
        ) from None


def _postgres_engine(normalised_url: str) -> Engine:
    return create_engine(
        normalised_url,
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
