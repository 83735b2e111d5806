"""`rcp tenant deploys` (issue 13 item 2): the deploy history of a tenant's services, from the
sandbox's deploy records, in JSON and as a table; bad input exits 2 before any Render call."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tenant_ops_helpers import Sandbox, create_tenant, ids

from tests.conftest import Cli

KEYS = {
    "service",
    "service_id",
    "id",
    "status",
    "failed_phase",
    "trigger",
    "commit",
    "image",
    "created_at",
    "started_at",
    "finished_at",
}
MOMENT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def deploys(cli: Cli, *args: str) -> list[dict[str, Any]]:
    result = cli("-o", "json", "tenant", "deploys", *args)
    assert result.exit_code == 0, result.stderr
    data: list[dict[str, Any]] = result.json()["data"]
    return data


def test_history_newest_first_with_the_failed_phase(cli: Cli, sandbox: Sandbox) -> None:
    web = ids(create_tenant(cli, "acme"))["web"]
    sandbox.add_fault(
        {"method": "POST", "path": "/services/*/deploys", "action": "fail_deploy", "times": 1}
    )
    assert cli("-q", "tenant", "redeploy", "acme").exit_code == 5
    assert cli("-q", "tenant", "redeploy", "acme").exit_code == 0
    recorded = sandbox.deploys(web)  # newest first, as Render lists them

    history = deploys(cli, "acme")
    assert [d["id"] for d in history] == [d["id"] for d in recorded]
    assert [(d["status"], d["failed_phase"]) for d in history] == [
        ("live", None),
        ("build_failed", "build"),
        ("deactivated", None),
    ]
    for item, raw in zip(history, recorded, strict=True):
        assert set(item) == KEYS
        assert (item["service"], item["service_id"], item["trigger"]) == ("web", web, "api")
        assert item["commit"] == {"id": raw["commit"]["id"], "message": "Sandbox commit"}
        assert re.fullmatch(r"[0-9a-f]{40}", item["commit"]["id"])
        assert item["image"] is None
        assert MOMENT.match(item["created_at"]) and MOMENT.match(item["finished_at"])
        assert MOMENT.match(item["started_at"])

    assert [d["id"] for d in deploys(cli, "acme", "--limit", "1")] == [recorded[0]["id"]]
    assert deploys(cli, "acme", "--service", "web") == history

    table = cli("tenant", "deploys", "acme")
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["SERVICE", "ID", "STATUS", "TRIGGER", "SOURCE", "STARTED", "FINISHED"]
    failed = next(line for line in lines if recorded[1]["id"] in line)
    assert "build_failed (build)" in failed and recorded[1]["commit"]["id"] in failed
    assert "Sandbox commit" in failed
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", failed)
    assert len(lines) == 4


def test_every_service_merged_newest_first(cli: Cli, sandbox: Sandbox, full_template: str) -> None:
    tenant = create_tenant(cli, "acme", "--template", full_template)
    assert cli("-q", "tenant", "redeploy", "acme", "--service", "worker").exit_code == 0
    history = deploys(cli, "acme")
    # The template creates web before worker; the redeploy of worker came last.
    assert [(d["service"], d["status"]) for d in history] == [
        ("worker", "live"),
        ("worker", "deactivated"),
        ("web", "live"),
    ]
    assert {d["service_id"] for d in history} == {ids(tenant)["web"], ids(tenant)["worker"]}
    created = [d["created_at"] for d in history]
    assert created == sorted(created, reverse=True)


def test_an_image_deploy_shows_its_image(cli: Cli, sandbox: Sandbox) -> None:
    body = {
        "type": "web_service",
        "name": "legacy-web",
        "ownerId": sandbox.owner_id(),
        "image": {"imagePath": "docker.io/acme/web:1.2"},
        "serviceDetails": {"runtime": "image", "plan": "starter", "region": "oregon"},
    }
    web = sandbox.call("POST", "/services", body, expect=201)["service"]["id"]
    adopted = cli("-q", "tenant", "adopt", "legacy", "--resource", f"web={web}")
    assert adopted.exit_code == 0, adopted.stderr
    (item,) = deploys(cli, "legacy")
    assert item["commit"] is None
    assert item["image"]["ref"] == "docker.io/acme/web:1.2"
    assert item["image"]["sha"].startswith("sha256:")
    assert "docker.io/acme/web:1.2" in cli("tenant", "deploys", "legacy").stdout


def test_a_service_gone_from_render_is_a_warning(cli: Cli, sandbox: Sandbox) -> None:
    web = ids(create_tenant(cli, "acme"))["web"]
    sandbox.delete("services", web)
    result = cli("-o", "json", "tenant", "deploys", "acme")
    assert result.exit_code == 0
    assert result.json() == {"data": []}
    assert f"Warning: web ({web}) no longer exists on Render" in result.stderr
    assert cli("tenant", "deploys", "acme").stdout == "acme: no deploys\n"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["acme", "--limit", "0"], 2, "invalid --limit value 0: use 1 to 100"),
        (["acme", "--limit", "101"], 2, "invalid --limit value 101"),
        (["acme", "--limit", "many"], 2, "--limit"),
        (["acme", "--service", "db"], 2, "tenant acme has no service 'db' (services: web)"),
        (["acme", "--service", "Web!"], 2, "invalid key"),
        (["-acme"], 2, ""),
        (["Acme"], 2, "invalid slug"),
        (["ghost"], 3, "tenant ghost not found"),
    ],
)
def test_bad_input_exits_before_render_is_asked(
    cli: Cli, sandbox: Sandbox, args: list[str], code: int, message: str
) -> None:
    create_tenant(cli, "acme")
    before = len(sandbox.requests())
    result = cli("-o", "json", "tenant", "deploys", *args)
    assert result.exit_code == code, result.stderr
    assert message in result.stderr
    assert result.json()["error"]["code"] in ("usage_error", "tenant_not_found")
    # Only the sandbox's own control calls (this test's reads) were made since.
    assert [r for r in sandbox.requests()[before:] if "__sandbox" not in r["path"]] == []
