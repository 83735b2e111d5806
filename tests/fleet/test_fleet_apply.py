"""`rcp apply`: converge a fleet against the in-process sandbox, on SQLite and Postgres."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import mutating, sandbox_dump, sandbox_requests

from tests.conftest import Cli

APP_TEMPLATE = """
services:
  - type: web
    name: web
    runtime: node
    repo: "{{{{ tenant.plugin_repo }}}}"
    buildCommand: npm ci
    startCommand: npm start
    plan: {plan}
    envVars:
      - key: DATABASE_URL
        fromDatabase: {{name: db, property: connectionString}}
      - key: MODE
        value: {mode}
{extra}
databases:
  - name: db
    plan: basic-256mb
    postgresMajorVersion: "16"
"""

WORKER = """
  - type: worker
    name: jobs
    runtime: node
    repo: https://github.com/acme/jobs
    buildCommand: npm ci
    startCommand: npm run jobs
    plan: starter
"""


def apply_json(cli: Cli, *args: str) -> tuple[int, dict[str, Any], str]:
    result = cli("-o", "json", "apply", *args)
    document = result.json()
    assert "data" in document, result.stderr
    return result.exit_code, document["data"], result.stderr


def results_by_slug(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["slug"]: r for r in data["results"]}


def env_of(world: dict[str, Any], service_name: str) -> dict[str, str]:
    (service,) = [s for s in world["services"] if s["name"] == service_name]
    return {item["key"]: item["value"] for item in world["envVars"][service["id"]]}


def service_named(world: dict[str, Any], name: str) -> dict[str, Any]:
    (service,) = [s for s in world["services"] if s["name"] == name]
    return service


def test_apply_converges_in_parallel_and_a_second_apply_sends_nothing(
    fleet_cli: Cli, write_fleet: Callable[..., Path], isolated_env: Path
) -> None:
    fleet = write_fleet(
        """
tenants:
  - name: Acme Corporation
    env: {LOG_LEVEL: info}
  - name: Beta
    slug: beta
    env:
      web: {WORKERS: 4}
  - name: Gamma
  - name: Delta
"""
    )
    code, data, stderr = apply_json(fleet_cli, str(fleet), "--concurrency", "4")
    assert code == 0, stderr
    assert data["summary"] == {"create": 4, "update": 0, "delete": 0, "noop": 0}
    assert [c["action"] for c in data["changes"]] == ["create"] * 4
    assert [(r["slug"], r["outcome"], r["exit_code"], r["error"]) for r in data["results"]] == [
        ("acme-corporation", "created", 0, None),
        ("beta", "created", 0, None),
        ("gamma", "created", 0, None),
        ("delta", "created", 0, None),
    ]
    # Worked on at once: the tenants' own durations add up to more than the whole run.
    assert sum(r["seconds"] for r in data["results"]) > 1.8 * data["seconds"]
    assert "applying 4 changes (4 create, 0 update, 0 delete) with concurrency 4" in stderr
    assert "[4/4]" in stderr

    tenants = fleet_cli("-o", "json", "tenant", "list").json()["data"]
    assert {t["slug"]: t["status"] for t in tenants} == {
        "acme-corporation": "ACTIVE",
        "beta": "ACTIVE",
        "delta": "ACTIVE",
        "gamma": "ACTIVE",
    }
    world = sandbox_dump(isolated_env / "data")
    assert env_of(world, "acme-corporation-web")["LOG_LEVEL"] == "info"
    assert env_of(world, "beta-web")["WORKERS"] == "4"
    assert env_of(world, "beta-web")["DATABASE_URL"].startswith("postgres")
    shown = fleet_cli("-o", "json", "tenant", "show", "beta").json()["data"]
    assert shown["env_overrides"] == [{"service": "web", "key": "WORKERS", "value": "***"}]

    plan = fleet_cli("plan", str(fleet))
    assert plan.exit_code == 0
    assert plan.stdout.strip() == "No changes: the 4 tenants of the file are up to date."

    before = sandbox_requests(isolated_env / "data")
    code, data, _ = apply_json(fleet_cli, str(fleet))
    assert code == 0
    assert data["summary"] == {"create": 0, "update": 0, "delete": 0, "noop": 4}
    assert {r["outcome"] for r in data["results"]} == {"noop"}
    assert sandbox_requests(isolated_env / "data") == before  # not even a GET


def test_updates_patch_set_env_add_resources_and_rename(
    fleet_cli: Cli, write_fleet: Callable[..., Path], isolated_env: Path, tmp_path: Path
) -> None:
    template = tmp_path / "app.yaml"
    template.write_text(APP_TEMPLATE.format(plan="starter", mode="prod", extra=""))
    fleet = write_fleet(
        """
tenants:
  - name: Acme
    template: app.yaml
    plugin_repo: https://github.com/acme/plugin
    env: {OLD_FLAG: "1", KEEP: same}
  - name: Other
"""
    )
    code, _, stderr = apply_json(fleet_cli, str(fleet))
    assert code == 0, stderr

    template.write_text(APP_TEMPLATE.format(plan="standard", mode="staging", extra=WORKER))
    fleet.write_text(
        """
tenants:
  - name: Acme Inc
    slug: acme
    template: app.yaml
    plugin_repo: https://github.com/acme/plugin
    env: {KEEP: same, NEW_FLAG: "yes"}
  - name: Other
"""
    )
    plan = fleet_cli("-o", "json", "plan", str(fleet)).json()["data"]
    assert plan["summary"] == {"create": 0, "update": 1, "delete": 0, "noop": 1}
    (acme,) = [c for c in plan["changes"] if c["slug"] == "acme"]
    assert acme["action"] == "update"
    kinds = [d["change"] for d in acme["details"]]
    assert kinds == ["name", "update_resource", "create_resource", "env"]
    env_detail = acme["details"][3]
    assert env_detail == {
        "change": "env",
        "resource": "web",
        "set": ["MODE", "NEW_FLAG"],
        "unset": ["OLD_FLAG"],
    }
    human = fleet_cli("plan", str(fleet)).stdout
    assert "~ update acme" in human
    assert "update web: serviceDetails.plan: 'starter' → 'standard'" in human
    assert "create jobs (background_worker, starter)" in human
    assert "Plan: 0 to create, 1 to update, 0 to delete, 1 unchanged." in human
    assert "staging" not in human and '"yes"' not in human

    requests_before = len(sandbox_requests(isolated_env / "data"))
    code, data, stderr = apply_json(fleet_cli, str(fleet))
    assert code == 0, stderr
    assert results_by_slug(data)["acme"]["outcome"] == "updated"
    assert results_by_slug(data)["other"]["outcome"] == "noop"
    sent = mutating(sandbox_requests(isolated_env / "data")[requests_before:])
    web_id = service_named(sandbox_dump(isolated_env / "data"), "acme-web")["id"]
    assert ("PATCH", f"/v1/services/{web_id}", 200) in sent
    assert ("PUT", f"/v1/services/{web_id}/env-vars/MODE", 200) in sent
    assert ("PUT", f"/v1/services/{web_id}/env-vars/NEW_FLAG", 200) in sent
    assert ("DELETE", f"/v1/services/{web_id}/env-vars/OLD_FLAG", 204) in sent
    assert ("POST", f"/v1/services/{web_id}/deploys", 201) in sent
    assert ("POST", "/v1/services", 201) in sent  # the new worker
    assert len(sent) == 6  # and nothing else: one deploy for all of web's changes

    world = sandbox_dump(isolated_env / "data")
    web = service_named(world, "acme-web")
    assert web["serviceDetails"]["plan"] == "standard"
    env = env_of(world, "acme-web")
    assert env["MODE"] == "staging" and env["NEW_FLAG"] == "yes" and env["KEEP"] == "same"
    assert "OLD_FLAG" not in env
    assert env_of(world, "acme-jobs")["NEW_FLAG"] == "yes"
    shown = fleet_cli("-o", "json", "tenant", "show", "acme").json()["data"]
    assert shown["name"] == "Acme Inc"
    assert shown["status"] == "ACTIVE"
    assert [r["key"] for r in shown["resources"]] == ["db", "web", "jobs"]
    assert {r["state"] for r in shown["resources"]} <= {"live", "available"}

    again = fleet_cli("plan", str(fleet))
    assert again.stdout.startswith("No changes")


def test_dropping_an_override_restores_the_template_value(
    cli: Cli, fleet_env: dict[str, str], write_fleet: Callable[..., Path], isolated_env: Path
) -> None:
    fleet = write_fleet(
        "tenants:\n  - name: Acme\n    env: {DATABASE_URL: postgres://elsewhere/x}\n"
    )
    assert cli("apply", str(fleet)).exit_code == 0
    world = sandbox_dump(isolated_env / "data")
    assert env_of(world, "acme-web")["DATABASE_URL"] == "postgres://elsewhere/x"
    fleet.write_text("tenants:\n  - name: Acme\n")
    plan = cli("-o", "json", "plan", str(fleet)).json()["data"]
    assert plan["changes"][0]["details"] == [
        {"change": "env", "resource": "web", "from_template": ["DATABASE_URL"]}
    ]
    assert cli("apply", str(fleet)).exit_code == 0
    world = sandbox_dump(isolated_env / "data")
    (database,) = world["postgres"]
    restored = env_of(world, "acme-web")["DATABASE_URL"]
    assert restored.startswith("postgres") and restored != "postgres://elsewhere/x"
    assert database["id"] in restored or database["databaseName"] in restored
    assert cli("plan", str(fleet)).stdout.startswith("No changes")


def test_an_unsupported_change_fails_that_tenant_only(
    cli: Cli, fleet_env: dict[str, str], write_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    template = tmp_path / "app.yaml"
    template.write_text(APP_TEMPLATE.format(plan="starter", mode="prod", extra=""))
    fleet = write_fleet(
        "tenants:\n  - name: Acme\n    template: app.yaml\n    plugin_repo: https://github.com/a/b\n"
        "  - name: Beta\n"
    )
    assert cli("apply", str(fleet)).exit_code == 0
    template.write_text(
        APP_TEMPLATE.format(plan="starter", mode="prod", extra="").replace(
            'postgresMajorVersion: "16"', 'postgresMajorVersion: "15"'
        )
    )
    fleet.write_text(fleet.read_text() + "  - name: Gamma\n")
    code, data, stderr = apply_json(cli, str(fleet))
    assert code == 5
    results = results_by_slug(data)
    assert results["acme"]["outcome"] == "failed"
    assert results["acme"]["exit_code"] == 4
    assert results["acme"]["error_code"] == "change_not_in_place"
    assert "db.version cannot change in place" in results["acme"]["error"]
    assert results["gamma"]["outcome"] == "created"
    assert "1 of 3 tenants did not converge: acme (change_not_in_place)" in stderr


def test_a_failed_deploy_and_a_busy_tenant_exit_5_with_the_list(
    cli: Cli,
    fleet_env: dict[str, str],
    write_fleet: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fleet = write_fleet("tenants:\n  - name: Acme\n  - name: Beta\n  - name: Gamma\n")
    # Beta is held by another live process on this host (our parent).
    from rcp.core.models import LockHolder
    from rcp.store import open_store

    assert cli("plan", str(fleet)).exit_code == 0  # creates the database
    store = open_store(f"sqlite:///{tmp_path / 'data' / 'sandbox' / 'rcp.db'}")
    lease = store.acquire_lock(
        "beta",
        LockHolder(actor="someone", host=socket.gethostname(), pid=os.getppid(), command="rcp x"),
    )
    rules = tmp_path / "faults.json"
    rules.write_text(
        json.dumps([{"method": "POST", "path": "/services", "nth": [1], "action": "fail_deploy"}])
    )
    monkeypatch.setenv("RCP_SANDBOX_FAULTS", str(rules))
    try:
        code, data, stderr = apply_json(cli, str(fleet), "-c", "1")
    finally:
        store.release_lock(lease)
        store.close()
    assert code == 5
    results = results_by_slug(data)
    assert (results["acme"]["outcome"], results["acme"]["exit_code"]) == ("failed", 5)
    assert results["acme"]["error_code"] == "provisioning_failed"
    assert "build_failed" in results["acme"]["error"]
    assert (results["beta"]["outcome"], results["beta"]["exit_code"]) == ("failed", 4)
    assert results["beta"]["error_code"] == "tenant_locked"
    assert "someone" in results["beta"]["error"]
    assert (results["gamma"]["outcome"], results["gamma"]["exit_code"]) == ("created", 0)
    assert (
        "2 of 3 tenants did not converge: acme (provisioning_failed), beta (tenant_locked)"
        in stderr
    )
    # The failed tenant is still a difference: the next plan resumes it, the rest are done.
    monkeypatch.delenv("RCP_SANDBOX_FAULTS")
    plan = cli("-o", "json", "plan", str(fleet)).json()["data"]
    assert {c["slug"]: c["action"] for c in plan["changes"]} == {
        "acme": "update",
        "beta": "create",
        "gamma": "noop",
    }
    # The next apply deploys acme's failed service again (not re-reading its failure).
    code, data, stderr = apply_json(cli, str(fleet), "-c", "1")
    assert code == 0, stderr
    assert results_by_slug(data)["acme"]["outcome"] == "updated"
    assert "ended build_failed; deploying again" in stderr
    shown = cli("-o", "json", "tenant", "show", "acme").json()["data"]
    assert shown["status"] == "ACTIVE" and shown["last_error"] is None


def test_prune_needs_yes_without_a_terminal_then_deletes(
    fleet_cli: Cli, write_fleet: Callable[..., Path], isolated_env: Path
) -> None:
    fleet = write_fleet("tenants:\n  - name: Acme\n  - name: Beta\n")
    assert fleet_cli("apply", str(fleet)).exit_code == 0
    fleet.write_text("tenants:\n  - name: Acme\n")

    plan = fleet_cli("plan", str(fleet))
    assert (
        "1 recorded tenants are not in the file and stay as they are (--prune deletes those a "
        "fleet apply created or updated): beta" in plan.stdout
    )
    assert fleet_cli("-o", "json", "plan", str(fleet)).json()["data"]["unmanaged"] == ["beta"]
    kept = fleet_cli("-o", "json", "apply", str(fleet))
    assert kept.exit_code == 0 and kept.json()["data"]["summary"]["delete"] == 0

    pruned_plan = fleet_cli("-o", "json", "plan", str(fleet), "--prune").json()["data"]
    assert pruned_plan["summary"] == {"create": 0, "update": 0, "delete": 1, "noop": 1}
    before = sandbox_requests(isolated_env / "data")
    refused = fleet_cli("-o", "json", "apply", str(fleet), "--prune")
    assert refused.exit_code == 2
    assert "--yes" in refused.json()["error"]["message"]
    assert "beta" in refused.json()["error"]["message"]
    assert sandbox_requests(isolated_env / "data") == before

    code, data, stderr = apply_json(fleet_cli, str(fleet), "--prune", "--yes")
    assert code == 0, stderr
    assert results_by_slug(data)["beta"]["outcome"] == "deleted"
    assert [t["slug"] for t in fleet_cli("-o", "json", "tenant", "list").json()["data"]] == ["acme"]
    world = sandbox_dump(isolated_env / "data")
    assert [s["name"] for s in world["services"]] == ["acme-web"]
    assert [p["name"] for p in world["postgres"]] == ["acme-db"]
    audit = fleet_cli("-o", "json", "audit", "--tenant", "beta").json()["data"]
    assert any("apply" in entry["command"] and entry["outcome"] == "ok" for entry in audit)


def test_sigint_stops_cleanly_and_a_rerun_resumes(
    write_fleet: Callable[..., Path], isolated_env: Path
) -> None:
    import signal
    import subprocess
    import sys

    fleet = write_fleet("tenants:\n" + "".join(f"  - name: s{i}\n" for i in range(4)))
    env = {
        **os.environ,
        "RCP_SANDBOX": "1",
        "RCP_SANDBOX_DEPLOY_SECONDS": "1",
        "RCP_SANDBOX_DATASTORE_SECONDS": "1",
        "RENDER_API_KEY": "rnd_fleet_test_key",
    }
    command = [sys.executable, "-m", "rcp", "-o", "json", "apply", str(fleet), "-c", "2"]
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until Render work is under way
        if "created dpg-" in line:
            break
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130
    results = json.loads(stdout)["data"]["results"]
    assert {r["outcome"] for r in results} == {"interrupted"}
    assert {r["exit_code"] for r in results} == {130}

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    outcomes = {r["slug"]: r["outcome"] for r in json.loads(rerun.stdout)["data"]["results"]}
    assert set(outcomes.values()) <= {"created", "updated"}
    world = sandbox_dump(isolated_env / "data")
    assert sorted(s["name"] for s in world["services"]) == [f"s{i}-web" for i in range(4)]
    assert len(world["postgres"]) == 4  # no duplicate from the interrupted run


def test_the_file_owns_the_overrides_rcp_tenant_env_shares(
    cli: Cli, fleet_env: dict[str, str], write_fleet: Callable[..., Path], isolated_env: Path
) -> None:
    fleet = write_fleet("tenants:\n  - name: Acme\n    env: {LOG_LEVEL: info}\n")
    assert cli("apply", str(fleet)).exit_code == 0
    # The same field from the other side: `rcp tenant env` sees the file's override…
    listed = cli("-o", "json", "tenant", "env", "list", "acme", "--reveal").json()["data"]
    assert {"service": "*", "key": "LOG_LEVEL", "value": "info"} in listed
    # …and an override added there is a difference the next plan removes.
    assert cli("tenant", "env", "set", "acme", "EXTRA=1", "--no-deploy").exit_code == 0
    plan = cli("-o", "json", "plan", str(fleet)).json()["data"]
    assert plan["changes"][0]["details"] == [
        {"change": "env", "resource": "web", "unset": ["EXTRA"]}
    ]
    assert cli("apply", str(fleet)).exit_code == 0
    assert "EXTRA" not in env_of(sandbox_dump(isolated_env / "data"), "acme-web")
    assert cli("plan", str(fleet)).stdout.startswith("No changes")


def web_template(key: str) -> str:
    """A template of one web service under ``key``."""
    return (
        f"services:\n  - type: web\n    name: {key}\n    runtime: node\n"
        "    repo: https://github.com/render-examples/express-hello-world\n"
        "    buildCommand: npm install\n    startCommand: npm start\n    plan: starter\n"
    )


def test_a_tenant_needing_another_tenants_render_name_fails_before_render(
    cli: Cli, fleet_env: dict[str, str], write_fleet: Callable[..., Path], isolated_env: Path,
    tmp_path: Path,
) -> None:
    """``acme`` with key ``b-web`` and ``acme-b`` with key ``web`` both mean ``acme-b-web``:
    whether both are new in one file (run at once) or ``acme`` is on record, ``acme-b`` fails
    with exit 4 and no second ``acme-b-web`` is made."""
    (tmp_path / "hyphen.yaml").write_text(web_template("b-web"))
    (tmp_path / "plain.yaml").write_text(web_template("web"))
    message = "tenant acme already uses the Render name(s) acme-b-web that tenant acme-b would need"
    fleet = write_fleet(
        "tenants:\n  - name: acme\n    template: hyphen.yaml\n"
        "  - name: acme-b\n    template: plain.yaml\n"
    )
    code, data, stderr = apply_json(cli, str(fleet), "--concurrency", "4")
    assert code == 5, stderr
    results = results_by_slug(data)
    assert results["acme"]["outcome"] == "created"
    assert results["acme-b"] == results["acme-b"] | {
        "outcome": "failed",
        "exit_code": 4,
        "error_code": "render_name_conflict",
        "error": message,
    }
    names = [s["name"] for s in sandbox_dump(isolated_env / "data")["services"]]
    assert names == ["acme-b-web"]
    assert cli("tenant", "status", "acme-b").exit_code == 3

    # acme on record, not in the file: the per-tenant check refuses acme-b, before any call.
    only = write_fleet("tenants:\n  - name: acme-b\n    template: plain.yaml\n", "only.yaml")
    before = mutating(sandbox_requests(isolated_env / "data"))
    code, data, stderr = apply_json(cli, str(only))
    assert code == 5, stderr
    (result,) = data["results"]
    assert (result["slug"], result["outcome"], result["exit_code"], result["error"]) == (
        "acme-b",
        "failed",
        4,
        message,
    )
    assert mutating(sandbox_requests(isolated_env / "data")) == before
    assert cli("tenant", "status", "acme-b").exit_code == 3


def test_a_resource_added_under_another_tenants_render_name_fails_before_render(
    cli: Cli, fleet_env: dict[str, str], write_fleet: Callable[..., Path], isolated_env: Path,
    tmp_path: Path,
) -> None:
    """An update that adds ``b-web`` to ``acme`` would create ``acme-b-web``, which tenant
    ``acme-b`` owns: acme fails with exit 4 before any Render call, acme-b is left alone."""
    (tmp_path / "a.yaml").write_text(web_template("web"))
    (tmp_path / "b.yaml").write_text(web_template("web"))
    fleet = write_fleet(
        "tenants:\n  - name: acme\n    template: a.yaml\n"
        "  - name: acme-b\n    template: b.yaml\n"
    )
    code, _, stderr = apply_json(cli, str(fleet))
    assert code == 0, stderr
    (tmp_path / "a.yaml").write_text(
        web_template("web") + web_template("b-web").removeprefix("services:\n")
    )
    before = mutating(sandbox_requests(isolated_env / "data"))
    code, data, stderr = apply_json(cli, str(fleet))
    assert code == 5, stderr
    results = results_by_slug(data)
    assert (results["acme"]["outcome"], results["acme"]["exit_code"]) == ("failed", 4)
    assert results["acme"]["error_code"] == "render_name_conflict"
    assert results["acme"]["error"] == (
        "tenant acme-b already uses the Render name(s) acme-b-web that tenant acme would need"
    )
    assert results["acme-b"]["outcome"] == "noop"
    assert mutating(sandbox_requests(isolated_env / "data")) == before
    assert [r["key"] for r in cli("-o", "json", "tenant", "show", "acme").json()["data"][
        "resources"
    ]] == ["web"]
