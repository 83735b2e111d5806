"""The root command: help, version, global options anywhere, usage and config errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rcp import __version__
from rcp.cli import hoist_global_options

HEAVY = ("sqlmodel", "sqlalchemy", "httpx", "tenacity", "alembic", "yaml")


def test_version(cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"rcp {__version__}\n"
    assert result.stderr == ""


def test_help_lists_command_groups(cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for group in ("tenant", "template", "db", "sandbox", "health"):
        assert group in result.stdout


@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], ["tenant", "--help"], ["tenant", "create", "--help"]],
)
def test_help_and_version_import_nothing_heavy(args: list[str]) -> None:
    """Nor pydantic (Typer would build a TypeAdapter per parameter: see rcp.cli._params)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "rcp", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert not imported & {*HEAVY, "pydantic"}, sorted(imported & {*HEAVY, "pydantic"})


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["tenant", "list", "-o", "json"], ["-o", "json", "tenant", "list"]),
        (["tenant", "list", "--output=json", "-vv"], ["--output=json", "-vv", "tenant", "list"]),
        (["-q", "tenant", "show", "acme", "--sandbox"], ["-q", "--sandbox", "tenant", "show", "acme"]),
        (["tenant", "show", "--", "-o"], ["tenant", "show", "--", "-o"]),
    ],
)
def test_hoist_global_options(argv: list[str], expected: list[str]) -> None:
    assert hoist_global_options(argv) == expected


def test_global_option_after_command(cli) -> None:
    before = cli("-o", "json", "tenant", "list")
    after = cli("tenant", "list", "-o", "json")
    assert before.exit_code == after.exit_code == 0
    assert before.stdout == after.stdout == '{"data": []}\n'


def test_bad_output_flag_is_usage_error(cli) -> None:
    result = cli("tenant", "list", "-o", "xml")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert "xml" in result.stderr


def test_usage_error_in_json_mode_prints_envelope(cli) -> None:
    result = cli("-o", "json", "tenant", "create")
    assert result.exit_code == 2
    envelope = json.loads(result.stdout)
    assert envelope["error"]["code"] == "usage_error"
    assert envelope["error"]["message"] == "Missing argument 'name'."
    assert result.stderr.startswith("Error: ")


def test_bad_rcp_output_env_is_config_error(cli) -> None:
    result = cli("tenant", "list", env={"RCP_OUTPUT": "yaml"})
    assert result.exit_code == 6
    assert result.stderr == "Error: invalid RCP_OUTPUT value 'yaml': expected human or json\n"


def test_bad_database_url_is_config_error_with_password_masked(cli) -> None:
    result = cli(
        "-o", "json", "tenant", "list", env={"RCP_DATABASE_URL": "mysql://u:s3cretpw@h/db"}
    )
    assert result.exit_code == 6
    assert "s3cretpw" not in result.stdout + result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "config_error"
    assert error["message"] == (
        "invalid RCP_DATABASE_URL value 'mysql://u:***@h/db': expected sqlite:///PATH or postgresql://…"
    )


def test_malformed_config_file_is_config_error(cli, isolated_env) -> None:
    config_dir = isolated_env / "config"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text("output = [unterminated\n")
    result = cli("tenant", "list")
    assert result.exit_code == 6
    assert "config.toml" in result.stderr


def test_config_file_sets_output(cli, isolated_env) -> None:
    config_dir = isolated_env / "config"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text('output = "json"\n')
    result = cli("tenant", "list")
    assert result.exit_code == 0
    assert result.stdout == '{"data": []}\n'
    # the flag still wins over the file
    assert cli("tenant", "list", "-o", "human").stdout != '{"data": []}\n'


def test_bad_sandbox_setting_is_config_error(cli) -> None:
    result = cli(
        "--sandbox", "tenant", "create", "acme", env={"RCP_SANDBOX_DEPLOY_SECONDS": "soon"}
    )
    assert result.exit_code == 6
    assert result.stderr.startswith("Error: sandbox configuration: ")
    assert "RCP_SANDBOX_DEPLOY_SECONDS" in result.stderr
