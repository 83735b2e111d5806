"""The simulator's world on disk: one SQLite file shared by every process that uses it.

Concurrency: WAL journal, a generous busy timeout, and every request runs in
``BEGIN IMMEDIATE`` (each request writes at least its log line and rate-limit counter), so
eight ``rcp --sandbox`` processes creating at once serialise on SQLite's write lock instead
of racing. No connection is shared between threads: each thread keeps its own.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rcp.sandbox.ids import new_id

BUSY_TIMEOUT_SECONDS = 60.0
# Bumped whenever SCHEMA changes; an older world is simply discarded (it is a simulator).
SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resources (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS resources_kind_name ON resources (kind, name);
CREATE TABLE IF NOT EXISTS service_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (service_id, kind, name)
);
CREATE TABLE IF NOT EXISTS deploys (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    service_id TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deploys_service ON deploys (service_id, seq);
CREATE TABLE IF NOT EXISTS faults (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source_key TEXT NOT NULL UNIQUE,
    rule TEXT NOT NULL,
    matched INTEGER NOT NULL DEFAULT 0,
    fired INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rate_buckets (
    name TEXT PRIMARY KEY,
    window_start REAL NOT NULL,
    used INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT NOT NULL,
    status INTEGER,
    fault TEXT,
    name TEXT,
    request_id TEXT NOT NULL
);
"""

WIPED_TABLES = (
    "meta",
    "resources",
    "service_items",
    "deploys",
    "faults",
    "rate_buckets",
    "requests",
)


class SandboxStore:
    """Opens the world file; creates schema and the workspaces on first use."""

    def __init__(self, path: Path, *, owners: int = 1) -> None:
        self.path = path
        self.owners = owners
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
            self._ensure_schema(connection)
            self._local.connection = connection
        return connection

    @staticmethod
    def _ensure_schema(connection: sqlite3.Connection) -> None:
        if connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            if connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                for table in WIPED_TABLES:
                    connection.execute(f"DROP TABLE IF EXISTS {table}")
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
        connection.row_factory = sqlite3.Row
        connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        _enable_wal(connection)
        connection.execute("PRAGMA synchronous = NORMAL")
        return connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``); committed on success, else rolled back."""
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            ensure_workspaces(connection, self.owners)
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def wipe(self) -> None:
        """Forget the whole world (resources, faults, counters, request log)."""
        if not self.path.exists():
            return
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            for table in WIPED_TABLES:
                connection.execute(f"DELETE FROM {table}")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


def ensure_workspaces(connection: sqlite3.Connection, count: int = 1) -> None:
    """At least ``count`` workspaces (``tea-…``) and their user exist from the first request on.

    A world opened with a larger count later gains the missing workspaces; it never loses
    any (their resources would be orphaned). Every workspace is visible to every API key,
    as a key of a user who belongs to several teams sees them all on Render.
    """
    owners: list[dict[str, Any]] = read_meta(connection, "owners") or []
    if len(owners) >= count:
        return
    for number in range(len(owners) + 1, count + 1):
        suffix = "" if number == 1 else f" {number}"
        owners.append(
            {
                "id": new_id("tea-"),
                "name": f"Sandbox Workspace{suffix}",
                "email": "sandbox@example.com",
                "type": "team",
            }
        )
    connection.execute(
        "INSERT INTO meta (key, value) VALUES ('owners', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (json.dumps(owners),),
    )
    if read_meta(connection, "user") is None:
        user = {"id": new_id("usr-"), "name": "Sandbox User", "email": "sandbox@example.com"}
        connection.execute("INSERT INTO meta (key, value) VALUES ('user', ?)", (json.dumps(user),))


def read_meta(connection: sqlite3.Connection, key: str) -> Any:
    row = connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else json.loads(row["value"])


def _enable_wal(connection: sqlite3.Connection) -> None:
    """Switch to WAL, retrying while another process switches the same new file.

    Changing the journal mode can answer "database is locked" at once, without going through
    the busy handler, when several processes open a brand-new file together.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
