"""`rcp auth login|status|logout` against `rcp sandbox serve` (HTTP, as against Render)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from admin_helpers import ServedSandbox

from tests.conftest import Cli

KEY = "rnd_abcdefghijklmnopqrstuvwxyz0123"
MASKED = "rnd_…0123"


@pytest.fixture
def served(served_sandbox: ServedSandbox, sqlite_url: str) -> ServedSandbox:
    return served_sandbox


def credentials(isolated_env: Path) -> Path:
    return isolated_env / "config" / "credentials.json"


def login(cli: Cli, key: str = KEY) -> None:
    result = cli("-o", "json", "auth", "login", "--with-token", input=f"{key}\n")
    assert result.exit_code == 0, result.stderr


def test_login_stores_a_private_file_and_never_prints_the_key(
    cli: Cli, served: ServedSandbox, isolated_env: Path
) -> None:
    result = cli("-o", "json", "auth", "login", "--with-token", input=f"  {KEY}\n")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["stored"] is True
    assert data["key"] == MASKED
    assert data["path"] == str(credentials(isolated_env))
    assert data["api_url"] == served.url
    assert data["user"]["email"]
    assert KEY not in result.stdout + result.stderr

    path = credentials(isolated_env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert KEY in path.read_text()

    status = cli("-o", "json", "auth", "status")
    assert status.exit_code == 0, status.stderr
    assert status.json()["data"] == {
        "logged_in": True,
        "source": "credentials_file",
        "key": MASKED,
        "api_url": served.url,
        "sandbox": False,
        "user": data["user"],
        "credentials_file": {"path": str(path), "exists": True},
    }
    human = cli("auth", "status")
    assert MASKED in human.stdout and KEY not in human.stdout + human.stderr


def test_the_stored_key_is_used_and_render_api_key_wins(
    cli: Cli, served: ServedSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    health = cli("-o", "json", "health")
    checks = {c["name"]: c for c in health.json()["data"]["checks"]}
    assert checks["render_api"]["ok"] is False  # no key anywhere yet

    login(cli)
    health = cli("-o", "json", "health")
    checks = {c["name"]: c for c in health.json()["data"]["checks"]}
    assert checks["render_api"]["ok"] is True, checks["render_api"]
    assert KEY not in health.stdout + health.stderr

    from rcp.settings import GlobalOptions, load_settings

    assert load_settings(GlobalOptions()).api_key == KEY
    monkeypatch.setenv("RENDER_API_KEY", "rnd_fromtheenvironment9999")
    assert load_settings(GlobalOptions()).api_key == "rnd_fromtheenvironment9999"
    status = cli("-o", "json", "auth", "status")
    assert status.exit_code == 0
    assert status.json()["data"]["source"] == "RENDER_API_KEY"
    assert status.json()["data"]["key"] == "rnd_…9999"
    relogin = cli("auth", "login", "--with-token", input=f"{KEY}\n")
    assert relogin.exit_code == 0
    assert "RENDER_API_KEY is set and wins" in relogin.stderr


def test_a_rejected_key_is_not_stored(cli: Cli, served: ServedSandbox, isolated_env: Path) -> None:
    served.fail([{"method": "GET", "path": "/users", "action": "status", "status": 401}])
    result = cli("-o", "json", "auth", "login", "--with-token", input=f"{KEY}\n")
    assert result.exit_code == 6
    error = result.json()["error"]
    assert error["code"] == "auth_error"
    assert MASKED in error["message"] and "nothing was stored" in error["message"]
    assert KEY not in result.stdout + result.stderr
    assert not credentials(isolated_env).exists()


def test_status_of_a_key_render_no_longer_accepts(cli: Cli, served: ServedSandbox) -> None:
    login(cli)
    served.fail([{"method": "GET", "path": "/users", "action": "status", "status": 401}])
    result = cli("-o", "json", "auth", "status")
    assert result.exit_code == 6
    assert result.json()["error"]["code"] == "auth_error"
    assert KEY not in result.stdout + result.stderr


def test_without_a_terminal_the_key_must_come_on_stdin(cli: Cli, served: ServedSandbox) -> None:
    result = cli("-o", "json", "auth", "login")
    assert result.exit_code == 2
    assert "--with-token" in result.json()["error"]["message"]
    empty = cli("-o", "json", "auth", "login", "--with-token", input="\n")
    assert empty.exit_code == 2


def test_on_a_terminal_the_key_is_prompted_for(
    cli: Cli, served: ServedSandbox, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rcp.cli.auth

    monkeypatch.setattr(rcp.cli.auth, "no_input", lambda app_ctx: False)
    result = cli("auth", "login", input=f"{KEY}\n")
    assert result.exit_code == 0, result.stderr
    assert "Render API key" in result.stderr  # the prompt, on stderr
    assert KEY not in result.stdout + result.stderr  # hidden input is not echoed
    assert KEY in credentials(isolated_env).read_text()


def test_a_readable_credentials_file_is_refused(
    cli: Cli, served: ServedSandbox, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    login(cli)
    path = credentials(isolated_env)
    os.chmod(path, 0o644)
    # Only commands that need the key refuse it; reading records still works.
    assert cli("tenant", "list").exit_code == 0
    for args in (("tenant", "create", "acme"), ("auth", "status")):
        result = cli("-o", "json", *args)
        assert result.exit_code == 6, args
        error = result.json()["error"]
        assert error["code"] == "insecure_credentials"
        assert f"chmod 600 {path}" in error["hint"]
        assert KEY not in result.stdout + result.stderr
    # RENDER_API_KEY wins, so the file is not used: commands work, status warns.
    monkeypatch.setenv("RENDER_API_KEY", "rnd_fromtheenvironment9999")
    assert cli("tenant", "list").exit_code == 0
    warned = cli("auth", "status")
    assert warned.exit_code == 0 and "chmod 600" in warned.stderr
    monkeypatch.delenv("RENDER_API_KEY")
    # A refused file can still be removed.
    logout = cli("-o", "json", "auth", "logout")
    assert logout.exit_code == 0
    assert logout.json()["data"] == {"removed": True, "path": str(path)}


def test_logout(cli: Cli, served: ServedSandbox, isolated_env: Path) -> None:
    login(cli)
    first = cli("-o", "json", "auth", "logout")
    assert first.json()["data"]["removed"] is True
    assert not credentials(isolated_env).exists()
    again = cli("-o", "json", "auth", "logout")
    assert again.exit_code == 0 and again.json()["data"]["removed"] is False
    status = cli("-o", "json", "auth", "status")
    assert status.exit_code == 6
    assert status.json()["error"]["code"] == "missing_api_key"


def test_auth_against_the_in_process_sandbox(cli: Cli, sandbox_env: dict[str, str]) -> None:
    login(cli, "any-key-at-all")
    status = cli("-o", "json", "auth", "status")
    assert status.exit_code == 0, status.stderr
    data = status.json()["data"]
    assert data["sandbox"] is True and data["source"] == "credentials_file"
    assert data["key"] == "***"  # too short to show any of it


def test_auth_is_not_audited(cli: Cli, served: ServedSandbox) -> None:
    login(cli)
    assert cli("auth", "logout").exit_code == 0
    assert cli("-o", "json", "audit").json()["data"] == []
