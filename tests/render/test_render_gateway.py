"""Gateway: the RenderGateway port over the client (workspace, lookups, states, deletes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from render_helpers import Recorder, json_response, make_client, service_json

from rcp.core.models import RemoteResource, ResourceKind
from rcp.errors import ConfigError, RenderServerError
from rcp.render.gateway import Gateway

OWNER = "tea-d0000000000000000001"
SRV = "srv-d0000000000000000002"
DPG = "dpg-d0000000000000000003-a"
RED = "red-d0000000000000000004"

Routes = dict[tuple[str, str], Callable[[httpx.Request], httpx.Response] | httpx.Response]


def gateway_with(routes: Routes, owner_id: str | None = OWNER) -> tuple[Gateway, Recorder]:
    """A gateway on ``routes``; with ``owner_id`` configured, its workspace is already
    confirmed (the one ``GET /owners`` every run starts with) and not among the recorded
    requests."""
    confirm = owner_id is not None and ("GET", "/owners") not in routes
    if confirm:
        routes = {**routes, ("GET", "/owners"): one_page("owner", [owner(OWNER, "Acme")])}

    def handler(request: httpx.Request) -> httpx.Response:
        key = (request.method, request.url.path.removeprefix("/v1"))
        answer = routes.get(key)
        if answer is None:
            return json_response(404, {"message": f"not found: {key[1]}"})
        return answer(request) if callable(answer) else answer

    client, recorder = make_client(handler)
    gateway = Gateway(client, owner_id)
    if confirm:
        gateway.owner_id()
        recorder.requests.clear()
    return gateway, recorder


def one_page(
    wrapper: str, items: list[dict[str, Any]]
) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor"):
            return json_response(200, [])
        return json_response(
            200, [{"cursor": f"c{i}", wrapper: item} for i, item in enumerate(items)]
        )

    return answer


def owner(owner_id: str, name: str) -> dict[str, Any]:
    return {"id": owner_id, "name": name, "email": "ops@example.com", "type": "team"}


# -- workspace -----------------------------------------------------------------------------


def test_a_configured_owner_is_checked_once_against_the_owners_the_key_sees() -> None:
    owners = [owner("tea-d0000000000000000009", "Personal"), owner(OWNER, "Acme")]
    gw, recorder = gateway_with({("GET", "/owners"): one_page("owner", owners)}, owner_id=OWNER)
    assert gw.owner_id() == OWNER and gw.owner_id() == OWNER
    assert [r.url.path for r in recorder.requests] == ["/v1/owners", "/v1/owners"]  # 1 page + end
    assert gw.world().owner_id == OWNER and len(recorder.requests) == 2


def test_a_configured_owner_the_key_does_not_see_is_a_config_error() -> None:
    unknown = "tea-d0000000000000000077"
    gw, _ = gateway_with(
        {("GET", "/owners"): one_page("owner", [owner(OWNER, "Acme")])}, owner_id=unknown
    )
    with pytest.raises(ConfigError) as refused:
        gw.owner_id()
    assert refused.value.code == "unknown_owner" and refused.value.exit_code == 6
    assert unknown in refused.value.message and f"{OWNER} (Acme)" in refused.value.message
    assert gw.world(resolve=False).owner_id == unknown  # no Render call needed to know that


def test_the_only_workspace_is_found_and_cached() -> None:
    gw, recorder = gateway_with(
        {("GET", "/owners"): one_page("owner", [owner(OWNER, "Acme")])}, owner_id=None
    )
    assert gw.owner_id() == OWNER and gw.owner_id() == OWNER
    assert len(recorder.requests) == 2  # one page + the empty page, once


def test_several_workspaces_are_a_config_error_naming_them() -> None:
    owners = [owner(OWNER, "Acme"), owner("tea-d0000000000000000009", "Personal")]
    gw, _ = gateway_with({("GET", "/owners"): one_page("owner", owners)}, owner_id=None)
    with pytest.raises(ConfigError) as caught:
        gw.owner_id()
    assert (
        f"{OWNER} (Acme)" in caught.value.message
        and "tea-d0000000000000000009 (Personal)" in caught.value.message
    )
    assert "RENDER_OWNER_ID" in (caught.value.hint or "") and caught.value.exit_code == 6


def test_no_workspace_is_a_config_error() -> None:
    gw, _ = gateway_with({("GET", "/owners"): json_response(200, [])}, owner_id=None)
    with pytest.raises(ConfigError, match="no workspace"):
        gw.owner_id()


# -- lookups -------------------------------------------------------------------------------


def test_find_by_name_filters_exact_matches_in_the_workspace() -> None:
    services = [
        service_json(SRV, "acme-web"),
        service_json("srv-d0000000000000000008", "acme-web-2"),
    ]
    gw, recorder = gateway_with(
        {
            ("GET", "/services"): one_page("service", services),
            ("GET", f"/services/{SRV}/deploys"): json_response(
                200, [{"cursor": "c", "deploy": {"id": "dep-1", "status": "live"}}]
            ),
        }
    )
    found = gw.find_by_name(ResourceKind.SERVICE, "acme-web")
    assert [(r.render_id, r.state) for r in found] == [(SRV, "live")]
    params = recorder.requests[0].url.params
    assert (params["name"], params["ownerId"]) == ("acme-web", OWNER)


@pytest.mark.parametrize(
    ("kind", "path", "wrapper", "item", "expected_type"),
    [
        (
            ResourceKind.POSTGRES,
            "/postgres",
            "postgres",
            {"id": DPG, "name": "acme-db", "status": "available", "ipAllowList": None},
            "postgres",
        ),
        (
            ResourceKind.KEY_VALUE,
            "/key-value",
            "keyValue",
            {"id": RED, "name": "acme-kv", "status": "creating"},
            "key_value",
        ),
    ],
)
def test_find_datastores_by_name(
    kind: ResourceKind, path: str, wrapper: str, item: dict[str, Any], expected_type: str
) -> None:
    other = dict(
        item,
        id=item["id"].replace("0003", "0007").replace("0004", "0007"),
        name=item["name"] + "-old",
    )
    gw, recorder = gateway_with({("GET", path): one_page(wrapper, [item, other])})
    found = gw.find_by_name(kind, item["name"])
    assert found == [
        RemoteResource(
            kind=kind,
            render_id=item["id"],
            name=item["name"],
            type=expected_type,
            state=item["status"],
        )
    ]
    assert recorder.requests[0].url.params["ownerId"] == OWNER


# -- get -----------------------------------------------------------------------------------


def test_service_state_is_its_latest_deploy_status_with_url_from_service_details() -> None:
    gw, recorder = gateway_with(
        {
            ("GET", f"/services/{SRV}"): json_response(200, service_json(SRV, "acme-web")),
            ("GET", f"/services/{SRV}/deploys"): json_response(
                200,
                [
                    {
                        "cursor": "c",
                        "deploy": {"id": "dep-9", "status": "build_in_progress", "commit": None},
                    }
                ],
            ),
        }
    )
    remote = gw.get(ResourceKind.SERVICE, SRV)
    assert remote == RemoteResource(
        kind=ResourceKind.SERVICE, render_id=SRV, name="acme-web", type="web_service",
        state="build_in_progress", suspended=False, url="https://acme-web.onrender.com",
        plan="starter", deploy_id="dep-9",
    )  # fmt: skip
    assert recorder.requests[1].url.params["limit"] == "1"


def test_a_service_without_deploys_is_live_and_a_suspended_one_is_suspended() -> None:
    gw, _ = gateway_with(
        {
            ("GET", f"/services/{SRV}"): json_response(200, service_json(SRV, "acme-web")),
            ("GET", f"/services/{SRV}/deploys"): json_response(200, []),
            ("GET", "/services/srv-suspended"): json_response(
                200,
                service_json(
                    "srv-suspended",
                    "acme-worker",
                    suspended="suspended",
                    suspenders=["user"],
                    type="background_worker",
                ),
            ),
        }
    )
    live = gw.get(ResourceKind.SERVICE, SRV)
    suspended = gw.get(ResourceKind.SERVICE, "srv-suspended")
    assert live is not None and live.state == "live"
    assert suspended is not None and (suspended.state, suspended.suspended, suspended.type) == (
        "suspended",
        True,
        "background_worker",
    )


def test_datastore_state_is_render_status_and_404_is_none() -> None:
    gw, _ = gateway_with(
        {
            ("GET", f"/postgres/{DPG}"): json_response(
                200,
                {
                    "id": DPG,
                    "name": "acme-db",
                    "status": "suspended",
                    "suspended": "suspended",
                    "plan": "basic_256mb",
                },
            ),
            ("GET", f"/key-value/{RED}"): json_response(
                200, {"id": RED, "name": "acme-kv", "status": "available", "ipAllowList": None}
            ),
        }
    )
    pg = gw.get(ResourceKind.POSTGRES, DPG)
    kv = gw.get(ResourceKind.KEY_VALUE, RED)
    assert pg is not None and (pg.type, pg.state, pg.suspended, pg.plan) == (
        "postgres",
        "suspended",
        True,
        "basic_256mb",
    )
    assert kv is not None and (kv.type, kv.state) == ("key_value", "available")
    assert gw.get(ResourceKind.SERVICE, "srv-gone") is None
    assert gw.get(ResourceKind.POSTGRES, "dpg-gone-a") is None


# -- create, delete, suspend/resume ------------------------------------------------------------


def test_create_service_adds_owner_and_env_and_reports_the_started_deploy() -> None:
    def created(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return json_response(201, {"service": service_json(SRV, body["name"]), "deployId": "dep-7"})

    gw, recorder = gateway_with({("POST", "/services"): created})
    remote = gw.create(
        ResourceKind.SERVICE,
        {"type": "web_service", "name": "acme-web"},
        [{"key": "A", "value": "1"}],
    )
    assert (remote.render_id, remote.state, remote.deploy_id) == (SRV, "created", "dep-7")
    sent = json.loads(recorder.requests[0].content)
    assert sent == {
        "type": "web_service",
        "name": "acme-web",
        "ownerId": OWNER,
        "envVars": [{"key": "A", "value": "1"}],
    }


def test_create_that_comes_back_suspended_says_so() -> None:
    answer = json_response(
        201, {"service": service_json(SRV, suspended="suspended"), "deployId": "dep-7"}
    )
    gw, _ = gateway_with({("POST", "/services"): answer})
    assert (
        gw.create(ResourceKind.SERVICE, {"type": "web_service", "name": "acme-web"}, []).state
        == "suspended"
    )


def test_a_failed_create_is_not_repeated() -> None:
    gw, recorder = gateway_with({("POST", "/postgres"): json_response(502)})
    with pytest.raises(RenderServerError):
        gw.create(
            ResourceKind.POSTGRES, {"name": "acme-db", "plan": "basic_256mb", "version": "16"}, []
        )
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("kind", "render_id", "path"),
    [
        (ResourceKind.SERVICE, SRV, f"/services/{SRV}"),
        (ResourceKind.POSTGRES, DPG, f"/postgres/{DPG}"),
        (ResourceKind.KEY_VALUE, RED, f"/key-value/{RED}"),
    ],
)
def test_delete_is_true_when_deleted_and_false_when_already_gone(
    kind: ResourceKind, render_id: str, path: str
) -> None:
    gw, recorder = gateway_with({("DELETE", path): httpx.Response(204)})
    assert gw.delete(kind, render_id) is True
    assert gw.delete(kind, render_id + "x") is False
    assert [r.method for r in recorder.requests] == ["DELETE", "DELETE"]


@pytest.mark.parametrize(
    ("kind", "render_id", "prefix"),
    [
        (ResourceKind.SERVICE, SRV, f"/services/{SRV}"),
        (ResourceKind.POSTGRES, DPG, f"/postgres/{DPG}"),
        (ResourceKind.KEY_VALUE, RED, f"/key-value/{RED}"),
    ],
)
def test_suspend_and_resume_hit_each_family(
    kind: ResourceKind, render_id: str, prefix: str
) -> None:
    gw, recorder = gateway_with(
        {
            ("POST", f"{prefix}/suspend"): httpx.Response(202),
            ("POST", f"{prefix}/resume"): httpx.Response(202),
        }
    )
    gw.suspend(kind, render_id)
    gw.resume(kind, render_id)
    assert [r.url.path for r in recorder.requests] == [
        f"/v1{prefix}/suspend",
        f"/v1{prefix}/resume",
    ]


# -- env vars, deploys, connection info ----------------------------------------------------------


def test_env_vars_and_deploys() -> None:
    gw, recorder = gateway_with(
        {
            ("GET", f"/services/{SRV}/env-vars"): one_page(
                "envVar", [{"key": "A", "value": "1"}, {"key": "B", "value": "2"}]
            ),
            ("PUT", f"/services/{SRV}/env-vars/A"): json_response(200, {"key": "A", "value": "3"}),
            ("DELETE", f"/services/{SRV}/env-vars/A"): httpx.Response(204),
            ("POST", f"/services/{SRV}/deploys"): httpx.Response(202),
        }
    )
    assert gw.list_env_vars(SRV) == {"A": "1", "B": "2"}
    gw.set_env_var(SRV, "A", "3")
    assert gw.delete_env_var(SRV, "A") is True
    assert gw.delete_env_var(SRV, "MISSING") is False
    assert gw.trigger_deploy(SRV) is None
    assert json.loads(recorder.requests[2].content) == {"value": "3"}


def test_connection_info_returns_render_keys() -> None:
    pg_info = {
        "password": "pw",
        "internalConnectionString": "postgresql://u:pw@dpg/db",
        "externalConnectionString": "postgresql://u:pw@host:5432/db",
        "psqlCommand": "PGPASSWORD=pw psql",
    }
    kv_info = {
        "internalConnectionString": "redis://red:6379",
        "externalConnectionString": "rediss://red:pw@host:6377",
        "cliCommand": "valkey-cli",
    }
    gw, _ = gateway_with(
        {
            ("GET", f"/postgres/{DPG}/connection-info"): json_response(200, pg_info),
            ("GET", f"/key-value/{RED}/connection-info"): json_response(200, kv_info),
        }
    )
    assert gw.connection_info(ResourceKind.POSTGRES, DPG) == pg_info
    assert gw.connection_info(ResourceKind.KEY_VALUE, RED) == kv_info


def test_deploy_status_is_one_request_and_none_when_gone() -> None:
    gw, recorder = gateway_with(
        {
            ("GET", f"/services/{SRV}/deploys/dep-1"): json_response(
                200, {"id": "dep-1", "status": "live", "commit": None, "finishedAt": None}
            ),
        }
    )
    assert gw.deploy_status(SRV, "dep-1") == "live"
    assert gw.deploy_status(SRV, "dep-gone") is None
    assert [r.url.path for r in recorder.requests] == [
        f"/v1/services/{SRV}/deploys/dep-1",
        f"/v1/services/{SRV}/deploys/dep-gone",
    ]


def test_in_flight_window_is_the_read_timeout_unless_overridden() -> None:
    gw, _ = gateway_with({})
    assert gw.in_flight_seconds == gw.client.read_timeout
    in_process = Gateway(gw.client, OWNER, in_flight_seconds=0.0)
    assert in_process.in_flight_seconds == 0.0


# -- deploys ---------------------------------------------------------------------------------


def test_trigger_deploy_asks_for_a_clean_build_only_with_clear_cache() -> None:
    gw, recorder = gateway_with(
        {("POST", f"/services/{SRV}/deploys"): json_response(201, {"id": "dep-1"})}
    )
    assert gw.trigger_deploy(SRV) == "dep-1"
    assert gw.trigger_deploy(SRV, clear_cache=True) == "dep-1"
    assert recorder.bodies() == [{"clearCache": "do_not_clear"}, {"clearCache": "clear"}]


def test_list_deploys_is_one_page_of_the_history_and_none_for_a_gone_service() -> None:
    from datetime import UTC, datetime

    from rcp.core.models import DeployInfo

    git = {
        "id": "dep-2",
        "status": "build_failed",
        "trigger": "api",
        "commit": {"id": "a1b2c3", "message": "Fix it\n\nlong text", "createdAt": None},
        "createdAt": "2026-12-01T10:00:00Z",
        "startedAt": "2026-12-01T10:00:01Z",
        "finishedAt": "2026-12-01T10:02:00Z",
    }
    image = {
        "id": "dep-1",
        "status": "deactivated",
        "trigger": "new_commit",
        "image": {"ref": "docker.io/acme/web:1", "sha": "sha256:ff"},
        "createdAt": "2026-11-30T10:00:00Z",
        "finishedAt": None,
    }
    gw, recorder = gateway_with(
        {("GET", f"/services/{SRV}/deploys"): one_page("deploy", [git, image])}
    )
    found = gw.list_deploys(SRV, 5)
    assert recorder.requests[0].url.params["limit"] == "5"
    assert found == [
        DeployInfo(
            id="dep-2", status="build_failed", trigger="api", commit_id="a1b2c3",
            commit_message="Fix it\n\nlong text", image_ref=None, image_sha=None,
            created_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
            started_at=datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC),
            finished_at=datetime(2026, 12, 1, 10, 2, tzinfo=UTC),
        ),
        DeployInfo(
            id="dep-1", status="deactivated", trigger="new_commit", commit_id=None,
            commit_message=None, image_ref="docker.io/acme/web:1", image_sha="sha256:ff",
            created_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC), started_at=None,
            finished_at=None,
        ),
    ]  # fmt: skip
    assert gw.list_deploys("srv-gone", 5) is None
