"""Fixtures for the operator-command tests (cost, audit, backup, db copy, auth)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from admin_helpers import ServedSandbox

from tests.conftest import postgres_url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The control-plane database of the test (RCP_DATABASE_URL), on each backend."""
    if request.param == "postgres":
        url = str(request.getfixturevalue("fresh_postgres_url"))
    else:
        url = f"sqlite:///{isolated_env / 'data' / 'rcp.db'}"
    monkeypatch.setenv("RCP_DATABASE_URL", url)
    # The sandbox keeps its own records unless told where (RCP_SANDBOX_DATABASE_URL).
    monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", url)
    return url


@pytest.fixture
def sqlite_url(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """SQLite only, for tests whose subject is not the backend."""
    url = f"sqlite:///{isolated_env / 'data' / 'rcp.db'}"
    monkeypatch.setenv("RCP_DATABASE_URL", url)
    # The sandbox keeps its own records unless told where (RCP_SANDBOX_DATABASE_URL).
    monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", url)
    return url


@pytest.fixture
def served_sandbox(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServedSandbox]:
    """`rcp sandbox serve` in a thread on a free port, with RENDER_API_URL pointing at it (the
    in-process sandbox is off: rcp talks HTTP to it like to Render)."""
    from rcp.sandbox import SandboxSettings
    from rcp.sandbox.server import make_server

    (isolated_env / "served-sandbox").mkdir(exist_ok=True)
    server = make_server(
        "127.0.0.1",
        0,
        isolated_env / "served-sandbox" / "render.db",
        SandboxSettings(deploy_seconds=0.2, datastore_seconds=0.3, rate_limits="off"),
    )
    worker = threading.Thread(target=server.serve_forever, daemon=True)
    worker.start()
    monkeypatch.setenv("RENDER_API_URL", server.url)
    try:
        yield ServedSandbox(url=server.url, app=server.app)
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        worker.join(timeout=5)


@pytest.fixture
def make_database(isolated_env: Path) -> Iterator[Callable[[str], str]]:
    """``make_database("sqlite" | "postgres")``: the URL of another new, empty database (Postgres
    skips without RCP_TEST_DATABASE_URL); for copies and restores between backends."""
    created: list[str] = []
    base = postgres_url()

    def make(backend: str) -> str:
        index = len(created)
        if backend == "sqlite":
            created.append("")
            return f"sqlite:///{isolated_env / f'other-{index}.db'}"
        if not base:
            pytest.skip("RCP_TEST_DATABASE_URL not set: no Postgres to test against")
        import psycopg

        name = f"rcp_t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(base.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return base.rsplit("/", 1)[0] + "/" + name

    yield make
    if base:
        import psycopg

        with psycopg.connect(base.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            for name in created:
                if name:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
