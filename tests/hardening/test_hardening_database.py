"""Issue 11 item 6 (database half): exit codes by what happened to the database.

- Temporary trouble — the connection dropped, a lock not granted in time, a full disk — is exit
  75 with a hint to rerun (CI retries it), not exit 6 "check RCP_DATABASE_URL".
- A corrupt or zero-length SQLite file is exit 6 "database file is corrupt or empty: restore
  from backup" (a zero-length file is never silently a new, empty database).
- Messages about SQLite never speak of a "server".
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli, run_rcp

CORRUPT = "database file is corrupt or empty: restore from backup"


@pytest.fixture
def sqlite_db(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = isolated_env / "db" / "rcp.db"
    path.parent.mkdir()
    monkeypatch.setenv("RCP_DATABASE_URL", f"sqlite:///{path}")
    return path


# ---------------------------------------------------------------- damaged SQLite files


def _zero_length(path: Path) -> None:
    path.write_bytes(b"")


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database, just some text\n" * 200)


def _truncated(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(100)


def _overwritten_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(4096, len(data), 4096):  # every page but the header's
        data[offset : offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage", [_zero_length, _garbage, _truncated, _overwritten_pages], ids=lambda f: f.__name__
)
def test_damaged_sqlite_file_is_exit_6_restore_from_backup(
    cli: Cli, sqlite_db: Path, damage: object
) -> None:
    seeded = cli("backup", "import", str(_backup_document(sqlite_db.parent / "b.json", 3)))
    assert seeded.exit_code == 0, seeded.stderr
    for suffix in ("-wal", "-shm"):  # a clean close leaves none; make sure of it
        Path(f"{sqlite_db}{suffix}").unlink(missing_ok=True)
    damage(sqlite_db)  # type: ignore[operator]
    size_before = sqlite_db.stat().st_size
    for args in (["tenant", "list"], ["tenant", "show", "t0"], ["db", "status"], ["audit"]):
        result = cli("-o", "json", *args)
        assert result.exit_code == 6, (args, result.stderr)
        error = result.json()["error"]
        assert error["code"] == "database_corrupt", error
        assert CORRUPT in error["message"]
        assert "server" not in result.stderr
        assert "restore" in error["message"]
    assert sqlite_db.stat().st_size == size_before  # left as found, for forensics or repair


def test_new_database_file_is_never_zero_length(cli: Cli, sqlite_db: Path) -> None:
    result = cli("tenant", "list")
    assert result.exit_code == 0, result.stderr
    assert sqlite_db.stat().st_size > 0
    assert oct(sqlite_db.stat().st_mode & 0o777) == oct(0o600)
    assert sorted(p.name for p in sqlite_db.parent.iterdir() if p.name.startswith(".")) == []


def test_concurrent_first_use_of_a_new_file_never_sees_it_empty(sqlite_db: Path) -> None:
    """Creating the file atomically is what lets a zero-length file mean "damaged": eight
    processes racing to create it all succeed."""
    env = {"RCP_DATABASE_URL": f"sqlite:///{sqlite_db}"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "rcp", "-o", "json", "tenant", "list"],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert json.loads(out) == {"data": []}


def test_unopenable_sqlite_path_does_not_mention_a_server(cli: Cli, isolated_env: Path) -> None:
    blocker = isolated_env / "not-a-dir"
    blocker.write_text("a file where a folder should be")
    result = cli("tenant", "list", env={"RCP_DATABASE_URL": f"sqlite:///{blocker}/rcp.db"})
    assert result.exit_code == 6
    assert "server" not in result.stderr
    assert "RCP_DATABASE_URL" in result.stderr


# ---------------------------------------------------------------- SQLite busy


def test_sqlite_lock_not_granted_is_exit_75(
    cli: Cli, sqlite_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("tenant", "list").exit_code == 0  # create and migrate
    # Shorter than the 10 s default so the test is quick; the path is the same.
    monkeypatch.setattr("rcp.store.engine.SQLITE_BUSY_TIMEOUT_MS", 100)
    holder = sqlite3.connect(sqlite_db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = cli("-o", "json", "tenant", "list")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 75, result.stderr
    error = result.json()["error"]
    assert error["code"] in ("database_busy", "retry_later")
    assert "busy" in error["message"]
    assert "server" not in result.stderr and "check RCP_DATABASE_URL" not in result.stderr


# ---------------------------------------------------------------- SQLite disk full


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (needs mount privileges, as root in CI containers)."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up ({mounted.stderr.strip()})")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _backup_document(path: Path, tenants: int, *, padding: int = 0) -> Path:
    def tenant(index: int) -> dict[str, object]:
        return {
            "name": f"Tenant {index}",
            "slug": f"t{index}",
            "status": "ACTIVE",
            "template": "default",
            "custom_plugin_repo": None,
            "rendered_template": {"resources": [], "padding": "x" * padding},
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "last_error": None,
            "resources": [],
            "env_overrides": [],
            "journal": [],
        }

    document = {
        "format": "rcp-backup",
        "version": 1,
        "exported_at": "2026-01-01T00:00:00Z",
        "tenants": [tenant(index) for index in range(tenants)],
        "audit": [],
    }
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("room", [0, 256 << 10], ids=["full", "fills-up-mid-import"])
def test_full_disk_is_exit_75(
    cli: Cli, tiny_filesystem: Path, isolated_env: Path, room: int
) -> None:
    url = f"sqlite:///{tiny_filesystem / 'rcp.db'}"
    assert cli("tenant", "list", env={"RCP_DATABASE_URL": url}).exit_code == 0
    # Fill the file system but for ``room`` bytes, then ask for a write bigger than that.
    filler = tiny_filesystem / "filler"
    usage = os.statvfs(tiny_filesystem)
    wanted = max(usage.f_bavail * usage.f_frsize - room, 0)
    with filler.open("wb") as handle:
        try:
            while handle.tell() < wanted:
                handle.write(b"\0" * min(65536, wanted - handle.tell()))
                handle.flush()
        except OSError:
            pass
    backup = _backup_document(isolated_env / "big.json", 40, padding=20_000)
    # Subprocesses: the lock a failed run could not release names a pid that is then gone,
    # so the rerun takes it over at once (in process, our own pid would stay "alive").
    command = ["-o", "json", "backup", "import", str(backup)]
    result = run_rcp(command, env={"RCP_DATABASE_URL": url})
    assert result.exit_code == 75, result.stderr
    error = result.json()["error"]
    assert error["code"] == "database_full"
    assert "disk is full" in error["message"]
    assert "rerun" in error["hint"] and "free disk space" in error["hint"]
    filler.unlink()
    # All or nothing: with room again the same command succeeds.
    again = run_rcp(command, env={"RCP_DATABASE_URL": url})
    assert again.exit_code == 0, again.stderr
    assert len(again.json()["data"]["tenants_created"]) == 40


# ---------------------------------------------------------------- Postgres


def _wait_for_rcp_backend(admin: object, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = admin.execute(  # type: ignore[attr-defined]
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'rcp' "
            "AND wait_event_type = 'Lock' AND datname = current_database()"
        ).fetchone()
        if row is not None:
            return int(row[0])
        time.sleep(0.05)
    raise AssertionError("rcp never waited on the lock")


def _start_rcp(url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rcp", "-o", "json", *args],
        env={**os.environ, "RCP_DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.postgres
def test_postgres_connection_lost_mid_command_is_exit_75(fresh_postgres_url: str) -> None:
    import psycopg

    url = fresh_postgres_url
    assert run_rcp(["tenant", "list"], env={"RCP_DATABASE_URL": url}).exit_code == 0
    with psycopg.connect(url) as holder, psycopg.connect(url, autocommit=True) as admin:
        holder.execute("LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE")
        proc = _start_rcp(url, "tenant", "list")
        try:
            pid = _wait_for_rcp_backend(admin)
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])  # the server drops it
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 75, err
    error = json.loads(out)["error"]
    assert error["code"] == "database_lost"
    assert "connection to the database was lost" in error["message"]
    assert "rerun" in error["hint"]
    assert "check RCP_DATABASE_URL" not in err


@pytest.mark.postgres
def test_postgres_lock_timeout_is_exit_75(fresh_postgres_url: str) -> None:
    import psycopg

    # The URL's own lock_timeout (1 s) is respected; rcp's default (10 s) applies otherwise.
    url = f"{fresh_postgres_url}?options=-c%20lock_timeout%3D1000"
    assert run_rcp(["tenant", "list"], env={"RCP_DATABASE_URL": url}).exit_code == 0
    with psycopg.connect(fresh_postgres_url) as holder:
        holder.execute("LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        proc = _start_rcp(url, "tenant", "list")
        try:
            out, err = proc.communicate(timeout=60)  # today's main waits for ever
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 75, err
    assert time.monotonic() - started < 30
    error = json.loads(out)["error"]
    assert error["code"] == "database_busy"
    assert "lock was not granted in time" in error["message"]


@pytest.mark.postgres
def test_postgres_default_lock_timeout_is_set(fresh_postgres_url: str) -> None:
    from rcp.store import open_store

    store = open_store(fresh_postgres_url)
    try:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == "10s"
    finally:
        store.close()


@pytest.mark.parametrize(
    ("sqlstate", "code"),
    [
        ("08006", "database_lost"),  # connection failure
        ("57P01", "database_lost"),  # admin shutdown
        ("57P03", "database_unavailable"),  # cannot connect now (starting up)
        ("53300", "database_unavailable"),  # too many connections
        ("55P03", "database_busy"),  # lock not available
        ("53100", "database_full"),  # disk full
        ("42P01", None),  # undefined table: not temporary
    ],
)
def test_postgres_sqlstates_are_classified(sqlstate: str, code: str | None) -> None:
    """The SQLSTATEs that cannot be produced on demand against a live server (a full disk,
    a server starting up) are mapped by the same code as the ones above."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    from rcp.errors import RetryLater
    from rcp.store.engine import database_error

    class Failure(psycopg.OperationalError):
        pass

    Failure.sqlstate = sqlstate  # type: ignore[misc]
    orig = Failure("SSL SYSCALL error" if sqlstate.startswith("08") else "failure")
    error = database_error(
        OperationalError("SELECT 1", None, orig), "postgresql://u:pw@db/x", setting="RCP_DATABASE_URL"
    )
    if code is None:
        assert error is None
    else:
        assert isinstance(error, RetryLater) and error.code == code
        assert error.exit_code == 75
