"""`rcp tenant env list|set|unset` through the CLI against the in-process sandbox."""

from __future__ import annotations

from pathlib import Path

from tenant_ops_helpers import Sandbox, create_tenant, ids, store_of

from tests.conftest import Cli

SECRET = "s3cr3t-Value-9f8e7d"


def audit_commands() -> list[str]:
    for store in store_of():
        return [e.command for e in sorted(store.list_audit(), key=lambda e: e.id)]
    return []


def test_set_without_service_applies_to_every_service(
    db_cli: Cli, sandbox: Sandbox, full_template: str
) -> None:
    tenant = create_tenant(db_cli, "Initech", "--template", full_template)
    web, worker = ids(tenant)["web"], ids(tenant)["worker"]
    deploys_before = {sid: len(sandbox.deploys(sid)) for sid in (web, worker)}

    result = db_cli(
        "-o", "json", "tenant", "env", "set", "initech", f"API_TOKEN={SECRET}", "MODE=fast"
    )
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["slug"] == "initech"
    assert data["env"] == [
        {"service": "*", "key": "API_TOKEN", "value": "***"},
        {"service": "*", "key": "MODE", "value": "***"},
    ]
    pushed = {s["service"]: s for s in data["services"]}
    assert sorted(pushed) == ["web", "worker"]
    for key, service_id in (("web", web), ("worker", worker)):
        assert pushed[key]["render_id"] == service_id
        assert pushed[key]["keys"] == ["API_TOKEN", "MODE"]
        assert pushed[key]["deployed"] is True
        assert pushed[key]["deploy_id"].startswith("dep-")
        env = sandbox.env(service_id)
        assert env["API_TOKEN"] == SECRET and env["MODE"] == "fast"
        assert len(sandbox.deploys(service_id)) == deploys_before[service_id] + 1
    # pushed through the per-key endpoints, never the replace-all PUT
    puts = [path for method, path in sandbox.mutations() if method == "PUT"]
    assert f"/services/{web}/env-vars/API_TOKEN" in puts
    assert f"/services/{web}/env-vars" not in puts
    # the secret is nowhere but Render and the database
    assert SECRET not in result.stdout + result.stderr
    assert all(SECRET not in command for command in audit_commands())
    assert any("tenant env set initech API_TOKEN=*** MODE=***" in c for c in audit_commands())

    shown = db_cli("-o", "json", "tenant", "show", "initech").json()["data"]
    assert shown["env_overrides"] == data["env"]
    listed = db_cli("-o", "json", "tenant", "env", "list", "initech", "--reveal")
    assert listed.json() == {
        "data": [
            {"service": "*", "key": "API_TOKEN", "value": SECRET},
            {"service": "*", "key": "MODE", "value": "fast"},
        ]
    }


def test_set_one_service_without_deploy(cli: Cli, sandbox: Sandbox, full_template: str) -> None:
    tenant = create_tenant(cli, "Initech", "--template", full_template)
    web, worker = ids(tenant)["web"], ids(tenant)["worker"]
    deploys_before = len(sandbox.deploys(web))
    result = cli(
        "-o",
        "json",
        "tenant",
        "env",
        "set",
        "initech",
        "FEATURE=on",
        "--service",
        "web",
        "--no-deploy",
    )
    assert result.exit_code == 0, result.stderr
    assert result.json()["data"]["services"] == [
        {
            "service": "web",
            "render_id": web,
            "keys": ["FEATURE"],
            "deployed": False,
            "deploy_id": None,
            "note": None,
        }
    ]
    assert sandbox.env(web)["FEATURE"] == "on"
    assert "FEATURE" not in sandbox.env(worker)
    assert len(sandbox.deploys(web)) == deploys_before
    assert not [
        p for m, p in sandbox.mutations() if m == "POST" and p.endswith("/deploys") and web in p
    ][1:]


def test_set_for_every_service_replaces_a_service_value(
    cli: Cli, sandbox: Sandbox, full_template: str
) -> None:
    """ "applies to every service": an older per-service value does not shadow the new one."""
    tenant = create_tenant(cli, "Initech", "--template", full_template)
    assert (
        cli(
            "-q",
            "tenant",
            "env",
            "set",
            "initech",
            "LEVEL=debug",
            "--service",
            "web",
            "--no-deploy",
        ).exit_code
        == 0
    )
    result = cli("-o", "json", "tenant", "env", "set", "initech", "LEVEL=info", "--no-deploy")
    assert result.exit_code == 0
    assert result.json()["data"]["env"] == [{"service": "*", "key": "LEVEL", "value": "***"}]
    assert sandbox.env(ids(tenant)["web"])["LEVEL"] == "info"
    assert sandbox.env(ids(tenant)["worker"])["LEVEL"] == "info"


def test_stdin_value_is_read_and_never_shown(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    result = cli(
        "-o",
        "json",
        "tenant",
        "env",
        "set",
        "acme",
        "--stdin",
        "STRIPE_KEY",
        "PLAIN=1",
        input=SECRET + "\n",
    )
    assert result.exit_code == 0, result.stderr
    assert sandbox.env(ids(tenant)["web"])["STRIPE_KEY"] == SECRET  # trailing newline dropped
    assert SECRET not in result.stdout + result.stderr
    commands = audit_commands()
    assert commands[-1].endswith("tenant env set acme --stdin STRIPE_KEY PLAIN=***")
    assert cli("-o", "json", "tenant", "env", "list", "acme").json()["data"] == [
        {"service": "*", "key": "PLAIN", "value": "***"},
        {"service": "*", "key": "STRIPE_KEY", "value": "***"},
    ]


def test_list_filters_by_service(cli: Cli, full_template: str) -> None:
    create_tenant(cli, "Initech", "--template", full_template)
    cli("-q", "tenant", "env", "set", "initech", "A=1", "--no-deploy")
    cli("-q", "tenant", "env", "set", "initech", "B=2", "--service", "worker", "--no-deploy")
    result = cli("-o", "json", "tenant", "env", "list", "initech", "--service", "web", "--reveal")
    assert result.json() == {"data": [{"service": "*", "key": "A", "value": "1"}]}
    result = cli("-o", "json", "tenant", "env", "list", "initech", "--service", "worker")
    assert result.json() == {
        "data": [
            {"service": "*", "key": "A", "value": "***"},
            {"service": "worker", "key": "B", "value": "***"},
        ]
    }
    human = cli("tenant", "env", "list", "initech")
    assert human.exit_code == 0
    assert "worker" in human.stdout and "***" in human.stdout and "2" not in human.stdout.split()


def test_unset_restores_what_provisioning_would_set(
    cli: Cli, sandbox: Sandbox, full_template: str
) -> None:
    tenant = create_tenant(cli, "Initech", "--template", full_template)
    web = ids(tenant)["web"]
    original = sandbox.env(web)
    assert original["GREETING"] == "hello"
    overrides = [
        "GREETING=hi",
        "DATABASE_URL=postgres://elsewhere/db",
        "SESSION_SECRET=fixed",
        "EXTRA=1",
    ]
    assert (
        cli("-q", "tenant", "env", "set", "initech", *overrides, "--service", "web").exit_code == 0
    )
    assert sandbox.env(web)["DATABASE_URL"] == "postgres://elsewhere/db"

    result = cli(
        "-o",
        "json",
        "tenant",
        "env",
        "unset",
        "initech",
        "GREETING",
        "DATABASE_URL",
        "SESSION_SECRET",
        "EXTRA",
    )
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["env"] == []
    assert [(s["service"], s["keys"], s["deployed"]) for s in data["services"]] == [
        ("web", ["DATABASE_URL", "EXTRA", "GREETING", "SESSION_SECRET"], True),
        ("worker", ["DATABASE_URL", "EXTRA", "GREETING", "SESSION_SECRET"], True),
    ]
    env = sandbox.env(web)
    assert env["GREETING"] == "hello"  # the template's value
    assert env["DATABASE_URL"] == sandbox.connection_string(ids(tenant)["db"])  # resolved again
    assert env["SESSION_SECRET"] not in ("fixed", "")  # generated anew
    assert len(env["SESSION_SECRET"]) == 44
    assert "EXTRA" not in env  # neither override nor template: gone
    assert set(sandbox.env(ids(tenant)["worker"])) == set()


def test_unset_one_service_falls_back_to_the_all_services_value(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    cli("-q", "tenant", "env", "set", "acme", "LEVEL=info", "--no-deploy")
    cli("-q", "tenant", "env", "set", "acme", "LEVEL=debug", "--service", "web", "--no-deploy")
    assert sandbox.env(ids(tenant)["web"])["LEVEL"] == "debug"
    result = cli(
        "-o", "json", "tenant", "env", "unset", "acme", "LEVEL", "--service", "web", "--no-deploy"
    )
    assert result.exit_code == 0
    assert result.json()["data"]["env"] == [{"service": "*", "key": "LEVEL", "value": "***"}]
    assert sandbox.env(ids(tenant)["web"])["LEVEL"] == "info"


def test_overrides_survive_recreation(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    cli("-q", "tenant", "env", "set", "acme", f"TOKEN={SECRET}", "--no-deploy")
    sandbox.delete("services", ids(tenant)["web"])
    repaired = cli("-o", "json", "tenant", "check", "acme", "--repair")
    assert repaired.exit_code == 0, repaired.stderr
    new_web = cli("-o", "json", "tenant", "show", "acme").json()["data"]["render_service_ids"][
        "web"
    ]
    assert new_web != ids(tenant)["web"]
    assert sandbox.env(new_web)["TOKEN"] == SECRET
    assert SECRET not in repaired.stdout + repaired.stderr


def test_suspended_tenant_gets_values_without_a_deploy(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    cli("-q", "tenant", "suspend", "acme")
    deploys = len(sandbox.deploys(ids(tenant)["web"]))
    result = cli("-o", "json", "tenant", "env", "set", "acme", "A=1")
    assert result.exit_code == 0
    (service,) = result.json()["data"]["services"]
    assert service["deployed"] is False
    assert service["note"].startswith("suspended")
    assert sandbox.env(ids(tenant)["web"])["A"] == "1"
    assert len(sandbox.deploys(ids(tenant)["web"])) == deploys


INVALID_ENV_INPUT = [
    (["set", "acme", SECRET], "argument 1 after the slug is not KEY=VALUE"),
    (["set", "acme", "A=1", f"x{SECRET}"], "argument 2 after the slug is not KEY=VALUE"),
    (["set", "acme", "1BAD=x"], "argument 1 after the slug has an invalid env var name"),
    (
        ["set", "acme", "A=1", f"{SECRET}/=x"],
        "argument 2 after the slug has an invalid env var name",
    ),
    (["set", "acme", "A=1", "A=2"], "A is given more than once"),
    (["set", "acme"], "nothing to set"),
    (["set", "acme", "A=1", "--stdin", "A"], "both as KEY=VALUE and with --stdin"),
    (["set", "acme", "A=1", "--service", "db"], "has no service 'db'"),
    (["set", "acme", "A=1", "--service", "nope"], "has no service 'nope'"),
    (["set", "acme", "A=1", "--lock-timeout", "later"], "--lock-timeout"),
    (["set", "Bad_Slug", "A=1"], "invalid slug"),
    (["unset", "acme"], "nothing to unset"),
    (["unset", "acme", "NOT VALID"], "invalid env var name"),
    (["list", "acme", "--service", "db"], "has no service 'db'"),
]


def test_invalid_input_exits_2_without_write_or_render_call(cli: Cli, sandbox: Sandbox) -> None:
    create_tenant(cli, "acme")
    cli("-q", "tenant", "env", "set", "acme", "KEEP=1", "--no-deploy")
    before = sandbox.mutations()
    audited = len(audit_commands())
    for args, fragment in INVALID_ENV_INPUT:
        result = cli("-o", "json", "tenant", "env", *args)
        assert result.exit_code == 2, (args, result.stdout)
        error = result.json()["error"]
        assert error["code"] == "usage_error", args
        assert fragment in error["message"], args
        assert SECRET not in result.stdout + result.stderr
    assert sandbox.mutations() == before
    assert len(audit_commands()) == audited
    listed = cli("-o", "json", "tenant", "env", "list", "acme", "--reveal")
    assert listed.json()["data"] == [{"service": "*", "key": "KEEP", "value": "1"}]


def test_empty_stdin_is_refused(cli: Cli, sandbox: Sandbox) -> None:
    create_tenant(cli, "acme")
    before = sandbox.mutations()
    result = cli("-o", "json", "tenant", "env", "set", "acme", "--stdin", "TOKEN", input="")
    assert result.exit_code == 2
    assert result.json()["error"]["message"] == "--stdin TOKEN: stdin was empty"
    assert sandbox.mutations() == before


def test_unknown_tenant_exits_3(cli: Cli, isolated_env: Path) -> None:
    for args in (["list", "ghost"], ["set", "ghost", "A=1"], ["unset", "ghost", "A"]):
        result = cli("-o", "json", "tenant", "env", *args)
        assert result.exit_code == 3, args
        assert result.json()["error"]["code"] == "tenant_not_found"


def test_unset_never_rotates_a_generated_value_it_did_not_override(
    cli: Cli, sandbox: Sandbox, full_template: str
) -> None:
    tenant = create_tenant(cli, "Initech", "--template", full_template)
    web = ids(tenant)["web"]
    generated = sandbox.env(web)["SESSION_SECRET"]
    result = cli(
        "-o", "json", "tenant", "env", "unset", "initech", "SESSION_SECRET", "--service", "web"
    )
    assert result.exit_code == 0, result.stderr
    assert sandbox.env(web)["SESSION_SECRET"] == generated
    assert not [p for m, p in sandbox.mutations() if m in ("PUT", "DELETE") and "env-vars" in p]
