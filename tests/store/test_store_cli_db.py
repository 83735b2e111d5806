"""`rcp db status|upgrade` through the real CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rcp.store import migrate


def test_status_then_upgrade_then_status(cli: Any, tmp_path: Path) -> None:
    db_file = tmp_path / "state" / "rcp.db"
    env = {"RCP_DATABASE_URL": f"sqlite:///{db_file}"}

    before = cli("db", "status", "-o", "json", env=env)
    assert before.exit_code == 0, before.stderr
    assert before.json() == {
        "data": {
            "url": f"sqlite:///{db_file}",
            "current": None,
            "head": migrate.HEAD_REVISION,
            "at_head": False,
        }
    }

    upgraded = cli("db", "upgrade", "-o", "json", env=env)
    assert upgraded.exit_code == 0, upgraded.stderr
    data = upgraded.json()["data"]
    assert data["upgraded"] is True
    assert data["previous"] is None
    assert data["current"] == data["head"] == migrate.HEAD_REVISION

    again = cli("db", "upgrade", env=env)
    assert again.exit_code == 0
    assert "already at" in again.stdout

    after = cli("db", "status", env=env)
    assert after.exit_code == 0
    assert "up to date" in after.stdout


def test_status_of_unreachable_database_exits_6_with_password_masked(cli: Any) -> None:
    env = {"RCP_DATABASE_URL": "postgresql://rcp:hunter2@127.0.0.1:1/rcp"}
    result = cli("db", "status", "-o", "json", env=env)
    assert result.exit_code == 6
    error = result.json()["error"]
    assert error["code"] == "database_error"
    assert "postgresql://rcp:***@127.0.0.1:1/rcp" in error["message"]
    assert "hunter2" not in result.stdout + result.stderr
