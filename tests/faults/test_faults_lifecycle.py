"""Scenarios of Render's deploy and datastore lifecycles (issue 10): a create deploy superseded
by a newer one, a pre-deploy failure, datastores passing through transient states, and a
resumed service's new deploy. Each must end without a false ERROR and without a duplicate."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fault_harness import FULL_TEMPLATE, EngineRunner, Rcp, Sandbox, converged, posts_to

pytestmark = pytest.mark.slow  # real subprocesses against a served sandbox


def _service(sandbox: Sandbox, name: str, state: dict[str, Any] | None = None) -> str | None:
    world = state if state is not None else sandbox.state()
    return next((s["id"] for s in world["services"] if s["name"] == name), None)


def _deploys(sandbox: Sandbox, service_id: str) -> list[dict[str, Any]]:
    """The service's deploys, newest first."""
    deploys: list[dict[str, Any]] = sandbox.state()["deploys"][service_id]
    return deploys


# ------------------------------------------------------------------------------ superseded


def scenario_superseded_create_deploy(sandbox: Sandbox, rcp: Rcp) -> None:
    """A deploy started by someone else while rcp awaits the create's deploy cancels it
    (Render's default overlap policy): rcp follows the newer deploy to live → ACTIVE."""
    rcp.install_template()
    process = rcp.popen("-o", "json", "tenant", "create", "sup", "--template", "full")
    deadline = time.monotonic() + 60
    web = None
    while web is None and time.monotonic() < deadline and process.poll() is None:
        web = _service(sandbox, "sup-web")
        time.sleep(0.05)
    assert web is not None, "the web service was never created"
    pushed = sandbox.api("POST", f"/services/{web}/deploys")  # e.g. an auto-deploy on push
    assert pushed.status_code == 201, pushed.text
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, f"--- stdout\n{stdout}\n--- stderr\n{stderr}"
    assert '"status": "ACTIVE"' in stdout
    assert "superseded; following" in stderr, stderr
    deploys = _deploys(sandbox, web)
    assert [d["status"] for d in deploys] == ["live", "canceled"]
    assert len(posts_to(sandbox.requests(), "/services")) == 1
    converged("lifecycle: superseded create deploy", sandbox, rcp, ["sup"], runs=1)


# ------------------------------------------------------------------------------ pre-deploy


PRE_DEPLOY_TEMPLATE = FULL_TEMPLATE.replace(
    "    startCommand: npm start\n",
    "    startCommand: npm start\n    preDeployCommand: ./migrate\n",
)


def scenario_pre_deploy_failure(sandbox: Sandbox, rcp: Rcp) -> None:
    """The pre-deploy command fails: a true ERROR naming the service, the deploy, its status
    and phase (exit 5). A rerun once the cause is fixed deploys the service again (instead of
    reading the old failure back) → ACTIVE, and creates nothing new."""
    rcp.install_template("predeploy", PRE_DEPLOY_TEMPLATE)
    sandbox.add_faults(
        {
            "method": "POST",
            "path": "/services",
            "action": "fail_deploy",
            "state": "pre_deploy_failed",
        }
    )
    first = rcp("-o", "json", "tenant", "create", "pre", "--template", "predeploy")
    assert first.exit_code == 5, first.describe()
    error = first.json()["error"]
    assert error["code"] == "provisioning_failed"
    web = _service(sandbox, "pre-web")
    assert web is not None
    deploys = _deploys(sandbox, web)
    assert [d["status"] for d in deploys] == ["pre_deploy_failed"]
    assert (
        f"web ({web}): deploy {deploys[0]['id']} ended pre_deploy_failed in the pre-deploy phase"
        in error["message"]
    )
    assert rcp.tenants()["pre"].status.value == "ERROR"
    # The rule fails only the create's deploy (POST /services): the cause is fixed for the
    # deploy the rerun starts.
    again = rcp("-o", "json", "tenant", "create", "pre", "--template", "predeploy")
    assert again.exit_code == 0, again.describe()
    assert again.json()["data"]["status"] == "ACTIVE"
    assert [d["status"] for d in _deploys(sandbox, web)] == ["live", "pre_deploy_failed"]
    assert len(posts_to(sandbox.requests(), "/services")) == 1  # no second create
    converged("lifecycle: pre-deploy failure", sandbox, rcp, ["pre"], runs=2)


# ------------------------------------------------------------------------------ datastores


def scenario_datastores_pass_through_transient_states(sandbox: Sandbox, rcp: Rcp) -> None:
    """Postgres reports `unavailable`, Key Value `config_restart`, for a few polls: rcp waits
    through them → ACTIVE."""
    rcp.install_template()
    sandbox.add_faults(
        {
            "method": "GET",
            # One instance's read or the batched list read (readiness reads many by name).
            "path": "/postgres*",
            "times": 3,
            "action": "datastore_status",
            "state": "unavailable",
        },
        {
            "method": "GET",
            "path": "/key-value*",
            "times": 2,
            "action": "datastore_status",
            "state": "config_restart",
        },
    )
    run = rcp("-o", "json", "tenant", "create", "flaky", "--template", "full")
    assert run.exit_code == 0, run.describe()
    assert run.json()["data"]["status"] == "ACTIVE"
    assert "db: unavailable" in run.stderr and "cache: config_restart" in run.stderr, run.stderr
    for path in ("/services", "/postgres", "/key-value"):
        assert len(posts_to(sandbox.requests(), path)) == 1, path
    converged("lifecycle: datastore through unavailable", sandbox, rcp, ["flaky"], runs=1)


# ------------------------------------------------------------------------------ resume


def scenario_resumed_service_deploys_again(sandbox: Sandbox, rcp: Rcp) -> None:
    """Resume answers 202 and Render starts the new deploy a moment later: meanwhile the
    service's latest deploy is the one the suspension deactivated. rcp waits for the new one
    → ACTIVE, and neither deploys nor creates anything itself."""
    rcp.install_template()
    created = rcp("-o", "json", "tenant", "create", "nap", "--template", "full")
    assert created.exit_code == 0, created.describe()
    suspended = rcp("-o", "json", "tenant", "suspend", "nap")
    assert suspended.exit_code == 0, suspended.describe()
    web = _service(sandbox, "nap-web")
    assert web is not None
    assert [d["status"] for d in _deploys(sandbox, web)] == ["deactivated"]
    sandbox.add_faults(
        {"method": "POST", "path": "/services/*/resume", "action": "defer_deploy", "seconds": 1.0}
    )
    before = sandbox.last_seq()
    resumed = rcp("-o", "json", "tenant", "resume", "nap")
    assert resumed.exit_code == 0, resumed.describe()
    assert resumed.json()["data"]["status"] == "ACTIVE"
    deploys = _deploys(sandbox, web)
    assert [(d["trigger"], d["status"]) for d in deploys] == [
        ("service_resumed", "live"),
        ("api", "deactivated"),
    ]
    after = [r for r in sandbox.requests() if r["seq"] > before and r["method"] == "POST"]
    assert all(r["path"].endswith("/resume") for r in after), after
    converged("lifecycle: resumed service's new deploy", sandbox, rcp, ["nap"], runs=3)


def test_superseded_create_deploy_is_followed(on_engines: EngineRunner) -> None:
    on_engines(scenario_superseded_create_deploy, deploy_seconds=2.0)


def test_pre_deploy_failure_is_a_true_error_then_a_rerun_deploys_again(on_engines: EngineRunner) -> None:
    on_engines(scenario_pre_deploy_failure)


def test_transient_datastore_states_are_waited_through(on_engines: EngineRunner) -> None:
    on_engines(scenario_datastores_pass_through_transient_states)


def test_resumed_service_new_deploy_is_awaited(on_engines: EngineRunner) -> None:
    on_engines(scenario_resumed_service_deploys_again)
