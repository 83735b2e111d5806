"""Scenarios 8 and 9: concurrent processes on one tenant / a fresh database, and lease expiry."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from fault_harness import (
    EngineRunner,
    Rcp,
    Sandbox,
    converged,
    drain,
    mutations,
    parallel,
    posts_to,
)

pytestmark = pytest.mark.slow  # real subprocesses against a served sandbox


INTERNAL_NOISE = ("database is locked", "IntegrityError", "Traceback", "UniqueViolation", "deadlock")


def _alembic_rows(rcp: Rcp) -> list[str]:
    from sqlalchemy import text

    store = rcp.store()
    try:
        with store.engine.connect() as connection:
            return [row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))]
    finally:
        store.close()


# ------------------------------------------------------------------------------ scenario 8


def scenario_eight_concurrent_creates_of_one_tenant_on_a_fresh_database(sandbox: Sandbox, rcp: Rcp) -> None:
    scenario = "8 concurrent creates, fresh database"
    runs = list(parallel([lambda: rcp("-o", "json", "tenant", "create", "race")] * 8, workers=8))
    codes = sorted(run.exit_code for run in runs)
    assert set(codes) <= {0, 4}, "\n\n".join(run.describe() for run in runs)
    assert 0 in codes
    for run in runs:
        for noise in INTERNAL_NOISE:
            assert noise not in run.stdout + run.stderr, run.describe()
        if run.exit_code == 4:
            error = run.json()["error"]
            assert error["code"] == "tenant_locked", error
            assert "locked by fault-suite" in error["message"], error
    assert len(_alembic_rows(rcp)) == 1
    # Exactly one process created each resource.
    state = sandbox.state()
    assert len(posts_to(sandbox.requests(state), "/services")) == 1
    assert len(posts_to(sandbox.requests(state), "/postgres")) == 1
    converged(scenario, sandbox, rcp, ["race"], runs=len(runs))
    final = rcp("-o", "json", "tenant", "create", "race")
    assert final.exit_code == 0, final.describe()
    assert final.json()["data"]["status"] == "ACTIVE"
    converged(scenario, sandbox, rcp, ["race"], runs=1)


def scenario_eight_processes_start_on_an_unmigrated_database(sandbox: Sandbox, rcp: Rcp) -> None:
    """Different tenants, all at once, on a database nobody has migrated yet."""
    scenario = "8 concurrent first use, fresh database"
    slugs = [f"first{n}" for n in range(8)]
    runs = list(
        parallel(
            [lambda slug=slug: rcp("-o", "json", "tenant", "create", slug, "--no-wait") for slug in slugs],
            workers=8,
        )
    )
    for run in runs:
        assert run.exit_code == 0, run.describe()
        for noise in INTERNAL_NOISE:
            assert noise not in run.stdout + run.stderr, run.describe()
    assert len(_alembic_rows(rcp)) == 1
    assert sorted(rcp.tenants()) == sorted(slugs)
    converged(scenario, sandbox, rcp, slugs, runs=len(runs))


# ------------------------------------------------------------------------------ scenario 9


def scenario_paused_holder_past_its_lease_stops_before_any_render_call(sandbox: Sandbox, rcp: Rcp) -> None:
    scenario = "9 lease expiry (SIGSTOP holder)"
    lease = {"RCP_TEST_LEASE_SECONDS": "2"}
    rcp.install_template()
    sandbox.add_faults({"method": "POST", "path": "/key-value", "nth": [1], "action": "delay", "seconds": 1.0})
    holder = rcp.popen("-o", "json", "tenant", "create", "paused", "--template", "full", env=lease)
    lines: list[str] = []
    drain(holder.stderr, lines)
    try:
        sandbox.wait_until_fault_matched()  # the Key Value POST is held by the server
        _freeze_between_transactions(holder, rcp, self_stopping=False)

        # Another process waits for the lease to expire, takes over and converges.
        taker = rcp("-o", "json", "tenant", "create", "paused", "--template", "full",
                    "--lock-timeout", "15s", env=lease)
        assert taker.exit_code == 0, taker.describe()
        assert taker.json()["data"]["status"] == "ACTIVE"
        assert len(posts_to(sandbox.requests(), "/key-value")) == 1  # adopted, not re-created
        after_taker = sandbox.last_seq()
        converged(scenario, sandbox, rcp, ["paused"], runs=1)

        holder.send_signal(signal.SIGCONT)
        assert holder.stdout is not None
        stdout = holder.stdout.read()
        code = holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.send_signal(signal.SIGCONT)
            holder.kill()
    assert code == 4, "".join(lines) + stdout
    assert '"code": "lock_lost"' in stdout, stdout
    # The stale holder made no Render call at all once resumed.
    assert sandbox.last_seq() == after_taker
    assert mutations(sandbox.requests(), after_seq=after_taker) == []
    converged(scenario, sandbox, rcp, ["paused"], runs=1)


def test_eight_concurrent_creates_of_one_tenant_on_a_fresh_database(on_engines: EngineRunner) -> None:
    on_engines(scenario_eight_concurrent_creates_of_one_tenant_on_a_fresh_database)


def test_eight_processes_start_on_an_unmigrated_database(on_engines: EngineRunner) -> None:
    on_engines(scenario_eight_processes_start_on_an_unmigrated_database)


def _database_idle(rcp: Rcp) -> bool:
    """No other connection is inside a transaction (SQLite: nobody holds the write lock).

    A process frozen inside a transaction would block its successor for as long as it stays
    frozen — a pause no lease can cure — so the tests freeze the holder between transactions
    (its lease heartbeat thread runs one every few hundred milliseconds)."""
    if rcp.engine == "sqlite":
        import sqlite3

        path = rcp.database_url.removeprefix("sqlite:///")
        connection = sqlite3.connect(path, timeout=0.05, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            connection.close()
    import psycopg

    with psycopg.connect(rcp.database_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')"
        ).fetchone()
    return row is not None and row[0] == 0


def _freeze_between_transactions(
    process: subprocess.Popen[str], rcp: Rcp, *, self_stopping: bool
) -> None:
    """SIGSTOP the holder (or wait for its own failpoint stop) at a moment it holds no
    database transaction; otherwise let it run a moment and try again."""
    for _ in range(50):
        if self_stopping:
            _wait_until_stopped(process)
        else:
            process.send_signal(signal.SIGSTOP)
            _wait_until_stopped(process)
        if _database_idle(rcp):
            return
        process.send_signal(signal.SIGCONT)
        time.sleep(0.03)
    raise AssertionError("could not freeze the holder outside a database transaction")


def _wait_until_stopped(process: subprocess.Popen[str], timeout: float = 60.0) -> None:
    """Until the process is in state T (it stopped itself at its failpoint)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode} before stopping")
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        if fields[0] in ("T", "t"):
            return
        time.sleep(0.02)
    raise AssertionError("the process never stopped at its failpoint")


def scenario_holder_paused_while_polling_stops_before_any_render_call(sandbox: Sandbox, rcp: Rcp) -> None:
    """The same, with the holder paused between two readiness polls (a deterministic
    failpoint stops it there, outside any database transaction)."""
    scenario = "9 lease expiry (SIGSTOP holder)"
    lease = {"RCP_TEST_LEASE_SECONDS": "2"}
    holder = rcp.popen("-o", "json", "tenant", "create", "polling",
                       env={**lease, "RCP_FAILPOINT": "wait:poll=stop"})
    assert holder.stderr is not None and holder.stdout is not None
    lines: list[str] = []
    drain(holder.stderr, lines)
    try:
        _freeze_between_transactions(holder, rcp, self_stopping=True)
        taker = rcp("-o", "json", "tenant", "create", "polling", "--lock-timeout", "15s", env=lease)
        assert taker.exit_code == 0, taker.describe()
        assert taker.json()["data"]["status"] == "ACTIVE"
        after_taker = sandbox.last_seq()
        holder.send_signal(signal.SIGCONT)
        stdout = holder.stdout.read()
        code = holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.send_signal(signal.SIGCONT)
            holder.kill()
    assert code == 4, "".join(lines) + stdout
    assert '"code": "lock_lost"' in stdout, stdout
    assert sandbox.last_seq() == after_taker  # not a single Render call once resumed
    converged(scenario, sandbox, rcp, ["polling"], runs=2)


def test_holder_paused_while_polling_stops_before_any_render_call(on_engines: EngineRunner) -> None:
    on_engines(scenario_holder_paused_while_polling_stops_before_any_render_call)


def test_paused_holder_past_its_lease_stops_before_any_render_call(on_engines: EngineRunner) -> None:
    on_engines(scenario_paused_holder_past_its_lease_stops_before_any_render_call)
