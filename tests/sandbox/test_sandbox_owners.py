"""Several workspaces in one sandbox (``--owners N`` / ``RCP_SANDBOX_OWNERS``), and rcp's owner
rules exercised against them (contract: ``RENDER_OWNER_ID``; else the only workspace the key
sees; several → exit 6 listing them, before any write)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_support import BASE_URL, MakeSandbox

from rcp.sandbox import SandboxSettings, SandboxSettingsError, SandboxTransport
from tests.conftest import Cli


def test_the_key_sees_every_workspace_in_creation_order(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(SandboxSettings(owners=3))
    owners = [item["owner"] for item in sandbox.client.get("/owners").json()]
    assert [owner["name"] for owner in owners] == [
        "Sandbox Workspace",
        "Sandbox Workspace 2",
        "Sandbox Workspace 3",
    ]
    assert len({owner["id"] for owner in owners}) == 3
    for owner in owners:
        assert sandbox.client.get(f"/owners/{owner['id']}").json() == owner
    page = sandbox.client.get("/owners", params={"limit": 2}).json()
    rest = sandbox.client.get("/owners", params={"cursor": page[-1]["cursor"]}).json()
    assert [item["owner"]["id"] for item in page + rest] == [owner["id"] for owner in owners]
    named = sandbox.client.get("/owners", params={"name": "Sandbox Workspace 2"}).json()
    assert [item["owner"]["id"] for item in named] == [owners[1]["id"]]


def test_resources_belong_to_the_workspace_they_name(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(SandboxSettings(owners=2))
    first, second = (item["owner"] for item in sandbox.client.get("/owners").json())
    service = sandbox.create_service("team-web", ownerId=second["id"])["service"]
    assert service["ownerId"] == second["id"]
    database = sandbox.create_postgres("team-db", ownerId=second["id"])
    key_value = sandbox.create_key_value("team-kv", ownerId=first["id"])
    assert database["owner"] == second and key_value["owner"] == first
    by_owner = sandbox.client.get("/services", params={"ownerId": first["id"]}).json()
    assert by_owner == []
    listed = sandbox.client.get("/postgres", params={"ownerId": second["id"]}).json()
    assert [item["postgres"]["id"] for item in listed] == [database["id"]]
    # An unknown workspace: 400 for a service (recorded "invalid ownerId"), 404 for datastores.
    unknown = "tea-00000000000000000000"
    refused = sandbox.client.post("/services", json=sandbox.service_body("x", ownerId=unknown))
    assert refused.status_code == 400
    body = {"name": "x", "ownerId": unknown, "plan": "basic_256mb", "version": "16"}
    assert sandbox.client.post("/postgres", json=body).status_code == 404


def test_a_world_opened_with_more_workspaces_keeps_the_old_ones(tmp_path: Path) -> None:
    path = tmp_path / "grow.db"

    def owner_ids(count: int) -> list[str]:
        transport = SandboxTransport(path, SandboxSettings(owners=count))
        with httpx.Client(
            transport=transport, base_url=BASE_URL, headers={"Authorization": "Bearer k"}
        ) as client:
            return [item["owner"]["id"] for item in client.get("/owners").json()]

    one = owner_ids(1)
    three = owner_ids(3)
    assert three[:1] == one and len(three) == 3
    assert owner_ids(1) == three  # never loses a workspace (its resources would be orphaned)


def test_owner_count_is_validated() -> None:
    assert SandboxSettings.from_env({"RCP_SANDBOX_OWNERS": "4"}).owners == 4
    for bad in ("0", "51", "two", "-1"):
        with pytest.raises(SandboxSettingsError, match="RCP_SANDBOX_OWNERS"):
            SandboxSettings.from_env({"RCP_SANDBOX_OWNERS": bad})
    with pytest.raises(SandboxSettingsError, match="owners"):
        SandboxSettings(owners=0)


# --- rcp's owner rules against several workspaces ---------------------------------------------


@pytest.fixture
def sandbox_cli(sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("RCP_SANDBOX_OWNERS", "2")
    return Cli()


def world(tmp_path: Path, owners: int = 2) -> httpx.Client:
    """A client on the world the in-process sandbox of the CLI uses."""
    transport = SandboxTransport(
        tmp_path / "data" / "sandbox" / "render.db", SandboxSettings(owners=owners)
    )
    return httpx.Client(
        transport=transport, base_url=BASE_URL, headers={"Authorization": "Bearer k"}
    )


def resources_of(client: httpx.Client) -> dict[str, list[dict[str, Any]]]:
    return {
        "services": [item["service"] for item in client.get("/services").json()],
        "postgres": [item["postgres"] for item in client.get("/postgres").json()],
    }


def test_several_workspaces_without_render_owner_id_exit_6_listing_them(
    sandbox_cli: Cli, tmp_path: Path
) -> None:
    result = sandbox_cli("-o", "json", "tenant", "create", "acme")
    assert result.exit_code == 6, result.stderr
    error = json.loads(result.stdout)["error"]
    with world(tmp_path) as client:
        owners = [item["owner"] for item in client.get("/owners").json()]
        for owner in owners:
            assert f"{owner['id']} ({owner['name']})" in error["message"]
        assert "RENDER_OWNER_ID" in error["hint"]
        # Refused before any write: no record, nothing on Render.
        assert resources_of(client) == {"services": [], "postgres": []}
    assert sandbox_cli("-o", "json", "tenant", "list").json()["data"] == []
    health = sandbox_cli("-o", "json", "health")
    assert health.exit_code == 1
    checks = {check["name"]: check for check in health.json()["data"]["checks"]}
    assert not checks["render_workspace"]["ok"]
    assert "2 workspaces" in checks["render_workspace"]["detail"]


def test_render_owner_id_chooses_the_workspace(
    sandbox_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with world(tmp_path) as client:
        second = client.get("/owners").json()[1]["owner"]["id"]
    monkeypatch.setenv("RENDER_OWNER_ID", second)
    result = sandbox_cli("-o", "json", "tenant", "create", "acme")
    assert result.exit_code == 0, result.stderr
    assert result.json()["data"]["status"] == "ACTIVE"
    with world(tmp_path) as client:
        found = resources_of(client)
    assert [service["ownerId"] for service in found["services"]] == [second]
    assert [database["owner"]["id"] for database in found["postgres"]] == [second]
    health = sandbox_cli("-o", "json", "health")
    checks = {check["name"]: check for check in health.json()["data"]["checks"]}
    assert checks["render_workspace"]["ok"] and second in checks["render_workspace"]["detail"]


def test_the_only_workspace_is_used(sandbox_env: dict[str, str], cli: Cli, tmp_path: Path) -> None:
    result = cli("-o", "json", "tenant", "create", "acme")
    assert result.exit_code == 0, result.stderr
    with world(tmp_path, owners=1) as client:
        only = client.get("/owners").json()
        assert len(only) == 1
        found = resources_of(client)
    assert [service["ownerId"] for service in found["services"]] == [only[0]["owner"]["id"]]
