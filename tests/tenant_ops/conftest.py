"""Fixtures of the tenant-operation tests (helpers live in ``tenant_ops_helpers``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tenant_ops_helpers import Sandbox, store_of

from tests.conftest import FULL_TEMPLATE, Cli


@pytest.fixture
def sandbox(sandbox_env: dict[str, str], isolated_env: Path) -> Sandbox:
    return Sandbox(isolated_env / "data")


@pytest.fixture
def full_template(isolated_env: Path) -> str:
    templates = isolated_env / "config" / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    (templates / "full.yaml").write_text(FULL_TEMPLATE)
    return "full"


@pytest.fixture(params=["sqlite", "postgres"])
def db_cli(request: pytest.FixtureRequest, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI on SQLite, and again on a fresh Postgres database (skipped without one)."""
    if request.param == "postgres":
        url = request.getfixturevalue("fresh_postgres_url")
        monkeypatch.setenv("RCP_DATABASE_URL", url)
        # The sandbox keeps its own records unless told where (RCP_SANDBOX_DATABASE_URL).
        monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", url)
    return cli


@pytest.fixture
def store(sandbox_env: dict[str, str]) -> Iterator[Any]:
    yield from store_of()


@pytest.fixture(autouse=True)
def instant_sandbox(sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Deploys and datastores are ready at once: these tests are about what rcp does, not
    about waiting (the engine's waiting is tested with the lifecycle)."""
    monkeypatch.setenv("RCP_SANDBOX_DEPLOY_SECONDS", "0")
    monkeypatch.setenv("RCP_SANDBOX_DATASTORE_SECONDS", "0")
