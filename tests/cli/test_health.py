"""`rcp health`: every check reported; exit 0 healthy, 1 not (never 6)."""

from __future__ import annotations

import pytest

from tests.conftest import Cli


@pytest.mark.usefixtures("sandbox_env")
def test_healthy_on_sandbox(cli: Cli) -> None:
    result = cli("-o", "json", "health")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["status"] == "healthy"
    assert [c["name"] for c in data["checks"]] == [
        "database",
        "render_api",
        "render_workspace",
        "render_rate_limit",
    ]
    assert all(c["ok"] for c in data["checks"])
    assert data["checks"][2]["detail"].startswith("workspace tea-")


def test_missing_key_and_bad_database_are_reported_not_exit_6(cli: Cli) -> None:
    result = cli(
        "-o", "json", "health", env={"RCP_DATABASE_URL": "postgresql://u:pw-canary@127.0.0.1:1/x"}
    )
    assert result.exit_code == 1
    assert "pw-canary" not in result.stdout + result.stderr
    data = result.json()["data"]
    assert data["status"] == "unhealthy"
    checks = {c["name"]: c for c in data["checks"]}
    assert not checks["database"]["ok"]
    assert not checks["render_api"]["ok"]
    assert "RENDER_API_KEY" in checks["render_api"]["detail"]
    assert checks["render_workspace"]["detail"] == "skipped: render_api failed"
