"""``GET /logs`` of the sandbox (issue 13 item 2): the spec's parameters, validation and
pagination, and the lines it generates for builds, deploys, failures, cancellations,
datastores starting and restarting, and suspensions — on the injected clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sandbox_support import START, MakeSandbox, Sandbox

from rcp.sandbox import SandboxSettings


def logs(sandbox: Sandbox, *resources: str, expect: int = 200, **params: Any) -> Any:
    query = {"ownerId": sandbox.owner_id, "resource": ",".join(resources), **params}
    response = sandbox.client.get("/logs", params=query)
    assert response.status_code == expect, response.text
    return response.json()


def messages(sandbox: Sandbox, *resources: str, **params: Any) -> list[str]:
    page = logs(sandbox, *resources, direction="forward", limit=100, **params)
    assert page["hasMore"] is False
    return [line["message"] for line in page["logs"]]


def labels(line: dict[str, Any]) -> dict[str, str]:
    return {label["name"]: label["value"] for label in line["labels"]}


def test_a_deploy_prints_each_phase_as_it_starts_and_its_outcome(sandbox: Sandbox) -> None:
    web = sandbox.create_service("logs-web")["service"]["id"]
    commit = sandbox.client.get(f"/services/{web}/deploys").json()[0]["deploy"]["commit"]["id"]
    building = [
        "==> Cloning from https://github.com/render-examples/express-hello-world",
        f"==> Checking out commit {commit} in branch main",
        "==> Running build command 'npm install'...",
    ]
    assert messages(sandbox, web) == building  # lines exist once their time has come
    sandbox.clock.advance(1.5)  # default 3 s deploy: build, then update
    updating = ["==> Build successful 🎉", "==> Deploying...", "==> Running 'npm start'"]
    assert messages(sandbox, web) == building + updating
    sandbox.clock.advance(1.5)
    assert messages(sandbox, web)[-2:] == ["==> Your service is live 🎉", "logs-web started"]
    lines = logs(sandbox, web, direction="forward")["logs"]
    assert {labels(line)["type"] for line in lines[:-1]} == {"build"}
    app = labels(lines[-1])
    assert app["type"] == "app" and app["instance"].startswith(f"{web}-")
    assert all(
        labels(line)["resource"] == web and labels(line)["level"] == "info" for line in lines
    )
    stamps = [line["timestamp"] for line in lines]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert datetime.fromisoformat(stamps[0]) == datetime.fromtimestamp(START, UTC)


@pytest.mark.parametrize(
    ("state", "last"),
    [
        ("build_failed", "==> Build failed 😞"),
        ("pre_deploy_failed", "==> Pre-deploy command failed: exited with status 1"),
        ("update_failed", "==> Deploy failed: the new instance exited before it became healthy"),
    ],
)
def test_a_failed_deploy_ends_with_an_error_line(sandbox: Sandbox, state: str, last: str) -> None:
    sandbox.client.post(
        "/__sandbox/faults",
        json={"method": "POST", "path": "/services", "action": "fail_deploy", "state": state},
    )
    web = sandbox.create_service("failing-web")["service"]["id"]
    sandbox.clock.advance(10)
    lines = logs(sandbox, web, direction="forward")["logs"]
    assert lines[-1]["message"] == last
    assert labels(lines[-1])["level"] == "error"
    if state == "pre_deploy_failed":
        assert "==> Running pre-deploy command '(pre-deploy command)'..." in messages(sandbox, web)
    assert "==> Your service is live 🎉" not in messages(sandbox, web)


def test_a_superseded_deploy_ends_canceled(sandbox: Sandbox) -> None:
    web = sandbox.create_service("busy-web")["service"]["id"]
    sandbox.clock.advance(1)
    sandbox.client.post(f"/services/{web}/deploys", json={})
    sandbox.clock.advance(10)
    found = messages(sandbox, web)
    canceled = "==> Deploy canceled: a newer deploy or a suspension replaced it"
    assert found.count(canceled) == 1
    assert found.count("==> Your service is live 🎉") == 1  # only the newer deploy
    assert found.index(canceled) < found.index("==> Your service is live 🎉")


def test_datastores_start_restart_and_suspensions_stop(sandbox: Sandbox) -> None:
    db = sandbox.create_postgres("logs-db")["id"]
    assert messages(sandbox, db) == ["LOG:  starting PostgreSQL 16"]
    sandbox.clock.advance(5)
    ready = "LOG:  database system is ready to accept connections"
    assert messages(sandbox, db) == ["LOG:  starting PostgreSQL 16", ready]
    assert sandbox.client.patch(f"/postgres/{db}", json={"plan": "pro_4gb"}).status_code == 200
    assert messages(sandbox, db)[-1] == "LOG:  received fast shutdown request"
    sandbox.clock.advance(5)
    assert messages(sandbox, db)[-2:] == ["LOG:  received fast shutdown request", ready]
    kv = sandbox.create_key_value("logs-kv")["id"]
    sandbox.clock.advance(5)
    assert messages(sandbox, kv) == ["Server initialized", "Ready to accept connections tcp"]
    sandbox.client.post(f"/key-value/{kv}/suspend")
    assert messages(sandbox, kv)[-1] == "==> Suspended: instances stopped"


def test_pages_backward_and_forward_cover_every_line_once(sandbox: Sandbox) -> None:
    web = sandbox.create_service("paged-web")["service"]["id"]
    for _ in range(3):
        sandbox.clock.advance(5)
        sandbox.client.post(f"/services/{web}/deploys", json={})
    sandbox.clock.advance(5)
    everything = logs(sandbox, web, direction="forward", limit=100)["logs"]
    assert len(everything) == 32  # 8 lines for each of 4 deploys

    for direction, expected in (("backward", everything[::-1]), ("forward", everything)):
        seen: list[dict[str, Any]] = []
        params: dict[str, Any] = {"direction": direction, "limit": 7}
        pages = 0
        while True:
            page = logs(sandbox, web, **params)
            pages += 1
            seen.extend(page["logs"])
            if not page["hasMore"]:
                break
            params["startTime"], params["endTime"] = page["nextStartTime"], page["nextEndTime"]
        assert seen == expected
        assert pages == 5


def test_the_window_and_the_filters(sandbox: Sandbox) -> None:
    web = sandbox.create_service("window-web")["service"]["id"]
    sandbox.clock.advance(3700)
    assert logs(sandbox, web)["logs"] == []  # startTime defaults to an hour ago
    assert len(logs(sandbox, web, startTime=START - 1)["logs"]) == 8  # epoch seconds
    since = datetime.fromtimestamp(START + 1.5, UTC).isoformat()
    assert messages(sandbox, web, startTime=since)[0] == "==> Build successful 🎉"
    until = datetime.fromtimestamp(START + 1, UTC).isoformat().replace("+00:00", "Z")
    assert len(messages(sandbox, web, startTime=START, endTime=until)) == 3
    assert messages(sandbox, web, startTime=START, type="app") == ["window-web started"]
    assert messages(sandbox, web, startTime=START, text="*successful*") == [
        "==> Build successful 🎉"
    ]
    assert messages(sandbox, web, startTime=START, text="/live/") == ["==> Your service is live 🎉"]
    assert messages(sandbox, web, startTime=START, level="error") == []
    assert messages(sandbox, web, startTime=START, host="*") == []  # no request logs


def test_lines_of_several_resources_are_merged(sandbox: Sandbox) -> None:
    web = sandbox.create_service("merged-web")["service"]["id"]
    db = sandbox.create_postgres("merged-db", region="oregon")["id"]
    sandbox.clock.advance(10)
    lines = logs(sandbox, web, db, direction="forward", limit=100)["logs"]
    assert {labels(line)["resource"] for line in lines} == {web, db}
    stamps = [line["timestamp"] for line in lines]
    assert stamps == sorted(stamps)


def test_bad_requests(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(SandboxSettings(owners=2))
    web = sandbox.create_service("bad-web")["service"]["id"]
    frankfurt = sandbox.create_postgres("bad-db", region="frankfurt")["id"]
    other_owner = sandbox.client.get("/owners").json()[1]["owner"]["id"]
    theirs = sandbox.create_postgres("their-db", ownerId=other_owner, region="oregon")["id"]
    get = sandbox.client.get
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"resource": web}, 400, "ownerId is required"),
        ({"ownerId": sandbox.owner_id}, 400, "resource is required"),
        ({"ownerId": "tea-nobody", "resource": web}, 404, "not found"),
        ({"ownerId": sandbox.owner_id, "resource": "srv-nothing"}, 404, "not found"),
        ({"ownerId": sandbox.owner_id, "resource": f"{web},{frankfurt}"}, 400, "same region"),
        ({"ownerId": sandbox.owner_id, "resource": f"{web},{theirs}"}, 400, "belong to the owner"),
        ({"ownerId": sandbox.owner_id, "resource": web, "startTime": "soon"}, 400, "startTime"),
        (
            {"ownerId": sandbox.owner_id, "resource": web, "endTime": "2026-01-01T00:00:00"},
            400,
            "time zone",
        ),
        (
            {
                "ownerId": sandbox.owner_id,
                "resource": web,
                "startTime": START + 10,
                "endTime": START,
            },
            400,
            "after endTime",
        ),
        ({"ownerId": sandbox.owner_id, "resource": web, "direction": "sideways"}, 400, "direction"),
        ({"ownerId": sandbox.owner_id, "resource": web, "limit": 0}, 400, "limit"),
        ({"ownerId": sandbox.owner_id, "resource": web, "limit": 101}, 400, "limit"),
        ({"ownerId": sandbox.owner_id, "resource": web, "text": "/(/"}, 400, "regular expression"),
    ]
    for params, status, message in cases:
        response = get("/logs", params=params)
        assert response.status_code == status, (params, response.text)
        assert message in response.json()["message"], (params, response.text)
