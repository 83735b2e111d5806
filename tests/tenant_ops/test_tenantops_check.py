"""`rcp tenant check [--repair] [--notify URL]` through the CLI against the in-process sandbox;
out-of-band changes are made by talking to the sandbox directly."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from tenant_ops_helpers import Sandbox, create_tenant, ids, store_of

from tests.conftest import Cli


def check(cli: Cli, *args: str) -> tuple[int, Any]:
    result = cli("-o", "json", "tenant", "check", *args)
    return result.exit_code, result.json()


def audited_tenants() -> list[str | None]:
    for store in store_of():
        return [e.tenant for e in store.list_audit() if "tenant check" in e.command]
    return []


def test_healthy_tenant_exits_0(cli: Cli, sandbox: Sandbox) -> None:
    create_tenant(cli, "acme")
    code, document = check(cli, "acme")
    assert code == 0
    assert document == {
        "data": {
            "healthy": True,
            "tenants": [{"slug": "acme", "healthy": True, "status": "ACTIVE", "problems": []}],
        }
    }
    assert audited_tenants() == []  # a read-only check is not a mutation


def test_out_of_band_suspension_found_and_repaired(db_cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(db_cli, "acme")
    web = ids(tenant)["web"]
    sandbox.suspend("services", web)

    result = db_cli("-o", "json", "tenant", "check", "acme")
    assert result.exit_code == 5
    assert result.json() == {
        "data": {
            "healthy": False,
            "tenants": [
                {
                    "slug": "acme",
                    "healthy": False,
                    "status": "ACTIVE",
                    "problems": [
                        {
                            "resource": "web",
                            "problem": "suspended",
                            "detail": f"{web} was suspended outside rcp",
                            "repaired": False,
                        }
                    ],
                }
            ],
        }
    }
    assert result.stderr.startswith("Error: 1 of 1 tenants unhealthy: acme\n")
    assert sandbox.is_suspended("services", web)  # a check alone changes nothing

    code, document = check(db_cli, "acme", "--repair")
    assert code == 0
    (entry,) = document["data"]["tenants"]
    assert document["data"]["healthy"] is True
    assert entry["healthy"] is True and entry["status"] == "ACTIVE"
    assert entry["problems"] == [
        {
            "resource": "web",
            "problem": "suspended",
            "detail": f"{web} was suspended outside rcp",
            "repaired": True,
        }
    ]
    assert not sandbox.is_suspended("services", web)
    assert check(db_cli, "acme")[0] == 0
    assert audited_tenants() == ["acme"]


def test_missing_database_recreated_and_service_repointed(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    old_db, web = ids(tenant)["db"], ids(tenant)["web"]
    sandbox.delete("postgres", old_db)

    code, document = check(cli, "acme")
    assert code == 5
    assert document["data"]["tenants"][0]["problems"] == [
        {
            "resource": "db",
            "problem": "missing",
            "detail": f"{old_db} no longer exists on Render",
            "repaired": False,
        }
    ]
    code, document = check(cli, "acme", "--repair")
    assert code == 0, document
    assert document["data"]["tenants"][0]["problems"][0]["repaired"] is True
    shown = cli("-o", "json", "tenant", "show", "acme").json()["data"]
    new_db = shown["render_service_ids"]["db"]
    assert new_db not in (old_db, None)
    assert shown["status"] == "ACTIVE"
    assert sandbox.env(web)["DATABASE_URL"] == sandbox.connection_string(new_db)
    # exactly one database carries the name: nothing duplicated
    names = [p["postgres"]["name"] for p in sandbox.call("GET", "/postgres?limit=100")]
    assert names == ["acme-db"]
    for store in store_of():
        steps = [
            (j.step, j.status, j.resource_key, j.render_id) for j in store.list_journal("acme")
        ]
    start = steps.index(("recreate", "pending", "db", old_db))
    assert steps[start + 1 :] == [
        ("recreate", "done", "db", None),
        ("create", "pending", "db", None),
        ("create", "done", "db", new_db),
    ]


def test_recreate_adopts_a_resource_made_by_hand_under_the_name(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    sandbox.delete("services", ids(tenant)["web"])
    by_hand = sandbox.create_web_service("acme-web")
    code, document = check(cli, "acme", "--repair")
    assert code == 0, document
    shown = cli("-o", "json", "tenant", "show", "acme").json()["data"]
    assert shown["render_service_ids"]["web"] == by_hand
    assert len(sandbox.call("GET", "/services?limit=100")) == 1


def test_failed_deploy_is_repaired_and_plan_drift_reported(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    web = ids(tenant)["web"]
    sandbox.add_fault(
        {"method": "POST", "path": "/services/*/deploys", "action": "fail_deploy", "times": 1}
    )
    deploy = sandbox.call("POST", f"/services/{web}/deploys", {}, expect=201)
    sandbox.call("PATCH", f"/services/{web}", {"serviceDetails": {"plan": "standard"}}, expect=200)
    failed = {
        "resource": "web",
        "problem": "deploy_failed",
        "detail": f"deploy {deploy['id']} of {web} ended build_failed in the build phase",
        "repaired": False,
    }
    drift = {
        "resource": "web",
        "problem": "plan_drift",
        "detail": "plan on Render is standard, the template says starter",
        "repaired": False,
    }
    code, document = check(cli, "acme")
    assert code == 5
    assert document["data"]["tenants"][0]["problems"] == [failed, drift]
    # --repair deploys the service again (the fault fired once: this deploy goes live); the
    # plan is an operator's decision (cost), so drift stays reported.
    code, document = check(cli, "acme", "--repair")
    assert code == 5
    assert document["data"]["tenants"][0]["problems"] == [failed | {"repaired": True}, drift]
    assert [d["status"] for d in sandbox.deploys(web)][:2] == ["live", "build_failed"]
    assert sandbox.get("services", web)["serviceDetails"]["plan"] == "standard"


def test_suspended_tenant_resumed_out_of_band(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    cli("-q", "tenant", "suspend", "acme")
    sandbox.resume("postgres", ids(tenant)["db"])
    code, document = check(cli, "acme")
    assert code == 5
    assert [(p["resource"], p["problem"]) for p in document["data"]["tenants"][0]["problems"]] == [
        ("db", "not_suspended")
    ]
    code, document = check(cli, "acme", "--repair")
    assert code == 0
    assert document["data"]["tenants"][0]["status"] == "SUSPENDED"
    assert sandbox.is_suspended("postgres", ids(tenant)["db"])


def test_all_reports_every_tenant(cli: Cli, sandbox: Sandbox) -> None:
    create_tenant(cli, "acme")
    globex = create_tenant(cli, "globex")
    sandbox.suspend("postgres", ids(globex)["db"])
    code, document = check(cli, "--all")
    assert code == 5
    data = document["data"]
    assert data["healthy"] is False
    assert [(t["slug"], t["healthy"]) for t in data["tenants"]] == [
        ("acme", True),
        ("globex", False),
    ]
    code, document = check(cli, "--all", "--repair")
    assert code == 0
    assert document["data"]["healthy"] is True
    # The command's own entry, and one for the tenant it repaired (issue 13 item 6).
    assert sorted(audited_tenants(), key=str) == [None, "globex"]


def test_all_with_no_tenants_is_healthy(cli: Cli, sandbox: Sandbox) -> None:
    assert check(cli, "--all") == (0, {"data": {"healthy": True, "tenants": []}})


class Webhook:
    """A local HTTP server that records what is POSTed to it."""

    def __init__(self, status: int) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's naming
                length = int(self.headers.get("Content-Length", "0"))
                received.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0KEN-in-path"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(200)
    yield hook
    hook.close()


def test_notify_posts_the_summary(cli: Cli, sandbox: Sandbox, webhook: Webhook) -> None:
    tenant = create_tenant(cli, "acme")
    sandbox.suspend("services", ids(tenant)["web"])
    result = cli("-o", "json", "tenant", "check", "acme", "--notify", webhook.url)
    assert result.exit_code == 5
    data = result.json()["data"]
    assert data["notified"] is True
    (posted,) = webhook.received
    assert posted["path"] == "/hooks/T0KEN-in-path"
    assert posted["content_type"] == "application/json"
    body = posted["body"]
    assert body["source"] == "rcp" and body["event"] == "tenant.check"
    assert body["at"].endswith("Z")
    assert body["repair"] is False
    assert body["healthy"] is False
    assert body["unhealthy"] == ["acme"]
    assert body["tenants"] == data["tenants"]


def test_healthy_check_also_notifies(cli: Cli, sandbox: Sandbox, webhook: Webhook) -> None:
    create_tenant(cli, "acme")
    code, document = check(cli, "--all", "--notify", webhook.url)
    assert code == 0
    assert document["data"]["notified"] is True
    assert webhook.received[0]["body"]["healthy"] is True
    assert webhook.received[0]["body"]["unhealthy"] == []


def test_failing_webhook_is_a_warning_not_a_failure(cli: Cli, sandbox: Sandbox) -> None:
    create_tenant(cli, "acme")
    failing = Webhook(500)
    try:
        result = cli("-o", "json", "tenant", "check", "acme", "--notify", failing.url)
    finally:
        failing.close()
    assert result.exit_code == 0
    assert result.json()["data"]["notified"] is False
    assert "Warning: the webhook answered HTTP 500" in result.stderr
    assert "T0KEN" not in result.stderr

    # nothing listens on the port any more
    result = cli("-o", "json", "tenant", "check", "acme", "--notify", failing.url)
    assert result.exit_code == 0
    assert result.json()["data"]["notified"] is False
    assert "Warning: could not notify the webhook (ConnectError)" in result.stderr


INVALID_CHECK_INPUT = [
    ([], "give a tenant SLUG or --all"),
    (["acme", "--all"], "give a tenant SLUG or --all"),
    (["Bad_Slug"], "invalid slug"),
    (["acme", "--notify", "ftp://hooks.example/T0KEN"], "invalid --notify URL"),
    (["acme", "--notify", "not a url T0KEN"], "invalid --notify URL"),
    (["acme", "--repair", "--timeout", "never"], "--timeout"),
]


def test_invalid_input_exits_2(cli: Cli, sandbox: Sandbox) -> None:
    create_tenant(cli, "acme")
    before = sandbox.mutations()
    for args, fragment in INVALID_CHECK_INPUT:
        result = cli("-o", "json", "tenant", "check", *args)
        assert result.exit_code == 2, args
        assert fragment in result.json()["error"]["message"], args
        assert "T0KEN" not in result.stdout + result.stderr
    assert sandbox.mutations() == before


def test_unknown_tenant_exits_3(cli: Cli, sandbox: Sandbox) -> None:
    result = cli("-o", "json", "tenant", "check", "ghost")
    assert result.exit_code == 3
    assert result.json()["error"]["code"] == "tenant_not_found"


def test_busy_tenant_in_all_repair_is_reported_not_repaired(cli: Cli, sandbox: Sandbox) -> None:
    import os
    import socket

    from rcp.core.models import LockHolder

    acme = create_tenant(cli, "acme")
    globex = create_tenant(cli, "globex")
    sandbox.suspend("services", ids(acme)["web"])
    sandbox.suspend("services", ids(globex)["web"])
    holder = LockHolder(
        actor="colleague", host=socket.gethostname(), pid=os.getpid(), command="rcp x"
    )
    for store in store_of():
        lease = store.acquire_lock("acme", holder)
        try:
            single = cli("-o", "json", "tenant", "check", "acme", "--repair")
            every = cli("-o", "json", "tenant", "check", "--all", "--repair")
        finally:
            store.release_lock(lease)
    assert single.exit_code == 4
    assert single.json()["error"]["code"] == "tenant_locked"
    assert every.exit_code == 5
    tenants = {t["slug"]: t for t in every.json()["data"]["tenants"]}
    assert tenants["globex"]["healthy"] is True  # repaired
    (problem,) = tenants["acme"]["problems"]
    assert problem["problem"] == "suspended" and problem["repaired"] is False
    assert "not repaired:" in problem["detail"] and "colleague" in problem["detail"]
    assert sandbox.is_suspended("services", ids(acme)["web"])
    assert not sandbox.is_suspended("services", ids(globex)["web"])
