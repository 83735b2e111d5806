"""Scenario 10: delete with a resource already gone, transient and permanent DELETE failures."""

from __future__ import annotations

import pytest
from fault_harness import EngineRunner, Rcp, Sandbox, converged, mutations, record

pytestmark = pytest.mark.slow  # real subprocesses against a served sandbox


SCENARIO = "10 delete: 404, 500s, permanent failure"


def _create(rcp: Rcp, slug: str) -> dict[str, str]:
    run = rcp("-o", "json", "tenant", "create", slug)
    assert run.exit_code == 0, run.describe()
    return {r["key"]: r["render_id"] for r in run.json()["data"]["resources"]}


def scenario_delete_with_one_gone_and_one_failing_twice_converges(sandbox: Sandbox, rcp: Rcp) -> None:
    ids = _create(rcp, "gone")
    # The web service was deleted out of band: its DELETE will answer 404.
    assert sandbox.api("DELETE", f"/services/{ids['web']}").status_code == 204
    sandbox.add_faults(
        {"method": "DELETE", "path": "/postgres/*", "nth": [1, 2], "action": "status", "status": 500}
    )
    before = sandbox.last_seq()
    run = rcp("-o", "json", "-v", "tenant", "delete", "gone", "--yes")
    assert run.exit_code == 0, run.describe()
    assert run.json()["data"]["resources_deleted"] == [ids["db"]]
    assert f"{ids['web']} already gone" in run.stderr
    deletes = [(r["path"], r["status"]) for r in mutations(sandbox.requests(), after_seq=before)]
    assert deletes == [
        (f"/v1/services/{ids['web']}", 404),
        (f"/v1/postgres/{ids['db']}", 500),
        (f"/v1/postgres/{ids['db']}", 500),
        (f"/v1/postgres/{ids['db']}", 204),
    ]
    assert "gone" not in rcp.tenants()
    converged(SCENARIO, sandbox, rcp, ["gone"], runs=2)

    before = sandbox.last_seq()
    again = rcp("-o", "json", "tenant", "delete", "gone", "--yes", "--missing-ok")
    assert again.exit_code == 0, again.describe()
    assert sandbox.last_seq() == before  # nothing left to do: not a single Render call
    record(SCENARIO, rcp.engine, runs=1)


def scenario_permanent_delete_failure_leaves_deleting_and_rerun_finishes(sandbox: Sandbox, rcp: Rcp) -> None:
    ids = _create(rcp, "stuck")
    sandbox.add_faults({"method": "DELETE", "path": "/services/*", "action": "status", "status": 503})
    run = rcp("-o", "json", "tenant", "delete", "stuck", "--yes")
    assert run.exit_code == 75, run.describe()
    error = run.json()["error"]
    assert ids["web"] in error["message"], error
    shown = rcp("-o", "json", "tenant", "show", "stuck")
    tenant = shown.json()["data"]
    assert tenant["status"] == "DELETING"
    assert f"web ({ids['web']})" in tenant["last_error"], tenant["last_error"]
    # Nothing was lost: both resources still exist and are still recorded.
    converged(SCENARIO, sandbox, rcp, ["stuck"], runs=2)

    sandbox.clear_faults()
    rerun = rcp("-o", "json", "tenant", "delete", "stuck", "--yes")
    assert rerun.exit_code == 0, rerun.describe()
    assert sorted(rerun.json()["data"]["resources_deleted"]) == sorted(ids.values())
    assert "stuck" not in rcp.tenants()
    converged(SCENARIO, sandbox, rcp, ["stuck"], runs=1)


def test_delete_with_one_gone_and_one_failing_twice_converges(on_engines: EngineRunner) -> None:
    on_engines(scenario_delete_with_one_gone_and_one_failing_twice_converges)


def test_permanent_delete_failure_leaves_deleting_and_rerun_finishes(on_engines: EngineRunner) -> None:
    on_engines(scenario_permanent_delete_failure_leaves_deleting_and_rerun_finishes)
