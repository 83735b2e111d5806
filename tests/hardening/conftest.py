"""Fixtures for the hardening tests (issue 11: user data, secrets, transport, bounds, settings)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hardening_helpers import Served


@pytest.fixture
def served_sandbox(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """`rcp sandbox serve` in a thread on a free loopback port, RENDER_API_URL pointing at it:
    rcp talks real HTTP (httpx, httpcore and their loggers) as it would to Render."""
    from rcp.sandbox import SandboxSettings
    from rcp.sandbox.server import make_server

    (isolated_env / "served").mkdir(exist_ok=True)
    server = make_server(
        "127.0.0.1",
        0,
        isolated_env / "served" / "render.db",
        SandboxSettings(deploy_seconds=0.2, datastore_seconds=0.3, rate_limits="off"),
    )
    worker = threading.Thread(target=server.serve_forever, daemon=True)
    worker.start()
    monkeypatch.setenv("RENDER_API_URL", server.url)
    try:
        yield Served(url=server.url, app=server.app)
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        worker.join(timeout=5)
