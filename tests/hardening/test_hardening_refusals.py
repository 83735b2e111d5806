"""Exit codes by what happened (issue 11 item 6, the engine's half): exit 2 means "refused
before any write or Render call"; once the record is written, a Render 4xx leaves the tenant
ERROR with last_error (exit 5, or 6 for 401/403); the API key and the workspace are checked
(GET /owners) before the record is written, so a refused key leaves nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from rcp.sandbox import SandboxSettings, SandboxTransport
from tests.conftest import Cli

pytestmark = pytest.mark.usefixtures("sandbox_env")


def _faults(isolated_env: Path, monkeypatch: pytest.MonkeyPatch, rules: list[dict[str, Any]]) -> None:
    path = isolated_env / "faults.json"
    path.write_text(json.dumps(rules))
    monkeypatch.setenv("RCP_SANDBOX_FAULTS", str(path))


def _world(isolated_env: Path) -> httpx.Client:
    transport = SandboxTransport(isolated_env / "data" / "sandbox" / "render.db", SandboxSettings())
    return httpx.Client(
        transport=transport, base_url="http://sandbox.rcp/v1", headers={"Authorization": "Bearer k"}
    )


def _requests(isolated_env: Path) -> list[tuple[str, str, int]]:
    with _world(isolated_env) as client:
        state = client.get("/__sandbox/state").json()
    return [
        (r["method"], r["path"].removeprefix("/v1"), r["status"])
        for r in state["requests"]
        if "__sandbox" not in r["path"]
    ]


def _clear_faults(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RCP_SANDBOX_FAULTS")
    with _world(isolated_env) as client:
        assert client.delete("/__sandbox/faults").status_code == 204


def _shown(cli: Cli, slug: str) -> dict[str, Any]:
    shown = cli("-o", "json", "tenant", "show", slug)
    assert shown.exit_code == 0, shown.stderr
    data: dict[str, Any] = shown.json()["data"]
    return data


def test_a_render_4xx_after_the_record_is_written_leaves_it_error_exit_5(
    cli: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _faults(
        isolated_env,
        monkeypatch,
        [
            {
                "method": "POST",
                "path": "/services",
                "action": "status",
                "status": 400,
                "body": {"message": "invalid runtime for this plan"},
            }
        ],
    )
    result = cli("-o", "json", "tenant", "create", "acme")
    assert result.exit_code == 5, (result.stdout, result.stderr)
    error = result.json()["error"]
    assert error["code"] == "render_rejected"  # what happened keeps its name
    assert "invalid runtime for this plan" in error["message"]
    assert "rcp tenant show acme" in error["hint"]
    tenant = _shown(cli, "acme")
    assert tenant["status"] == "ERROR"
    assert "Render rejected POST /services (400)" in tenant["last_error"]
    assert "invalid runtime for this plan" in tenant["last_error"]
    # The refused create is no orphan: the rerun, once Render accepts, finishes the tenant.
    _clear_faults(isolated_env, monkeypatch)
    rerun = cli("-o", "json", "tenant", "create", "acme")
    assert rerun.exit_code == 0, rerun.stderr
    assert rerun.json()["data"]["status"] == "ACTIVE"
    assert rerun.json()["data"]["last_error"] is None


def test_a_401_mid_run_leaves_the_tenant_error_with_last_error_exit_6(
    cli: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _faults(
        isolated_env,
        monkeypatch,
        [{"method": "POST", "path": "/services", "action": "status", "status": 401}],
    )
    result = cli("-o", "json", "tenant", "create", "acme")
    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert result.json()["error"]["code"] == "auth_error"
    tenant = _shown(cli, "acme")
    assert tenant["status"] == "ERROR"
    assert tenant["last_error"] and "401" in tenant["last_error"]
    assert "POST /services" in tenant["last_error"]


def test_a_403_on_suspend_leaves_error_and_exit_6(
    cli: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("tenant", "create", "acme").exit_code == 0
    _faults(
        isolated_env,
        monkeypatch,
        [{"method": "POST", "path": "/services/*/suspend", "action": "status", "status": 403}],
    )
    result = cli("-o", "json", "tenant", "suspend", "acme")
    assert result.exit_code == 6, (result.stdout, result.stderr)
    tenant = _shown(cli, "acme")
    assert tenant["status"] == "ERROR" and "403" in tenant["last_error"]


def test_a_4xx_during_delete_keeps_deleting_with_last_error_exit_5(
    cli: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("tenant", "create", "acme").exit_code == 0
    _faults(
        isolated_env,
        monkeypatch,
        [{"method": "DELETE", "path": "/services/*", "action": "status", "status": 409}],
    )
    result = cli("-o", "json", "tenant", "delete", "acme", "--yes")
    assert result.exit_code == 5, (result.stdout, result.stderr)
    tenant = _shown(cli, "acme")
    # The delete is unfinished: it stays DELETING (a create must not resume it), with why.
    assert tenant["status"] == "DELETING"
    assert "409" in tenant["last_error"]
    _clear_faults(isolated_env, monkeypatch)
    assert cli("tenant", "delete", "acme", "--yes").exit_code == 0


@pytest.mark.parametrize("configured_owner", [True, False], ids=["RENDER_OWNER_ID", "only-workspace"])
def test_a_refused_key_leaves_no_record_and_no_render_call(
    configured_owner: bool, cli: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if configured_owner:
        with _world(isolated_env) as client:
            owner = client.get("/owners").json()[0]["owner"]["id"]
        monkeypatch.setenv("RENDER_OWNER_ID", owner)
    before = len(_requests(isolated_env))
    # Render refuses the key on every path.
    _faults(isolated_env, monkeypatch, [{"action": "status", "status": 401}])
    result = cli("-o", "json", "tenant", "create", "acme")
    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert result.json()["error"]["code"] == "auth_error"
    assert cli("-o", "json", "tenant", "list").json()["data"] == []
    assert _requests(isolated_env)[before:] == [("GET", "/owners", 401)]
