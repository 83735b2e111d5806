"""The tenant API against a live ``rcp serve`` (uvicorn in a subprocess), on SQLite and Postgres:
every endpoint, authentication, request validation, errors, and the CLI side by side. One server
per backend serves the whole module (``live``); each test uses slugs and tokens of its own."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from serve_support import Live, resource_names, wait_for, world

ACME = {"name": "Acme Corporation", "slug": "acme-corp"}


def status_of(client: httpx.Client, ref: str | int) -> dict[str, Any]:
    response = client.get(f"/api/tenants/{ref}/status/")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def wait_status(client: httpx.Client, ref: str | int, wanted: str, timeout: float = 60) -> dict[str, Any]:
    result: dict[str, Any] = wait_for(
        lambda: (data if (data := status_of(client, ref))["status"] == wanted else None),
        timeout=timeout,
        what=f"tenant {ref} to be {wanted}",
    )
    return result


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    assert set(error) >= {"code", "message", "hint"}
    return error


def test_health_needs_no_token(live: Live) -> None:
    response = httpx.get(f"{live.server.url}/api/health/")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "healthy"
    assert data["checks"] == [{"name": "database", "ok": True, "detail": "reachable, schema at head"}]


def test_authentication_and_scopes(live: Live) -> None:
    server = live.server
    reader = live.token("dashboard-viewer", "read")
    writer = live.token("auth-flow", "write")
    # No token at all: 401 with a Bearer challenge, on the API, the schema and the docs.
    with server.client() as anonymous:
        response = anonymous.get("/api/tenants/")
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert_error(anonymous.get("/openapi.json"), 401, "unauthorized")
        login = anonymous.get("/", follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"] == "/login?next=/"
        # A malformed header is no token either.
        assert_error(
            anonymous.get("/api/tenants/", headers={"Authorization": "Basic abc"}), 401, "unauthorized"
        )
    with server.client("rcp_not-a-token") as wrong:
        assert_error(wrong.get("/api/tenants/"), 401, "invalid_token")
    # A read token reads, and is refused every write (403), before anything happens.
    with server.client(reader) as client:
        assert client.get("/api/tenants/").status_code == 200
        schema = client.get("/openapi.json").json()
        assert "/api/tenants/{ref}/status/" in schema["paths"]
        assert client.get("/docs").status_code == 200
        refused = {"name": "Refused Inc", "slug": "refused"}
        error = assert_error(client.post("/api/tenants/", json=refused), 403, "insufficient_scope")
        assert "dashboard-viewer" in error["message"]
        assert_error(client.delete("/api/tenants/refused/"), 403, "insufficient_scope")
        assert_error(client.post("/api/tenants/refused/suspend/"), 403, "insufficient_scope")
    assert live.cli("tenant", "show", "refused").exit_code == 3  # nothing was recorded
    # A revoked token is refused from the next request on.
    with server.client(writer) as client:
        assert client.get("/api/tenants/").status_code == 200
        assert live.cli("serve", "token", "revoke", "auth-flow").exit_code == 0
        assert_error(client.get("/api/tenants/"), 401, "invalid_token")


@pytest.mark.slow
def test_every_endpoint_through_a_tenant_lifetime(live: Live) -> None:
    token = live.token("signup-flow", "write")
    rcp = live.cli
    with live.server.client(token) as client:
        created = client.post("/api/tenants/", json=ACME)
        assert created.status_code == 202, created.text
        tenant = created.json()
        assert tenant["status"] == "PROVISIONING"
        assert tenant["slug"] == "acme-corp" and tenant["name"] == "Acme Corporation"
        assert created.headers["Location"] == f"/api/tenants/{tenant['id']}/status/"
        active = wait_status(client, tenant["id"], "ACTIVE")
        assert {r["key"]: r["state"] for r in active["resources"]} == {"db": "available", "web": "live"}
        assert set(active["render_service_ids"]) == {"web", "db"}
        # ids and slugs both name the tenant
        assert status_of(client, "acme-corp")["id"] == tenant["id"]
        listed = client.get("/api/tenants/").json()
        assert "acme-corp" in [t["slug"] for t in listed]
        active_only = client.get("/api/tenants/", params={"status": "active"}).json()
        assert "acme-corp" in [t["slug"] for t in active_only]
        assert all(t["status"] == "ACTIVE" for t in active_only)
        assert "acme-corp" not in [
            t["slug"] for t in client.get("/api/tenants/", params={"status": "ERROR"}).json()
        ]
        assert_error(client.get("/api/tenants/", params={"status": "HAPPY"}), 422, "usage_error")
        shown = client.get(f"/api/tenants/{tenant['id']}/").json()
        assert shown["rendered_template"]["name"] == "default" and shown["env_overrides"] == []
        refreshed = client.get("/api/tenants/acme-corp/status/", params={"live": "true"})
        assert refreshed.status_code == 200 and refreshed.json()["status"] == "ACTIVE"

        # The same POST again is idempotent: the existing tenant, 200 as it is ACTIVE.
        again = client.post("/api/tenants/", json=ACME)
        assert again.status_code == 200 and again.json()["id"] == tenant["id"]
        conflict = client.post("/api/tenants/", json={"name": "Other Name", "slug": "acme-corp"})
        assert_error(conflict, 409, "tenant_conflict")

        # env: values are never echoed; listing masks them
        changed = client.post(
            "/api/tenants/acme-corp/env/", json={"values": {"FEATURE_FLAG": "s3cr3t-value"}, "deploy": False}
        )
        assert changed.status_code == 200, changed.text
        assert "s3cr3t-value" not in changed.text
        assert changed.json()["env"] == [{"service": "*", "key": "FEATURE_FLAG", "value": "***"}]
        assert client.get("/api/tenants/acme-corp/env/").json() == [
            {"service": "*", "key": "FEATURE_FLAG", "value": "***"}
        ]
        assert_error(
            client.get("/api/tenants/acme-corp/env/", params={"service": "nope"}), 422, "usage_error"
        )
        unset = client.delete("/api/tenants/acme-corp/env/FEATURE_FLAG/", params={"deploy": "false"})
        assert unset.status_code == 200, unset.text
        assert unset.json()["env"] == []

        # suspend (synchronous) and resume (background)
        suspended = client.post(f"/api/tenants/{tenant['id']}/suspend/")
        assert suspended.status_code == 200, suspended.text
        assert suspended.json()["status"] == "SUSPENDED"
        resumed = client.post("/api/tenants/acme-corp/resume/")
        assert resumed.status_code == 202, resumed.text
        assert resumed.headers["Location"] == f"/api/tenants/{tenant['id']}/status/"
        wait_status(client, "acme-corp", "ACTIVE")

        # redeploy (background): a new deploy of the web service
        deploys_before = len(world(live.data_dir)["deploys"][active["render_service_ids"]["web"]])
        redeploy = client.post(
            "/api/tenants/acme-corp/redeploy/", json={"service": "web", "clear_cache": True}
        )
        assert redeploy.status_code == 202, redeploy.text
        wait_for(
            lambda: len(world(live.data_dir)["deploys"][active["render_service_ids"]["web"]])
            > deploys_before,
            what="a new deploy",
        )
        assert_error(
            client.post("/api/tenants/acme-corp/redeploy/", json={"service": "db"}), 422, "usage_error"
        )

        # The CLI works on the same records, side by side.
        shown_by_cli = rcp("-o", "json", "tenant", "show", "acme-corp")
        assert shown_by_cli.exit_code == 0 and shown_by_cli.json()["data"]["id"] == tenant["id"]

        deleted = client.delete("/api/tenants/acme-corp/")
        assert deleted.status_code == 202, deleted.text
        assert deleted.json()["status"] == "DELETING"
        wait_for(
            lambda: client.get(f"/api/tenants/{tenant['id']}/status/").status_code == 404,
            what="the tenant to be gone",
        )
    assert not [n for n in resource_names(world(live.data_dir)) if n.startswith("acme-corp-")]
    # Every change is in the audit log, with the token's name as the actor.
    audit = rcp("-o", "json", "audit", "--tenant", "acme-corp").json()["data"]
    commands = {(entry["actor"], entry["command"]) for entry in audit}
    assert ("signup-flow", "tenant create acme-corp") in commands
    assert ("signup-flow", "tenant create acme-corp (background)") in commands, audit
    assert ("signup-flow", "tenant suspend acme-corp") in commands
    assert ("signup-flow", "tenant delete acme-corp (background)") in commands
    assert all(entry["actor"] == "signup-flow" for entry in audit)
    assert "s3cr3t-value" not in json.dumps(audit)


def test_bad_requests_name_the_field(live: Live) -> None:
    token = live.token("validation-flow", "write")
    with live.server.client(token) as client:
        cases: list[tuple[Any, str]] = [
            ({"slug": "acme"}, "name"),
            ({"name": "Acme", "slug": "Not A Slug"}, "slug"),
            ({"name": "   "}, "name"),
            ({"name": "Acme", "plugin_repo": "ftp://example.com/x"}, "plugin_repo"),
            ({"name": "Acme", "colour": "red"}, "colour"),
            ({"name": "Acme", "template": "../../etc/passwd"}, "template"),
            ({"name": 42}, "name"),
        ]
        for body, field in cases:
            error = assert_error(client.post("/api/tenants/", json=body), 422, "usage_error")
            assert field in [f["field"] for f in error["fields"]], (body, error)
            assert field in error["message"]
        broken = client.post(
            "/api/tenants/", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert_error(broken, 422, "usage_error")
        error = assert_error(
            client.post("/api/tenants/", json={"name": "Acme", "template": "no-such-template"}),
            422,
            "usage_error",
        )
        assert "no-such-template" in error["message"]
        assert_error(client.post("/api/tenants/", json={"name": "!!!"}), 422, "usage_error")
        too_big = client.post(
            "/api/tenants/", content=b"x" * 70_000, headers={"Content-Type": "application/json"}
        )
        assert_error(too_big, 413, "request_too_large")
        assert_error(
            client.post("/api/tenants/x/env/", json={"values": {"1BAD": "v"}}), 422, "usage_error"
        )
        # Nothing was recorded by any of them.
        assert not {"acme", "x"} & {t["slug"] for t in client.get("/api/tenants/").json()}


def test_unknown_tenant_is_404(live: Live) -> None:
    token = live.token("lookup-flow", "write")
    with live.server.client(token) as client:
        for ref in ("no-such-tenant", "12345", "UPPER"):
            assert_error(client.get(f"/api/tenants/{ref}/"), 404, "tenant_not_found")
            assert_error(client.get(f"/api/tenants/{ref}/status/"), 404, "tenant_not_found")
            assert_error(client.delete(f"/api/tenants/{ref}/"), 404, "tenant_not_found")
            assert_error(client.post(f"/api/tenants/{ref}/suspend/"), 404, "tenant_not_found")
            assert_error(client.post(f"/api/tenants/{ref}/resume/"), 404, "tenant_not_found")
            assert_error(client.post(f"/api/tenants/{ref}/redeploy/"), 404, "tenant_not_found")
            assert_error(client.get(f"/api/tenants/{ref}/env/"), 404, "tenant_not_found")
        assert_error(client.get("/api/nothing-here/"), 404, "not_found")
        assert_error(client.put("/api/tenants/"), 405, "method_not_allowed")


@pytest.mark.slow
def test_concurrent_posts_of_one_slug_make_one_tenant(live: Live) -> None:
    server = live.server
    token = live.token("race-flow", "write")
    body = {"name": "Initech", "slug": "initech"}
    barrier = threading.Barrier(8)
    answers: list[httpx.Response] = []

    def post() -> None:
        with server.client(token) as client:
            barrier.wait()
            answers.append(client.post("/api/tenants/", json=body))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 8
    assert {a.status_code for a in answers} <= {200, 202}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    with server.client(token) as client:
        assert [t["slug"] for t in client.get("/api/tenants/").json()].count("initech") == 1
        wait_status(client, "initech", "ACTIVE")
    names = resource_names(world(live.data_dir))
    assert {n: c for n, c in names.items() if n.startswith("initech-")} == {
        "initech-web": 1,
        "initech-db": 1,
    }


def test_cors_for_the_configured_origin_only(live: Live) -> None:
    # The shared server runs with --cors-origin https://app.example.com (see conftest.Live).
    preflight = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = httpx.options(f"{live.server.url}/api/tenants/", headers=preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    other = httpx.options(
        f"{live.server.url}/api/tenants/", headers={**preflight, "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers


def test_dashboard_over_http(live: Live) -> None:
    made = live.cli("tenant", "create", "Markup <b>Co</b>", "--slug", "markup-co")
    assert made.exit_code == 0, made.stderr
    reader = live.token("dashboard-http", "read")
    with live.server.client(reader) as client:
        index = client.get("/")
        assert index.status_code == 200
        assert "default-src 'none'" in index.headers["content-security-policy"]
        assert 'data-slug="markup-co"' in index.text
        assert "Markup &lt;b&gt;Co&lt;/b&gt;" in index.text and "<b>Co</b>" not in index.text
        only_suspended = client.get("/", params={"status": "SUSPENDED"})
        assert only_suspended.status_code == 200 and "markup-co" not in only_suspended.text
        detail = client.get("/tenants/markup-co")
        assert detail.status_code == 200 and 'id="tenant-status">ACTIVE<' in detail.text
        assert "markup-co-web" in detail.text and "--slug markup-co" in detail.text
        assert_error(client.get("/tenants/no-such-tenant"), 404, "tenant_not_found")
    # Signing in sets an HttpOnly, SameSite=Strict cookie that opens the dashboard…
    with httpx.Client(base_url=live.server.url) as browser:
        refused = browser.post("/login", data={"token": "rcp_wrong", "next": "/"})
        assert refused.status_code == 401 and "not valid" in refused.text
        signed = browser.post("/login", data={"token": reader, "next": "//evil.example/"})
        assert signed.status_code == 303 and signed.headers["location"] == "/"
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert browser.get("/").status_code == 200
        # … but never the API: a cookie a browser sends by itself authorises nothing there.
        assert_error(browser.get("/api/tenants/"), 401, "unauthorized")
        out = browser.post("/logout", follow_redirects=False)
        assert out.status_code == 303
        assert browser.get("/", follow_redirects=False).status_code == 303


def test_a_record_of_another_world_is_refused(live: Live) -> None:
    """The server goes through the same world check as the CLI: a record created against
    another Render API or workspace is refused (409) before any write or Render call."""
    from sqlalchemy import text

    from rcp.store import open_store

    created = live.cli("-o", "json", "tenant", "create", "Far Away Co", "--slug", "far-away")
    assert created.exit_code == 0, created.stderr
    with open_store(live.db_url, setting="test") as store, store.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE tenants SET render_api_url = 'https://api.render.com/v1', "
                "render_owner_id = 'tea-realworkspace0000001' WHERE slug = 'far-away'"
            )
        )
    before = world(live.data_dir)["requests"]
    token = live.token("world-writer")
    with live.server.client(token) as client:

        def refused(method: str, path: str) -> httpx.Response:
            # The server's sweep may be finishing its own look at the new tenant: wait it out.
            response: httpx.Response = wait_for(
                lambda: (
                    r
                    if (r := client.request(method, path)).status_code != 409
                    or r.json()["error"]["code"] != "tenant_locked"
                    else None
                ),
                what=f"{method} {path} past the sweep's lease",
            )
            return response

        for method, path in (
            ("DELETE", "/api/tenants/far-away/"),
            ("POST", "/api/tenants/far-away/suspend/"),
            ("GET", "/api/tenants/far-away/status/?live=true"),
        ):
            error = assert_error(refused(method, path), 409, "world_mismatch")
            assert "https://api.render.com/v1" in error["message"]
            assert "tea-realworkspace0000001" in error["message"]
            assert "http://sandbox.rcp/v1" in error["message"]
        assert status_of(client, "far-away")["status"] == "ACTIVE"
    after = world(live.data_dir)["requests"]
    assert [r for r in after[len(before) :] if r["method"] != "GET"] == []
