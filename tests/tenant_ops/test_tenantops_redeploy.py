"""Recovering a failed deploy (issue 13 item 1), end to end on the in-process sandbox:
`rcp tenant redeploy`, a rerun of `tenant create`, `check --repair`; the error of a failed
deploy names the service, the deploy, its status and phase, and `tenant show` keeps it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tenant_ops_helpers import Sandbox, create_tenant, ids, store_of

from tests.conftest import Cli

# Every request that starts a deploy: a service create and a deploy trigger.
FAIL_EVERY_DEPLOY = {
    "method": "POST",
    "path_regex": r"^/services(/[^/]+/deploys)?$",
    "action": "fail_deploy",
}
FAILURE = re.compile(
    r"web \((srv-[a-z0-9]+)\): deploy (dep-[a-z0-9]+) ended (\w+) in the ([\w-]+) phase"
)


def failure_of(text: str) -> tuple[str, str, str, str]:
    found = FAILURE.search(text)
    assert found is not None, text
    service, deploy, status, phase = found.groups()
    return service, deploy, status, phase


def shown(cli: Cli, slug: str) -> dict[str, Any]:
    result = cli("-o", "json", "tenant", "show", slug)
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = result.json()["data"]
    return data


def web_of(tenant: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in tenant["resources"] if r["key"] == "web")


def clear_faults(sandbox: Sandbox) -> None:
    sandbox.call("DELETE", "/__sandbox/faults")


def test_failed_deploy_named_then_redeploy_recovers(db_cli: Cli, sandbox: Sandbox) -> None:
    sandbox.add_fault(FAIL_EVERY_DEPLOY)
    failed = db_cli("-o", "json", "tenant", "create", "acme")
    assert failed.exit_code == 5, failed.stderr
    error = failed.json()["error"]
    assert error["code"] == "provisioning_failed"
    service, deploy, status, phase = failure_of(error["message"])
    assert (status, phase) == ("build_failed", "build")
    assert [d["id"] for d in sandbox.deploys(service)] == [deploy]  # the deploy Render reports
    assert "rcp tenant redeploy acme" in error["hint"]
    assert "rcp tenant logs acme --service web" in error["hint"]

    # The record keeps the cause: the tenant's last error and the service's own.
    record = shown(db_cli, "acme")
    assert record["status"] == "ERROR"
    assert failure_of(record["last_error"]) == (service, deploy, "build_failed", "build")
    assert web_of(record)["last_error"] == record["last_error"]
    assert web_of(record)["state"] == "build_failed"
    human = db_cli("tenant", "show", "acme")
    # The web resource's block (tenant show prints each resource's own last error).
    web_block = human.stdout.split("web (web_service)", 1)[1]
    assert f"last error:   web ({service}): deploy {deploy} ended build_failed" in web_block

    # While the cause is still there, a redeploy fails again, naming its own deploy.
    again = db_cli("-o", "json", "tenant", "redeploy", "acme")
    assert again.exit_code == 5, again.stderr
    _, second, _, _ = failure_of(again.json()["error"]["message"])
    assert second != deploy
    assert failure_of(web_of(shown(db_cli, "acme"))["last_error"])[1] == second

    clear_faults(sandbox)  # the cause is fixed
    recovered = db_cli("-o", "json", "tenant", "redeploy", "acme")
    assert recovered.exit_code == 0, recovered.stderr
    data = recovered.json()["data"]
    assert data["status"] == "ACTIVE" and data["last_error"] is None
    assert web_of(data) | {"state": "live", "last_error": None} == web_of(data)
    assert [d["status"] for d in sandbox.deploys(service)] == [
        "live",
        "build_failed",
        "build_failed",
    ]
    assert "deploy dep-" in recovered.stderr and "started" in recovered.stderr
    assert len([m for m in sandbox.mutations() if m == ("POST", "/services")]) == 1
    for store in store_of():
        audit = [(e.command, e.outcome) for e in store.list_audit() if "redeploy" in e.command]
    assert audit == [
        ("rcp -o json tenant redeploy acme", "ok"),
        ("rcp -o json tenant redeploy acme", "provisioning_failed"),
    ]


def test_rerun_of_create_deploys_a_failed_service_again(db_cli: Cli, sandbox: Sandbox) -> None:
    sandbox.add_fault({**FAIL_EVERY_DEPLOY, "state": "pre_deploy_failed"})
    failed = db_cli("-o", "json", "tenant", "create", "acme")
    assert failed.exit_code == 5
    service, deploy, status, phase = failure_of(failed.json()["error"]["message"])
    assert (status, phase) == ("pre_deploy_failed", "pre-deploy")
    # Rerun while the cause is still there: a new deploy (not the old failure read back).
    again = db_cli("-o", "json", "tenant", "create", "acme")
    assert again.exit_code == 5
    _, second, _, _ = failure_of(again.json()["error"]["message"])
    assert second != deploy

    clear_faults(sandbox)
    rerun = db_cli("-o", "json", "tenant", "create", "acme")
    assert rerun.exit_code == 0, rerun.stderr
    assert rerun.json()["data"]["status"] == "ACTIVE"
    assert web_of(rerun.json()["data"])["last_error"] is None
    assert f"deploy {second} ended pre_deploy_failed; deploying again" in rerun.stderr
    assert [d["status"] for d in sandbox.deploys(service)] == [
        "live",
        "pre_deploy_failed",
        "pre_deploy_failed",
    ]
    # Nothing was created twice; and a tenant that is ACTIVE is left alone by a rerun.
    assert [m for m in sandbox.mutations() if m[1] in ("/services", "/postgres")] == [
        ("POST", "/postgres"),
        ("POST", "/services"),
    ]
    before = len(sandbox.mutations())
    assert db_cli("-q", "tenant", "create", "acme").exit_code == 0
    assert len(sandbox.mutations()) == before


def test_update_failure_names_the_update_phase(cli: Cli, sandbox: Sandbox) -> None:
    sandbox.add_fault({**FAIL_EVERY_DEPLOY, "state": "update_failed"})
    failed = cli("-o", "json", "tenant", "create", "acme")
    assert failed.exit_code == 5
    assert failure_of(failed.json()["error"]["message"])[2:] == ("update_failed", "update")


def test_check_repair_deploys_a_failed_service_again(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    web = ids(tenant)["web"]
    sandbox.add_fault(
        {"method": "POST", "path": "/services/*/deploys", "action": "fail_deploy", "times": 1}
    )
    failed = sandbox.call("POST", f"/services/{web}/deploys", {}, expect=201)  # out of band
    result = cli("-o", "json", "tenant", "check", "acme", "--repair")
    assert result.exit_code == 0, result.stdout
    assert result.json()["data"]["tenants"][0]["problems"] == [
        {
            "resource": "web",
            "problem": "deploy_failed",
            "detail": f"deploy {failed['id']} of {web} ended build_failed in the build phase",
            "repaired": True,
        }
    ]
    assert [d["status"] for d in sandbox.deploys(web)] == ["live", "build_failed", "deactivated"]


def test_no_wait_returns_once_the_deploys_started(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    result = cli("-o", "json", "tenant", "redeploy", "acme", "--no-wait")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["status"] == "PROVISIONING"
    assert web_of(data)["state"] == "created"
    assert len(sandbox.deploys(ids(tenant)["web"])) == 2
    live = cli("-o", "json", "tenant", "status", "acme", "--live")
    assert live.json()["data"]["status"] == "ACTIVE"


PRIVATE_TEMPLATE = """\
services:
  - type: pserv
    name: api
    runtime: node
    repo: https://github.com/render-examples/express-hello-world
    buildCommand: npm install
    startCommand: npm start
    plan: starter
"""


def test_a_queued_deploy_without_an_id_is_awaited(
    cli: Cli, sandbox: Sandbox, isolated_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Render answers a private service's deploy trigger 202 with no body: rcp finds its deploy
    and waits for that one, not for the deploy before it."""
    monkeypatch.setenv("RCP_SANDBOX_DEPLOY_SECONDS", "0.3")
    templates = isolated_env / "config" / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    (templates / "private.yaml").write_text(PRIVATE_TEMPLATE)
    tenant = create_tenant(cli, "acme", "--template", "private")
    api = ids(tenant)["api"]
    result = cli("-o", "json", "tenant", "redeploy", "acme")
    assert result.exit_code == 0, result.stderr
    assert result.json()["data"]["status"] == "ACTIVE"
    deploys = sandbox.deploys(api)
    assert [d["status"] for d in deploys] == ["live", "deactivated"]
    assert f"deploy {deploys[0]['id']} started" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["Not A Slug"], 2, "invalid slug"),
        (["acme", "--service", "db"], 2, "tenant acme has no service 'db' (services: web)"),
        (["acme", "--service", "nope"], 2, "has no service 'nope'"),
        (["acme", "--service", "Web!"], 2, "invalid key"),
        (["acme", "--timeout", "soon"], 2, "invalid --timeout value"),
        (["ghost"], 3, "tenant ghost not found"),
    ],
)
def test_bad_input_is_refused_before_any_render_call(
    cli: Cli, sandbox: Sandbox, args: list[str], code: int, message: str
) -> None:
    create_tenant(cli, "acme")
    before = sandbox.mutations()
    result = cli("-o", "json", "tenant", "redeploy", *args)
    assert result.exit_code == code, result.stderr
    assert message in result.stderr
    assert result.json()["error"]["message"] in result.stderr
    assert sandbox.mutations() == before
    for store in store_of():
        assert not [e for e in store.list_audit() if "redeploy" in e.command]


def test_suspended_tenant_is_refused(cli: Cli, sandbox: Sandbox) -> None:
    create_tenant(cli, "acme")
    assert cli("-q", "tenant", "suspend", "acme").exit_code == 0
    before = sandbox.mutations()
    result = cli("-o", "json", "tenant", "redeploy", "acme")
    assert result.exit_code == 4
    assert result.json()["error"]["code"] == "tenant_suspended"
    assert "rcp tenant resume acme" in result.stderr
    assert sandbox.mutations() == before
