"""Issue 11 items 5 and 8: the Render API URL, the config file, booleans, --timeout, auth dirs.

- ``RENDER_API_URL`` (or ``api_url``) with plain ``http://`` to another machine is refused
  (exit 6) before the key is sent anywhere; loopback (``rcp sandbox serve``) is allowed; a host
  that is not Render's is named on stderr once per run.
- An unknown ``config.toml`` key is exit 6 naming it, with a suggestion.
- Boolean settings take 1/0/true/false/yes/no only (exit 6 naming the setting otherwise), with
  the usual precedence (flag > variable > file).
- ``--timeout`` must be positive (exit 2); ``auth login`` creates missing directories 0700 and
  leaves existing ones alone.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hardening_helpers import Served

from tests.conftest import Cli

KEY = "rnd_SettingsCanaryKey0123456789"


def _config(isolated_env: Path, text: str) -> Path:
    config_dir = isolated_env / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "config.toml"
    path.write_text(text)
    return path


def _sandbox_db(cli: Cli, env: dict[str, str] | None = None) -> bool:
    """Whether the run used the sandbox (its records live in <data>/sandbox/rcp.db)."""
    result = cli("-o", "json", "db", "status", env=env)
    assert result.exit_code == 0, result.stderr
    return "/sandbox/" in result.json()["data"]["url"]


# ---------------------------------------------------------------- item 5: API URL


@pytest.mark.parametrize(
    "url", ["http://192.0.2.1/v1", "http://api.render.com/v1", "http://10.0.0.5:8080/v1"]
)
def test_plain_http_to_another_host_is_refused_before_any_request(cli: Cli, url: str) -> None:
    env = {"RENDER_API_URL": url, "RENDER_API_KEY": KEY}
    result = cli("-o", "json", "tenant", "create", "acme", env=env)
    assert result.exit_code == 6, result.stderr
    error = result.json()["error"]
    assert error["code"] == "insecure_api_url"
    assert "RENDER_API_URL" in error["message"] and "http" in error["message"]
    assert KEY not in result.stdout + result.stderr
    # Refused before the record: nothing to clean up. Commands that only read records work.
    listing = cli("-o", "json", "tenant", "list", env=env)
    assert listing.exit_code == 0 and listing.json()["data"] == []


def test_auth_login_never_sends_the_key_over_plain_http(cli: Cli, isolated_env: Path) -> None:
    env = {"RENDER_API_URL": "http://192.0.2.1/v1"}
    result = cli("auth", "login", "--with-token", input=KEY + "\n", env=env)
    assert result.exit_code == 6, result.stderr
    assert "plain http" in result.stderr
    assert not (isolated_env / "config" / "credentials.json").exists()


def test_config_file_api_url_is_checked_the_same_way(cli: Cli, isolated_env: Path) -> None:
    path = _config(isolated_env, 'api_url = "http://render-proxy.internal/v1"\n')
    result = cli("tenant", "create", "acme", env={"RENDER_API_KEY": KEY})
    assert result.exit_code == 6
    assert f"{path}:api_url" in result.stderr


def test_health_reports_the_refused_url_as_a_failed_check(cli: Cli) -> None:
    env = {"RENDER_API_URL": "http://192.0.2.1/v1", "RENDER_API_KEY": KEY}
    result = cli("-o", "json", "health", env=env)
    assert result.exit_code == 1  # health: failing checks are exit 1, never 6
    checks = {check["name"]: check for check in result.json()["data"]["checks"]}
    assert not checks["render_api"]["ok"]
    assert "plain http" in checks["render_api"]["detail"]


def test_loopback_http_works_and_the_host_is_named_once(
    cli: Cli, served_sandbox: Served
) -> None:
    env = {
        "RENDER_API_KEY": KEY,
        "RCP_SANDBOX_DEPLOY_SECONDS": "0.2",
        "RCP_SANDBOX_DATASTORE_SECONDS": "0.3",
    }
    created = cli("tenant", "create", "acme", env=env)
    assert created.exit_code == 0, created.stderr
    notice = "Warning: using the Render API at 127.0.0.1 (RENDER_API_URL), not api.render.com"
    # Dozens of requests, one line.
    assert created.stderr.count(notice) == 1, created.stderr
    assert created.stderr.count("Warning: using the Render API") == 1


@pytest.mark.parametrize(
    ("url", "problem", "notice"),
    [
        ("https://api.render.com/v1", False, None),
        ("https://render-proxy.example.com/v1", False, "render-proxy.example.com"),
        ("http://localhost:10000/v1", False, "localhost"),
        ("http://127.0.0.2:10000/v1", False, "127.0.0.2"),
        ("http://[::1]:10000/v1", False, "::1"),
        ("http://192.168.1.10/v1", True, None),
        ("ftp://api.render.com/v1", True, None),
        ("https:///v1", True, None),
    ],
)
def test_api_url_rules(url: str, problem: bool, notice: str | None) -> None:
    from rcp.settings import GlobalOptions, load_settings

    settings = load_settings(
        GlobalOptions(), environ={**os.environ, "RENDER_API_URL": url}, read_credentials=False
    )
    assert (settings.api_url_problem is not None) is problem
    if notice is None:
        assert settings.api_url_notice is None
    else:
        assert settings.api_url_notice is not None and notice in settings.api_url_notice


def test_sandbox_ignores_render_api_url(cli: Cli) -> None:
    """The in-process sandbox never opens a connection, so an http URL there is no risk."""
    env = {"RCP_SANDBOX": "1", "RENDER_API_URL": "http://192.0.2.1/v1"}
    result = cli("-o", "json", "auth", "status", env=env)
    assert result.exit_code == 0, result.stderr
    assert "Warning" not in result.stderr


# ---------------------------------------------------------------- item 8: config file


def test_unknown_config_key_is_named_with_a_suggestion(cli: Cli, isolated_env: Path) -> None:
    path = _config(isolated_env, 'outptu = "json"\n')
    result = cli("-o", "json", "tenant", "list")
    assert result.exit_code == 6, result.stderr
    error = result.json()["error"]
    assert error["code"] == "unknown_setting"
    assert error["message"] == f"unknown setting 'outptu' in {path}"
    assert error["hint"].startswith("did you mean 'output'?")


def test_unknown_config_key_without_a_close_match_lists_the_known_ones(
    cli: Cli, isolated_env: Path
) -> None:
    _config(isolated_env, "[prices]\nstarter = 7\n")
    result = cli("tenant", "list")
    assert result.exit_code == 6
    assert "unknown setting 'prices'" in result.stderr
    assert "known settings: api_url, database_url" in result.stderr


# ---------------------------------------------------------------- item 8: booleans


@pytest.mark.parametrize("value", ["maybe", "on", "2", "y", "enabled"])
def test_rcp_sandbox_accepts_only_boolean_words(cli: Cli, value: str) -> None:
    result = cli("-o", "json", "tenant", "list", env={"RCP_SANDBOX": value})
    assert result.exit_code == 6, result.stderr
    assert result.json()["error"]["message"] == (
        f"invalid RCP_SANDBOX value {value!r}: expected 1, 0, true, false, yes or no"
    )


@pytest.mark.parametrize(
    ("value", "sandbox"),
    [("1", True), ("true", True), ("YES", True), ("0", False), ("False", False), ("no", False)],
)
def test_rcp_sandbox_boolean_words(cli: Cli, value: str, sandbox: bool) -> None:
    assert _sandbox_db(cli, env={"RCP_SANDBOX": value}) is sandbox


def test_config_sandbox_must_be_a_boolean(cli: Cli, isolated_env: Path) -> None:
    path = _config(isolated_env, 'sandbox = "maybe"\n')
    result = cli("tenant", "list")
    assert result.exit_code == 6
    assert f"invalid {path}:sandbox value 'maybe'" in result.stderr


def test_sandbox_precedence_flag_then_variable_then_file(cli: Cli, isolated_env: Path) -> None:
    _config(isolated_env, "sandbox = true\n")
    assert _sandbox_db(cli) is True
    assert _sandbox_db(cli, env={"RCP_SANDBOX": "0"}) is False  # the variable wins over the file
    result = cli("--sandbox", "-o", "json", "db", "status", env={"RCP_SANDBOX": "0"})
    assert "/sandbox/" in result.json()["data"]["url"]  # and the flag over both


def test_rcp_debug_accepts_only_boolean_words(cli: Cli) -> None:
    result = cli("tenant", "list", env={"RCP_DEBUG": "verbose"})
    assert result.exit_code == 6
    assert "invalid RCP_DEBUG value 'verbose'" in result.stderr


# ---------------------------------------------------------------- item 8: --timeout


@pytest.mark.parametrize("value", ["0", "0s", "0m", "0.0"])
@pytest.mark.parametrize(
    "args",
    [
        ["tenant", "create", "acme"],
        ["tenant", "resume", "acme"],
        ["apply", "fleet.yaml", "--yes"],
    ],
    ids=["create", "resume", "apply"],
)
def test_timeout_must_be_positive(
    cli: Cli, sandbox_env: dict[str, str], value: str, args: list[str]
) -> None:
    result = cli("-o", "json", *args, "--timeout", value)
    assert result.exit_code == 2, result.stderr
    error = result.json()["error"]
    assert error["message"] == f"invalid --timeout value {value!r}: it must be more than 0"
    assert cli("-o", "json", "tenant", "list").json()["data"] == []


# ---------------------------------------------------------------- item 8: auth directories


def test_auth_login_leaves_an_existing_config_dir_alone(
    cli: Cli, sandbox_env: dict[str, str], isolated_env: Path
) -> None:
    config_dir = isolated_env / "config"
    config_dir.mkdir(mode=0o755)
    os.chmod(config_dir, 0o755)
    result = cli("auth", "login", "--with-token", input=KEY + "\n")
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o755  # not chmodded
    assert stat.S_IMODE((config_dir / "credentials.json").stat().st_mode) == 0o600


def test_auth_login_creates_missing_dirs_0700(
    cli: Cli, sandbox_env: dict[str, str], isolated_env: Path
) -> None:
    config_dir = isolated_env / "home" / "dot-config" / "rcp"
    os.chmod(isolated_env, 0o751)
    result = cli(
        "auth", "login", "--with-token", input=KEY + "\n", env={"RCP_CONFIG_DIR": str(config_dir)}
    )
    assert result.exit_code == 0, result.stderr
    for folder in (config_dir, config_dir.parent, config_dir.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(isolated_env.stat().st_mode) == 0o751  # it existed: untouched
