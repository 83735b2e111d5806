"""Fixtures of the fleet tests: the CLI on SQLite or Postgres against the in-process sandbox,
and fleet files in tmp_path (helpers live in ``fleet_helpers``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Cli

SCALE_VARIABLES = ("RCP_RATE_WINDOW_SCALE", "RCP_SANDBOX_RATE_WINDOW_SCALE")


@pytest.fixture(autouse=True)
def no_window_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SCALE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fleet_env(sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The in-process sandbox, fast readiness, and an API key long enough not to be redacted
    out of ordinary words."""
    monkeypatch.setenv("RENDER_API_KEY", "rnd_fleet_test_key")
    return sandbox_env


@pytest.fixture(params=["sqlite", "postgres"])
def fleet_cli(
    request: pytest.FixtureRequest,
    cli: Cli,
    fleet_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Cli:
    if request.param == "postgres":
        database_url = request.getfixturevalue("fresh_postgres_url")
        monkeypatch.setenv("RCP_DATABASE_URL", database_url)
        # The sandbox keeps its own records unless told where (RCP_SANDBOX_DATABASE_URL).
        monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", database_url)
    return cli


@pytest.fixture
def write_fleet(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(text: str, name: str = "fleet.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
