"""Tests that need servers of their own. Background work survives the server: kill -9
mid-provisioning (and mid-deletion) and restart → ACTIVE (gone) with no duplicate Render
resource; two servers on one
Postgres share unfinished tenants through the leases, never working on one at once; a clean
stop releases everything; no CORS unless configured."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from serve_support import ServerProcess, resource_names, wait_for, world

from tests.conftest import Cli

ACME = {"name": "Acme Corporation", "slug": "acme-corp"}
PREFLIGHT = {
    "Origin": "https://app.example.com",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


def tenant_status(client: httpx.Client, slug: str) -> str:
    response = client.get(f"/api/tenants/{slug}/status/")
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


def world_ids(data_dir: Any) -> dict[str, list[str]]:
    state = world(data_dir)
    ids: dict[str, list[str]] = {}
    for family in ("services", "postgres", "keyValue"):
        for item in state.get(family, []):
            ids.setdefault(item["name"], []).append(item["id"])
    return ids


@pytest.mark.slow
def test_kill_9_mid_provisioning_then_restart_resumes_without_duplicates(
    start_server: Callable[..., ServerProcess],
    make_token: Callable[[str, str], str],
    rcp: Cli,
    isolated_env: Any,
) -> None:
    token = make_token("signup-flow", "write")
    # The failpoint SIGKILLs the server right after Render accepted the web service's create
    # and before its id is committed: the worst moment (Render acted, the journal does not know).
    doomed = start_server(RCP_FAILPOINT="create:web:after")
    with doomed.client(token) as client:
        accepted = client.post("/api/tenants/", json=ACME)
    assert accepted.status_code == 202, accepted.text
    assert doomed.proc.wait(60) == -signal.SIGKILL
    recorded = rcp("-o", "json", "tenant", "show", "acme-corp").json()["data"]
    assert recorded["status"] == "PROVISIONING"
    web = next(r for r in recorded["resources"] if r["key"] == "web")
    assert web["render_id"] is None  # the create's outcome never reached the record
    before = world_ids(isolated_env / "data")
    assert len(before["acme-corp-web"]) == 1  # … but Render did create it

    restarted = start_server()
    with restarted.client(token) as client:
        wait_for(lambda: tenant_status(client, "acme-corp") == "ACTIVE", timeout=60, what="ACTIVE")
        final = client.get("/api/tenants/acme-corp/").json()
    after = world_ids(isolated_env / "data")
    assert {name: len(ids) for name, ids in after.items()} == {"acme-corp-web": 1, "acme-corp-db": 1}
    # The resumed run adopted the service the killed one created, by its name.
    assert final["render_service_ids"]["web"] == before["acme-corp-web"][0]
    audit = rcp("-o", "json", "audit", "--tenant", "acme-corp").json()["data"]
    resumed = [e for e in audit if e["command"] == "tenant create acme-corp (background)"]
    assert resumed and resumed[0]["actor"] == "rcp-serve" and resumed[0]["outcome"] == "ok"
    restarted.stop()

    # The same for a deletion: killed after the web service is gone, finished on restart.
    doomed = start_server(RCP_FAILPOINT="delete:web:after")
    with doomed.client(token) as client:
        assert client.delete("/api/tenants/acme-corp/").status_code == 202
    assert doomed.proc.wait(60) == -signal.SIGKILL
    assert rcp("-o", "json", "tenant", "show", "acme-corp").json()["data"]["status"] == "DELETING"
    finisher = start_server()
    with finisher.client(token) as client:
        wait_for(
            lambda: client.get("/api/tenants/acme-corp/status/").status_code == 404,
            timeout=60,
            what="the deletion to finish",
        )
    assert world_ids(isolated_env / "data") == {}


@pytest.mark.slow
def test_two_servers_on_one_postgres_share_the_work(
    db_url: str,
    start_server: Callable[..., ServerProcess],
    make_token: Callable[[str, str], str],
    isolated_env: Any,
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several servers on one database is the Postgres deployment")
    token = make_token("signup-flow", "write")
    first = start_server(RCP_FAILPOINT="create:db:after")
    second = start_server()
    slugs = [f"tenant-{i}" for i in range(4)]
    answers: list[httpx.Response] = []

    def post(server: ServerProcess, slug: str) -> None:
        with server.client(token) as client:
            try:
                answers.append(
                    client.post("/api/tenants/", json={"name": slug.title(), "slug": slug})
                )
            except httpx.TransportError:
                pass  # sent to the first server as it died: no answer, maybe no record

    # Tenants arrive at both servers at once; the first dies at its first database create.
    threads = [
        threading.Thread(target=post, args=(second if i % 2 else first, slug))
        for i, slug in enumerate(slugs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert first.proc.wait(60) == -signal.SIGKILL
    # The survivor's sweep takes over what the dead one left (a dead holder on this host loses
    # its lease at once) and finishes everything.
    with second.client(token) as client:
        for slug in slugs:
            listed = client.get(f"/api/tenants/{slug}/status/")
            if listed.status_code == 404:
                continue  # its POST went to the first server, which died before recording it
            wait_for(lambda s=slug: tenant_status(client, s) == "ACTIVE", timeout=90, what=slug)
        recorded = {t["slug"] for t in client.get("/api/tenants/").json()}
    assert recorded, [a.text for a in answers]
    counts = resource_names(world(isolated_env / "data"))
    assert all(count == 1 for count in counts.values()), counts
    assert set(counts) == {f"{slug}-{key}" for slug in recorded for key in ("web", "db")}


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_the_next_server_finishes(
    start_server: Callable[..., ServerProcess],
    make_token: Callable[[str, str], str],
    rcp: Cli,
    isolated_env: Any,
    db_url: str,
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the stop path does not depend on the database")
    token = make_token("signup-flow", "write")
    # Slow datastores: the server is still waiting for Postgres when it is told to stop.
    server = start_server(RCP_SANDBOX_DATASTORE_SECONDS="30")
    # No CORS unless configured: a browser preflight gets no Access-Control-* answer.
    preflight = httpx.options(f"{server.url}/api/tenants/", headers=PREFLIGHT)
    assert not [h for h in preflight.headers if h.lower().startswith("access-control-")]
    with server.client(token) as client:
        assert client.post("/api/tenants/", json=ACME).status_code == 202
        wait_for(
            lambda: "acme-corp-db" in resource_names(world(isolated_env / "data")),
            what="the database create",
        )
        # While a tenant is PROVISIONING the dashboard refreshes itself.
        dashboard = client.get("/")
        assert dashboard.status_code == 200
        assert '<meta http-equiv="refresh" content="5">' in dashboard.text
    # uvicorn re-raises the signal once shut down: the shell sees 143, as for any rcp command
    # stopped cleanly by SIGTERM.
    assert server.stop(timeout=60) == -signal.SIGTERM
    assert "Application shutdown complete" in server.log()
    # The lease was released on the way out, and the record waits to be resumed.
    from rcp.store import open_store

    with open_store(db_url) as store:
        lock = store.get_lock("acme-corp")
        assert lock is not None and not lock.held
    shown = rcp("-o", "json", "tenant", "show", "acme-corp").json()["data"]
    assert shown["status"] == "PROVISIONING"
    restarted = start_server()
    with restarted.client(token) as client:
        wait_for(lambda: tenant_status(client, "acme-corp") == "ACTIVE", timeout=90, what="ACTIVE")
    counts = resource_names(world(isolated_env / "data"))
    assert counts == {"acme-corp-web": 1, "acme-corp-db": 1}
