"""Fault injection in-process: every action, occurrence selection, the three rule sources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_support import MakeSandbox, Sandbox

from rcp.sandbox import SandboxSettings
from rcp.sandbox.faults import FaultRuleError, load_rules_text, parse_rule


def add_faults(sandbox: Sandbox, rules: Any) -> list[dict[str, Any]]:
    response = sandbox.client.post("/__sandbox/faults", json=rules)
    assert response.status_code == 201, response.text
    added: list[dict[str, Any]] = response.json()
    return added


def services_named(sandbox: Sandbox, name: str) -> list[dict[str, Any]]:
    return [
        item["service"] for item in sandbox.client.get("/services", params={"name": name}).json()
    ]


def test_status_fault_answers_without_acting(sandbox: Sandbox) -> None:
    add_faults(
        sandbox,
        {
            "method": "POST",
            "path": "/services",
            "action": "status",
            "status": 503,
            "body": {"message": "try later"},
        },
    )
    response = sandbox.client.post("/services", json=sandbox.service_body("status-web"))
    assert response.status_code == 503
    assert response.json() == {"message": "try later"}
    assert response.headers["Ratelimit-Limit"] and response.headers["Render-Request-Id"]
    assert services_named(sandbox, "status-web") == []


def test_default_status_fault_is_500(sandbox: Sandbox) -> None:
    add_faults(sandbox, {"path": "/owners", "action": "status"})
    response = sandbox.client.get("/owners")
    assert response.status_code == 500
    assert response.json()["message"]


def test_nth_selects_occurrences(sandbox: Sandbox) -> None:
    add_faults(
        sandbox,
        {"method": "GET", "path": "/users", "nth": [2, 3], "action": "status", "status": 502},
    )
    statuses = [sandbox.client.get("/users").status_code for _ in range(4)]
    assert statuses == [200, 502, 502, 200]


def test_times_fires_on_the_first_n(sandbox: Sandbox) -> None:
    add_faults(
        sandbox,
        {"method": "GET", "path_regex": r"/users", "times": 2, "action": "status", "status": 500},
    )
    statuses = [sandbox.client.get("/users").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]


def test_method_and_path_must_match(sandbox: Sandbox) -> None:
    add_faults(
        sandbox, {"method": "DELETE", "path": "/services/*", "action": "status", "status": 500}
    )
    service_id = sandbox.create_service("match-web")["service"]["id"]
    assert sandbox.client.get(f"/services/{service_id}").status_code == 200
    assert sandbox.client.delete(f"/services/{service_id}").status_code == 500
    assert sandbox.client.get(f"/services/{service_id}").status_code == 200  # not deleted


def test_rate_limit_fault_sends_retry_after(sandbox: Sandbox) -> None:
    add_faults(
        sandbox,
        {
            "method": "POST",
            "path": "/v1/postgres",
            "nth": [1],
            "action": "rate_limit",
            "seconds": 7,
        },
    )
    body = {"name": "rl-db", "ownerId": sandbox.owner_id, "plan": "basic_256mb", "version": "16"}
    refused = sandbox.client.post("/postgres", json=body)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "7"
    assert refused.headers["Ratelimit-Remaining"] == "0"
    assert sandbox.client.get("/postgres").json() == []
    assert sandbox.client.post("/postgres", json=body).status_code == 201


def test_delay_waits_then_acts(sandbox: Sandbox) -> None:
    add_faults(sandbox, {"method": "GET", "path": "/users", "action": "delay", "seconds": 2.5})
    response = sandbox.client.get("/users")
    assert response.status_code == 200
    assert sandbox.clock.slept == [2.5]


def test_delay_beyond_read_timeout_acts_but_the_client_times_out(sandbox: Sandbox) -> None:
    add_faults(
        sandbox,
        {"method": "POST", "path": "/services", "nth": [1], "action": "delay", "seconds": 30},
    )
    with pytest.raises(httpx.ReadTimeout):
        sandbox.client.post("/services", json=sandbox.service_body("slow-web"), timeout=5)
    assert len(services_named(sandbox, "slow-web")) == 1  # the server did act


def test_drop_before_loses_the_request(sandbox: Sandbox) -> None:
    add_faults(
        sandbox, {"method": "POST", "path": "/services", "nth": [1], "action": "drop_before"}
    )
    with pytest.raises(httpx.RemoteProtocolError):
        sandbox.client.post("/services", json=sandbox.service_body("dropped-web"))
    assert services_named(sandbox, "dropped-web") == []
    assert (
        sandbox.client.post("/services", json=sandbox.service_body("dropped-web")).status_code
        == 201
    )


def test_drop_after_acts_then_loses_the_answer(sandbox: Sandbox) -> None:
    add_faults(sandbox, {"method": "POST", "path": "/services", "nth": [1], "action": "drop_after"})
    with pytest.raises(httpx.RemoteProtocolError):
        sandbox.client.post("/services", json=sandbox.service_body("lost-web"))
    assert len(services_named(sandbox, "lost-web")) == 1
    # A blind retry of the create is what the journal must prevent: Render says 409.
    assert (
        sandbox.client.post("/services", json=sandbox.service_body("lost-web")).status_code == 409
    )
    logged = [
        entry
        for entry in sandbox.state()["requests"]
        if entry["path"] == "/v1/services" and entry["method"] == "POST"
    ]
    assert [(entry["status"], entry["fault"]) for entry in logged] == [
        (201, "drop_after"),
        (409, None),
    ]


def test_hang_waits_for_the_read_timeout(sandbox: Sandbox) -> None:
    add_faults(sandbox, {"method": "GET", "path": "/services", "nth": [1], "action": "hang"})
    with pytest.raises(httpx.ReadTimeout):
        sandbox.client.get("/services", timeout=httpx.Timeout(10, read=4))
    assert sandbox.clock.slept == [4]
    assert sandbox.client.get("/services").status_code == 200


def test_fail_deploy_ends_build_failed(sandbox: Sandbox) -> None:
    add_faults(
        sandbox,
        {"method": "POST", "path": "/services/*/deploys", "nth": [1], "action": "fail_deploy"},
    )
    created = sandbox.create_service("failing-web")
    service_id = created["service"]["id"]
    sandbox.clock.advance(sandbox.settings.deploy_seconds)  # the create deploy goes live first
    failed = sandbox.client.post(f"/services/{service_id}/deploys", json={}).json()
    sandbox.clock.advance(sandbox.settings.deploy_seconds)
    statuses = {
        item["deploy"]["id"]: item["deploy"]["status"]
        for item in sandbox.client.get(f"/services/{service_id}/deploys").json()
    }
    assert statuses == {created["deployId"]: "live", failed["id"]: "build_failed"}


def test_faults_can_be_listed_and_cleared(sandbox: Sandbox) -> None:
    added = add_faults(
        sandbox,
        [
            {"path": "/users", "action": "status", "status": 500},
            {"path": "/owners", "action": "hang"},
        ],
    )
    assert [fault["rule"]["action"] for fault in added] == ["status", "hang"]
    sandbox.client.get("/users")
    listed = sandbox.client.get("/__sandbox/faults").json()
    assert [(fault["matched"], fault["fired"]) for fault in listed] == [(1, 1), (0, 0)]
    assert sandbox.client.delete(f"/__sandbox/faults/{added[0]['id']}").status_code == 204
    assert sandbox.client.get("/users").status_code == 200
    assert sandbox.client.delete("/__sandbox/faults").status_code == 204
    assert sandbox.client.get("/__sandbox/faults").json() == []
    assert sandbox.client.post("/__sandbox/faults", json={"action": "explode"}).status_code == 400


def test_rules_from_a_yaml_file_share_counters_across_transports(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    rules = tmp_path / "faults.yaml"
    rules.write_text("- method: GET\n  path: /users\n  nth: [2]\n  action: status\n  status: 503\n")
    settings = SandboxSettings(faults_file=rules)
    first = make_sandbox(settings, state_path=tmp_path / "shared.db")
    second = make_sandbox(settings, state_path=tmp_path / "shared.db")
    assert first.client.get("/users").status_code == 200
    assert second.client.get("/users").status_code == 503  # the 2nd occurrence, counted world-wide
    assert first.client.get("/users").status_code == 200
    assert len(first.client.get("/__sandbox/faults").json()) == 1  # installed once, not per process


def test_rules_from_the_environment_variable(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    rules = tmp_path / "faults.json"
    rules.write_text(
        json.dumps([{"method": "GET", "path": "/owners", "action": "status", "status": 418}])
    )
    settings = SandboxSettings.from_env(
        {"RCP_SANDBOX_FAULTS": str(rules), "RCP_SANDBOX_DEPLOY_SECONDS": "1"}
    )
    assert settings.deploy_seconds == 1 and settings.faults_file == rules
    sandbox = make_sandbox(settings)
    assert sandbox.client.get("/owners").status_code == 418


def test_settings_from_env_defaults_and_errors() -> None:
    defaults = SandboxSettings.from_env({})
    assert (
        defaults.deploy_seconds,
        defaults.datastore_seconds,
        defaults.latency_ms,
        defaults.rate_limits,
    ) == (3, 5, 0, "render")
    assert defaults.faults_file is None
    custom = SandboxSettings.from_env(
        {
            "RCP_SANDBOX_LATENCY_MS": "25",
            "RCP_SANDBOX_RATE_LIMITS": "off",
            "RCP_SANDBOX_DATASTORE_SECONDS": "0",
        }
    )
    assert (custom.latency_ms, custom.rate_limits, custom.datastore_seconds) == (25, "off", 0)
    with pytest.raises(ValueError, match="RCP_SANDBOX_RATE_LIMITS"):
        SandboxSettings.from_env({"RCP_SANDBOX_RATE_LIMITS": "sometimes"})
    assert (defaults.create_limit, defaults.create_counters) == (20, "separate")
    quota = SandboxSettings.from_env(
        {"RCP_SANDBOX_CREATE_LIMIT": "1000", "RCP_SANDBOX_CREATE_COUNTERS": "shared"}
    )
    assert (quota.create_limit, quota.create_counters) == (1000, "shared")
    with pytest.raises(ValueError, match="RCP_SANDBOX_CREATE_LIMIT"):
        SandboxSettings.from_env({"RCP_SANDBOX_CREATE_LIMIT": "lots"})
    with pytest.raises(ValueError, match="create_limit"):
        SandboxSettings.from_env({"RCP_SANDBOX_CREATE_LIMIT": "0"})
    with pytest.raises(ValueError, match="RCP_SANDBOX_CREATE_COUNTERS"):
        SandboxSettings.from_env({"RCP_SANDBOX_CREATE_COUNTERS": "pooled"})
    with pytest.raises(ValueError, match="RCP_SANDBOX_DEPLOY_SECONDS"):
        SandboxSettings.from_env({"RCP_SANDBOX_DEPLOY_SECONDS": "soon"})


def test_latency_applies_to_every_request(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(SandboxSettings(latency_ms=40))
    sandbox.client.get("/users")
    sandbox.client.get("/owners")
    assert sandbox.clock.slept == [0.04, 0.04]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"action": "status", "status": 99}, "status"),
        ({"action": "delay", "seconds": -1}, "seconds"),
        ({"action": "status", "nth": [0]}, "nth"),
        ({"action": "status", "nth": [1], "times": 1}, "either"),
        ({"action": "status", "path_regex": "("}, "path_regex"),
        ({"action": "status", "colour": "red"}, "colour"),
    ],
)
def test_malformed_rules_are_rejected(raw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(FaultRuleError, match=fragment):
        parse_rule(raw)


def test_rule_text_may_be_json_or_yaml() -> None:
    from_json = load_rules_text('[{"action": "hang", "path": "/services"}]', "inline")
    from_yaml = load_rules_text("- action: hang\n  path: /services\n", "inline")
    assert from_json == from_yaml
    assert from_json[0].matches("GET", "/v1/services") and from_json[0].matches("POST", "/services")
    assert not from_json[0].matches("GET", "/v1/services/srv-x")


def test_an_edited_fault_file_replaces_its_rules(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    rules = tmp_path / "faults.yaml"
    rules.write_text("- {path: /users, action: status, status: 500}\n")
    first = make_sandbox(SandboxSettings(faults_file=rules), state_path=tmp_path / "w.db")
    assert first.client.get("/users").status_code == 500
    rules.write_text("- {path: /owners, action: status, status: 502}\n")
    second = make_sandbox(SandboxSettings(faults_file=rules), state_path=tmp_path / "w.db")
    assert second.client.get("/users").status_code == 200
    assert [fault["rule"]["path"] for fault in second.client.get("/__sandbox/faults").json()] == [
        "/owners"
    ]


def test_the_request_log_names_what_was_created(sandbox: Sandbox) -> None:
    add_faults(sandbox, {"method": "POST", "path": "/services", "nth": [1], "action": "drop_after"})
    with pytest.raises(httpx.RemoteProtocolError):
        sandbox.client.post("/services", json=sandbox.service_body("named-web"))
    sandbox.client.post("/services", json=sandbox.service_body("named-web"))
    creates = [
        (entry["name"], entry["status"], entry["fault"])
        for entry in sandbox.state()["requests"]
        if entry["method"] == "POST"
    ]
    assert creates == [("named-web", 201, "drop_after"), ("named-web", 409, None)]
