"""Scenario 13: orphans — Render resources carrying a tenant's names that no record holds.

Three ways in (issue: "ownership by name"), each run through the real CLI against a served
sandbox, ending with zero resources on Render carrying the tenant's names beyond the recorded
ones (after `check --repair --delete-duplicates`) or at all (after `tenant delete`):

(a) a lost or new rcp database, then `rcp tenant create` of the same name;
(b) a create Render acts on after the client gave up (the POST held longer than the client's
    read timeout and rcp's wait for a late arrival): a second Postgres of the same name;
(c) an older backup imported after `check --repair` recreated a service.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from fault_harness import FULL_KEYS, EngineRunner, Rcp, Sandbox, converged, posts_to

pytestmark = pytest.mark.slow  # real subprocesses against a served sandbox


def _carrying(sandbox: Sandbox, slug: str) -> list[tuple[str, str, str]]:
    """Every resource on Render named like one of the tenant's (``<slug>-<key>``)."""
    names = {f"{slug}-{key}" for key in FULL_KEYS}
    return sorted(r for r in sandbox.resources() if r[2] in names)


@contextmanager
def _new_database(rcp: Rcp, root: Path) -> Iterator[Rcp]:
    """The same operator with a new, empty control-plane database on the same engine (a lost
    volume, a new CI runner): Render still holds everything."""
    if rcp.engine == "sqlite":
        yield replace(rcp, database_url=f"sqlite:///{root / 'new-rcp.db'}")
        return
    import psycopg

    base = os.environ["RCP_TEST_DATABASE_URL"]
    name = f"rcp_f_{uuid.uuid4().hex[:12]}"
    admin = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield replace(rcp, database_url=base.rsplit("/", 1)[0] + "/" + name)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------------------ (a)

SCENARIO_A = "13a orphans: lost database, create again"


def scenario_lost_database_then_create(sandbox: Sandbox, rcp: Rcp) -> None:
    rcp.install_template()
    first = rcp("-o", "json", "tenant", "create", "Full A", "--template", "full")
    assert first.exit_code == 0, first.describe()
    recorded = {r["key"]: r["render_id"] for r in first.json()["data"]["resources"]}
    converged(SCENARIO_A, sandbox, rcp, ["full-a"], runs=1)

    with _new_database(rcp, rcp.home) as fresh:
        before = sandbox.last_seq()
        refused = fresh("-o", "json", "tenant", "create", "Full A", "--template", "full")
        assert refused.exit_code == 4, refused.describe()
        error = refused.json()["error"]
        assert error["code"] == "resource_exists"
        for key, render_id in recorded.items():
            assert f"full-a-{key} ({render_id})" in error["message"]
            assert f"--resource {key}={render_id}" in error["hint"]
        assert "rcp tenant adopt full-a --name 'Full A' --template full" in error["hint"]
        assert [r for r in sandbox.requests() if int(r["seq"]) > before and r["method"] == "POST"] == []
        assert "full-a" not in fresh.tenants()

        adopted = fresh("-o", "json", "tenant", "create", "Full A", "--template", "full", "--adopt-existing")
        assert adopted.exit_code == 0, adopted.describe()
        data = adopted.json()["data"]
        assert data["status"] == "ACTIVE"
        assert data["render_service_ids"] == recorded
        for path in ("/services", "/postgres", "/key-value"):
            assert len(posts_to(sandbox.requests(), path)) == 1, path  # the first run's only
        assert len(_carrying(sandbox, "full-a")) == len(FULL_KEYS)
        converged(SCENARIO_A, sandbox, fresh, ["full-a"], runs=2)

        deleted = fresh("-o", "json", "tenant", "delete", "full-a", "--yes")
        assert deleted.exit_code == 0, deleted.describe()
        assert _carrying(sandbox, "full-a") == []
        converged(SCENARIO_A, sandbox, fresh, ["full-a"], runs=1)


def test_lost_database_then_create(on_engines: EngineRunner) -> None:
    on_engines(scenario_lost_database_then_create)


# ------------------------------------------------------------------------------ (b)

SCENARIO_B = "13b orphans: create acted on after timeout"
# The client gives up after 1 s and looks the name up for 3 s more (the engine's settle time)
# before creating again; Render acts on the held POST only after 8 s: two Postgres of one name.
LATE_POSTGRES = {"method": "POST", "path": "/postgres", "nth": [1], "action": "delay", "seconds": 8}
CLIENT_TIMEOUT = {"RCP_TEST_HTTP_TIMEOUT": "1"}


def _create_with_a_late_duplicate(sandbox: Sandbox, rcp: Rcp, slug: str) -> dict[str, str]:
    sandbox.clear_faults()
    sandbox.add_faults(LATE_POSTGRES)
    run = rcp("-o", "json", "tenant", "create", slug, "--template", "full", env=CLIENT_TIMEOUT)
    assert run.exit_code == 0, run.describe()
    assert "outcome of create unknown; reconciling by name" in run.stderr
    recorded = {r["key"]: r["render_id"] for r in run.json()["data"]["resources"]}
    deadline = time.monotonic() + 60
    while len([r for r in _carrying(sandbox, slug) if r[0] == "postgres"]) < 2:
        assert time.monotonic() < deadline, "the held create never landed"
        time.sleep(0.2)
    return recorded


def scenario_late_create_leaves_a_duplicate(sandbox: Sandbox, rcp: Rcp) -> None:
    rcp.install_template()
    recorded = _create_with_a_late_duplicate(sandbox, rcp, "slow-b")
    (late,) = [r[1] for r in _carrying(sandbox, "slow-b") if r[0] == "postgres" and r[1] != recorded["db"]]

    found = rcp("-o", "json", "tenant", "check", "slow-b")
    assert found.exit_code == 5, found.describe()
    (problem,) = found.json()["data"]["tenants"][0]["problems"]
    assert (problem["resource"], problem["problem"], problem["render_id"]) == ("db", "duplicate", late)

    kept = rcp("-o", "json", "tenant", "check", "slow-b", "--repair")
    assert kept.exit_code == 5, kept.describe()
    assert len(_carrying(sandbox, "slow-b")) == len(FULL_KEYS) + 1  # reported, not deleted

    repaired = rcp("-o", "json", "tenant", "check", "slow-b", "--repair", "--delete-duplicates")
    assert repaired.exit_code == 0, repaired.describe()
    assert {r[1] for r in _carrying(sandbox, "slow-b")} == set(recorded.values())
    converged(SCENARIO_B, sandbox, rcp, ["slow-b"], runs=4)

    # The same late duplicate, then a plain delete: nothing carries the names afterwards.
    recorded = _create_with_a_late_duplicate(sandbox, rcp, "slow-c")
    deleted = rcp("-o", "json", "tenant", "delete", "slow-c", "--yes")
    assert deleted.exit_code == 0, deleted.describe()
    assert len(deleted.json()["data"]["resources_deleted"]) == len(FULL_KEYS) + 1
    assert _carrying(sandbox, "slow-c") == []
    converged(SCENARIO_B, sandbox, rcp, ["slow-c"], runs=2)


def test_late_create_leaves_a_duplicate(on_engines: EngineRunner) -> None:
    on_engines(scenario_late_create_leaves_a_duplicate)


# ------------------------------------------------------------------------------ (c)

SCENARIO_C = "13c orphans: older backup imported"


def scenario_older_backup_after_repair(sandbox: Sandbox, rcp: Rcp) -> None:
    rcp.install_template()
    created = rcp("-o", "json", "tenant", "create", "old-c", "--template", "full")
    assert created.exit_code == 0, created.describe()
    recorded = {r["key"]: r["render_id"] for r in created.json()["data"]["resources"]}
    backup = rcp.home / "before.json"
    exported = rcp("backup", "export", str(backup))
    assert exported.exit_code == 0, exported.describe()

    assert sandbox.api("DELETE", f"/services/{recorded['web']}").status_code == 204
    repaired = rcp("-o", "json", "tenant", "check", "old-c", "--repair")
    assert repaired.exit_code == 0, repaired.describe()
    new_web = rcp.tenants()["old-c"].resource("web").render_id
    assert new_web not in (None, recorded["web"])

    imported = rcp("-o", "json", "backup", "import", str(backup), "--overwrite")
    assert imported.exit_code == 0, imported.describe()
    assert rcp.tenants()["old-c"].resource("web").render_id == recorded["web"]  # the old one

    found = rcp("-o", "json", "tenant", "check", "old-c")
    assert found.exit_code == 5, found.describe()
    problems = {(p["problem"], p.get("render_id")) for p in found.json()["data"]["tenants"][0]["problems"]}
    assert ("duplicate", new_web) in problems and ("missing", None) in problems

    deleted = rcp("-o", "json", "tenant", "delete", "old-c", "--yes")
    assert deleted.exit_code == 0, deleted.describe()
    assert new_web in deleted.json()["data"]["resources_deleted"]
    assert _carrying(sandbox, "old-c") == []
    converged(SCENARIO_C, sandbox, rcp, ["old-c"], runs=6)


def test_older_backup_after_repair(on_engines: EngineRunner) -> None:
    on_engines(scenario_older_backup_after_repair)
