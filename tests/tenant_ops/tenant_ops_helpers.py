"""Helpers of the tenant-operation tests: a template with every resource kind, direct access
to the sandbox for out-of-band changes, and store access."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.conftest import Cli

# Render API family of each resource key of FULL_TEMPLATE / the default template.
FAMILY = {"web": "services", "worker": "services", "cache": "key-value", "db": "postgres"}


class Sandbox:
    """Talks to the in-process sandbox's world directly, as another Render client would (the
    dashboard, a colleague): the out-of-band side of the tests."""

    def __init__(self, data_dir: Path) -> None:
        self.state = data_dir / "sandbox" / "render.db"

    def _client(self) -> Any:
        import httpx

        from rcp.sandbox import SandboxSettings, SandboxTransport

        settings = SandboxSettings.from_env(
            {
                "RCP_SANDBOX_RATE_LIMITS": "off",
                "RCP_SANDBOX_DEPLOY_SECONDS": os.environ.get("RCP_SANDBOX_DEPLOY_SECONDS", "0"),
                "RCP_SANDBOX_DATASTORE_SECONDS": os.environ.get(
                    "RCP_SANDBOX_DATASTORE_SECONDS", "0"
                ),
            }
        )
        return httpx.Client(
            transport=SandboxTransport(self.state, settings),
            base_url="http://sandbox.rcp/v1",
            headers={"Authorization": "Bearer out-of-band"},
        )

    def call(self, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        with self._client() as client:
            response = client.request(method, path, json=body)
        if expect is not None:
            assert response.status_code == expect, (
                method,
                path,
                response.status_code,
                response.text,
            )
        return response.json() if response.content else None

    def get(self, family: str, render_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", f"/{family}/{render_id}", expect=200)
        return found

    def is_suspended(self, family: str, render_id: str) -> bool:
        found = self.get(family, render_id)
        if family == "services":
            return bool(found["suspended"] == "suspended")
        return bool(found["status"] == "suspended")

    def exists(self, family: str, render_id: str) -> bool:
        with self._client() as client:
            return bool(client.get(f"/{family}/{render_id}").status_code == 200)

    def suspend(self, family: str, render_id: str) -> None:
        self.call("POST", f"/{family}/{render_id}/suspend", expect=202)

    def resume(self, family: str, render_id: str) -> None:
        self.call("POST", f"/{family}/{render_id}/resume", expect=202)

    def delete(self, family: str, render_id: str) -> None:
        self.call("DELETE", f"/{family}/{render_id}", expect=204)

    def env(self, service_id: str) -> dict[str, str]:
        items = self.call("GET", f"/services/{service_id}/env-vars?limit=100", expect=200)
        return {item["envVar"]["key"]: item["envVar"]["value"] for item in items}

    def deploys(self, service_id: str) -> list[dict[str, Any]]:
        items = self.call("GET", f"/services/{service_id}/deploys?limit=100", expect=200)
        return [item["deploy"] for item in items]

    def connection_string(self, postgres_id: str) -> str:
        info = self.call("GET", f"/postgres/{postgres_id}/connection-info", expect=200)
        value: str = info["internalConnectionString"]
        return value

    def owner_id(self) -> str:
        owners = self.call("GET", "/owners", expect=200)
        owner_id: str = owners[0]["owner"]["id"]
        return owner_id

    def add_fault(self, rule: dict[str, Any]) -> None:
        with self._client() as client:
            response = client.post("/__sandbox/faults", json=[rule])
        assert response.status_code in (200, 201), response.text

    def requests(self) -> list[dict[str, Any]]:
        """Every request the world has answered (method, path, status, …), oldest first."""
        if not self.state.exists():
            return []
        with self._client() as client:
            response = client.get("/__sandbox/state")
        assert response.status_code == 200, response.text
        log: list[dict[str, Any]] = response.json()["requests"]
        return log

    def mutations(self) -> list[tuple[str, str]]:
        """Every non-GET request, paths without the ``/v1`` prefix."""
        return [
            (r["method"], r["path"].removeprefix("/v1"))
            for r in self.requests()
            if r["method"] != "GET" and not r["path"].startswith(("/__sandbox", "/v1/__sandbox"))
        ]

    def create_web_service(self, name: str) -> str:
        body = {
            "type": "web_service",
            "name": name,
            "ownerId": self.owner_id(),
            "repo": "https://github.com/render-examples/express-hello-world",
            "serviceDetails": {
                "runtime": "node",
                "plan": "starter",
                "region": "oregon",
                "envSpecificDetails": {"buildCommand": "npm install", "startCommand": "npm start"},
            },
        }
        created = self.call("POST", "/services", body, expect=201)
        service_id: str = created["service"]["id"]
        return service_id

    def create_postgres(self, name: str) -> str:
        body = {
            "name": name,
            "ownerId": self.owner_id(),
            "plan": "basic_256mb",
            "version": "16",
            "region": "oregon",
        }
        created = self.call("POST", "/postgres", body, expect=201)
        postgres_id: str = created["id"]
        return postgres_id

    def wait_until(self, family: str, render_id: str, ready: str, timeout: float = 10.0) -> None:
        """Poll until the resource is ready (services: latest deploy live; datastores: status)."""
        deadline = time.monotonic() + timeout
        while True:
            if family == "services":
                deploys = self.deploys(render_id)
                state = deploys[0]["status"] if deploys else "live"
            else:
                state = self.get(family, render_id)["status"]
            if state == ready:
                return
            assert time.monotonic() < deadline, f"{render_id} still {state}"
            time.sleep(0.05)


def create_tenant(cli: Cli, *args: str) -> dict[str, Any]:
    result = cli("-q", "-o", "json", "tenant", "create", *args)
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = result.json()["data"]
    return data


def ids(tenant: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = tenant["render_service_ids"]
    return found


def store_of() -> Iterator[Any]:
    """The store rcp uses in this test (same settings resolution as the CLI)."""
    from rcp.settings import GlobalOptions, load_settings
    from rcp.store import open_store

    store = open_store(load_settings(GlobalOptions(sandbox=True)).database_url)
    try:
        yield store
    finally:
        store.close()
