"""Helpers of the fleet tests, imported as ``fleet_helpers`` (a unique module name): the
sandbox's own request log and world, read without going through rcp."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def sandbox_requests(data_dir: Path) -> list[tuple[str, str, int | None]]:
    """Every request the sandbox answered (method, path, status), oldest first."""
    state = data_dir / "sandbox" / "render.db"
    if not state.exists():
        return []
    with sqlite3.connect(state) as connection:
        return [
            (str(method), str(path), status)
            for method, path, status in connection.execute(
                "SELECT method, path, status FROM requests ORDER BY seq"
            )
        ]


def mutating(requests: list[tuple[str, str, int | None]]) -> list[tuple[str, str, int | None]]:
    return [r for r in requests if r[0] != "GET"]


def sandbox_dump(data_dir: Path) -> dict[str, Any]:
    """The sandbox world (GET /__sandbox/state) through its own transport."""
    import httpx

    from rcp.sandbox import SandboxSettings, SandboxTransport

    transport = SandboxTransport(
        data_dir / "sandbox" / "render.db",
        SandboxSettings.from_env({"RCP_SANDBOX_RATE_LIMITS": "off"}),
    )
    with httpx.Client(transport=transport, base_url="http://sandbox.rcp") as client:
        response = client.get("/__sandbox/state")
        assert response.status_code == 200
        data: dict[str, Any] = response.json()
        return data
