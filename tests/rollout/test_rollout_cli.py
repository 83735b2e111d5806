"""`rcp rollout …` in-process against the sandbox: waves, JSON, progress, audit, bad input,
pause/abort/resume, tiers, health gate, rollback (config and code)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rollout_helpers import (
    APP_V2,
    APP_V2_CODE,
    add_fault,
    clear_faults,
    deploys_by_tenant,
    request_paths,
    revisions,
    service_id,
    slug_of,
    write_fleet,
    write_template,
)

from tests.conftest import Cli, run_rcp


def _fleet(cli: Cli, tmp_path: Path, count: int, tiers: dict[int, str] | None = None) -> None:
    result = cli("apply", str(write_fleet(tmp_path / "fleet.yaml", count, tiers)), "-c", "8")
    assert result.exit_code == 0, result.stderr


def _use_postgres(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    url = request.getfixturevalue("fresh_postgres_url")
    monkeypatch.setenv("RCP_DATABASE_URL", url)
    # With the sandbox, the records go where RCP_SANDBOX_DATABASE_URL says.
    monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", url)


def _labels(cli: Cli) -> dict[str, str | None]:
    listed = cli("-o", "json", "tenant", "list")
    assert listed.exit_code == 0, listed.stderr
    return revisions(listed.json())


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_start_updates_every_tenant_wave_by_wave(
    rollout_cli: Cli,
    rollout_env: Path,
    tmp_path: Path,
    database: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if database == "postgres":
        _use_postgres(request, monkeypatch)
    _fleet(rollout_cli, tmp_path, 6)
    write_template(tmp_path / "config", APP_V2)
    result = rollout_cli("-o", "json", "rollout", "start", "app", "--waves", "1,50%,100%")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["state"] == "completed"
    assert data["revision"]["label"] == "2"
    assert [w["tenants"] for w in data["waves"]] == [
        ["t01"],
        ["t02", "t03"],
        ["t04", "t05", "t06"],
    ]
    assert data["counts"] == {"done": 6}
    step = data["waves"][1]["tenant_results"][0]
    assert step["slug"] == "t02" and step["state"] == "done" and step["wave"] == 2
    assert step["previous_revision"] is not None and step["seconds"] is not None
    # progress on stderr: waves, tenants done/failed, an ETA
    assert "wave 1/3 started (1 tenants)" in result.stderr
    assert "wave 3/3: " in result.stderr and "[6/6 done, 0 failed]" in result.stderr
    assert "ETA" in result.stderr
    assert set(_labels(rollout_cli).values()) == {"2"}
    # one new deploy per tenant, and every tenant change audited
    assert all(len(deploys) == 2 for deploys in deploys_by_tenant(rollout_env).values())
    audit = rollout_cli("-o", "json", "audit", "--tenant", "t04").json()["data"]
    assert "rollout start app" in audit[0]["command"] and audit[0]["outcome"] == "ok"
    # status reads the same record; a rerun of the completed revision changes nothing
    status = rollout_cli("-o", "json", "rollout", "status", "app")
    assert status.exit_code == 0 and status.json()["data"]["state"] == "completed"
    again = rollout_cli("-o", "json", "rollout", "start", "app")
    assert again.exit_code == 0, again.stderr
    assert again.json()["data"]["counts"] == {"current": 6}
    assert all(len(deploys) == 2 for deploys in deploys_by_tenant(rollout_env).values())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--waves", "10%,50%"], "the last wave must be 100%"),
        (["--waves", "1,x,100%"], "'x' is not a tenant count"),
        (["--waves", "50%,10%,100%"], "each wave must reach further"),
        (["--max-failures", "many"], "--max-failures: 'many'"),
        (["--health-path", "healthz"], "--health-path must be a URL path"),
        (["--tier", "a b"], "--tier: 'a b' is not a tier name"),
        (["--pause-between", "soon"], "--pause-between"),
    ],
)
def test_bad_input_is_refused_before_anything_happens(
    rollout_cli: Cli, rollout_env: Path, args: list[str], message: str
) -> None:
    result = rollout_cli("-o", "json", "rollout", "start", "app", *args)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert result.json()["error"]["code"]
    assert not (rollout_env / "sandbox" / "render.db").exists()  # no Render call at all


def test_a_template_without_tenants_and_unknown_rollouts(rollout_cli: Cli) -> None:
    result = rollout_cli("-o", "json", "rollout", "start", "app")
    assert result.exit_code == 2
    assert result.json()["error"]["code"] == "nothing_to_roll_out"
    status = rollout_cli("-o", "json", "rollout", "status")
    assert status.exit_code == 3
    assert status.json()["error"]["code"] == "rollout_not_found"
    assert rollout_cli("rollout", "pause", "app").exit_code == 3


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_failure_halts_then_abort_and_rollback(
    rollout_cli: Cli,
    rollout_env: Path,
    tmp_path: Path,
    database: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if database == "postgres":
        _use_postgres(request, monkeypatch)
    _fleet(rollout_cli, tmp_path, 5)
    write_template(tmp_path / "config", APP_V2)
    add_fault(
        rollout_env,
        {
            "method": "POST",
            "path": f"/services/{service_id(rollout_env, 't02')}/deploys",
            "action": "fail_deploy",
        },
    )
    result = rollout_cli("-o", "json", "rollout", "start", "app", "--waves", "1,2,100%")
    assert result.exit_code == 5, result.stderr
    data = result.json()["data"]
    assert data["state"] == "halted"
    assert "t02" in data["message"]
    assert data["waves"][1]["tenant_results"][0]["error_code"] in ("deploy_failed", "provisioning_failed")
    assert [w["counts"] for w in data["waves"]] == [{"done": 1}, {"failed": 1}, {"pending": 3}]
    assert "rollout resume app" in result.stderr
    # the later wave is untouched: one deploy each (their creation), still revision 1
    deploys = deploys_by_tenant(rollout_env)
    assert [len(deploys[slug_of(n)]) for n in (3, 4, 5)] == [1, 1, 1]
    assert _labels(rollout_cli)["t04"] == "1"
    # a halted rollout cannot be paused; it can be aborted, which cannot be resumed
    assert rollout_cli("rollout", "pause", "app").exit_code == 4
    aborted = rollout_cli("-o", "json", "rollout", "abort", "app")
    assert aborted.exit_code == 0 and aborted.json()["data"]["state"] == "aborted"
    assert "aborted by tester" in aborted.json()["data"]["message"]
    assert rollout_cli("rollout", "resume", "app").exit_code == 4
    # rollback returns t01 (done) and t02 (failed, new config recorded) to revision 1
    clear_faults(rollout_env)
    back = rollout_cli("-o", "json", "rollout", "rollback", "app")
    assert back.exit_code == 0, back.stderr
    assert back.json()["data"]["state"] == "rolled_back"
    assert back.json()["data"]["counts"] == {"rolled_back": 2, "pending": 3}
    assert set(_labels(rollout_cli).values()) == {"1"}
    shown = rollout_cli("-o", "json", "tenant", "show", "t01").json()["data"]
    assert shown["status"] == "ACTIVE"


def test_pause_stops_a_running_rollout_and_resume_finishes_it(
    rollout_cli: Cli, rollout_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pause written by another process while the rollout waits between waves: the run
    ends paused (exit 0), resume continues with the next wave."""
    import threading
    import time

    _fleet(rollout_cli, tmp_path, 3)
    write_template(tmp_path / "config", APP_V2)

    def pause_soon() -> None:
        # Once wave 1 is done: the rollout is then waiting out the pause before wave 2.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = run_rcp(["-o", "json", "rollout", "status", "app"])
            if status.exit_code == 0 and status.json()["data"]["current_wave"] == 2:
                break
            time.sleep(0.2)
        # Another process, as an operator's would be (CliRunner swaps the process's streams).
        assert run_rcp(["rollout", "pause", "app"]).exit_code == 0

    pauser = threading.Thread(target=pause_soon)
    pauser.start()
    result = rollout_cli(
        "-o", "json", "rollout", "start", "app", "--waves", "1,100%", "--pause-between", "30s"
    )
    pauser.join()
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["state"] == "paused"
    assert [w["counts"] for w in data["waves"]] == [{"done": 1}, {"pending": 2}]
    assert "pausing 30s before wave 2" in result.stderr
    resumed = rollout_cli("-o", "json", "rollout", "resume", "app")
    assert resumed.exit_code == 0, resumed.stderr
    assert resumed.json()["data"]["counts"] == {"done": 3}
    assert resumed.json()["data"]["id"] == data["id"]


def test_tiers_order_and_filter_the_waves(
    rollout_cli: Cli, rollout_env: Path, tmp_path: Path
) -> None:
    _fleet(rollout_cli, tmp_path, 5, tiers={1: "pro", 2: "canary", 3: "free", 4: "canary"})
    write_template(tmp_path / "config", APP_V2)
    result = rollout_cli(
        "-o", "json", "rollout", "start", "app", "--tier", "canary", "--tier", "pro,free",
        "--waves", "2,100%",
    )
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert [w["tenants"] for w in data["waves"]] == [["t02", "t04"], ["t01", "t03"]]
    assert data["waves"][0]["tenant_results"][0]["tier"] == "canary"
    assert _labels(rollout_cli)["t05"] == "1"  # no tier given: not in this rollout


def test_health_path_gate_fails_a_tenant_answering_500(
    rollout_cli: Cli, rollout_env: Path, tmp_path: Path
) -> None:
    _fleet(rollout_cli, tmp_path, 3)
    write_template(tmp_path / "config", APP_V2)
    add_fault(
        rollout_env, {"name": "t02-web", "path": "/ready", "action": "health_status", "status": 500}
    )
    result = rollout_cli(
        "-o", "json", "rollout", "start", "app", "--waves", "1,100%", "--health-path", "/ready",
        "--health-timeout", "2s", "--max-failures", "50%", "-c", "1",
    )
    assert result.exit_code == 5, result.stderr
    data = result.json()["data"]
    assert data["state"] == "completed"
    steps = {s["slug"]: s for w in data["waves"] for s in w["tenant_results"]}
    assert steps["t02"]["state"] == "failed"
    assert steps["t02"]["error_code"] == "health_check_failed"
    assert "GET https://t02-web.onrender.com/ready answered 500" in steps["t02"]["error"]
    assert steps["t01"]["state"] == steps["t03"]["state"] == "done"
    assert result.json()["data"]["failures_allowed"] == 1
    assert "completed with 1 failed tenants (t02)" in result.stderr


def test_rollback_of_new_code_returns_to_the_previous_build(
    rollout_cli: Cli, rollout_env: Path, tmp_path: Path
) -> None:
    _fleet(rollout_cli, tmp_path, 2)
    before = {slug: deploys[-1] for slug, deploys in deploys_by_tenant(rollout_env).items()}
    write_template(tmp_path / "config", APP_V2_CODE)
    assert rollout_cli("rollout", "start", "app", "--waves", "100%").exit_code == 0
    back = rollout_cli("-o", "json", "rollout", "rollback", "app")
    assert back.exit_code == 0, back.stderr
    assert "rolling back to the build of" in back.stderr
    rollbacks = [p for m, p in request_paths(rollout_env) if m == "POST" and p.endswith("/rollback")]
    assert len(rollbacks) == 2
    for slug, deploys in deploys_by_tenant(rollout_env).items():
        latest = deploys[-1]
        assert latest["trigger"] == "rollback"
        assert latest["status"] == "live"
        assert latest["commit"]["id"] == before[slug]["commit"]["id"]
    assert set(_labels(rollout_cli).values()) == {"1"}
    world_services = {s["name"]: s for s in __import__("rollout_helpers").world(rollout_env)["services"]}
    assert world_services["t01-web"]["branch"] == "main"
