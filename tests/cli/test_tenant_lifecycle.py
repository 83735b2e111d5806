"""The main job through the real CLI against the in-process sandbox, on SQLite and Postgres."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli

pytestmark = pytest.mark.usefixtures("sandbox_env")


@pytest.fixture(params=["sqlite", "postgres"])
def engine_cli(request: pytest.FixtureRequest, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    if request.param == "postgres":
        url = request.getfixturevalue("fresh_postgres_url")
        monkeypatch.setenv("RCP_DATABASE_URL", url)
        # The sandbox keeps its own records unless told where (RCP_SANDBOX_DATABASE_URL).
        monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", url)
    return cli


def sandbox_world(data_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every service, Postgres and Key Value in the sandbox, read through Render's own API."""
    import httpx

    from rcp.sandbox import SandboxSettings, SandboxTransport

    state = data_dir / "sandbox" / "render.db"
    if not state.exists():
        return {"services": [], "postgres": [], "key-value": []}
    transport = SandboxTransport(state, SandboxSettings.from_env({"RCP_SANDBOX_RATE_LIMITS": "off"}))
    world: dict[str, list[dict[str, Any]]] = {}
    with httpx.Client(
        transport=transport, base_url="http://sandbox.rcp/v1", headers={"Authorization": "Bearer t"}
    ) as client:
        for path, wrapper in (("services", "service"), ("postgres", "postgres"), ("key-value", "keyValue")):
            response = client.get(f"/{path}", params={"limit": 100})
            assert response.status_code == 200, response.text
            world[path] = [item[wrapper] for item in response.json()]
    return world


def create_json(cli: Cli, *args: str) -> Any:
    result = cli("-o", "json", "tenant", "create", *args)
    assert result.exit_code == 0, result.stderr
    return result.json()["data"]


def test_create_status_show_list_delete(engine_cli: Cli, isolated_env: Path) -> None:
    tenant = create_json(engine_cli, "Acme Corporation")
    assert tenant["slug"] == "acme-corporation"
    assert tenant["name"] == "Acme Corporation"
    assert tenant["status"] == "ACTIVE"
    assert tenant["template"] == "default"
    assert tenant["last_error"] is None
    assert [r["key"] for r in tenant["resources"]] == ["db", "web"]
    by_key = {r["key"]: r for r in tenant["resources"]}
    assert by_key["web"]["type"] == "web_service"
    assert by_key["web"]["render_id"].startswith("srv-")
    assert by_key["web"]["name"] == "acme-corporation-web"
    assert by_key["web"]["state"] == "live"
    assert by_key["web"]["url"].startswith("https://")
    assert by_key["db"]["render_id"].startswith("dpg-")
    assert by_key["db"]["state"] == "available"
    assert tenant["render_service_ids"] == {k: v["render_id"] for k, v in by_key.items()}
    assert tenant["created_at"].endswith("Z")

    status = engine_cli("-o", "json", "tenant", "status", "acme-corporation")
    assert status.exit_code == 0
    assert status.json()["data"]["status"] == "ACTIVE"

    listed = engine_cli("tenant", "list", "-o", "json")
    assert [t["slug"] for t in listed.json()["data"]] == ["acme-corporation"]

    show = engine_cli("-o", "json", "tenant", "show", "acme-corporation")
    assert show.exit_code == 0
    assert show.json()["data"]["rendered_template"]["name"] == "default"

    world = sandbox_world(isolated_env / "data")
    assert [s["name"] for s in world["services"]] == ["acme-corporation-web"]
    assert [p["name"] for p in world["postgres"]] == ["acme-corporation-db"]

    deleted = engine_cli("-o", "json", "tenant", "delete", "acme-corporation", "--yes")
    assert deleted.exit_code == 0, deleted.stderr
    assert deleted.json() == {
        "data": {
            "slug": "acme-corporation",
            "deleted": True,
            "resources_deleted": [by_key["web"]["render_id"], by_key["db"]["render_id"]],
        }
    }
    world = sandbox_world(isolated_env / "data")
    assert world["services"] == [] and world["postgres"] == []
    gone = engine_cli("-o", "json", "tenant", "status", "acme-corporation")
    assert gone.exit_code == 3
    assert gone.json()["error"]["code"] == "tenant_not_found"


def test_create_twice_makes_one_set_of_resources(engine_cli: Cli, isolated_env: Path) -> None:
    first = create_json(engine_cli, "acme")
    second = create_json(engine_cli, "acme")
    assert second["render_service_ids"] == first["render_service_ids"]
    world = sandbox_world(isolated_env / "data")
    assert len(world["services"]) == 1 and len(world["postgres"]) == 1


def test_if_exists_fail_is_conflict(cli: Cli) -> None:
    create_json(cli, "acme")
    result = cli("-o", "json", "tenant", "create", "acme", "--if-exists", "fail")
    assert result.exit_code == 4
    assert result.json()["error"]["code"] == "tenant_exists"


def test_different_definition_is_conflict(cli: Cli) -> None:
    create_json(cli, "acme")
    result = cli("-o", "json", "tenant", "create", "Other Name", "--slug", "acme")
    assert result.exit_code == 4
    assert result.json()["error"]["code"] == "tenant_conflict"


def test_no_wait_then_live_status_flips_to_active(cli: Cli) -> None:
    import time

    tenant = create_json(cli, "acme", "--no-wait")
    assert tenant["status"] == "PROVISIONING"
    assert all(r["render_id"] for r in tenant["resources"])
    deadline = time.monotonic() + 20
    while True:
        live = cli("-o", "json", "tenant", "status", "acme", "--live")
        assert live.exit_code == 0, live.stderr
        if live.json()["data"]["status"] == "ACTIVE":
            break
        assert time.monotonic() < deadline, live.stdout
        time.sleep(0.2)
    assert cli("-o", "json", "tenant", "status", "acme").json()["data"]["status"] == "ACTIVE"


def test_status_all(cli: Cli) -> None:
    create_json(cli, "acme", "--no-wait")
    create_json(cli, "globex", "--no-wait")
    result = cli("-o", "json", "tenant", "status", "--all")
    assert result.exit_code == 0
    assert sorted(t["slug"] for t in result.json()["data"]) == ["acme", "globex"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["acme", "--slug", "Bad_Slug"], "slug"),
        (["acme", "--slug", "-acme"], "slug"),
        (["   "], "name"),
        (["123"], "--slug"),
        (["acme", "--template", "nope"], "template"),
        (["acme", "--plugin-repo", "not a url"], "URL"),
        (["acme", "--timeout", "soon"], "--timeout"),
        (["acme", "--if-exists", "maybe"], "--if-exists"),
    ],
)
def test_invalid_input_exits_2_without_record_or_render_call(
    cli: Cli, isolated_env: Path, args: list[str], fragment: str
) -> None:
    result = cli("-o", "json", "tenant", "create", *args)
    assert result.exit_code == 2, result.stderr
    error = result.json()["error"]
    assert error["code"] == "usage_error"
    assert fragment.lower() in error["message"].lower()
    assert result.stderr.startswith("Error: ")
    assert len(result.stderr.strip().splitlines()) <= 2  # one line (+ an optional hint)
    # nothing recorded, and the simulator was never even opened
    assert not (isolated_env / "data" / "sandbox" / "render.db").exists()
    listed = cli("-o", "json", "tenant", "list")
    assert listed.json() == {"data": []}


def test_status_of_unknown_tenant_exits_3(cli: Cli) -> None:
    result = cli("-o", "json", "tenant", "status", "nobody")
    assert result.exit_code == 3
    assert result.json() == {
        "error": {
            "code": "tenant_not_found",
            "message": "tenant nobody not found",
            "hint": "see `rcp tenant list` for the tenants on record",
        }
    }
    assert result.stderr == (
        "Error: tenant nobody not found\nHint: see `rcp tenant list` for the tenants on record\n"
    )


def test_delete_without_yes_and_no_tty_exits_2(cli: Cli) -> None:
    create_json(cli, "acme", "--no-wait")
    result = cli("-o", "json", "tenant", "delete", "acme")
    assert result.exit_code == 2
    assert "--yes" in result.json()["error"]["message"]
    assert cli("-o", "json", "tenant", "status", "acme").exit_code == 0


def test_delete_missing_ok(cli: Cli) -> None:
    result = cli("-o", "json", "tenant", "delete", "ghost", "--yes", "--missing-ok")
    assert result.exit_code == 0
    assert result.json() == {"data": {"slug": "ghost", "deleted": False, "resources_deleted": []}}
    assert cli("tenant", "delete", "ghost", "--yes").exit_code == 3


def test_progress_goes_to_stderr_as_plain_lines(cli: Cli) -> None:
    result = cli("tenant", "create", "acme")
    assert result.exit_code == 0
    assert "acme: db: created dpg-" in result.stderr
    assert "acme: web: created srv-" in result.stderr
    assert "(2/2)" in result.stderr
    assert "acme: active" in result.stderr
    assert "acme" in result.stdout and "created" not in result.stdout


def test_quiet_json_has_only_the_document(cli: Cli) -> None:
    result = cli("-q", "-o", "json", "tenant", "create", "acme")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert json.loads(result.stdout)["data"]["status"] == "ACTIVE"


def test_audit_log_written_for_mutations(cli: Cli) -> None:
    create_json(cli, "acme", "--no-wait")
    cli("tenant", "delete", "acme", "--yes")
    cli("tenant", "create", "Bad_Slug!!", "--slug", "x_")  # precondition failure: not audited
    from rcp.settings import GlobalOptions, load_settings
    from rcp.store import open_store

    store = open_store(load_settings(GlobalOptions(sandbox=True)).database_url)
    try:
        entries = store.list_audit()
    finally:
        store.close()
    assert [(e.tenant, e.outcome, e.exit_code, e.actor) for e in entries] == [
        ("acme", "ok", 0, "tester"),
        ("acme", "ok", 0, "tester"),
    ] or [(e.tenant, e.outcome, e.exit_code, e.actor) for e in reversed(entries)] == [
        ("acme", "ok", 0, "tester"),
        ("acme", "ok", 0, "tester"),
    ]
    commands = sorted(e.command for e in entries)
    assert "tenant create acme" in commands[0] and "--no-wait" in commands[0]
    assert "tenant delete acme --yes" in commands[1]


def test_no_api_key_outside_sandbox_exits_6(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RCP_SANDBOX")
    result = cli("-o", "json", "tenant", "create", "acme")
    assert result.exit_code == 6
    assert result.json()["error"]["code"] == "missing_api_key"
    monkeypatch.setenv("RCP_SANDBOX", "1")
    assert cli("-o", "json", "tenant", "list").json() == {"data": []}


def web_template(key: str) -> str:
    """A template of one web service under ``key``."""
    return (
        f"services:\n  - type: web\n    name: {key}\n    runtime: node\n"
        "    repo: https://github.com/render-examples/express-hello-world\n"
        "    buildCommand: npm install\n    startCommand: npm start\n    plan: starter\n"
    )


def test_a_tenant_needing_another_tenants_render_name_exits_4_before_render(
    cli: Cli, isolated_env: Path, tmp_path: Path
) -> None:
    """``acme`` with key ``b-web`` and ``acme-b`` with key ``web`` both mean ``acme-b-web``."""
    hyphen, plain = tmp_path / "hyphen.yaml", tmp_path / "plain.yaml"
    hyphen.write_text(web_template("b-web"))
    plain.write_text(web_template("web"))
    first = create_json(cli, "acme", "--template", str(hyphen))
    assert [r["name"] for r in first["resources"]] == ["acme-b-web"]
    before = sandbox_world(isolated_env / "data")

    result = cli("-o", "json", "tenant", "create", "acme-b", "--template", str(plain))
    assert result.exit_code == 4, result.stderr
    assert result.json()["error"] == {
        "code": "render_name_conflict",
        "message": (
            "tenant acme already uses the Render name(s) acme-b-web that tenant acme-b would need"
        ),
        "hint": "choose another slug (or another template)",
    }
    assert sandbox_world(isolated_env / "data") == before  # not one Render call changed a thing
    assert cli("tenant", "status", "acme-b").exit_code == 3
    audited = cli("-o", "json", "audit").json()["data"]
    assert [entry["tenant"] for entry in audited] == ["acme"]  # a refusal is not audited
