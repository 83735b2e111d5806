"""Fixtures of the server tests: a database per backend, live servers, tokens."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from serve_support import Live, ServerProcess, server_env  # noqa: E402

from tests.conftest import Cli  # noqa: E402


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database on each backend (Postgres skips without RCP_TEST_DATABASE_URL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'rcp.db'}"
        return
    base = os.environ.get("RCP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("RCP_TEST_DATABASE_URL not set: Postgres variant skipped")
    yield from _fresh_postgres_database(base)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db' / 'rcp.db'}"


def _fresh_postgres_database(base: str) -> Iterator[str]:
    # A database per test (not a schema): several server processes and the CLI connect to it.
    import uuid

    import psycopg

    name = f"rcp_serve_{uuid.uuid4().hex[:12]}"
    admin = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def rcp(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The real CLI in-process, on the same database and sandbox world as the servers."""
    monkeypatch.setenv("RCP_DATABASE_URL", db_url)
    # The sandbox keeps its own records unless told where (RCP_SANDBOX_DATABASE_URL).
    monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", db_url)
    monkeypatch.setenv("RCP_SANDBOX", "1")
    monkeypatch.setenv("RCP_SANDBOX_DEPLOY_SECONDS", "0.3")
    monkeypatch.setenv("RCP_SANDBOX_DATASTORE_SECONDS", "0.3")
    return Cli()


@pytest.fixture
def make_token(rcp: Cli) -> Callable[[str, str], str]:
    def make(name: str, scope: str = "write") -> str:
        result = rcp("-o", "json", "serve", "token", "create", name, "--scope", scope)
        assert result.exit_code == 0, result.stderr
        token: str = result.json()["data"]["token"]
        return token

    return make


@pytest.fixture
def start_server(db_url: str) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(*args: str, **env: str) -> ServerProcess:
        server = ServerProcess(server_env(db_url, **env), args=args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    return start_server()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("live")
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{root / 'db' / 'rcp.db'}"])
    else:
        base = os.environ.get("RCP_TEST_DATABASE_URL")
        if not base:
            pytest.skip("RCP_TEST_DATABASE_URL not set: Postgres variant skipped")
        urls = _fresh_postgres_database(base)
    url = next(urls)
    shared = Live(root, url)
    try:
        yield shared
    finally:
        shared.server.kill()
        for _ in urls:  # drops the Postgres database
            pass
