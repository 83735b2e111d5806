"""Helpers of the rollout tests, imported as ``rollout_helpers`` (a unique module name):
templates in two revisions, a fleet of N tenants, and the sandbox's world read directly
(deploys per service, fault rules) — never through rcp."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx

from rcp.sandbox import SandboxSettings, SandboxTransport

# Revision 1 and 2 of the template the tests roll out: revision 2 flips an env var and the
# start command (a configuration change: a new deploy of the same code).
APP_V1 = """\
version: "1"
services:
  - type: web
    name: web
    runtime: node
    repo: https://github.com/acme/app
    branch: main
    buildCommand: npm ci
    startCommand: npm start
    plan: starter
    healthCheckPath: /healthz
    envVars:
      - key: FEATURE
        value: "off"
"""
APP_V2 = APP_V1.replace('version: "1"', 'version: "2"').replace(
    'value: "off"', 'value: "on"'
).replace("startCommand: npm start", "startCommand: npm run serve")
# Revision 2 with new code too (another branch): a rollback returns to the previous build.
APP_V2_CODE = APP_V2.replace("branch: main", "branch: release")


def slug_of(number: int) -> str:
    return f"t{number:02d}"


def write_template(config_dir: Path, text: str, name: str = "app") -> None:
    templates = config_dir / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    (templates / f"{name}.yaml").write_text(text, encoding="utf-8")


def write_fleet(path: Path, count: int, tiers: dict[int, str] | None = None) -> Path:
    lines = ["tenants:"]
    for number in range(1, count + 1):
        lines += [f"  - name: Tenant {number}", f"    slug: {slug_of(number)}", "    template: app"]
        if tiers and number in tiers:
            lines.append(f"    tier: {tiers[number]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _client(data_dir: Path) -> httpx.Client:
    transport = SandboxTransport(
        data_dir / "sandbox" / "render.db",
        SandboxSettings.from_env({"RCP_SANDBOX_RATE_LIMITS": "off"}),
    )
    return httpx.Client(transport=transport, base_url="http://sandbox.rcp")


def world(data_dir: Path) -> dict[str, Any]:
    with _client(data_dir) as client:
        response = client.get("/__sandbox/state")
        assert response.status_code == 200
        data: dict[str, Any] = response.json()
        return data


def add_fault(data_dir: Path, rule: dict[str, Any]) -> None:
    with _client(data_dir) as client:
        assert client.post("/__sandbox/faults", json=rule).status_code == 201


def clear_faults(data_dir: Path) -> None:
    with _client(data_dir) as client:
        assert client.delete("/__sandbox/faults").status_code in (200, 204)


def deploys_by_tenant(data_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Each tenant's web service deploys (oldest first), from the sandbox's own state."""
    state = world(data_dir)
    names = {service["id"]: service["name"] for service in state["services"]}
    by_tenant: dict[str, list[dict[str, Any]]] = {}
    for service_id, deploys in state["deploys"].items():
        name = names.get(service_id, "")
        if name.endswith("-web"):
            by_tenant[name[: -len("-web")]] = sorted(deploys, key=lambda d: d["createdAt"])
    return by_tenant


def service_id(data_dir: Path, slug: str) -> str:
    for service in world(data_dir)["services"]:
        if service["name"] == f"{slug}-web":
            return str(service["id"])
    raise AssertionError(f"no service of {slug}")


def request_paths(data_dir: Path) -> list[tuple[str, str]]:
    state = data_dir / "sandbox" / "render.db"
    with sqlite3.connect(state) as connection:
        return [
            (str(method), str(path))
            for method, path in connection.execute("SELECT method, path FROM requests ORDER BY seq")
        ]


def revisions(cli_json: dict[str, Any]) -> dict[str, str | None]:
    """slug → the revision label each tenant of a `tenant list -o json` runs."""
    out: dict[str, str | None] = {}
    for tenant in cli_json["data"]:
        revision = tenant.get("template_revision") or {}
        out[tenant["slug"]] = revision.get("label")
    return out
