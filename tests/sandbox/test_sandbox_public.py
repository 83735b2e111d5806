"""A web service's public URL on the sandbox (rcp.sandbox.public) and the fault rules that
target one tenant: ``name`` on any rule, ``health_status`` for the public side. In-process
through the transport, over HTTP with a ``Host`` header, and through the real CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_support import Sandbox

from rcp.sandbox import SandboxSettings
from rcp.sandbox.faults import parse_rule
from rcp.sandbox.server import SandboxHTTPServer, make_server
from tests.conftest import Cli


def add_faults(sandbox: Sandbox, rules: Any) -> None:
    response = sandbox.client.post("/__sandbox/faults", json=rules)
    assert response.status_code == 201, response.text


def health(sandbox: Sandbox, name: str, path: str = "/healthz") -> httpx.Response:
    # An absolute URL: httpx sends Host: <name>.onrender.com through the same transport.
    return sandbox.client.get(f"https://{name}.onrender.com{path}")


def test_the_public_url_serves_while_a_deploy_is_live(sandbox: Sandbox) -> None:
    created = sandbox.create_service("pub-web")
    assert created["service"]["serviceDetails"]["url"] == "https://pub-web.onrender.com"
    building = health(sandbox, "pub-web")
    assert (building.status_code, building.json()["status"]) == (503, "unavailable")
    sandbox.clock.advance(sandbox.settings.deploy_seconds)
    live = health(sandbox, "pub-web", "/anything/at/all")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert health(sandbox, "nobody-web").status_code == 404
    # Not Render's API: no key needed, no rate-limit headers.
    bare = httpx.Client(transport=sandbox.transport).get("https://pub-web.onrender.com/healthz")
    assert bare.status_code == 200 and "Ratelimit-Limit" not in bare.headers


def test_a_failed_new_deploy_leaves_the_live_one_serving_and_suspension_stops_it(
    sandbox: Sandbox,
) -> None:
    add_faults(sandbox, {"method": "POST", "path": "/services/*/deploys", "action": "fail_deploy"})
    service_id = sandbox.create_service("keep-web")["service"]["id"]
    sandbox.clock.advance(sandbox.settings.deploy_seconds)
    assert sandbox.client.post(f"/services/{service_id}/deploys", json={}).status_code == 201
    sandbox.clock.advance(sandbox.settings.deploy_seconds)
    statuses = [d["deploy"]["status"] for d in sandbox.client.get(f"/services/{service_id}/deploys").json()]
    assert statuses == ["build_failed", "live"]
    assert health(sandbox, "keep-web").status_code == 200
    assert sandbox.client.post(f"/services/{service_id}/suspend").status_code == 202
    suspended = health(sandbox, "keep-web")
    assert (suspended.status_code, suspended.json()["reason"]) == (503, "suspended")


def test_fail_deploy_by_name_fails_only_that_tenants_deploys(sandbox: Sandbox) -> None:
    add_faults(sandbox, {"action": "fail_deploy", "name": "t7-*"})
    others = sandbox.create_service("t6-web")["service"]["id"]
    target = sandbox.create_service("t7-web")["service"]["id"]
    sandbox.clock.advance(sandbox.settings.deploy_seconds * 3)
    first = {
        service: sandbox.client.get(f"/services/{service}/deploys").json()[0]["deploy"]["status"]
        for service in (others, target)
    }
    assert first == {others: "live", target: "build_failed"}
    # A later deploy of t7 (by id in the path) fails too; t6's stays live.
    for service in (others, target):
        assert sandbox.client.post(f"/services/{service}/deploys", json={}).status_code == 201
    sandbox.clock.advance(sandbox.settings.deploy_seconds * 3)
    latest = {
        service: sandbox.client.get(f"/services/{service}/deploys").json()[0]["deploy"]["status"]
        for service in (others, target)
    }
    assert latest == {others: "live", target: "build_failed"}
    faults = sandbox.client.get("/__sandbox/faults").json()
    assert faults[0]["rule"]["name"] == "t7-*"


def test_health_status_fault_answers_for_one_service_and_path(sandbox: Sandbox) -> None:
    for name in ("h1-web", "h2-web"):
        sandbox.create_service(name)
    sandbox.clock.advance(sandbox.settings.deploy_seconds)
    add_faults(
        sandbox,
        {"action": "health_status", "name": "h2-web", "path": "/healthz", "times": 2},
    )
    assert health(sandbox, "h1-web").status_code == 200
    failing = health(sandbox, "h2-web")
    assert (failing.status_code, failing.json()) == (500, {"status": "unhealthy"})
    assert health(sandbox, "h2-web", "/").status_code == 200  # another path
    assert health(sandbox, "h2-web").status_code == 500
    assert health(sandbox, "h2-web").status_code == 200  # times: 2 spent
    # An API request never matches a public rule, nor a public request an API rule.
    add_faults(sandbox, {"action": "status", "status": 502, "name": "h1-web"})
    assert health(sandbox, "h1-web").status_code == 200
    # Not Render API calls: never in the request log.
    assert not any("onrender" in row[1] or row[1] == "/healthz" for row in sandbox_requests(sandbox))


def sandbox_requests(sandbox: Sandbox) -> list[tuple[str, str, int | None]]:
    import sqlite3

    with sqlite3.connect(sandbox.state_path) as connection:
        return list(connection.execute("SELECT method, path, status FROM requests ORDER BY seq"))


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"action": "health_status", "name": ""}, "name must be a glob"),
        ({"action": "fail_deploy", "name": 7}, "name must be a glob"),
        ({"action": "health_status", "state": "live"}, "state applies only"),
    ],
)
def test_malformed_name_and_health_rules_are_rejected(raw: dict[str, Any], fragment: str) -> None:
    from rcp.sandbox.faults import FaultRuleError

    with pytest.raises(FaultRuleError, match=fragment):
        parse_rule(raw)


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[SandboxHTTPServer]:
    server = make_server(
        "127.0.0.1", 0, tmp_path / "http.db", SandboxSettings(deploy_seconds=0.1)
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.stopping.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_over_http_the_host_header_reaches_the_public_side(http_server: SandboxHTTPServer) -> None:
    import time

    auth = {"Authorization": "Bearer http-test"}
    with httpx.Client(base_url=http_server.url, headers=auth, timeout=5) as client:
        owner_id = client.get("/owners").json()[0]["owner"]["id"]
        body = {
            "type": "web_service",
            "name": "http-web",
            "ownerId": owner_id,
            "repo": "https://github.com/render-examples/express-hello-world",
            "serviceDetails": {
                "runtime": "node",
                "plan": "starter",
                "envSpecificDetails": {"buildCommand": "npm i", "startCommand": "npm start"},
            },
        }
        assert client.post("/services", json=body).status_code == 201
        origin = http_server.url.rsplit("/v1", 1)[0]
        deadline = time.monotonic() + 10
        while True:
            probe = httpx.get(f"{origin}/healthz", headers={"Host": "http-web.onrender.com"})
            if probe.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert (probe.status_code, probe.json()) == (200, {"status": "ok"})
        added = client.post(
            "/__sandbox/faults",
            json={"action": "health_status", "name": "http-web", "status": 500},
        )
        assert added.status_code == 201
        probe = httpx.get(f"{origin}/healthz", headers={"Host": "http-web.onrender.com"})
        assert probe.status_code == 500
        unknown = httpx.get(f"{origin}/healthz", headers={"Host": "other.onrender.com"})
        assert unknown.status_code == 404


def test_cli_a_chosen_tenants_deploy_fails(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    rules = tmp_path / "faults.json"
    rules.write_text(json.dumps([{"action": "fail_deploy", "name": "t7-*"}]))
    env = {"RCP_SANDBOX_FAULTS": str(rules)}
    ok = cli("-o", "json", "tenant", "create", "T6", "--slug", "t6", env=env)
    assert ok.exit_code == 0, ok.stderr
    assert ok.json()["data"]["status"] == "ACTIVE"
    failed = cli("-o", "json", "tenant", "create", "T7", "--slug", "t7", env=env)
    assert failed.exit_code == 5, failed.stdout
    assert failed.json()["error"]["code"]
    assert "build_failed" in failed.stderr
    shown = cli("-o", "json", "tenant", "show", "t7").json()["data"]
    assert shown["status"] == "ERROR"
    web = next(r for r in shown["resources"] if r["key"] == "web")
    assert "build_failed" in (web["last_error"] or "")
