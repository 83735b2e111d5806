"""`rcp tenant adopt SLUG --resource KEY=RENDER_ID…` through the CLI against the sandbox."""

from __future__ import annotations

import pytest
from tenant_ops_helpers import Sandbox, create_tenant, ids, store_of

from tests.conftest import Cli


def adopt(cli: Cli, *args: str) -> tuple[int, dict[str, object]]:
    result = cli("-o", "json", "tenant", "adopt", *args)
    return result.exit_code, result.json()


def test_adopt_creates_the_record(db_cli: Cli, sandbox: Sandbox) -> None:
    web = sandbox.create_web_service("legacy-web")
    db = sandbox.create_postgres("legacy-db")
    sandbox.wait_until("services", web, "live")
    sandbox.wait_until("postgres", db, "available")

    result = db_cli(
        "-o",
        "json",
        "tenant",
        "adopt",
        "legacy",
        "--resource",
        f"web={web}",
        "--resource",
        f"db={db}",
    )
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["slug"] == "legacy" and data["name"] == "legacy"
    assert data["status"] == "ACTIVE"
    assert data["template"] == "default"
    assert data["render_service_ids"] == {"db": db, "web": web}
    by_key = {r["key"]: r for r in data["resources"]}
    assert by_key["web"] == {
        "key": "web",
        "type": "web_service",
        "render_id": web,
        "name": "legacy-web",
        "state": "live",
        "url": "https://legacy-web.onrender.com",
        "last_error": None,
    }
    assert by_key["db"]["name"] == "legacy-db" and by_key["db"]["state"] == "available"
    assert sandbox.mutations() == [("POST", "/services"), ("POST", "/postgres")]  # rcp only read

    again = db_cli("-o", "json", "tenant", "adopt", "legacy", "--resource", f"web={web}")
    assert again.exit_code == 0  # idempotent
    assert again.json()["data"]["render_service_ids"] == {"db": db, "web": web}
    checked = db_cli("-o", "json", "tenant", "check", "legacy")
    assert checked.exit_code == 0, checked.stdout
    for store in store_of():
        audit = [(e.tenant, e.outcome) for e in store.list_audit() if "adopt" in e.command]
    assert audit == [("legacy", "ok"), ("legacy", "ok")]


def test_partial_adopt_stays_provisioning_and_create_finishes_it(
    cli: Cli, sandbox: Sandbox
) -> None:
    db = sandbox.create_postgres("old-db")
    code, document = adopt(cli, "acme", "--resource", f"db={db}", "--name", "Acme Inc")
    assert code == 0
    data = document["data"]
    assert isinstance(data, dict)
    assert data["name"] == "Acme Inc" and data["status"] == "PROVISIONING"
    assert data["render_service_ids"] == {"db": db}
    created = cli("-o", "json", "tenant", "create", "Acme Inc", "--slug", "acme")
    assert created.exit_code == 0, created.stderr
    tenant = created.json()["data"]
    assert tenant["status"] == "ACTIVE"
    assert ids(tenant)["db"] == db  # kept, not recreated
    assert len(sandbox.call("GET", "/postgres?limit=100")) == 1
    assert sandbox.env(ids(tenant)["web"])["DATABASE_URL"] == sandbox.connection_string(db)


def test_adopt_replaces_a_resource_gone_from_render(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    sandbox.delete("services", ids(tenant)["web"])
    replacement = sandbox.create_web_service("acme-web-2")
    code, document = adopt(cli, "acme", "--resource", f"web={replacement}")
    assert code == 0, document
    data = document["data"]
    assert isinstance(data, dict)
    assert data["render_service_ids"] == {"db": ids(tenant)["db"], "web": replacement}


def test_adopt_refuses_to_replace_a_live_resource(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    other = sandbox.create_web_service("stray")
    code, document = adopt(cli, "acme", "--resource", f"web={other}")
    assert code == 4
    assert document == {
        "error": {
            "code": "resource_conflict",
            "message": f"web of acme is already {ids(tenant)['web']}, which exists on Render",
            "hint": f"delete {ids(tenant)['web']} first, or adopt into another tenant",
        }
    }


def test_resource_of_another_tenant_is_refused(cli: Cli, sandbox: Sandbox) -> None:
    acme = create_tenant(cli, "acme")
    before = sandbox.mutations()
    code, document = adopt(cli, "globex", "--resource", f"web={ids(acme)['web']}")
    assert code == 4
    error = document["error"]
    assert isinstance(error, dict)
    assert error["code"] == "resource_taken"
    assert error["message"] == f"{ids(acme)['web']} is recorded under tenant acme (as web)"
    assert cli("-o", "json", "tenant", "status", "globex").exit_code == 3  # no record made
    assert sandbox.mutations() == before


def test_type_and_existence_are_checked(cli: Cli, sandbox: Sandbox) -> None:
    worker = sandbox.call(
        "POST",
        "/services",
        {
            "type": "background_worker",
            "name": "a-worker",
            "ownerId": sandbox.owner_id(),
            "repo": "https://github.com/render-examples/express-hello-world",
            "serviceDetails": {
                "runtime": "node",
                "plan": "starter",
                "envSpecificDetails": {"buildCommand": "npm install", "startCommand": "node w.js"},
            },
        },
        expect=201,
    )["service"]["id"]
    code, document = adopt(cli, "acme", "--resource", f"web={worker}")
    assert code == 2
    assert document["error"] == {
        "code": "resource_type_mismatch",
        "message": f"{worker} is a background_worker, but web is a web_service in template default",
        "hint": None,
    }
    code, document = adopt(cli, "acme", "--resource", "web=srv-doesnotexist0000000")
    assert code == 2
    assert document["error"] == {
        "code": "render_resource_not_found",
        "message": "srv-doesnotexist0000000 does not exist on Render",
        "hint": None,
    }
    assert cli("-o", "json", "tenant", "list").json() == {"data": []}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([], "nothing to adopt"),
        (["--resource", "web"], "expected KEY=RENDER_ID"),
        (["--resource", "web=dpg-abc-a"], "web is a web_service"),
        (["--resource", "db=srv-abc"], "db is a postgres"),
        (["--resource", "web=xyz-123"], "invalid Render id"),
        (["--resource", "cache=red-abc"], "cache is not a resource of template default"),
        (["--resource", "web=srv-a", "--resource", "web=srv-b"], "given more than once"),
        (["--resource", "Web=srv-a"], "invalid key"),
        (["--resource", "web=srv-a", "--template", "nope"], "nope"),
        (["--resource", "web=srv-a", "--name", "   "], "invalid name"),
        (["--resource", "web=srv-a", "--lock-timeout", "x"], "--lock-timeout"),
    ],
)
def test_invalid_input_exits_2_before_any_render_call(
    cli: Cli, sandbox: Sandbox, args: list[str], fragment: str
) -> None:
    code, document = adopt(cli, "acme", *args)
    assert code == 2, document
    error = document["error"]
    assert isinstance(error, dict)
    assert error["code"] == "usage_error"
    assert fragment in str(error["message"])
    assert sandbox.requests() == []  # not even a read
    assert cli("-o", "json", "tenant", "list").json() == {"data": []}


def test_adopt_into_existing_record_with_other_definition_is_conflict(
    cli: Cli, sandbox: Sandbox
) -> None:
    tenant = create_tenant(cli, "acme")
    code, document = adopt(
        cli, "acme", "--resource", f"web={ids(tenant)['web']}", "--name", "Other"
    )
    assert code == 4
    error = document["error"]
    assert isinstance(error, dict)
    assert error["code"] == "tenant_conflict"


def test_new_record_whose_render_names_another_tenant_uses_is_refused(
    cli: Cli, sandbox: Sandbox
) -> None:
    """Tenant `acme` adopted a service really named `acme-b-web`; a new record `acme-b` would
    need that name for its own `web`, and a lookup by name would take acme's service."""
    stray = sandbox.create_web_service("acme-b-web")
    code, _ = adopt(cli, "acme", "--resource", f"web={stray}")
    assert code == 0
    other = sandbox.create_postgres("acme-b-db")
    code, document = adopt(cli, "acme-b", "--resource", f"db={other}")
    assert code == 4
    error = document["error"]
    assert isinstance(error, dict)
    assert error["code"] == "render_name_conflict"
    assert error["message"] == (
        "tenant acme already uses the Render name(s) acme-b-web that tenant acme-b would need"
    )
    assert cli("-o", "json", "tenant", "status", "acme-b").exit_code == 3
