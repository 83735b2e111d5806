"""Deploy and datastore lifecycles as the recordings and Render's spec show them
(``research/render-lifecycle.md``): phases per kind of deploy, superseded and queued
deploys, suspension and resumption, failures, and datastore states."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_support import MakeSandbox, Sandbox

from rcp.sandbox import SandboxSettings

IMAGE = {"imagePath": "nginx"}


def deploy(sandbox: Sandbox, service_id: str, deploy_id: str) -> dict[str, Any]:
    response = sandbox.client.get(f"/services/{service_id}/deploys/{deploy_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def status(sandbox: Sandbox, service_id: str, deploy_id: str) -> str:
    return str(deploy(sandbox, service_id, deploy_id)["status"])


def timeline(sandbox: Sandbox, service_id: str, deploy_id: str, steps: int) -> list[str]:
    """The deploy's status now and after each of ``steps`` equal steps of deploy_seconds."""
    seen = [status(sandbox, service_id, deploy_id)]
    for _ in range(steps):
        sandbox.clock.advance(sandbox.settings.deploy_seconds / steps)
        seen.append(status(sandbox, service_id, deploy_id))
    return seen


def image_service(sandbox: Sandbox, name: str, **details: Any) -> dict[str, Any]:
    return sandbox.create_service(
        name,
        repo=None,
        image=IMAGE,
        serviceDetails={"runtime": "image", "plan": "starter", **details},
    )


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox(SandboxSettings(deploy_seconds=6, datastore_seconds=5))


# --- deploy phases ---------------------------------------------------------------------------


def test_repo_deploy_builds_then_updates(sandbox: Sandbox) -> None:
    created = sandbox.create_service("phases-repo")
    service_id, deploy_id = created["service"]["id"], created["deployId"]
    # Two phases share deploy_seconds: build, then the new instances take over.
    assert timeline(sandbox, service_id, deploy_id, 4) == [
        "build_in_progress",
        "build_in_progress",
        "update_in_progress",
        "update_in_progress",
        "live",
    ]


def test_pre_deploy_command_runs_between_build_and_update(sandbox: Sandbox) -> None:
    body = sandbox.service_body("phases-pre")
    body["serviceDetails"]["preDeployCommand"] = "./migrate"
    created = sandbox.client.post("/services", json=body).json()
    service_id, deploy_id = created["service"]["id"], created["deployId"]
    assert timeline(sandbox, service_id, deploy_id, 3) == [
        "build_in_progress",
        "pre_deploy_in_progress",
        "update_in_progress",
        "live",
    ]


def test_image_deploys_start_at_update_or_pre_deploy(sandbox: Sandbox) -> None:
    plain = image_service(sandbox, "phases-image")
    assert status(sandbox, plain["service"]["id"], plain["deployId"]) == "update_in_progress"
    with_pre = image_service(sandbox, "phases-image-pre", preDeployCommand="./migrate")
    service_id, deploy_id = with_pre["service"]["id"], with_pre["deployId"]
    assert timeline(sandbox, service_id, deploy_id, 2) == [
        "pre_deploy_in_progress",
        "update_in_progress",
        "live",
    ]


def test_image_cron_deploys_are_live_at_once_and_static_sites_only_build(
    sandbox: Sandbox,
) -> None:
    cron = sandbox.create_service(
        "phases-cron",
        type="cron_job",
        repo=None,
        image=IMAGE,
        serviceDetails={"runtime": "image", "schedule": "0 * * * *"},
    )
    assert status(sandbox, cron["service"]["id"], cron["deployId"]) == "live"
    static = sandbox.client.post(
        "/services",
        json={
            "type": "static_site",
            "name": "phases-static",
            "ownerId": sandbox.owner_id,
            "repo": "https://github.com/render-examples/sveltekit-static",
            "serviceDetails": {"buildCommand": "npm run build", "publishPath": "build"},
        },
    ).json()
    service_id, deploy_id = static["service"]["id"], static["deployId"]
    assert timeline(sandbox, service_id, deploy_id, 2) == [
        "build_in_progress",
        "build_in_progress",
        "live",
    ]


def test_deploy_timestamps_follow_the_recordings(sandbox: Sandbox) -> None:
    created = sandbox.create_service("stamps-web")
    service_id, deploy_id = created["service"]["id"], created["deployId"]
    running = deploy(sandbox, service_id, deploy_id)
    # A running non-static deploy: an explicit null finishedAt and no startedAt.
    assert running["finishedAt"] is None and "startedAt" not in running
    sandbox.clock.advance(6)
    finished = deploy(sandbox, service_id, deploy_id)
    assert finished["status"] == "live"
    assert finished["startedAt"] == finished["createdAt"]
    assert finished["finishedAt"] == finished["updatedAt"] > finished["startedAt"]


# --- superseded, queued, deactivated ---------------------------------------------------------


def test_a_newer_deploy_cancels_the_one_in_progress(sandbox: Sandbox) -> None:
    created = sandbox.create_service("override-web")
    service_id, first = created["service"]["id"], created["deployId"]
    sandbox.clock.advance(1)
    second = sandbox.client.post(f"/services/{service_id}/deploys", json={}).json()
    assert second["status"] == "build_in_progress"
    canceled = deploy(sandbox, service_id, first)
    assert canceled["status"] == "canceled" and canceled["finishedAt"] == second["createdAt"]
    sandbox.clock.advance(6)
    assert status(sandbox, service_id, second["id"]) == "live"
    assert status(sandbox, service_id, first) == "canceled"  # never live, never deactivated
    listed = sandbox.client.get(
        f"/services/{service_id}/deploys", params={"status": "canceled"}
    ).json()
    assert [item["deploy"]["id"] for item in listed] == [first]


def test_the_previous_live_deploy_is_deactivated_when_a_newer_one_goes_live(
    sandbox: Sandbox,
) -> None:
    created = sandbox.create_service("deactivate-web")
    service_id, first = created["service"]["id"], created["deployId"]
    sandbox.clock.advance(6)
    second = sandbox.client.post(f"/services/{service_id}/deploys", json={}).json()
    # Still live while the new one builds: it serves until the new one takes over.
    assert status(sandbox, service_id, first) == "live"
    sandbox.clock.advance(6)
    assert (status(sandbox, service_id, first), status(sandbox, service_id, second["id"])) == (
        "deactivated",
        "live",
    )


def test_wait_policy_queues_and_runs_only_the_most_recent(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(SandboxSettings(deploy_seconds=6, deploy_overlap="wait"))
    created = sandbox.create_service("wait-web")
    service_id, first = created["service"]["id"], created["deployId"]
    sandbox.clock.advance(1)
    second = sandbox.client.post(f"/services/{service_id}/deploys", json={}).json()
    third = sandbox.client.post(f"/services/{service_id}/deploys", json={}).json()
    assert second["status"] == "queued" and second["finishedAt"] is None
    assert status(sandbox, service_id, first) == "build_in_progress"  # not interrupted
    assert status(sandbox, service_id, second["id"]) == "canceled"  # superseded while queued
    assert status(sandbox, service_id, third["id"]) == "queued"
    sandbox.clock.advance(5)  # the first one finishes: the third starts
    assert status(sandbox, service_id, first) == "live"
    assert status(sandbox, service_id, third["id"]) == "build_in_progress"
    sandbox.clock.advance(6)
    assert status(sandbox, service_id, third["id"]) == "live"
    assert status(sandbox, service_id, first) == "deactivated"


# --- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "seen"),
    [
        ("build_failed", ["build_in_progress", "build_failed"]),
        ("pre_deploy_failed", ["build_in_progress", "pre_deploy_in_progress", "pre_deploy_failed"]),
        ("update_failed", ["build_in_progress", "update_in_progress", "update_failed"]),
    ],
)
def test_fail_deploy_ends_in_the_phase_it_names(
    sandbox: Sandbox, state: str, seen: list[str]
) -> None:
    sandbox.client.post(
        "/__sandbox/faults",
        json={"method": "POST", "path": "/services", "action": "fail_deploy", "state": state},
    )
    created = sandbox.create_service(f"fail-{state.replace('_', '-')}")
    service_id, deploy_id = created["service"]["id"], created["deployId"]
    observed = [status(sandbox, service_id, deploy_id)]
    for _ in range(6):
        sandbox.clock.advance(1)
        current = status(sandbox, service_id, deploy_id)
        if current != observed[-1]:
            observed.append(current)
    assert observed == seen


def test_fault_rule_states_are_validated(sandbox: Sandbox) -> None:
    for rule in (
        {"action": "fail_deploy", "state": "live"},
        {"action": "datastore_status", "state": "broken"},
        {"action": "datastore_status"},
        {"action": "status", "state": "unavailable"},
    ):
        response = sandbox.client.post("/__sandbox/faults", json=rule)
        assert response.status_code == 400, rule
        assert "state" in response.json()["message"]


# --- suspension ------------------------------------------------------------------------------


def test_suspend_deactivates_the_live_deploy_and_resume_deploys_again(sandbox: Sandbox) -> None:
    created = sandbox.create_service("suspend-web")
    service_id, first = created["service"]["id"], created["deployId"]
    sandbox.clock.advance(6)
    assert sandbox.client.post(f"/services/{service_id}/suspend").status_code == 202
    assert status(sandbox, service_id, first) == "deactivated"
    assert sandbox.client.post(f"/services/{service_id}/resume").status_code == 202
    deploys = [
        item["deploy"] for item in sandbox.client.get(f"/services/{service_id}/deploys").json()
    ]
    assert [(d["trigger"], d["status"]) for d in deploys] == [
        ("service_resumed", "build_in_progress"),
        ("api", "deactivated"),
    ]
    sandbox.clock.advance(6)
    assert status(sandbox, service_id, deploys[0]["id"]) == "live"
    assert status(sandbox, service_id, first) == "deactivated"
    # Resuming a service that is not suspended starts nothing.
    sandbox.client.post(f"/services/{service_id}/resume")
    assert len(sandbox.client.get(f"/services/{service_id}/deploys").json()) == 2


def test_suspend_cancels_a_deploy_in_progress(sandbox: Sandbox) -> None:
    created = sandbox.create_service("suspend-early")
    service_id, first = created["service"]["id"], created["deployId"]
    sandbox.clock.advance(1)
    sandbox.client.post(f"/services/{service_id}/suspend")
    sandbox.clock.advance(10)
    assert status(sandbox, service_id, first) == "canceled"


# --- datastores -------------------------------------------------------------------------------


def datastore_status(sandbox: Sandbox, kind: str, resource_id: str) -> str:
    return str(sandbox.client.get(f"/{kind}/{resource_id}").json()["status"])


def test_datastores_answer_unknown_then_creating_then_available(sandbox: Sandbox) -> None:
    database = sandbox.create_postgres("life-db")
    key_value = sandbox.create_key_value("life-kv")
    assert database["status"] == key_value["status"] == "unknown"
    assert datastore_status(sandbox, "postgres", database["id"]) == "creating"
    assert datastore_status(sandbox, "key-value", key_value["id"]) == "creating"
    sandbox.clock.advance(5)
    assert datastore_status(sandbox, "postgres", database["id"]) == "available"
    assert datastore_status(sandbox, "key-value", key_value["id"]) == "available"


def test_a_postgres_plan_change_restarts_it_other_changes_do_not(sandbox: Sandbox) -> None:
    database = sandbox.create_postgres("restart-db", plan="pro_4gb")
    sandbox.clock.advance(5)
    path = f"/postgres/{database['id']}"
    changed = sandbox.client.patch(path, json={"parameterOverrides": {"work_mem": "8MB"}})
    assert changed.json()["status"] == "available"
    sandbox.client.patch(path, json={"ipAllowList": [{"cidrBlock": "10.0.0.0/8"}]})
    assert datastore_status(sandbox, "postgres", database["id"]) == "available"
    assert sandbox.client.patch(path, json={"plan": "pro_8gb"}).json()["status"] == "creating"
    sandbox.clock.advance(5)
    assert datastore_status(sandbox, "postgres", database["id"]) == "available"


def test_a_key_value_plan_change_moves_persistence_with_the_free_plan(sandbox: Sandbox) -> None:
    free = sandbox.create_key_value("free-kv", plan="free")
    assert free["options"]["persistenceMode"] == "off"
    sandbox.clock.advance(5)
    upgraded = sandbox.client.patch(f"/key-value/{free['id']}", json={"plan": "starter"}).json()
    assert upgraded["options"]["persistenceMode"] == "journal_snapshot"
    assert upgraded["status"] == "creating"


def test_transient_datastore_states_are_injected_by_a_fault_rule(sandbox: Sandbox) -> None:
    database = sandbox.create_postgres("transient-db")
    sandbox.clock.advance(5)
    rules = [
        {
            "method": "GET",
            "path": "/postgres/*",
            "nth": [1, 2],
            "action": "datastore_status",
            "state": "unavailable",
        },
        {
            "method": "GET",
            "path": "/postgres/*",
            "nth": [3],
            "action": "datastore_status",
            "state": "config_restart",
        },
    ]
    assert sandbox.client.post("/__sandbox/faults", json=rules).status_code == 201
    seen = [datastore_status(sandbox, "postgres", database["id"]) for _ in range(4)]
    assert seen == ["unavailable", "unavailable", "config_restart", "available"]


# --- env vars ---------------------------------------------------------------------------------


def test_replacing_env_vars_gives_every_variable_a_new_cursor(sandbox: Sandbox) -> None:
    service_id = sandbox.create_service("cursor-web")["service"]["id"]
    path = f"/services/{service_id}/env-vars"
    first = sandbox.client.put(path, json=[{"key": "foo", "value": "1"}]).json()
    second = sandbox.client.put(
        path, json=[{"key": "baz", "value": "2"}, {"key": "foo", "value": "1"}]
    ).json()
    # The answer in the order sent; the list newest first; foo's cursor is new.
    assert [item["envVar"]["key"] for item in second] == ["baz", "foo"]
    assert second[1]["cursor"] != first[0]["cursor"]
    listed = sandbox.client.get(path).json()
    assert [item["envVar"]["key"] for item in listed] == ["foo", "baz"]
    after_last = sandbox.client.get(path, params={"cursor": listed[-1]["cursor"]}).json()
    assert after_last == []


def test_a_deferred_resume_deploy_leaves_the_deactivated_one_latest_for_a_moment(
    sandbox: Sandbox,
) -> None:
    service_id = sandbox.create_service("defer-web")["service"]["id"]
    sandbox.clock.advance(6)
    sandbox.client.post(f"/services/{service_id}/suspend")
    sandbox.client.post(
        "/__sandbox/faults",
        json={
            "method": "POST",
            "path": "/services/*/resume",
            "action": "defer_deploy",
            "seconds": 2,
        },
    )
    assert sandbox.client.post(f"/services/{service_id}/resume").status_code == 202

    def history() -> list[tuple[str, str]]:
        items = sandbox.client.get(f"/services/{service_id}/deploys").json()
        return [(item["deploy"]["trigger"], item["deploy"]["status"]) for item in items]

    assert history() == [("api", "deactivated")]
    sandbox.clock.advance(2)
    assert history() == [("service_resumed", "build_in_progress"), ("api", "deactivated")]
