"""Environment groups through the real CLI on the sandbox: a tenant's own group and one the
fleet shares (template ``envVarGroups`` / ``fromGroup``), `tenant env --group`, `rcp group …`,
check/repair, adopt, backup, plan/apply, and kill-and-resume at every new journal step."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from tenant_ops_helpers import Sandbox

from tests.conftest import Cli, run_rcp

GROUP_TEMPLATE = """\
envVarGroups:
  - name: config
    envVars:
      - key: FEATURE
        value: "on"
      - key: TENANT_SLUG
        value: "{{ tenant.slug }}"
      - key: SIGNING_KEY
        generateValue: true
  - name: fleet-settings
    shared: true
    envVars:
      - key: REGION_HINT
        value: eu
services:
  - type: web
    name: web
    runtime: node
    repo: https://github.com/render-examples/express-hello-world
    buildCommand: npm install
    startCommand: npm start
    envVars:
      - fromGroup: config
      - fromGroup: fleet-settings
      - key: OWN
        value: mine
"""


@pytest.fixture
def group_template(isolated_env: Path) -> str:
    templates = isolated_env / "config" / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    (templates / "grouped.yaml").write_text(GROUP_TEMPLATE)
    return "grouped"


def create(cli: Cli, slug: str, template: str = "grouped") -> dict[str, Any]:
    result = cli("-q", "-o", "json", "tenant", "create", slug, "--template", template)
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = result.json()["data"]
    return data


def groups_on_render(sandbox: Sandbox) -> dict[str, list[dict[str, Any]]]:
    """Every group on Render by name (a list, so duplicates show)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for group in sandbox.call("GET", "/env-groups", expect=200):
        found.setdefault(group["name"], []).append(group)
    return found


def links(group: dict[str, Any]) -> list[str]:
    return [link["id"] for link in group["serviceLinks"]]


def live_deploy_env(sandbox: Sandbox, service_id: str) -> dict[str, str]:
    """The variables the service's current (live) deploy started with."""
    deploys = sandbox.deploys(service_id)
    live = [d for d in deploys if d["status"] == "live"]
    assert live, deploys
    state = sandbox.call("GET", "/__sandbox/state", expect=200)
    env: dict[str, str] = state["deployEnv"][live[0]["id"]]
    return env


def test_groups_created_before_services_linked_and_seen_by_the_live_deploy(
    cli: Cli, sandbox: Sandbox, group_template: str
) -> None:
    acme = create(cli, "acme")
    beta = create(cli, "beta")
    assert [(r["key"], r["type"], r["name"], r["state"]) for r in acme["resources"]] == [
        ("config", "env_group", "acme-config", "exists"),
        ("fleet-settings", "env_group", "fleet-settings", "exists"),
        ("web", "web_service", "acme-web", "live"),
    ]
    assert acme["status"] == beta["status"] == "ACTIVE"
    on_render = groups_on_render(sandbox)
    assert sorted(on_render) == ["acme-config", "beta-config", "fleet-settings"]
    assert all(len(found) == 1 for found in on_render.values())
    shared = on_render["fleet-settings"][0]
    web = {t["slug"]: t["render_service_ids"]["web"] for t in (acme, beta)}
    assert links(shared) == [web["acme"], web["beta"]]
    assert links(on_render["acme-config"][0]) == [web["acme"]]
    assert acme["render_service_ids"]["fleet-settings"] == shared["id"]
    assert beta["render_service_ids"]["fleet-settings"] == shared["id"]
    # Groups were created before the service, filled in their create (no per-key calls), and
    # the service linked through the per-service endpoint (never a replacement of the links).
    mutations = sandbox.mutations()
    creates = [path for method, path in mutations if method == "POST" and path in ("/env-groups", "/services")]
    assert creates == ["/env-groups", "/env-groups", "/services", "/env-groups", "/services"]
    assert not any("/env-vars/" in path for _, path in mutations)
    link_calls = [
        path for method, path in mutations if method == "POST" and path.startswith("/env-groups/")
    ]
    assert link_calls == [
        f"/env-groups/{on_render['acme-config'][0]['id']}/services/{web['acme']}",
        f"/env-groups/{shared['id']}/services/{web['acme']}",
        f"/env-groups/{on_render['beta-config'][0]['id']}/services/{web['beta']}",
        f"/env-groups/{shared['id']}/services/{web['beta']}",
    ]
    # The deploy that went live started with the groups' variables and the service's own.
    env = live_deploy_env(sandbox, web["acme"])
    assert env["FEATURE"] == "on" and env["TENANT_SLUG"] == "acme" and env["REGION_HINT"] == "eu"
    assert env["OWN"] == "mine" and len(env["SIGNING_KEY"]) >= 32
    assert live_deploy_env(sandbox, web["beta"])["TENANT_SLUG"] == "beta"
    # Status, show and cost cover them: groups are up ("exists") and cost nothing.
    status = cli("-o", "json", "tenant", "status", "acme", "--live")
    assert status.exit_code == 0 and status.json()["data"]["status"] == "ACTIVE"
    shown = cli("tenant", "show", "acme")
    assert "config (env_group)" in shown.stdout and "fleet-settings" in shown.stdout
    cost = cli("-o", "json", "cost", "acme").json()["data"]
    priced = {r["key"]: r["monthly_usd"] for r in cost["tenants"][0]["resources"]}
    assert priced["config"] == priced["fleet-settings"] == 0
    assert cost["unknown_plans"] == []
    check = cli("-o", "json", "tenant", "check", "--all")
    assert check.exit_code == 0, check.stdout


def test_delete_removes_own_group_and_only_unlinks_the_shared_one(
    cli: Cli, sandbox: Sandbox, group_template: str
) -> None:
    acme = create(cli, "acme")
    beta = create(cli, "beta")
    deleted = cli("-o", "json", "tenant", "delete", "acme", "--yes")
    assert deleted.exit_code == 0, deleted.stderr
    assert set(deleted.json()["data"]["resources_deleted"]) == {
        acme["render_service_ids"]["web"],
        acme["render_service_ids"]["config"],
    }
    assert "unlinked group fleet-settings" in deleted.stderr
    on_render = groups_on_render(sandbox)
    assert sorted(on_render) == ["beta-config", "fleet-settings"]
    assert links(on_render["fleet-settings"][0]) == [beta["render_service_ids"]["web"]]
    assert not sandbox.exists("services", acme["render_service_ids"]["web"])
    # The other tenant is untouched, and deleting it too leaves the shared group in place.
    assert cli("-o", "json", "tenant", "check", "beta").exit_code == 0
    assert cli("-q", "tenant", "delete", "beta", "--yes").exit_code == 0
    on_render = groups_on_render(sandbox)
    assert sorted(on_render) == ["fleet-settings"]
    assert links(on_render["fleet-settings"][0]) == []


def test_tenant_env_group_set_list_unset(cli: Cli, sandbox: Sandbox, group_template: str) -> None:
    acme = create(cli, "acme")
    group_id = acme["render_service_ids"]["config"]
    web_id = acme["render_service_ids"]["web"]
    deploys_before = len(sandbox.deploys(web_id))
    result = cli("-o", "json", "tenant", "env", "set", "acme", "--group", "config", "FEATURE=off", "EXTRA=1")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["group"] == {"group": "config", "render_id": group_id, "keys": ["EXTRA", "FEATURE"]}
    assert data["env"] == [
        {"service": None, "group": "config", "key": "EXTRA", "value": "***"},
        {"service": None, "group": "config", "key": "FEATURE", "value": "***"},
    ]
    assert [s["service"] for s in data["services"]] == ["web"] and data["services"][0]["deployed"]
    assert "off" not in result.stdout + result.stderr
    group = sandbox.call("GET", f"/env-groups/{group_id}", expect=200)
    values = {item["key"]: item["value"] for item in group["envVars"]}
    assert values["FEATURE"] == "off" and values["EXTRA"] == "1"
    assert len(sandbox.deploys(web_id)) == deploys_before + 1
    # Service-wide overrides never touch the group's.
    assert cli("-q", "tenant", "env", "set", "acme", "FEATURE=svc", "--no-deploy").exit_code == 0
    listed = cli("-o", "json", "tenant", "env", "list", "acme", "--group", "config", "--reveal")
    assert listed.json()["data"] == [
        {"service": None, "group": "config", "key": "EXTRA", "value": "1"},
        {"service": None, "group": "config", "key": "FEATURE", "value": "off"},
    ]
    human = cli("tenant", "env", "list", "acme")
    assert "group config" in human.stdout and "***" in human.stdout
    # unset: a template key gets its value back, a key the template lacks is deleted.
    unset = cli("-o", "json", "tenant", "env", "unset", "acme", "--group", "config", "FEATURE", "EXTRA", "--no-deploy")
    assert unset.exit_code == 0, unset.stderr
    assert unset.json()["data"]["services"][0]["deployed"] is False
    group = sandbox.call("GET", f"/env-groups/{group_id}", expect=200)
    values = {item["key"]: item["value"] for item in group["envVars"]}
    assert values["FEATURE"] == "on" and "EXTRA" not in values
    # Bad input: exit 2 before any Render call.
    before = sandbox.mutations()
    shared = cli("tenant", "env", "set", "acme", "--group", "fleet-settings", "A=1")
    assert shared.exit_code == 2 and "shared by the fleet" in shared.stderr
    assert "rcp group env set fleet-settings" in shared.stderr
    unknown = cli("-o", "json", "tenant", "env", "set", "acme", "--group", "nope", "A=1")
    assert unknown.exit_code == 2
    assert unknown.json()["error"]["message"] == "tenant acme has no environment group 'nope' (groups: config)"
    both = cli("tenant", "env", "list", "acme", "--group", "config", "--service", "web")
    assert both.exit_code == 2 and "not both" in both.stderr
    assert sandbox.mutations() == before


def test_group_commands_change_the_shared_group_and_deploy_every_linked_service(
    cli: Cli, sandbox: Sandbox, group_template: str
) -> None:
    acme = create(cli, "acme")
    beta = create(cli, "beta")
    listed = cli("-o", "json", "group", "list")
    assert listed.exit_code == 0
    [group] = listed.json()["data"]
    shared_id = acme["render_service_ids"]["fleet-settings"]
    assert group["name"] == "fleet-settings" and group["render_id"] == shared_id
    assert group["tenants"] == ["acme", "beta"]
    assert [(s["tenant"], s["service"]) for s in group["services"]] == [("acme", "web"), ("beta", "web")]
    shown = cli("-o", "json", "group", "show", "fleet-settings").json()["data"]
    assert shown["env"] == [{"key": "REGION_HINT", "value": "***"}]
    assert shown["linked"] == sorted([acme["render_service_ids"]["web"], beta["render_service_ids"]["web"]])
    assert shown["unlinked_services"] == [] and shown["unrecorded_links"] == []

    changed = cli("-o", "json", "group", "env", "set", "fleet-settings", "REGION_HINT=us", "--stdin", "DSN", input="secret-dsn\n")
    assert changed.exit_code == 0, changed.stderr
    data = changed.json()["data"]
    assert data["keys"] == ["DSN", "REGION_HINT"]
    assert data["env"] == [{"key": "DSN", "value": "***"}, {"key": "REGION_HINT", "value": "***"}]
    assert [(s["tenant"], s["deployed"]) for s in data["services"]] == [("acme", True), ("beta", True)]
    assert "secret-dsn" not in changed.stdout + changed.stderr
    revealed = cli("-o", "json", "group", "env", "list", "fleet-settings", "--reveal").json()["data"]
    assert revealed == [{"key": "DSN", "value": "secret-dsn"}, {"key": "REGION_HINT", "value": "us"}]
    # The deploys it started see the new values.
    assert live_deploy_env(sandbox, beta["render_service_ids"]["web"])["REGION_HINT"] == "us"
    audit = cli("-o", "json", "audit", "--limit", "1").json()["data"][0]
    assert audit["command"].endswith("group env set fleet-settings REGION_HINT=*** --stdin DSN")

    web_deploys = len(sandbox.deploys(acme["render_service_ids"]["web"]))
    removed = cli("-o", "json", "group", "env", "unset", "fleet-settings", "DSN", "--no-deploy")
    assert removed.exit_code == 0, removed.stderr
    assert [s["deployed"] for s in removed.json()["data"]["services"]] == []
    assert len(sandbox.deploys(acme["render_service_ids"]["web"])) == web_deploys
    assert cli("-o", "json", "group", "env", "list", "fleet-settings").json()["data"] == [
        {"key": "REGION_HINT", "value": "***"}
    ]

    missing = cli("-o", "json", "group", "show", "nope")
    assert missing.exit_code == 3 and missing.json()["error"]["code"] == "group_not_found"
    invalid = cli("group", "env", "set", "Bad_Name", "A=1")
    assert invalid.exit_code == 2 and "invalid group name" in invalid.stderr
    nothing = cli("group", "env", "set", "fleet-settings")
    assert nothing.exit_code == 2 and "nothing to set" in nothing.stderr
    assert cli("group", "list", "-o", "json").json()["data"][0]["tenants"] == ["acme", "beta"]
    # The group is known from records of one world: another workspace may not change it.
    before = sandbox.mutations()
    foreign = cli(
        "-o", "json", "group", "env", "set", "fleet-settings", "A=1", env={"RENDER_OWNER_ID": "tea-elsewhere"}
    )
    assert foreign.exit_code == 6, foreign.stdout
    assert foreign.json()["error"]["code"] == "world_mismatch"
    assert sandbox.mutations() == before


def test_suspend_resume_and_logs_pass_groups_by(
    cli: Cli, sandbox: Sandbox, group_template: str
) -> None:
    """Groups do not run: suspend/resume and logs leave them out; a group deleted meanwhile is
    recreated by resume and the service linked to the new one."""
    acme = create(cli, "acme")
    suspended = cli("-o", "json", "tenant", "suspend", "acme")
    assert suspended.exit_code == 0, suspended.stderr
    states = {r["key"]: r["state"] for r in suspended.json()["data"]["resources"]}
    assert states == {"config": "exists", "fleet-settings": "exists", "web": "suspended"}
    assert not [path for _, path in sandbox.mutations() if path.startswith("/env-groups/") and path.endswith("/suspend")]
    sandbox.call("DELETE", f"/env-groups/{acme['render_service_ids']['config']}", expect=204)
    resumed = cli("-o", "json", "tenant", "resume", "acme")
    assert resumed.exit_code == 0, resumed.stderr
    assert resumed.json()["data"]["status"] == "ACTIVE"
    [recreated] = groups_on_render(sandbox)["acme-config"]
    web_id = acme["render_service_ids"]["web"]
    assert links(recreated) == [web_id]
    assert live_deploy_env(sandbox, web_id)["TENANT_SLUG"] == "acme"
    logs = cli("-o", "json", "tenant", "logs", "acme", "--limit", "5")
    assert logs.exit_code == 0, logs.stderr
    assert {line["resource"] for line in logs.json()["data"]} == {"web"}
    no_logs = cli("tenant", "logs", "acme", "--service", "config")
    assert no_logs.exit_code == 2 and "(resources: web)" in no_logs.stderr


def test_check_reports_and_repairs_a_missing_link(
    cli: Cli, sandbox: Sandbox, group_template: str
) -> None:
    acme = create(cli, "acme")
    shared_id = acme["render_service_ids"]["fleet-settings"]
    web_id = acme["render_service_ids"]["web"]
    sandbox.call("DELETE", f"/env-groups/{shared_id}/services/{web_id}", expect=204)
    check = cli("-o", "json", "tenant", "check", "acme")
    assert check.exit_code == 5
    [problem] = check.json()["data"]["tenants"][0]["problems"]
    assert problem["resource"] == "web" and problem["problem"] == "group_unlinked"
    repaired = cli("-o", "json", "tenant", "check", "acme", "--repair")
    assert repaired.exit_code == 0, repaired.stdout + repaired.stderr
    assert repaired.json()["data"]["tenants"][0]["problems"][0]["repaired"] is True
    assert links(sandbox.call("GET", f"/env-groups/{shared_id}", expect=200)) == [web_id]
    # A deleted group is recreated with its variables and the service linked to it again.
    own_id = acme["render_service_ids"]["config"]
    sandbox.call("DELETE", f"/env-groups/{own_id}", expect=204)
    repaired = cli("-o", "json", "tenant", "check", "acme", "--repair")
    assert repaired.exit_code == 0, repaired.stdout + repaired.stderr
    [recreated] = groups_on_render(sandbox)["acme-config"]
    assert links(recreated) == [web_id]
    assert live_deploy_env(sandbox, web_id)["FEATURE"] == "on"


def test_backup_round_trip_and_adopt_with_groups(
    cli: Cli, sandbox: Sandbox, group_template: str, isolated_env: Path, tmp_path: Path
) -> None:
    acme = create(cli, "acme")
    beta = create(cli, "beta")
    exported = tmp_path / "backup.json"
    assert cli("backup", "export", str(exported)).exit_code == 0
    other = {"RCP_DATA_DIR": str(tmp_path / "other-data")}
    imported = cli("-o", "json", "backup", "import", str(exported), env=other)
    assert imported.exit_code == 0, imported.stdout + imported.stderr
    assert imported.json()["data"]["tenants_created"] == ["acme", "beta"]
    # Adopt: a record for an existing service and groups; the shared group may be recorded by
    # several tenants, and the adopted pairs are linked.
    service = sandbox.create_web_service("legacy-web")
    own = sandbox.call(
        "POST", "/env-groups", {"name": "legacy-config", "ownerId": sandbox.owner_id(), "envVars": []}, expect=201
    )
    shared_id = acme["render_service_ids"]["fleet-settings"]
    adopted = cli(
        "-o", "json", "tenant", "adopt", "legacy", "--template", "grouped",
        "--resource", f"web={service}", "--resource", f"config={own['id']}",
        "--resource", f"fleet-settings={shared_id}",
    )
    assert adopted.exit_code == 0, adopted.stderr
    assert adopted.json()["data"]["render_service_ids"]["fleet-settings"] == shared_id
    assert service in links(sandbox.call("GET", f"/env-groups/{shared_id}", expect=200))
    assert links(sandbox.call("GET", f"/env-groups/{own['id']}", expect=200)) == [service]
    taken = cli("tenant", "adopt", "other", "--template", "grouped", "--resource", f"config={own['id']}")
    assert taken.exit_code == 4 and "recorded under tenant legacy" in taken.stderr
    bad = cli("tenant", "adopt", "other", "--resource", "web=evg-abc")
    assert bad.exit_code == 2
    del beta


def test_parallel_apply_creates_the_shared_group_once(
    cli: Cli, sandbox: Sandbox, group_template: str, tmp_path: Path
) -> None:
    """Tenants of one apply run side by side: the first to need the shared group creates it
    under its lock, the others wait and find it."""
    (tmp_path / "grouped.yaml").write_text(GROUP_TEMPLATE)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "tenants:\n" + "".join(f"  - name: t{i}\n    template: grouped.yaml\n" for i in range(4))
    )
    applied = cli("-o", "json", "apply", str(fleet), "--yes", "--concurrency", "4")
    assert applied.exit_code == 0, applied.stderr
    on_render = groups_on_render(sandbox)
    assert len(on_render["fleet-settings"]) == 1
    tenants = [cli("-o", "json", "tenant", "show", f"t{i}").json()["data"] for i in range(4)]
    assert sorted(links(on_render["fleet-settings"][0])) == sorted(
        t["render_service_ids"]["web"] for t in tenants
    )
    posts = [path for method, path in sandbox.mutations() if (method, path) == ("POST", "/env-groups")]
    assert len(posts) == 4 + 1  # each tenant's own group, and the shared one once


def test_plan_and_apply_group_differences(
    cli: Cli, sandbox: Sandbox, group_template: str, isolated_env: Path, tmp_path: Path
) -> None:
    (tmp_path / "grouped.yaml").write_text(GROUP_TEMPLATE)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("tenants:\n  - name: acme\n    template: grouped.yaml\n    env:\n      config: {FEATURE: fleet}\n")
    applied = cli("-o", "json", "apply", str(fleet), "--yes")
    assert applied.exit_code == 0, applied.stderr
    tenant = cli("-o", "json", "tenant", "show", "acme").json()["data"]
    group_id = tenant["render_service_ids"]["config"]
    values = {v["key"]: v["value"] for v in sandbox.call("GET", f"/env-groups/{group_id}", expect=200)["envVars"]}
    assert values["FEATURE"] == "fleet"
    assert cli("plan", str(fleet), "--detailed-exitcode").exit_code == 0
    # The group's value changes and the service stops using the shared group.
    fleet.write_text(fleet.read_text().replace("fleet}", "changed}"))
    (tmp_path / "grouped.yaml").write_text(GROUP_TEMPLATE.replace("      - fromGroup: fleet-settings\n", ""))
    plan = cli("-o", "json", "plan", str(fleet))
    details = plan.json()["data"]["changes"][0]["details"]
    assert {"change": "env", "resource": "config", "group": True, "set": ["FEATURE"]} in details
    assert {"change": "groups", "resource": "web", "unlink": ["fleet-settings"]} in details
    human = cli("plan", str(fleet))
    assert "env on group config: set FEATURE" in human.stdout
    assert "groups of web: unlink fleet-settings" in human.stdout
    applied = cli("-o", "json", "apply", str(fleet), "--yes")
    assert applied.exit_code == 0, applied.stderr
    values = {v["key"]: v["value"] for v in sandbox.call("GET", f"/env-groups/{group_id}", expect=200)["envVars"]}
    assert values["FEATURE"] == "changed"
    on_render = groups_on_render(sandbox)
    assert links(on_render["fleet-settings"][0]) == []  # unlinked, never deleted
    assert live_deploy_env(sandbox, tenant["render_service_ids"]["web"])["FEATURE"] == "changed"
    assert cli("plan", str(fleet), "--detailed-exitcode").exit_code == 0


# The acceptance: a per-tenant group, a shared group and an environment per tenant
# (inside a project the fleet shares).
COMBINED_TEMPLATE = (
    """\
isolation:
  project:
    name: customers
"""
    + GROUP_TEMPLATE
)


def environment_members(sandbox: Sandbox, environment_id: str) -> set[str]:
    environment = sandbox.call("GET", f"/environments/{environment_id}", expect=200)
    found: set[str] = set()
    for field in ("serviceIds", "databasesIds", "redisIds", "envGroupIds"):
        found.update(environment.get(field) or [])
    return found


def own_members(tenant: dict[str, Any], shared: str = "fleet-settings") -> set[str]:
    """What the tenant's environment must hold: all its resources but the project, the
    environment and the group the fleet shares."""
    return {
        r["render_id"]
        for r in tenant["resources"]
        if r["type"] not in ("project", "environment") and r["key"] != shared
    }


def assert_world(sandbox: Sandbox, tenants: list[dict[str, Any]], shared: str = "fleet-settings") -> None:
    """One group per name, one environment per tenant holding exactly its own resources, the
    shared group linked once to each tenant's service and in no tenant's environment."""
    on_render = groups_on_render(sandbox)
    assert all(len(found) == 1 for found in on_render.values()), on_render
    [group] = on_render[shared]
    webs = [t["render_service_ids"]["web"] for t in tenants]
    assert sorted(links(group)) == sorted(webs) and len(set(links(group))) == len(links(group))
    assert group.get("environmentId") is None
    [project] = [
        item["project"]
        for item in sandbox.call("GET", "/projects?name=customers&limit=100", expect=200)
    ]
    environments = [
        item["environment"]
        for item in sandbox.call(
            "GET", f"/environments?projectId={project['id']}&limit=100", expect=200
        )
    ]
    names = [environment["name"] for environment in environments]
    assert len(names) == len(set(names)), names
    for tenant in tenants:
        environment_id = tenant["render_service_ids"]["environment"]
        assert environment_members(sandbox, environment_id) == own_members(tenant, shared)
        assert links(on_render[f"{tenant['slug']}-config"][0]) == [tenant["render_service_ids"]["web"]]


@pytest.fixture
def combined_template(isolated_env: Path) -> str:
    templates = isolated_env / "config" / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    (templates / "combined.yaml").write_text(COMBINED_TEMPLATE)
    return "combined"


def test_acceptance_groups_and_environments_for_two_tenants_then_delete_one(
    db_cli: Cli, sandbox: Sandbox, combined_template: str
) -> None:
    """On SQLite and on Postgres (the shared group's lock is a lease row like a tenant's)."""
    cli = db_cli
    acme = create(cli, "acme", "combined")
    beta = create(cli, "beta", "combined")
    assert [r["key"] for r in acme["resources"]] == [
        "environment",
        "config",
        "fleet-settings",
        "web",
    ]
    assert_world(sandbox, [acme, beta])
    assert live_deploy_env(sandbox, acme["render_service_ids"]["web"])["REGION_HINT"] == "eu"
    deleted = cli("-o", "json", "tenant", "delete", "acme", "--yes")
    assert deleted.exit_code == 0, deleted.stderr
    assert not sandbox.exists("environments", acme["render_service_ids"]["environment"])
    assert not sandbox.exists("env-groups", acme["render_service_ids"]["config"])
    assert sandbox.exists("env-groups", acme["render_service_ids"]["fleet-settings"])
    assert_world(sandbox, [beta])
    assert cli("-o", "json", "tenant", "check", "beta").exit_code == 0


# Every journal step groups add, with a SIGKILL there: the rerun must finish with one group of
# each name, each link once and one environment per tenant. The shared group already exists
# for these (made by another tenant): its step is the adoption by name.
CREATE_KILLS = [
    "create:environment:after",
    "create:config:before",
    "create:config:after",
    "create:config:committed",
    "create:fleet-settings:committed",
    "create:web:committed",
    "link:web:before",
    "link:web:after",
    "deploy:web:before",
    "deploy:web:after",
]
DELETE_KILLS = [
    "unlink:web:before",
    "unlink:web:after",
    "delete:web:after",
    "delete:config:before",
    "delete:config:after",
    "delete:fleet-settings:committed",
    "delete:environment:before",
    "delete:environment:after",
]
STEPS = ("before", "after", "committed")


@pytest.mark.slow
def test_kill_and_resume_at_every_new_step(
    cli: Cli, sandbox: Sandbox, combined_template: str, isolated_env: Path
) -> None:
    """The acceptance template (groups and an environment per tenant): each kill point gets its
    own tenant; then the same for delete. The tenant that made the shared group first stays
    untouched throughout."""
    env = {**os.environ}
    templates = isolated_env / "config" / "templates"
    survivor = create(cli, "keep", "combined")
    # A shared group killed while the first tenant of it creates it: one template (and group)
    # per kill point, then a second tenant of it that must find that group, not make another.
    for step in STEPS:
        name = f"fleet-{step}"
        (templates / f"{name}.yaml").write_text(COMBINED_TEMPLATE.replace("fleet-settings", name))
        point = f"create:{name}:{step}"
        killed = run_rcp(
            ["-q", "tenant", "create", f"first-{step}", "--template", name],
            env={**env, "RCP_FAILPOINT": point},
        )
        assert killed.exit_code == -9, (point, killed.stderr)
        first = cli("-o", "json", "tenant", "create", f"first-{step}", "--template", name)
        assert first.exit_code == 0, (point, first.stderr)
        second = create(cli, f"second-{step}", name)
        assert_world(sandbox, [first.json()["data"], second], shared=name)

    created = [survivor]
    slugs = [f"k{index}" for index in range(len(CREATE_KILLS))]
    for slug, point in zip(slugs, CREATE_KILLS, strict=True):
        killed = run_rcp(
            ["-q", "tenant", "create", slug, "--template", "combined"],
            env={**env, "RCP_FAILPOINT": point},
        )
        assert killed.exit_code == -9, (point, killed.stderr)
        rerun = cli("-o", "json", "tenant", "create", slug, "--template", "combined")
        assert rerun.exit_code == 0, (point, rerun.stderr)
        data = rerun.json()["data"]
        assert data["status"] == "ACTIVE"
        web = data["render_service_ids"]["web"]
        assert live_deploy_env(sandbox, web)["TENANT_SLUG"] == slug, point
        assert live_deploy_env(sandbox, web)["REGION_HINT"] == "eu", point
        created.append(data)
    assert_world(sandbox, created)
    services = sandbox.call("GET", "/services?limit=100", expect=200)
    assert len(services) == len(created) + 2 * len(STEPS)  # no duplicate service either

    for data, point in zip(created[1:], DELETE_KILLS, strict=False):
        slug = data["slug"]
        killed = run_rcp(["-q", "tenant", "delete", slug, "--yes"], env={**env, "RCP_FAILPOINT": point})
        assert killed.exit_code == -9, (point, killed.stderr)
        rerun = cli("-o", "json", "tenant", "delete", slug, "--yes")
        assert rerun.exit_code == 0, (point, rerun.stderr)
        assert not sandbox.exists("environments", data["render_service_ids"]["environment"]), point
        assert not sandbox.exists("env-groups", data["render_service_ids"]["config"]), point
    remaining = [survivor, *created[1 + len(DELETE_KILLS) :]]
    assert_world(sandbox, remaining)
    assert cli("-o", "json", "tenant", "check", "--all").exit_code == 0
