"""Render behaviour the sandbox reproduces: validation, pagination, errors, headers,
rate limits and asynchronous progress on the injected clock."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sandbox_support import FakeClock, MakeSandbox, Sandbox

from rcp.sandbox import SandboxSettings

XID = "[0-9a-v]{20}"


# --- ids, owner, auth -----------------------------------------------------------------------


def test_one_workspace_and_a_user(sandbox: Sandbox) -> None:
    owners = sandbox.client.get("/owners").json()
    assert len(owners) == 1
    owner = owners[0]["owner"]
    assert re.fullmatch(f"tea-{XID}", owner["id"])
    assert owner["type"] == "team"
    assert sandbox.client.get(f"/owners/{owner['id']}").json() == owner
    user = sandbox.client.get("/users").json()
    assert set(user) == {"email", "name"}


def test_ids_have_render_formats(sandbox: Sandbox) -> None:
    web = sandbox.create_service("ids-web")
    cron = sandbox.create_service(
        "ids-cron",
        type="cron_job",
        serviceDetails={
            "runtime": "node",
            "schedule": "*/5 * * * *",
            "envSpecificDetails": {"buildCommand": "npm i", "startCommand": "node job.js"},
        },
    )
    assert re.fullmatch(f"srv-{XID}", web["service"]["id"])
    assert re.fullmatch(f"dep-{XID}", web["deployId"])
    assert re.fullmatch(f"crn-{XID}", cron["service"]["id"])
    assert re.fullmatch(f"dpg-{XID}-a", sandbox.create_postgres("ids-db")["id"])
    assert re.fullmatch(f"red-{XID}", sandbox.create_key_value("ids-kv")["id"])


@pytest.mark.parametrize("api_key", [None, ""])
def test_requests_without_a_bearer_key_are_refused(
    make_sandbox: MakeSandbox, api_key: str | None
) -> None:
    sandbox = make_sandbox(api_key=api_key)
    response = sandbox.client.get("/services")
    assert response.status_code == 401
    assert response.json()["message"]
    assert {
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "render-request-id",
    } <= set(response.headers)


def test_every_response_carries_rate_limit_and_request_id_headers(sandbox: Sandbox) -> None:
    answers = [
        sandbox.client.get("/owners"),
        sandbox.client.get("/services/srv-missing"),
        sandbox.client.post("/services", json={}),
        sandbox.client.post("/postgres", json={"name": "x"}),
    ]
    created = sandbox.create_service("headers-web")
    answers.append(sandbox.client.post(f"/services/{created['service']['id']}/suspend"))
    answers.append(sandbox.client.delete(f"/services/{created['service']['id']}"))
    for answer in answers:
        for header in (
            "Ratelimit-Limit",
            "Ratelimit-Remaining",
            "Ratelimit-Reset",
            "Render-Request-Id",
        ):
            assert answer.headers.get(header), (answer.request.url, header)
    assert answers[-1].status_code == 204 and answers[-1].content == b""
    assert answers[-2].status_code == 202 and answers[-2].content == b""


# --- request validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"name": None}, "name"),
        ({"ownerId": None}, "ownerId"),
        ({"type": "lambda"}, "type"),
        ({"serviceDetails": {"plan": "starter"}}, "runtime"),
        ({"serviceDetails": {"runtime": "cobol"}}, "runtime"),
        (
            {
                "serviceDetails": {
                    "runtime": "node",
                    "region": "mars",
                    "envSpecificDetails": {"buildCommand": "b", "startCommand": "s"},
                }
            },
            "region",
        ),
        (
            {
                "serviceDetails": {
                    "runtime": "node",
                    "plan": "gigantic",
                    "envSpecificDetails": {"buildCommand": "b", "startCommand": "s"},
                }
            },
            "plan",
        ),
        ({"repo": None}, "repo"),
        ({"ownerId": "tea-00000000000000000000"}, "ownerId"),
    ],
)
def test_invalid_service_creates_are_400_with_a_message(
    sandbox: Sandbox, change: dict[str, object], fragment: str
) -> None:
    body = sandbox.service_body("invalid-web")
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    response = sandbox.client.post("/services", json=body)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["message"]
    assert sandbox.client.get("/services").json() == []  # nothing was created


def test_free_plan_services_are_refused(sandbox: Sandbox) -> None:
    body = sandbox.service_body("free-web")
    body["serviceDetails"]["plan"] = "free"
    response = sandbox.client.post("/services", json=body)
    assert response.status_code == 400
    assert "free" in response.json()["message"]


def test_service_names_are_unique_in_the_workspace(sandbox: Sandbox) -> None:
    sandbox.create_service("unique-web")
    response = sandbox.client.post("/services", json=sandbox.service_body("unique-web"))
    assert response.status_code == 409
    assert "unique-web" in response.json()["message"]


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/postgres", {"name": "db", "plan": "basic_256mb", "version": "16"}, "ownerId"),
        ("/postgres", {"name": "db", "plan": "huge", "version": "16"}, "plan"),
        ("/postgres", {"name": "db", "plan": "basic_256mb", "version": "9"}, "version"),
        ("/postgres", {"plan": "basic_256mb", "version": "16"}, "name"),
        ("/key-value", {"name": "kv", "plan": "enormous"}, "plan"),
        (
            "/key-value",
            {"name": "kv", "plan": "starter", "maxmemoryPolicy": "lru"},
            "maxmemoryPolicy",
        ),
    ],
)
def test_invalid_datastore_creates_are_400(
    sandbox: Sandbox, path: str, body: dict[str, object], fragment: str
) -> None:
    if fragment != "ownerId":
        body = {**body, "ownerId": sandbox.owner_id}
    response = sandbox.client.post(path, json=body)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["message"]


def test_env_var_bodies_are_validated(sandbox: Sandbox) -> None:
    service_id = sandbox.create_service("env-web")["service"]["id"]
    assert (
        sandbox.client.put(f"/services/{service_id}/env-vars", json=[{"key": "A"}]).status_code
        == 400
    )
    assert sandbox.client.put(f"/services/{service_id}/env-vars/A", json={}).status_code == 400
    assert (
        sandbox.client.put(f"/services/{service_id}/env-vars", content=b"{not json").status_code
        == 400
    )


# --- behaviour ------------------------------------------------------------------------------


def test_missing_resources_are_404_with_renders_message(sandbox: Sandbox) -> None:
    for path in ("/services/srv-nope", "/postgres/dpg-nope-a", "/key-value/red-nope"):
        response = sandbox.client.get(path)
        assert response.status_code == 404
        assert response.json() == {"message": f"not found: {path.rsplit('/', 1)[1]}"}
    service_id = sandbox.create_service("gone-web")["service"]["id"]
    assert sandbox.client.delete(f"/services/{service_id}").status_code == 204
    assert sandbox.client.get(f"/services/{service_id}").json() == {
        "message": f"not found: {service_id}"
    }
    assert sandbox.client.delete(f"/services/{service_id}").status_code == 404


def test_create_service_answers_service_and_deploy_id(sandbox: Sandbox) -> None:
    created = sandbox.create_service("shape-web", envVars=[{"key": "K", "generateValue": True}])
    assert set(created) == {"service", "deployId"}
    service = created["service"]
    assert service["suspended"] == "not_suspended" and service["suspenders"] == []
    assert service["serviceDetails"]["url"] == "https://shape-web.onrender.com"
    value = sandbox.client.get(f"/services/{service['id']}/env-vars/K").json()["value"]
    assert len(value) == 44  # base64 of 256 random bits
    deploys = sandbox.client.get(f"/services/{service['id']}/deploys").json()
    assert [item["deploy"]["id"] for item in deploys] == [created["deployId"]]


def test_list_filters(sandbox: Sandbox) -> None:
    sandbox.create_service("filter-web")
    worker = sandbox.create_service("filter-worker", type="background_worker")["service"]
    sandbox.client.post(f"/services/{worker['id']}/suspend")
    by_name = sandbox.client.get(
        "/services", params={"name": "filter-web", "ownerId": sandbox.owner_id}
    ).json()
    assert [item["service"]["name"] for item in by_name] == ["filter-web"]
    by_type = sandbox.client.get("/services", params={"type": "background_worker,cron_job"}).json()
    assert [item["service"]["id"] for item in by_type] == [worker["id"]]
    suspended = sandbox.client.get("/services", params={"suspended": "suspended"}).json()
    assert [item["service"]["id"] for item in suspended] == [worker["id"]]
    assert sandbox.client.get("/services", params={"ownerId": "tea-someoneelse"}).json() == []
    assert sandbox.client.get("/services", params={"type": "lambda"}).status_code == 400
    sandbox.create_postgres("filter-db")
    assert len(sandbox.client.get("/postgres", params={"name": "filter-db"}).json()) == 1
    assert sandbox.client.get("/postgres", params={"name": "other"}).json() == []


def test_cursor_pagination_walks_every_item_once(sandbox: Sandbox) -> None:
    created = {sandbox.create_service(f"page-{index}")["service"]["id"] for index in range(7)}
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = sandbox.client.get("/services", params=params).json()
        pages += 1
        if not page:
            break
        assert len(page) <= 3
        assert all(set(item) == {"cursor", "service"} for item in page)
        seen.extend(item["service"]["id"] for item in page)
        cursor = page[-1]["cursor"]
    assert pages == 4  # 3 + 3 + 1, then the empty array
    assert sorted(seen) == sorted(created) and len(seen) == len(set(seen))
    assert len(sandbox.client.get("/services").json()) == 7  # default limit 20


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_limit_outside_1_to_100_is_400(sandbox: Sandbox, limit: str) -> None:
    assert sandbox.client.get("/services", params={"limit": limit}).status_code == 400


def test_bad_cursor_is_400(sandbox: Sandbox) -> None:
    assert sandbox.client.get("/services", params={"cursor": "%%%"}).status_code == 400


def test_env_vars_put_all_replaces_and_single_key_upserts(sandbox: Sandbox) -> None:
    service_id = sandbox.create_service("envs-web", envVars=[{"key": "OLD", "value": "1"}])[
        "service"
    ]["id"]
    replaced = sandbox.client.put(
        f"/services/{service_id}/env-vars",
        json=[{"key": "A", "value": "1"}, {"key": "B", "value": "2"}],
    ).json()
    assert sorted(item["envVar"]["key"] for item in replaced) == ["A", "B"]
    assert sandbox.client.get(f"/services/{service_id}/env-vars/OLD").status_code == 404
    assert sandbox.client.put(f"/services/{service_id}/env-vars/A", json={"value": "9"}).json() == {
        "key": "A",
        "value": "9",
    }
    assert sandbox.client.delete(f"/services/{service_id}/env-vars/B").status_code == 204
    listed = sandbox.client.get(f"/services/{service_id}/env-vars").json()
    assert [item["envVar"] for item in listed] == [{"key": "A", "value": "9"}]


def test_suspend_and_resume(sandbox: Sandbox) -> None:
    service_id = sandbox.create_service("pause-web")["service"]["id"]
    assert sandbox.client.post(f"/services/{service_id}/suspend").status_code == 202
    service = sandbox.client.get(f"/services/{service_id}").json()
    assert (service["suspended"], service["suspenders"]) == ("suspended", ["user"])
    assert sandbox.client.post(f"/services/{service_id}/resume").status_code == 202
    assert sandbox.client.get(f"/services/{service_id}").json()["suspended"] == "not_suspended"
    database_id = sandbox.create_postgres("pause-db")["id"]
    sandbox.client.post(f"/postgres/{database_id}/suspend")
    database = sandbox.client.get(f"/postgres/{database_id}").json()
    assert (database["status"], database["suspended"]) == ("suspended", "suspended")


def test_postgres_names_and_connection_strings(sandbox: Sandbox) -> None:
    database = sandbox.create_postgres("tenant-db", databaseName="app", databaseUser="app_user")
    assert re.fullmatch(r"app_[a-z0-9]{4}", database["databaseName"])
    assert database["databaseUser"] == "app_user"
    derived = sandbox.create_postgres("Other DB")
    assert re.fullmatch(r"other_db_[a-z0-9]{4}", derived["databaseName"])
    assert derived["databaseUser"] == f"{derived['databaseName']}_user"
    info = sandbox.client.get(f"/postgres/{database['id']}/connection-info").json()
    password = info["password"]
    assert info["internalConnectionString"] == (
        f"postgresql://app_user:{password}@{database['id']}/{database['databaseName']}"
    )
    assert info["externalConnectionString"].startswith(
        f"postgresql://app_user:{password}@{database['id']}.oregon-postgres.render.com:5432/"
    )
    key_value = sandbox.create_key_value("tenant-kv")
    kv_info = sandbox.client.get(f"/key-value/{key_value['id']}/connection-info").json()
    assert kv_info["internalConnectionString"] == f"redis://{key_value['id']}:6379"


# --- progress on the clock ------------------------------------------------------------------


def test_deploys_go_live_after_deploy_seconds(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(SandboxSettings(deploy_seconds=3))
    created = sandbox.create_service("clock-web")
    service_id, first = created["service"]["id"], created["deployId"]

    def status(deploy_id: str) -> str:
        return str(
            sandbox.client.get(f"/services/{service_id}/deploys/{deploy_id}").json()["status"]
        )

    # A repo deploy builds, then updates; the two phases share deploy_seconds.
    assert status(first) == "build_in_progress"
    sandbox.clock.advance(1.4)
    assert status(first) == "build_in_progress"
    sandbox.clock.advance(0.2)
    assert status(first) == "update_in_progress"
    sandbox.clock.advance(1.3)
    assert status(first) == "update_in_progress"
    sandbox.clock.advance(0.2)
    assert status(first) == "live"
    second = sandbox.client.post(f"/services/{service_id}/deploys", json={}).json()
    assert second["status"] == "build_in_progress"
    sandbox.clock.advance(3)
    assert (status(first), status(second["id"])) == ("deactivated", "live")
    listed = sandbox.client.get(f"/services/{service_id}/deploys").json()
    assert [item["deploy"]["id"] for item in listed] == [second["id"], first]  # newest first
    live_only = sandbox.client.get(
        f"/services/{service_id}/deploys", params={"status": "live"}
    ).json()
    assert [item["deploy"]["id"] for item in live_only] == [second["id"]]


def test_datastores_become_available_after_datastore_seconds(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(SandboxSettings(datastore_seconds=5))
    database = sandbox.create_postgres("clock-db")
    key_value = sandbox.create_key_value("clock-kv")
    # The create answers say "unknown", every read after it "creating" (as recorded).
    assert database["status"] == key_value["status"] == "unknown"
    assert sandbox.client.get(f"/key-value/{key_value['id']}").json()["status"] == "creating"
    sandbox.clock.advance(4.9)
    assert sandbox.client.get(f"/postgres/{database['id']}").json()["status"] == "creating"
    sandbox.clock.advance(0.1)
    assert sandbox.client.get(f"/postgres/{database['id']}").json()["status"] == "available"
    assert sandbox.client.get(f"/key-value/{key_value['id']}").json()["status"] == "available"


# --- rate limits ----------------------------------------------------------------------------


def _postgres_body(sandbox: Sandbox, name: str) -> dict[str, Any]:
    return {"name": name, "ownerId": sandbox.owner_id, "plan": "basic_256mb", "version": "16"}


def test_creation_counters_are_20_per_clock_hour_and_separate_by_default(
    sandbox: Sandbox,
) -> None:
    for index in range(20):
        response = sandbox.client.post("/services", json=sandbox.service_body(f"bucket-{index}"))
        assert response.status_code == 201
        assert response.headers["Ratelimit-Limit"] == "20"
        assert response.headers["Ratelimit-Remaining"] == str(19 - index)
    refused = sandbox.client.post("/services", json=sandbox.service_body("bucket-20"))
    assert refused.status_code == 429
    assert refused.json()["message"]
    assert refused.headers["Ratelimit-Remaining"] == "0"
    # The window ends on the clock hour, as in every recorded create answer (Date + Reset).
    reset = int(refused.headers["Ratelimit-Reset"])
    assert (sandbox.clock.now + reset) % 3600 == 0 and 0 < reset <= 3600
    # Postgres and Key Value count their own creations.
    database = sandbox.client.post("/postgres", json=_postgres_body(sandbox, "db"))
    assert database.status_code == 201 and database.headers["Ratelimit-Remaining"] == "19"
    key_value = sandbox.create_key_value("kv")
    assert key_value["name"] == "kv"
    sandbox.clock.advance(reset)
    again = sandbox.client.post("/services", json=sandbox.service_body("after-the-hour"))
    assert again.status_code == 201 and again.headers["Ratelimit-Remaining"] == "19"


def test_key_value_and_redis_creates_share_a_counter(sandbox: Sandbox) -> None:
    """Recordings: the first /redis create of an hour answered Remaining 5 after Key Value
    creates had brought it to 8."""
    sandbox.create_key_value("kv-1")
    sandbox.create_key_value("kv-2")
    legacy = sandbox.client.post("/redis", json={"name": "r", "ownerId": sandbox.owner_id})
    assert legacy.headers["Ratelimit-Remaining"] == "17"


def test_shared_create_counter_switch(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(SandboxSettings(create_counters="shared"))
    for index in range(20):
        assert (
            sandbox.client.post("/services", json=sandbox.service_body(f"s-{index}")).status_code
            == 201
        )
    refused = sandbox.client.post("/postgres", json=_postgres_body(sandbox, "db"))
    assert refused.status_code == 429 and refused.headers["Ratelimit-Remaining"] == "0"
    assert sandbox.state()["settings"]["createCounters"] == "shared"


def test_a_raised_create_quota_is_allowed_and_advertised(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(SandboxSettings(create_limit=1000))
    for index in range(25):
        response = sandbox.client.post("/services", json=sandbox.service_body(f"q-{index}"))
        assert response.status_code == 201
    assert response.headers["Ratelimit-Limit"] == "1000"
    assert response.headers["Ratelimit-Remaining"] == "975"


def test_scaled_windows_report_reset_in_real_seconds(make_sandbox: MakeSandbox) -> None:
    """At 1/720 an hour window lasts 5 s; Reset counts whole simulated seconds (1/720 s)."""
    clock = FakeClock(start=1_780_000_002.0)  # 2 s into a 5 s window
    sandbox = make_sandbox(SandboxSettings(rate_window_scale=1 / 720), clock=clock)
    response = sandbox.client.post("/services", json=sandbox.service_body("scaled"))
    assert abs(float(response.headers["Ratelimit-Reset"]) - 3.0) < 1e-6
    clock.advance(1.2345)
    response = sandbox.client.post("/services", json=sandbox.service_body("scaled-2"))
    reset = float(response.headers["Ratelimit-Reset"])
    assert 1.7655 <= reset < 1.7655 + 1 / 720 and response.headers["Ratelimit-Remaining"] == "18"


def test_deploys_are_limited_per_service(sandbox: Sandbox) -> None:
    first = sandbox.create_service("deploys-a")["service"]["id"]
    second = sandbox.create_service("deploys-b")["service"]["id"]
    for _ in range(10):
        assert sandbox.client.post(f"/services/{first}/deploys", json={}).status_code == 201
    assert sandbox.client.post(f"/services/{first}/deploys", json={}).status_code == 429
    assert sandbox.client.patch(f"/services/{first}", json={"name": "x"}).status_code == 429
    assert sandbox.client.post(f"/services/{second}/deploys", json={}).status_code == 201
    sandbox.clock.advance(60)
    assert sandbox.client.post(f"/services/{first}/deploys", json={}).status_code == 201


def test_get_bucket_is_400_per_minute_and_writes_100(sandbox: Sandbox) -> None:
    service_id = sandbox.create_service("writes-web")["service"]["id"]  # uses one GET (owner)
    for _ in range(398):
        sandbox.client.get("/users")
    last = sandbox.client.get("/users")
    assert (
        last.status_code,
        last.headers["Ratelimit-Limit"],
        last.headers["Ratelimit-Remaining"],
    ) == (200, "400", "0")
    assert sandbox.client.get("/users").status_code == 429
    statuses = [
        sandbox.client.put(f"/services/{service_id}/env-vars/K", json={"value": "v"}).status_code
        for _ in range(101)
    ]
    # Every recorded write answer reports Limit 100 (Render's docs say 30).
    assert statuses[:100] == [200] * 100 and statuses[100] == 429


def test_logs_have_their_own_bucket_of_30_per_minute(sandbox: Sandbox) -> None:
    web = sandbox.create_service("logs-limit-web")["service"]["id"]
    query = {"ownerId": sandbox.owner_id, "resource": web}
    answers = [sandbox.client.get("/logs", params=query) for _ in range(31)]
    assert [a.status_code for a in answers[:30]] == [200] * 30
    assert answers[29].headers["Ratelimit-Limit"] == "30"
    assert answers[29].headers["Ratelimit-Remaining"] == "0"
    assert answers[30].status_code == 429
    assert sandbox.client.get("/users").status_code == 200  # other reads are not held up
    sandbox.clock.advance(60)
    assert sandbox.client.get("/logs", params=query).status_code == 200


def test_rate_limits_off_never_refuses(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(SandboxSettings(rate_limits="off"))
    for index in range(25):
        assert (
            sandbox.client.post("/services", json=sandbox.service_body(f"off-{index}")).status_code
            == 201
        )
    assert sandbox.client.get("/owners").headers["Ratelimit-Limit"] == "400"


# --- request log and state ------------------------------------------------------------------


def test_state_dump_and_request_log(sandbox: Sandbox) -> None:
    created = sandbox.create_service("state-web", envVars=[{"key": "A", "value": "1"}])
    sandbox.create_postgres("state-db")
    sandbox.client.get("/services/srv-missing")
    state = sandbox.state()
    assert state["owner"]["id"] == sandbox.owner_id
    assert [service["name"] for service in state["services"]] == ["state-web"]
    assert state["envVars"][created["service"]["id"]] == [{"key": "A", "value": "1"}]
    assert [deploy["id"] for deploy in state["deploys"][created["service"]["id"]]] == [
        created["deployId"]
    ]
    assert state["postgres"][0]["password"]
    logged = [(entry["method"], entry["path"], entry["status"]) for entry in state["requests"]]
    assert ("POST", "/v1/services", 201) in logged
    assert ("POST", "/v1/postgres", 201) in logged
    assert logged[-1] == ("GET", "/v1/services/srv-missing", 404)
    assert all(entry["requestId"] for entry in state["requests"])


def test_reset_wipes_the_world(sandbox: Sandbox) -> None:
    old_owner = sandbox.owner_id
    sandbox.create_service("reset-web")
    assert sandbox.client.post("/__sandbox/reset").status_code == 204
    state = sandbox.state()
    assert state["services"] == [] and state["requests"] == []
    assert state["owner"]["id"] != old_owner


def test_rate_window_scale_shortens_every_window(make_sandbox: MakeSandbox) -> None:
    settings = SandboxSettings.from_env({"RCP_SANDBOX_RATE_WINDOW_SCALE": "1/360"})
    assert settings.rate_window_scale == pytest.approx(1 / 360)
    sandbox = make_sandbox(settings)
    for index in range(20):
        assert (
            sandbox.client.post("/services", json=sandbox.service_body(f"fast-{index}")).status_code
            == 201
        )
    refused = sandbox.client.post("/services", json=sandbox.service_body("fast-20"))
    assert refused.status_code == 429
    assert float(refused.headers["Ratelimit-Reset"]) <= 10  # an hour / 360
    sandbox.clock.advance(10)
    assert sandbox.client.post("/services", json=sandbox.service_body("fast-20")).status_code == 201
    assert sandbox.state()["settings"]["rateWindowScale"] == pytest.approx(1 / 360)
    with pytest.raises(ValueError, match="RCP_SANDBOX_RATE_WINDOW_SCALE"):
        SandboxSettings.from_env({"RCP_SANDBOX_RATE_WINDOW_SCALE": "0"})
