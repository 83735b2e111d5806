"""Issue 15's acceptance on the sandbox: 40 tenants, waves 1, 10 %, 100 %, tenant 7's deploy
failing → the rollout halts in the wave holding it, later tenants untouched; rollback returns
the updated tenants to the previous revision; a rerun after removing the fault completes. And
a rollout killed (SIGKILL) at its riskiest moments and rerun updates no tenant twice, counted
as deploys per service in the sandbox's own state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rollout_helpers import (
    APP_V2,
    add_fault,
    clear_faults,
    deploys_by_tenant,
    revisions,
    service_id,
    slug_of,
    write_fleet,
    write_template,
)

from tests.conftest import Cli, run_rcp

pytestmark = pytest.mark.slow  # 40-tenant fleets and killed subprocesses


def _labels(cli: Cli) -> dict[str, str | None]:
    listed = cli("-o", "json", "tenant", "list")
    assert listed.exit_code == 0, listed.stderr
    return revisions(listed.json())


def _make_fleet(cli: Cli, tmp_path: Path, count: int) -> None:
    result = cli("apply", str(write_fleet(tmp_path / "fleet.yaml", count)), "-c", "8")
    assert result.exit_code == 0, result.stderr


def test_forty_tenants_halt_at_tenant_7_rollback_and_rerun(
    rollout_cli: Cli, rollout_env: Path, tmp_path: Path
) -> None:
    _make_fleet(rollout_cli, tmp_path, 40)
    write_template(tmp_path / "config", APP_V2)
    seven = service_id(rollout_env, slug_of(7))
    add_fault(
        rollout_env, {"method": "POST", "path": f"/services/{seven}/deploys", "action": "fail_deploy"}
    )

    halted = rollout_cli("-o", "json", "rollout", "start", "app", "--waves", "1,10%,100%")
    assert halted.exit_code == 5, halted.stderr
    data = halted.json()["data"]
    assert data["state"] == "halted"
    assert [len(w["tenants"]) for w in data["waves"]] == [1, 3, 36]
    assert data["current_wave"] == 3 and "halted in wave 3" in data["message"]
    steps = {s["slug"]: s for w in data["waves"] for s in w["tenant_results"]}
    assert steps["t07"]["state"] == "failed"
    assert all(steps[slug_of(n)]["state"] == "done" for n in range(1, 7))
    pending = [slug for slug, step in steps.items() if step["state"] == "pending"]
    concurrency = data["options"]["concurrency"]
    # Only tenants already in flight when t07 failed went on; the rest of its wave never started.
    assert len(pending) >= 40 - 7 - 2 * concurrency
    assert "halted in wave 3" in halted.stderr and "rcp rollout resume app" in halted.stderr
    deploys = deploys_by_tenant(rollout_env)
    labels = _labels(rollout_cli)
    for slug in pending:
        assert len(deploys[slug]) == 1, slug  # its creation only: untouched
        assert labels[slug] == "1", slug
    updated = [slug for slug, step in steps.items() if step["state"] == "done"]
    assert all(labels[slug] == "2" for slug in updated)

    clear_faults(rollout_env)
    back = rollout_cli("-o", "json", "rollout", "rollback", "app")
    assert back.exit_code == 0, back.stderr
    assert back.json()["data"]["state"] == "rolled_back"
    labels = _labels(rollout_cli)
    assert set(labels.values()) == {"1"}
    statuses = rollout_cli("-o", "json", "tenant", "list").json()["data"]
    assert {t["status"] for t in statuses} == {"ACTIVE"}

    rerun = rollout_cli("-o", "json", "rollout", "start", "app", "--waves", "1,10%,100%")
    assert rerun.exit_code == 0, rerun.stderr
    assert rerun.json()["data"]["state"] == "completed"
    assert rerun.json()["data"]["counts"] == {"done": 40}
    assert set(_labels(rollout_cli).values()) == {"2"}


def _rollout_process(failpoint: str | None, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    if failpoint:
        env["RCP_FAILPOINT"] = failpoint
    return subprocess.Popen(
        [sys.executable, "-m", "rcp", "rollout", "start", "app", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


@pytest.mark.parametrize(
    "failpoint",
    [
        "update:web:after",  # the service PATCHed, nothing else
        "env:web:after",  # env vars PUT, no deploy yet
        "deploy:web:after",  # the deploy started, not yet recorded anywhere
        None,  # a SIGKILL from outside while wave 2 deploys
    ],
)
def test_killed_rollout_rerun_updates_no_tenant_twice(
    rollout_cli: Cli,
    rollout_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failpoint: str | None,
) -> None:
    count = 12
    _make_fleet(rollout_cli, tmp_path, count)
    write_template(tmp_path / "config", APP_V2)
    # Deploys long enough for a kill to land while several are in flight.
    monkeypatch.setenv("RCP_SANDBOX_DEPLOY_SECONDS", "1.5")
    process = _rollout_process(failpoint, "--waves", "2,100%", "-c", "4")
    if failpoint is None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            steps = rollout_cli("-o", "json", "rollout", "status", "app")
            if steps.exit_code == 0 and steps.json()["data"]["current_wave"] == 2:
                waves = steps.json()["data"]["waves"]
                if waves[1]["counts"].get("updating"):
                    break
            time.sleep(0.2)
        time.sleep(0.8)
        process.send_signal(signal.SIGKILL)
    _out, err = process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL, err

    interrupted = rollout_cli("-o", "json", "rollout", "status", "app").json()["data"]
    assert interrupted["state"] == "running"  # as the kill left it
    assert interrupted["counts"].get("updating", 0) >= 1

    rerun = run_rcp(["-o", "json", "rollout", "resume", "app"], timeout=180)
    assert rerun.exit_code == 0, rerun.stderr
    data = rerun.json()["data"]
    assert data["state"] == "completed" and data["counts"] == {"done": count}
    if failpoint == "deploy:web:after":
        # The killed run's deploy was found on Render and awaited, not started again.
        assert "already started" in rerun.stderr
    deploys = deploys_by_tenant(rollout_env)
    # Each web service: its creation deploy and exactly one deploy of the rollout, now live.
    assert {slug: len(items) for slug, items in deploys.items()} == {
        slug_of(n): 2 for n in range(1, count + 1)
    }
    assert all(items[-1]["status"] == "live" for items in deploys.values())
    assert set(_labels(rollout_cli).values()) == {"2"}


def test_killed_rollback_rerun_deploys_each_tenant_once(
    rollout_cli: Cli, rollout_env: Path, tmp_path: Path
) -> None:
    count = 4
    _make_fleet(rollout_cli, tmp_path, count)
    write_template(tmp_path / "config", APP_V2)
    assert rollout_cli("rollout", "start", "app", "--waves", "100%").exit_code == 0
    killed = run_rcp(
        ["rollout", "rollback", "app"], env={"RCP_FAILPOINT": "deploy:web:after"}, timeout=120
    )
    assert killed.exit_code == -signal.SIGKILL, killed.stderr
    state = rollout_cli("-o", "json", "rollout", "status", "app").json()["data"]
    assert state["state"] == "rolling_back"
    rerun = run_rcp(["-o", "json", "rollout", "rollback", "app"], timeout=120)
    assert rerun.exit_code == 0, rerun.stderr
    assert rerun.json()["data"]["state"] == "rolled_back"
    assert "already started" in rerun.stderr
    # creation, the rollout's deploy, the rollback's deploy: never a second one of either
    assert {slug: len(d) for slug, d in deploys_by_tenant(rollout_env).items()} == {
        slug_of(n): 3 for n in range(1, count + 1)
    }
    assert set(_labels(rollout_cli).values()) == {"1"}
