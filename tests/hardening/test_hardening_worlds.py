"""One world per record (issue 11 item 2): each tenant record stores the Render API base and
workspace it was created against; the sandbox keeps records of its own; any command on a
record of another world exits 6 naming both worlds, before any write or Render mutation.

The "real" world here is `rcp sandbox serve` on a loopback port (RENDER_API_URL pointing at
it, no --sandbox): to rcp it is a Render API like any other.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from hardening_helpers import Served

from rcp.sandbox import SandboxSettings, SandboxTransport
from tests.conftest import Cli

SANDBOX_API = "http://sandbox.rcp/v1"
KEY = "rnd_worlds_test_key"


@pytest.fixture
def real_db(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{isolated_env / 'real.db'}"
    monkeypatch.setenv("RCP_DATABASE_URL", url)
    monkeypatch.setenv("RENDER_API_KEY", KEY)
    return url


def _served_requests(served: Served) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in served.app.dump()["requests"]]


def _mutations(requests: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(m, p) for m, p in requests if m != "GET" and "__sandbox" not in p]


def _sandbox_world(tmp_path: Path, owners: int = 1) -> httpx.Client:
    """A client on the world the CLI's in-process sandbox uses."""
    transport = SandboxTransport(
        tmp_path / "data" / "sandbox" / "render.db", SandboxSettings(owners=owners)
    )
    return httpx.Client(
        transport=transport, base_url=SANDBOX_API, headers={"Authorization": "Bearer k"}
    )


def _sandbox_mutations(tmp_path: Path) -> list[tuple[str, str]]:
    with _sandbox_world(tmp_path) as client:
        state = client.get("/__sandbox/state").json()
    return _mutations([(r["method"], r["path"]) for r in state["requests"]])


def _create_real(cli: Cli, slug: str = "prod-customer") -> dict[str, Any]:
    created = cli("-o", "json", "tenant", "create", slug)
    assert created.exit_code == 0, created.stderr
    data: dict[str, Any] = created.json()["data"]
    return data


def test_records_carry_their_world(cli: Cli, served_sandbox: Served, real_db: str) -> None:
    created = _create_real(cli)
    owner = served_sandbox.app.dump()["owner"]["id"]
    assert created["render_api_url"] == served_sandbox.url.rstrip("/")
    assert created["render_owner_id"] == owner
    shown = cli("-o", "json", "tenant", "show", "prod-customer").json()["data"]
    assert (shown["render_api_url"], shown["render_owner_id"]) == (created["render_api_url"], owner)
    human = cli("tenant", "show", "prod-customer")
    assert served_sandbox.url.rstrip("/") in human.stdout and owner in human.stdout


def test_the_sandbox_never_uses_rcp_database_url(
    cli: Cli, served_sandbox: Served, real_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's reproduction: RCP_DATABASE_URL=… RCP_SANDBOX=1 rcp tenant delete … --yes
    "deleted" a real tenant's record (the simulator answers 404 for its ids)."""
    _create_real(cli)
    before = _served_requests(served_sandbox)
    monkeypatch.setenv("RCP_SANDBOX", "1")
    deleted = cli("-o", "json", "tenant", "delete", "prod-customer", "--yes")
    assert deleted.exit_code == 3, deleted.stderr
    assert deleted.json()["error"]["code"] == "tenant_not_found"
    assert "RCP_DATABASE_URL is not used with the sandbox" in deleted.stderr
    assert "RCP_SANDBOX_DATABASE_URL" in deleted.stderr
    assert cli("-o", "json", "tenant", "list").json()["data"] == []
    monkeypatch.delenv("RCP_SANDBOX")
    # The real record and its resources are untouched.
    shown = cli("-o", "json", "tenant", "show", "prod-customer")
    assert shown.exit_code == 0 and shown.json()["data"]["status"] == "ACTIVE"
    assert _mutations(_served_requests(served_sandbox)[len(before) :]) == []


# Every command that acts on a record, or asks Render about its ids.
FOREIGN_COMMANDS = [
    ["tenant", "delete", "prod-customer", "--yes"],
    ["tenant", "delete", "prod-customer", "--yes", "--missing-ok"],
    ["tenant", "create", "prod-customer"],
    ["tenant", "suspend", "prod-customer"],
    ["tenant", "resume", "prod-customer"],
    ["tenant", "env", "set", "prod-customer", "LOG_LEVEL=debug"],
    ["tenant", "env", "unset", "prod-customer", "LOG_LEVEL"],
    ["tenant", "redeploy", "prod-customer"],
    ["tenant", "check", "prod-customer"],
    ["tenant", "check", "prod-customer", "--repair"],
    ["tenant", "check", "--all"],
    ["tenant", "status", "prod-customer", "--live"],
    ["tenant", "deploys", "prod-customer"],
    ["tenant", "logs", "prod-customer"],
]


@pytest.mark.parametrize("command", FOREIGN_COMMANDS, ids=lambda c: " ".join(c[1:3]))
def test_a_record_of_another_world_exits_6_naming_both(
    command: list[str],
    cli: Cli,
    served_sandbox: Served,
    real_db: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Even pointed at the real database on purpose, the sandbox refuses the real record."""
    created = _create_real(cli)
    recorded = cli("-o", "json", "tenant", "show", "prod-customer").json()["data"]
    monkeypatch.setenv("RCP_SANDBOX", "1")
    monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", real_db)
    result = cli("-o", "json", *command)
    assert result.exit_code == 6, (result.stdout, result.stderr)
    error = result.json()["error"]
    assert error["code"] == "world_mismatch"
    assert served_sandbox.url.rstrip("/") in error["message"]
    assert created["render_owner_id"] in error["message"]
    assert SANDBOX_API in error["message"]
    assert "RCP_DATABASE_URL is not used" not in result.stderr  # told where: no notice
    # Nothing written, nothing sent to either world.
    assert cli("-o", "json", "tenant", "show", "prod-customer").json()["data"] == recorded
    assert _sandbox_mutations(tmp_path) == []
    monkeypatch.delenv("RCP_SANDBOX")
    assert _mutations(_served_requests(served_sandbox)) == [
        ("POST", "/v1/postgres"),
        ("POST", "/v1/services"),
    ]


def test_fleet_apply_refuses_a_record_of_another_world(
    cli: Cli, served_sandbox: Served, real_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _create_real(cli)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "tenants:\n"
        "  - name: prod-customer\n    slug: prod-customer\n    env:\n      web:\n        LOG_LEVEL: debug\n"
    )
    monkeypatch.setenv("RCP_SANDBOX", "1")
    monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", real_db)
    applied = cli("-o", "json", "apply", str(fleet), "--yes")
    assert applied.exit_code == 6, (applied.stdout, applied.stderr)
    error = applied.json()["error"]
    assert error["code"] == "world_mismatch"
    assert served_sandbox.url.rstrip("/") in error["message"] and SANDBOX_API in error["message"]
    assert _sandbox_mutations(tmp_path) == []


def test_another_workspace_is_another_world(
    sandbox_env: dict[str, str], cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RCP_SANDBOX_OWNERS", "2")
    with _sandbox_world(tmp_path, owners=2) as client:
        first, second = (item["owner"]["id"] for item in client.get("/owners").json())
    monkeypatch.setenv("RENDER_OWNER_ID", first)
    created = cli("-o", "json", "tenant", "create", "acme")
    assert created.exit_code == 0, created.stderr
    assert created.json()["data"]["render_owner_id"] == first
    assert created.json()["data"]["render_api_url"] == SANDBOX_API
    before = _sandbox_mutations(tmp_path)
    monkeypatch.setenv("RENDER_OWNER_ID", second)
    for command in (["tenant", "suspend", "acme"], ["tenant", "delete", "acme", "--yes"]):
        refused = cli("-o", "json", *command)
        assert refused.exit_code == 6, refused.stderr
        message = refused.json()["error"]["message"]
        assert f"workspace {first}" in message and f"workspace {second}" in message
    assert _sandbox_mutations(tmp_path) == before
    monkeypatch.setenv("RENDER_OWNER_ID", first)
    assert cli("tenant", "suspend", "acme").exit_code == 0


def test_an_unknown_render_owner_id_exits_6_before_any_write(
    sandbox_env: dict[str, str], cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RENDER_OWNER_ID", "tea-00000000000000000000")
    result = cli("-o", "json", "tenant", "create", "acme")
    assert result.exit_code == 6, (result.stdout, result.stderr)
    error = result.json()["error"]
    assert error["code"] == "unknown_owner"
    assert "tea-00000000000000000000" in error["message"]
    with _sandbox_world(tmp_path) as client:
        owner = client.get("/owners").json()[0]["owner"]["id"]
    assert owner in error["message"]  # the workspaces the key does see
    assert cli("-o", "json", "tenant", "list").json()["data"] == []
    assert _sandbox_mutations(tmp_path) == []


def test_a_record_without_a_world_takes_the_world_of_its_next_mutation(
    sandbox_env: dict[str, str], cli: Cli, isolated_env: Path, tmp_path: Path
) -> None:
    """Records older than the fields (NULL after the migration) are "unknown": any world may
    act on them, and the first mutating command records its own."""
    created = cli("-o", "json", "tenant", "create", "acme")
    assert created.exit_code == 0, created.stderr
    owner = created.json()["data"]["render_owner_id"]
    database = isolated_env / "data" / "sandbox" / "rcp.db"
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE tenants SET render_api_url = NULL, render_owner_id = NULL")
    legacy = cli("-o", "json", "tenant", "show", "acme").json()["data"]
    assert (legacy["render_api_url"], legacy["render_owner_id"]) == (None, None)
    # Reading Render does not claim the record; a mutation does.
    assert cli("tenant", "status", "acme", "--live").exit_code == 0
    assert cli("-o", "json", "tenant", "show", "acme").json()["data"]["render_owner_id"] is None
    suspended = cli("-o", "json", "tenant", "suspend", "acme")
    assert suspended.exit_code == 0, suspended.stderr
    shown = cli("-o", "json", "tenant", "show", "acme").json()["data"]
    assert (shown["render_api_url"], shown["render_owner_id"]) == (SANDBOX_API, owner)


def test_backup_carries_the_world(
    sandbox_env: dict[str, str],
    cli: Cli,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created = cli("-o", "json", "tenant", "create", "acme")
    assert created.exit_code == 0, created.stderr
    owner = created.json()["data"]["render_owner_id"]
    document = isolated_env / "backup.json"
    assert cli("backup", "export", str(document)).exit_code == 0
    exported = json.loads(document.read_text())
    tenant = exported["tenants"][0]
    assert (tenant["render_api_url"], tenant["render_owner_id"]) == (SANDBOX_API, owner)

    monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", f"sqlite:///{isolated_env / 'restored.db'}")
    imported = cli("-o", "json", "backup", "import", str(document))
    assert imported.exit_code == 0, imported.stderr
    shown = cli("-o", "json", "tenant", "show", "acme").json()["data"]
    assert (shown["render_api_url"], shown["render_owner_id"]) == (SANDBOX_API, owner)

    # Untrusted input: a world that is not a URL / a workspace id is refused (exit 2).
    for field, value in (("render_api_url", "javascript:alert(1)"), ("render_owner_id", "x\x1b[31m")):
        bad = json.loads(document.read_text())
        bad["tenants"][0][field] = value
        bad["tenants"][0]["slug"] = "other"
        path = isolated_env / f"bad-{field}.json"
        path.write_text(json.dumps(bad))
        refused = cli("-o", "json", "backup", "import", str(path))
        assert refused.exit_code == 2, refused.stdout
        assert field in refused.json()["error"]["message"]
    # A document from before the fields imports as "unknown".
    old = json.loads(document.read_text())
    for item in old["tenants"]:
        item.pop("render_api_url")
        item.pop("render_owner_id")
    (isolated_env / "old.json").write_text(json.dumps(old))
    again = cli("-o", "json", "backup", "import", str(isolated_env / "old.json"), "--overwrite")
    assert again.exit_code == 0, again.stderr
    shown = cli("-o", "json", "tenant", "show", "acme").json()["data"]
    assert (shown["render_api_url"], shown["render_owner_id"]) == (None, None)
