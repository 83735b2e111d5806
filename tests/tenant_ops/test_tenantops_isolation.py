"""Templates with an isolation block (issue 14): each tenant's resources in its own Render
environment, inside a project shared by the fleet or one of its own; created first, emptied and
removed on delete, journaled and resumable (SIGKILL at every new step, then a rerun)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from tenant_ops_helpers import Sandbox, create_tenant, ids

from tests.conftest import Cli, run_rcp

BODY = """\
services:
  - type: web
    name: web
    runtime: docker
    plan: starter
    repo: https://github.com/example/app
databases:
  - name: db
    plan: basic-256mb
"""

SHARED = """\
isolation:
  project:
    name: customers
  environment:
    protectedStatus: protected
    networkIsolationEnabled: true
    ipAllowList:
      - source: 203.0.113.7
        description: office
""" + BODY

OWN = """\
isolation:
  project:
    perTenant: true
""" + BODY


@pytest.fixture
def templates(isolated_env: Path) -> Path:
    folder = isolated_env / "config" / "templates"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shared.yaml").write_text(SHARED)
    (folder / "own.yaml").write_text(OWN)
    (folder / "plain.yaml").write_text(BODY)
    return folder


def projects(sandbox: Sandbox, name: str) -> list[dict[str, Any]]:
    items = sandbox.call("GET", f"/projects?name={name}&limit=100", expect=200)
    return [item["project"] for item in items]


def environments(sandbox: Sandbox, project_id: str) -> list[dict[str, Any]]:
    items = sandbox.call("GET", f"/environments?projectId={project_id}&limit=100", expect=200)
    return [item["environment"] for item in items]


def held(environment: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for field in ("serviceIds", "databasesIds", "redisIds", "envGroupIds"):
        found.update(environment.get(field) or [])
    return found


def members(tenant: dict[str, Any]) -> set[str]:
    return {
        r["render_id"]
        for r in tenant["resources"]
        if r["type"] not in ("project", "environment") and r["render_id"]
    }


def test_invalid_isolation_blocks_exit_2_with_every_location(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        """\
isolation:
  project:
    perTenant: true
    name: customers
  environment:
    protectedStatus: maybe
    networkIsolationEnabled: "yes"
    ipAllowList:
      - source: not-an-address
    colour: red
services:
  - type: web
    name: environment
    runtime: docker
    plan: starter
    repo: https://github.com/example/app
"""
    )
    result = cli("-o", "json", "template", "validate", str(path))
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    locations = {problem["location"] for problem in error["problems"]}
    assert {
        "services[0].name",
        "isolation.environment.colour",
        "isolation.environment.protectedStatus",
        "isolation.environment.networkIsolationEnabled",
        "isolation.environment.ipAllowList[0].source",
        "isolation.project.name",
    } <= locations, error["problems"]
    missing = tmp_path / "missing.yaml"
    missing.write_text("isolation:\n  environment: {}\n" + BODY)
    result = cli("-o", "json", "template", "validate", str(missing))
    assert result.exit_code == 2
    problems = json.loads(result.stdout)["error"]["problems"]
    assert [p["location"] for p in problems] == ["isolation.project"]
    assert "perTenant" in problems[0]["message"]


def test_template_show_orders_project_and_environment_first(cli: Cli, templates: Path) -> None:
    result = cli("template", "validate", str(templates / "own.yaml"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(
        "own: valid (project (project) -> environment (environment; needs project) -> db"
    )
    shown = cli("-o", "json", "template", "show", "shared")
    assert shown.exit_code == 0, shown.stderr
    keys = [r["key"] for r in shown.json()["data"]["resources"]]
    assert keys == ["environment", "db", "web"]


def test_shared_project_holds_one_environment_per_tenant(
    cli: Cli, sandbox: Sandbox, templates: Path
) -> None:
    acme = create_tenant(cli, "acme", "--template", "shared")
    globex = create_tenant(cli, "globex", "--template", "shared")
    assert acme["status"] == globex["status"] == "ACTIVE"
    [project] = projects(sandbox, "customers")
    found = {env["name"]: env for env in environments(sandbox, project["id"])}
    assert set(found) == {"acme-environment", "globex-environment"}
    for tenant in (acme, globex):
        environment = found[f"{tenant['slug']}-environment"]
        assert ids(tenant)["environment"] == environment["id"]
        assert held(environment) == members(tenant)  # exactly its tenant's resources
        assert environment["protectedStatus"] == "protected"
        assert environment["networkIsolationEnabled"] is True
        assert environment["ipAllowList"] == [
            {"cidrBlock": "203.0.113.7/32", "description": "office"}
        ]
    assert "project" not in ids(acme)  # the shared project is no tenant's
    assert acme["isolation"] == {
        "project": "customers",
        "shared_project": True,
        "environment_id": ids(acme)["environment"],
    }
    human = cli("tenant", "show", "acme")
    assert human.exit_code == 0, human.stderr
    assert f"environment:    {ids(acme)['environment']} in project customers (shared)" in (
        human.stdout
    )
    # Every create after the environment named it (the spec's environmentId).
    web = sandbox.get("services", ids(acme)["web"])
    assert web["environmentId"] == ids(acme)["environment"]

    deleted = cli("-o", "json", "tenant", "delete", "acme", "--yes")
    assert deleted.exit_code == 0, deleted.stderr
    assert not sandbox.exists("environments", ids(acme)["environment"])
    assert not sandbox.exists("services", ids(acme)["web"])
    [still] = projects(sandbox, "customers")
    assert still["id"] == project["id"]
    [left] = environments(sandbox, project["id"])
    assert left["id"] == ids(globex)["environment"]
    assert held(left) == members(globex)
    shown = cli("-o", "json", "tenant", "show", "globex")
    assert shown.json()["data"]["status"] == "ACTIVE"


def test_per_tenant_project_is_created_and_deleted_with_the_tenant(
    cli: Cli, sandbox: Sandbox, templates: Path
) -> None:
    solo = create_tenant(cli, "solo", "--template", "own")
    [project] = projects(sandbox, "solo-project")
    assert ids(solo)["project"] == project["id"]
    [environment] = environments(sandbox, project["id"])
    assert environment["name"] == "solo-environment"
    assert ids(solo)["environment"] == environment["id"]
    assert held(environment) == members(solo)
    status = cli("-o", "json", "tenant", "status", "solo", "--live")
    assert status.exit_code == 0, status.stderr
    states = {r["key"]: r["state"] for r in status.json()["data"]["resources"]}
    assert states["project"] == states["environment"] == "exists"

    deleted = cli("-o", "json", "tenant", "delete", "solo", "--yes")
    assert deleted.exit_code == 0, deleted.stderr
    assert projects(sandbox, "solo-project") == []
    assert not sandbox.exists("environments", environment["id"])


def test_delete_moves_out_what_the_record_does_not_hold(
    cli: Cli, sandbox: Sandbox, templates: Path
) -> None:
    """Render answers 409 while an environment holds anything: a resource someone else put in
    the tenant's environment is taken out (not deleted), then the environment goes."""
    tenant = create_tenant(cli, "acme", "--template", "own")
    stranger = sandbox.create_web_service("someone-elses")
    environment_id = ids(tenant)["environment"]
    sandbox.call(
        "POST", f"/environments/{environment_id}/resources", {"resourceIds": [stranger]}, 201
    )
    # What rcp relies on: Render refuses a non-empty environment.
    sandbox.call("DELETE", f"/environments/{environment_id}", expect=None)
    assert sandbox.exists("environments", environment_id)

    deleted = cli("-o", "json", "tenant", "delete", "acme", "--yes")
    assert deleted.exit_code == 0, deleted.stderr
    assert f"moved 1 resource(s) the record does not hold out of {environment_id}" in (
        deleted.stderr
    )
    assert not sandbox.exists("environments", environment_id)
    assert projects(sandbox, "acme-project") == []
    survivor = sandbox.get("services", stranger)
    assert survivor.get("environmentId") is None


def test_template_gaining_isolation_moves_existing_resources_in(
    cli: Cli, sandbox: Sandbox, templates: Path
) -> None:
    tenant = create_tenant(cli, "acme", "--template", "plain")
    (templates / "plain.yaml").write_text(OWN)
    fleet = templates.parent / "fleet.yaml"
    fleet.write_text("tenants:\n  - name: acme\n    template: plain\n")
    applied = cli("-o", "json", "apply", str(fleet))
    assert applied.exit_code == 0, applied.stderr
    shown = cli("-o", "json", "tenant", "show", "acme").json()["data"]
    environment = sandbox.get("environments", ids(shown)["environment"])
    assert held(environment) == members(tenant) == members(shown)


# ---- kill at every new step, then rerun: no duplicate project or environment ---------------


def killed_then_rerun(cli: Cli, args: list[str], failpoint: str) -> Any:
    killed = run_rcp(["-q", *args], env={**os.environ, "RCP_FAILPOINT": failpoint})
    assert killed.exit_code == -9, (failpoint, killed.exit_code, killed.stderr)
    rerun = cli("-o", "json", *args)
    assert rerun.exit_code == 0, (failpoint, rerun.stderr)
    return rerun.json()["data"]


def assert_single(sandbox: Sandbox, project: str, tenants: list[dict[str, Any]]) -> None:
    [found] = projects(sandbox, project)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for environment in environments(sandbox, found["id"]):
        by_name.setdefault(environment["name"], []).append(environment)
    for tenant in tenants:
        [environment] = by_name[f"{tenant['slug']}-environment"]
        assert environment["id"] == ids(tenant)["environment"]
        assert held(environment) == members(tenant)


@pytest.mark.slow
def test_kill_at_every_create_step_then_rerun(
    cli: Cli, sandbox: Sandbox, templates: Path
) -> None:
    # The first tenant creates the shared project (with its environment in it): a project of
    # its own name for each kill point.
    for step in ("before", "after"):
        (templates / f"first-{step}.yaml").write_text(
            SHARED.replace("name: customers", f"name: customers-{step}")
        )
        tenant = killed_then_rerun(
            cli,
            ["tenant", "create", f"first-{step}", "--template", f"first-{step}"],
            f"create:project:{step}",
        )
        assert_single(sandbox, f"customers-{step}", [tenant])
    # Later tenants create their environment in an existing one.
    created = [create_tenant(cli, "first", "--template", "shared")]
    for step in ("before", "after", "committed"):
        tenant = killed_then_rerun(
            cli,
            ["tenant", "create", f"env-{step}", "--template", "shared"],
            f"create:environment:{step}",
        )
        created.append(tenant)
        assert_single(sandbox, "customers", created)
    # A project of its own: created with the environment in it.
    for step in ("before", "after", "committed"):
        slug = f"own-{step}"
        tenant = killed_then_rerun(
            cli, ["tenant", "create", slug, "--template", "own"], f"create:project:{step}"
        )
        assert tenant["status"] == "ACTIVE"
        assert_single(sandbox, f"{slug}-project", [tenant])


@pytest.mark.slow
def test_kill_at_every_delete_step_then_rerun(
    cli: Cli, sandbox: Sandbox, templates: Path
) -> None:
    points = [
        ("empty:environment:before", "own"),
        ("empty:environment:after", "own"),
        ("delete:environment:before", "own"),
        ("delete:environment:after", "shared"),
        ("delete:environment:committed", "shared"),
        ("delete:project:before", "own"),
        ("delete:project:after", "own"),
        ("delete:project:committed", "own"),
    ]
    keeper = create_tenant(cli, "keeper", "--template", "shared")
    for index, (failpoint, template) in enumerate(points):
        slug = f"gone{index}"
        tenant = create_tenant(cli, slug, "--template", template)
        stranger = None
        if failpoint.startswith("empty:"):
            stranger = sandbox.create_web_service(f"stranger{index}")
            sandbox.call(
                "POST",
                f"/environments/{ids(tenant)['environment']}/resources",
                {"resourceIds": [stranger]},
                201,
            )
        data = killed_then_rerun(cli, ["tenant", "delete", slug, "--yes"], failpoint)
        assert data["deleted"] is True, failpoint
        for key, render_id in ids(tenant).items():
            family = {"web": "services", "db": "postgres"}.get(key, f"{key}s")
            if key == "environment":
                family = "environments"
            assert not sandbox.exists(family, render_id), (failpoint, key)
        if stranger is not None:
            assert sandbox.exists("services", stranger)
    assert_single(sandbox, "customers", [keeper])


def test_plan_and_apply_change_the_environment_in_place(
    cli: Cli, sandbox: Sandbox, templates: Path
) -> None:
    fleet = templates.parent / "fleet.yaml"
    fleet.write_text("tenants:\n  - name: acme\n    template: own\n")
    assert cli("-q", "apply", str(fleet)).exit_code == 0
    tenant = cli("-o", "json", "tenant", "show", "acme").json()["data"]
    (templates / "own.yaml").write_text(
        OWN.replace("    perTenant: true\n", "    perTenant: true\n  environment:\n"
                    "    protectedStatus: protected\n")
    )
    plan = cli("-o", "json", "plan", str(fleet))
    assert plan.exit_code == 0, plan.stderr
    [change] = plan.json()["data"]["changes"]
    # Render bills neither projects nor environments.
    assert change["cost"]["monthly_usd_change"] == 0
    assert change["details"] == [
        {
            "change": "update_resource",
            "resource": "environment",
            "fields": {"protectedStatus": {"from": None, "to": "protected"}},
        }
    ]
    applied = cli("-o", "json", "apply", str(fleet))
    assert applied.exit_code == 0, applied.stderr
    environment = sandbox.get("environments", ids(tenant)["environment"])
    assert environment["protectedStatus"] == "protected"
    assert cli("plan", str(fleet)).stdout.startswith("No changes")

    # Another project: Render cannot move an environment (exit 4 before any write).
    (templates / "own.yaml").write_text(SHARED)
    refused = cli("-o", "json", "apply", str(fleet))
    assert refused.exit_code == 5, refused.stdout
    [result] = refused.json()["data"]["results"]
    assert result["error_code"] == "change_not_in_place"
    assert result["exit_code"] == 4
    assert "isolation.project" in result["error"]

    # Dropping the block: the resources stay, out of the environment, which goes.
    (templates / "own.yaml").write_text(BODY)
    dropped = cli("-o", "json", "apply", str(fleet))
    assert dropped.exit_code == 0, dropped.stderr
    assert not sandbox.exists("environments", ids(tenant)["environment"])
    assert projects(sandbox, "acme-project") == []
    web = sandbox.get("services", ids(tenant)["web"])
    assert web.get("environmentId") is None
    shown = cli("-o", "json", "tenant", "show", "acme").json()["data"]
    assert [r["key"] for r in shown["resources"]] == ["db", "web"]


def test_backup_round_trips_a_tenant_with_its_environment(
    cli: Cli, sandbox: Sandbox, templates: Path, isolated_env: Path
) -> None:
    tenant = create_tenant(cli, "solo", "--template", "own")
    backup = isolated_env / "backup.json"
    exported = cli("-o", "json", "backup", "export", str(backup))
    assert exported.exit_code == 0, exported.stderr
    [saved] = [t for t in json.loads(backup.read_text())["tenants"] if t["slug"] == "solo"]
    assert {r["type"] for r in saved["resources"]} >= {"project", "environment"}
    # Into an empty database: the record comes back with its project and environment.
    os.environ["RCP_SANDBOX_DATABASE_URL"] = f"sqlite:///{isolated_env / 'other.db'}"
    try:
        imported = cli("-o", "json", "backup", "import", str(backup))
        assert imported.exit_code == 0, imported.stderr
        shown = cli("-o", "json", "tenant", "show", "solo")
        assert shown.exit_code == 0, shown.stderr
        assert ids(shown.json()["data"]) == ids(tenant)
        # The restored record deletes what it holds, environment and project included.
        deleted = cli("-o", "json", "tenant", "delete", "solo", "--yes")
        assert deleted.exit_code == 0, deleted.stderr
    finally:
        del os.environ["RCP_SANDBOX_DATABASE_URL"]
    assert projects(sandbox, "solo-project") == []


# ---- ownership through environments ---------------------------------------------------------


def test_check_lists_what_the_environment_holds_beyond_the_record(
    cli: Cli, sandbox: Sandbox, templates: Path
) -> None:
    tenant = create_tenant(cli, "acme", "--template", "own")
    environment_id = ids(tenant)["environment"]
    stranger = sandbox.create_web_service("someone-elses")
    sandbox.call(
        "POST", f"/environments/{environment_id}/resources", {"resourceIds": [stranger]}, 201
    )
    checked = cli("-o", "json", "tenant", "check", "acme")
    assert checked.exit_code == 5, checked.stdout
    [health] = checked.json()["data"]["tenants"]
    [problem] = health["problems"]
    assert problem["problem"] == "unrecorded"
    assert problem["resource"] is None
    assert problem["render_id"] == stranger
    assert problem["name"] == "someone-elses"
    assert f"is in the tenant's environment {environment_id}" in problem["detail"]
    # --repair cannot give it a key: reported, not adopted, and never deleted.
    repaired = cli("-o", "json", "tenant", "check", "acme", "--repair")
    assert repaired.exit_code == 5, repaired.stdout
    [problem] = repaired.json()["data"]["tenants"][0]["problems"]
    assert problem["repaired"] is False and problem["render_id"] == stranger
    assert sandbox.exists("services", stranger)


def test_check_repair_adopts_a_resource_of_the_environment_named_like_a_key(
    cli: Cli, sandbox: Sandbox, templates: Path
) -> None:
    """A create Render acted on but the record never heard of (killed right after it): the
    environment holds it, the repair adopts it under its key."""
    killed = run_rcp(
        ["-q", "tenant", "create", "acme", "--template", "own"],
        env={**os.environ, "RCP_FAILPOINT": "create:web:after"},
    )
    assert killed.exit_code == -9, killed.stderr
    shown = cli("-o", "json", "tenant", "show", "acme").json()["data"]
    environment = sandbox.get("environments", ids(shown)["environment"])
    [web_id] = environment["serviceIds"]
    assert "web" not in ids(shown)
    checked = cli("-o", "json", "tenant", "check", "acme")
    problems = checked.json()["data"]["tenants"][0]["problems"]
    assert {"resource": "web", "problem": "unrecorded", "render_id": web_id} in [
        {k: p[k] for k in ("resource", "problem", "render_id")} for p in problems
    ]
    repaired = cli("-o", "json", "tenant", "check", "acme", "--repair")
    assert repaired.exit_code == 0, repaired.stdout
    after = cli("-o", "json", "tenant", "show", "acme").json()["data"]
    assert ids(after)["web"] == web_id and after["status"] == "ACTIVE"
    [web] = sandbox.call("GET", "/services?name=acme-web", expect=200)
    assert web["service"]["id"] == web_id  # adopted, not created again


def test_adopt_takes_a_whole_environment(
    cli: Cli, sandbox: Sandbox, templates: Path, isolated_env: Path
) -> None:
    tenant = create_tenant(cli, "acme", "--template", "own")
    environment_id = ids(tenant)["environment"]
    stranger = sandbox.create_web_service("someone-elses")
    sandbox.call(
        "POST", f"/environments/{environment_id}/resources", {"resourceIds": [stranger]}, 201
    )
    # rcp's database is lost: a new one knows nothing of acme.
    os.environ["RCP_SANDBOX_DATABASE_URL"] = f"sqlite:///{isolated_env / 'new.db'}"
    try:
        bad = cli("-o", "json", "tenant", "adopt", "acme", "--environment", "srv-abc")
        assert bad.exit_code == 2
        assert "expected an evm-… id" in bad.json()["error"]["message"]
        plain = cli("tenant", "adopt", "acme", "--template", "plain", "--environment",
                    environment_id)
        assert plain.exit_code == 2
        assert "has no isolation block" in plain.stderr
        elsewhere = cli("-o", "json", "tenant", "adopt", "acme", "--template", "shared",
                        "--environment", environment_id)
        assert elsewhere.exit_code == 4
        assert elsewhere.json()["error"]["code"] == "resource_conflict"
        assert "acme-project" in elsewhere.json()["error"]["message"]

        adopted = cli("-o", "json", "tenant", "adopt", "acme", "--template", "own",
                      "--environment", environment_id)
        assert adopted.exit_code == 0, adopted.stderr
        data = adopted.json()["data"]
        assert ids(data) == ids(tenant)
        assert data["status"] == "ACTIVE"
        assert f"{stranger} (someone-elses) is in {environment_id}" in adopted.stderr
        again = cli("-o", "json", "tenant", "adopt", "acme", "--environment", environment_id)
        assert again.exit_code == 0, again.stderr  # idempotent
        assert ids(again.json()["data"]) == ids(tenant)
    finally:
        del os.environ["RCP_SANDBOX_DATABASE_URL"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "failpoint",
    ["create:environment:committed", "gather:environment:before", "gather:environment:after"],
)
def test_kill_while_moving_resources_into_a_new_environment_then_rerun(
    cli: Cli, sandbox: Sandbox, templates: Path, failpoint: str
) -> None:
    tenant = create_tenant(cli, "acme", "--template", "plain")
    (templates / "plain.yaml").write_text(OWN)
    fleet = templates.parent / "fleet.yaml"
    fleet.write_text("tenants:\n  - name: acme\n    template: plain\n")
    killed = run_rcp(["-q", "apply", str(fleet)], env={**os.environ, "RCP_FAILPOINT": failpoint})
    assert killed.exit_code == -9, killed.stderr
    rerun = cli("-o", "json", "apply", str(fleet))
    assert rerun.exit_code == 0, rerun.stderr
    shown = cli("-o", "json", "tenant", "show", "acme").json()["data"]
    assert_single(sandbox, "acme-project", [shown])
    assert members(shown) == members(tenant)
    assert {r["state"] for r in shown["resources"] if r["key"] == "environment"} == {"exists"}
