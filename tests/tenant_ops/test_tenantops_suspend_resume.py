"""`rcp tenant suspend|resume` through the CLI against the in-process sandbox."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest
from tenant_ops_helpers import FAMILY, Sandbox, create_tenant, ids, store_of

from tests.conftest import Cli

pytestmark = pytest.mark.usefixtures("sandbox_env")


def suspended_on_render(sandbox: Sandbox, tenant: dict[str, Any]) -> dict[str, bool]:
    return {key: sandbox.is_suspended(FAMILY[key], rid) for key, rid in ids(tenant).items()}


def test_suspend_then_resume_every_kind(db_cli: Cli, sandbox: Sandbox, full_template: str) -> None:
    tenant = create_tenant(db_cli, "Initech", "--template", full_template)
    assert sorted(ids(tenant)) == ["cache", "db", "web", "worker"]

    suspended = db_cli("-o", "json", "tenant", "suspend", "initech")
    assert suspended.exit_code == 0, suspended.stderr
    data = suspended.json()["data"]
    assert data["status"] == "SUSPENDED"
    assert {r["key"]: r["state"] for r in data["resources"]} == {
        "db": "suspended",
        "cache": "suspended",
        "web": "suspended",
        "worker": "suspended",
    }
    assert data["render_service_ids"] == ids(tenant)
    assert set(suspended_on_render(sandbox, tenant).values()) == {True}
    # Dependents stop first: services, then the datastores they read.
    suspends = [path for method, path in sandbox.mutations() if path.endswith("/suspend")]
    order = {rid: key for key, rid in ids(tenant).items()}
    assert [order[path.split("/")[2]] for path in suspends] == ["worker", "web", "cache", "db"]

    resumed = db_cli("-o", "json", "tenant", "resume", "initech")
    assert resumed.exit_code == 0, resumed.stderr
    data = resumed.json()["data"]
    assert data["status"] == "ACTIVE"
    assert data["last_error"] is None
    assert {r["key"]: r["state"] for r in data["resources"]} == {
        "db": "available",
        "cache": "available",
        "web": "live",
        "worker": "live",
    }
    assert set(suspended_on_render(sandbox, tenant).values()) == {False}
    resumes = [path for method, path in sandbox.mutations() if path.endswith("/resume")]
    assert [order[path.split("/")[2]] for path in resumes] == ["db", "cache", "web", "worker"]
    status = db_cli("-o", "json", "tenant", "status", "initech")
    assert status.json()["data"]["status"] == "ACTIVE"


def test_suspend_and_resume_are_idempotent(cli: Cli, sandbox: Sandbox) -> None:
    create_tenant(cli, "acme")
    assert cli("-q", "tenant", "suspend", "acme").exit_code == 0
    calls_before = sandbox.mutations()
    again = cli("-o", "json", "tenant", "suspend", "acme")
    assert again.exit_code == 0
    assert again.json()["data"]["status"] == "SUSPENDED"
    assert "already suspended" in again.stderr
    assert sandbox.mutations() == calls_before  # nothing suspended twice

    assert cli("-q", "tenant", "resume", "acme").exit_code == 0
    calls_before = sandbox.mutations()
    again = cli("-o", "json", "tenant", "resume", "acme")
    assert again.exit_code == 0
    assert again.json()["data"]["status"] == "ACTIVE"
    assert sandbox.mutations() == calls_before


def test_resume_finishes_a_partly_resumed_tenant(cli: Cli, sandbox: Sandbox) -> None:
    """A resume that stopped half-way (or a colleague resuming one service by hand) is finished
    by the next resume."""
    tenant = create_tenant(cli, "acme")
    assert cli("-q", "tenant", "suspend", "acme").exit_code == 0
    sandbox.resume("postgres", ids(tenant)["db"])
    result = cli("-o", "json", "tenant", "resume", "acme")
    assert result.exit_code == 0, result.stderr
    assert result.json()["data"]["status"] == "ACTIVE"
    resumes = [path for _method, path in sandbox.mutations() if path.endswith("/resume")]
    # one by hand (db), one by rcp (web): db is not resumed twice
    assert resumes == [
        f"/postgres/{ids(tenant)['db']}/resume",
        f"/services/{ids(tenant)['web']}/resume",
    ]
    assert set(suspended_on_render(sandbox, tenant).values()) == {False}


def test_resume_recreates_a_resource_deleted_out_of_band(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    assert cli("-q", "tenant", "suspend", "acme").exit_code == 0
    old_db = ids(tenant)["db"]
    sandbox.delete("postgres", old_db)

    result = cli("-o", "json", "tenant", "resume", "acme")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["status"] == "ACTIVE"
    new_db = data["render_service_ids"]["db"]
    assert new_db != old_db and new_db.startswith("dpg-")
    assert data["render_service_ids"]["web"] == ids(tenant)["web"]
    assert "no longer exists on Render; recreating" in result.stderr
    # The web service now reads the new database, and was deployed to pick it up.
    web = ids(tenant)["web"]
    assert sandbox.env(web)["DATABASE_URL"] == sandbox.connection_string(new_db)
    assert sandbox.deploys(web)[0]["status"] == "live"
    # Newest first: rcp's deploy, the one Render starts on resume, the create's deploy.
    triggers = [deploy["trigger"] for deploy in sandbox.deploys(web)]
    assert triggers == ["api", "service_resumed", "api"]


def test_suspend_skips_a_resource_missing_on_render(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    sandbox.delete("services", ids(tenant)["web"])
    result = cli("-o", "json", "tenant", "suspend", "acme")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["status"] == "SUSPENDED"
    assert {r["key"]: r["state"] for r in data["resources"]} == {
        "db": "suspended",
        "web": "missing",
    }
    assert f"{ids(tenant)['web']} no longer exists on Render; skipped" in result.stderr


@pytest.mark.parametrize("command", ["suspend", "resume"])
def test_unknown_tenant_exits_3_and_invalid_slug_exits_2(
    cli: Cli, isolated_env: Path, command: str
) -> None:
    missing = cli("-o", "json", "tenant", command, "ghost")
    assert missing.exit_code == 3
    assert missing.json()["error"]["code"] == "tenant_not_found"
    invalid = cli("-o", "json", "tenant", command, "Not_A_Slug")
    assert invalid.exit_code == 2
    assert invalid.json()["error"]["code"] == "usage_error"
    # no Render call was ever made
    assert not (isolated_env / "data" / "sandbox" / "render.db").exists()


def test_bad_durations_exit_2_before_any_render_call(cli: Cli, sandbox: Sandbox) -> None:
    create_tenant(cli, "acme")
    before = sandbox.mutations()
    for args in (["--lock-timeout", "soon"], ["--max-wait", "x"]):
        result = cli("-o", "json", "tenant", "suspend", "acme", *args)
        assert result.exit_code == 2, result.stdout
        assert args[0] in result.json()["error"]["message"]
    result = cli("-o", "json", "tenant", "resume", "acme", "--timeout", "forever")
    assert result.exit_code == 2
    assert sandbox.mutations() == before
    assert cli("-o", "json", "tenant", "status", "acme").json()["data"]["status"] == "ACTIVE"


def test_busy_tenant_exits_4_naming_the_holder(cli: Cli, sandbox: Sandbox) -> None:
    from rcp.core.models import LockHolder

    create_tenant(cli, "acme")
    before = sandbox.mutations()
    for store in store_of():
        holder = LockHolder(
            actor="colleague", host=socket.gethostname(), pid=os.getpid(), command="rcp x"
        )
        lease = store.acquire_lock("acme", holder)
        try:
            result = cli("-o", "json", "tenant", "suspend", "acme")
        finally:
            store.release_lock(lease)
    assert result.exit_code == 4
    error = result.json()["error"]
    assert error["code"] == "tenant_locked"
    assert "colleague" in error["message"]
    assert sandbox.mutations() == before


def test_suspend_and_resume_are_audited(cli: Cli) -> None:
    create_tenant(cli, "acme")
    cli("-q", "tenant", "suspend", "acme")
    cli("-q", "tenant", "resume", "acme")
    cli("-q", "tenant", "suspend", "ghost")  # precondition failure: not audited
    for store in store_of():
        entries = sorted(store.list_audit(), key=lambda e: e.id)
    commands = [(e.command.split(" ", 1)[1], e.tenant, e.outcome, e.exit_code) for e in entries]
    assert commands[1:] == [
        ("-q tenant suspend acme", "acme", "ok", 0),
        ("-q tenant resume acme", "acme", "ok", 0),
    ]


@pytest.mark.parametrize(
    ("command", "failpoint", "expected_status", "expected_suspended"),
    [
        ("suspend", "suspend:web:after", "SUSPENDED", True),
        ("resume", "resume:db:after", "ACTIVE", False),
    ],
)
def test_killed_midway_then_rerun_finishes(
    cli: Cli,
    sandbox: Sandbox,
    sandbox_env: dict[str, str],
    command: str,
    failpoint: str,
    expected_status: str,
    expected_suspended: bool,
) -> None:
    """SIGKILL right after a Render call (before it is journalled as done); the rerun takes the
    dead process's lock over at once and finishes without repeating what Render already did."""
    from tests.conftest import run_rcp

    tenant = create_tenant(cli, "acme")
    if command == "resume":
        assert cli("-q", "tenant", "suspend", "acme").exit_code == 0
    env = {**os.environ, "RCP_FAILPOINT": failpoint}
    killed = run_rcp(["-q", "tenant", command, "acme"], env=env)
    assert killed.exit_code == -9, killed.stderr
    rerun = cli("-o", "json", "tenant", command, "acme")
    assert rerun.exit_code == 0, rerun.stderr
    assert rerun.json()["data"]["status"] == expected_status
    assert set(suspended_on_render(sandbox, tenant).values()) == {expected_suspended}
    calls = [path for _m, path in sandbox.mutations() if path.endswith(f"/{command}")]
    assert len(calls) == len(set(calls)) == 2  # each resource exactly once


def test_stop_requested_starts_no_render_call(
    cli: Cli, sandbox: Sandbox, isolated_env: Path
) -> None:
    """After a SIGTERM (stop flag set) the operation stops before its next Render mutation,
    with exit 143, and the rerun does the work."""
    from rcp.core.models import LockHolder
    from rcp.core.provisioning import StopFlag
    from rcp.core.tenants import Operator, suspend_tenant
    from rcp.errors import Interrupted
    from rcp.output.progress import NullProgress
    from rcp.render.client import RenderClient
    from rcp.render.gateway import Gateway
    from rcp.sandbox import SandboxSettings, SandboxTransport

    create_tenant(cli, "acme")
    before = sandbox.mutations()
    stop = StopFlag()
    stop.request(15)
    transport = SandboxTransport(sandbox.state, SandboxSettings.from_env(os.environ))
    client = RenderClient("key", base_url="http://sandbox.rcp/v1", transport=transport)
    holder = LockHolder(actor="tester", host=socket.gethostname(), pid=os.getpid(), command="t")
    try:
        for store in store_of():
            operator = Operator(store, Gateway(client), NullProgress(), holder, stop=stop)
            with pytest.raises(Interrupted) as stopped:
                suspend_tenant(operator, "acme")
    finally:
        client.close()
    assert stopped.value.exit_code == 143
    assert sandbox.mutations() == before
    assert cli("-o", "json", "tenant", "suspend", "acme").json()["data"]["status"] == "SUSPENDED"
