"""``rcp serve token …`` and ``rcp serve`` itself as CLI commands: tokens shown once and stored
hashed, the optional extra, start-up imports, the audit of token changes."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli

# What `rcp serve --help` must not load: the CLI's heavy stack and the [serve] extra (pydantic
# is not listed: Typer itself imports it to coerce some option types).
NOT_AT_STARTUP = (
    "sqlmodel", "sqlalchemy", "httpx", "tenacity", "alembic", "yaml",
    "fastapi", "uvicorn", "starlette", "jinja2",
)


def test_token_create_list_revoke(rcp: Cli, db_url: str) -> None:
    created = rcp("-o", "json", "serve", "token", "create", "signup-flow", "--scope", "write")
    assert created.exit_code == 0, created.stderr
    data = created.json()["data"]
    secret = data["token"]
    assert secret.startswith("rcp_") and len(secret) >= 40
    assert data["name"] == "signup-flow" and data["scope"] == "write"
    assert data["prefix"] == secret[:10]
    # Human mode prints the token alone on stdout (for $(...)), the warning on stderr.
    human = rcp("serve", "token", "create", "viewer")
    assert human.exit_code == 0
    assert human.stdout.strip().startswith("rcp_") and len(human.stdout.strip().split()) == 1
    assert "cannot be shown again" in human.stderr
    listed = rcp("-o", "json", "serve", "token", "list")
    assert listed.exit_code == 0
    rows = listed.json()["data"]
    assert [(r["name"], r["scope"]) for r in rows] == [("signup-flow", "write"), ("viewer", "read")]
    assert secret not in listed.stdout  # never shown again
    # The database holds the hash, never the token.
    if db_url.startswith("sqlite"):
        raw = Path(db_url.removeprefix("sqlite:///")).read_bytes()
        assert secret.encode() not in raw
        assert hashlib.sha256(secret.encode()).hexdigest().encode() in raw
    duplicate = rcp("-o", "json", "serve", "token", "create", "viewer")
    assert duplicate.exit_code == 4 and duplicate.json()["error"]["code"] == "token_exists"
    revoked = rcp("-o", "json", "serve", "token", "revoke", "viewer")
    assert revoked.exit_code == 0 and revoked.json()["data"]["revoked_at"]
    assert [r["name"] for r in rcp("-o", "json", "serve", "token", "list").json()["data"]] == [
        "signup-flow"
    ]
    everything = rcp("-o", "json", "serve", "token", "list", "--all").json()["data"]
    assert [r["name"] for r in everything] == ["signup-flow", "viewer"]
    # A revoked name can be given to a new token.
    assert rcp("serve", "token", "create", "viewer").exit_code == 0
    audit = rcp("-o", "json", "audit").json()["data"]
    assert sum(1 for entry in audit if "serve token create" in entry["command"]) == 3
    assert all(secret not in entry["command"] for entry in audit)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["serve", "token", "create", "bad name"], "invalid token name"),
        (["serve", "token", "create", "ok", "--scope", "admin"], "--scope"),
        (["serve", "token", "revoke", "nobody"], "no active token named nobody"),
        (["serve", "--cors-origin", "not-an-origin"], "--cors-origin"),
    ],
)
def test_token_usage_errors(rcp: Cli, args: list[str], fragment: str) -> None:
    result = rcp(*args)
    assert result.exit_code == 2, result.stderr
    assert fragment in result.stderr
    assert result.stdout == ""


def test_serve_without_the_extra_exits_6(rcp: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from rcp.serve import SERVE_MODULES

    monkeypatch.setitem(SERVE_MODULES, "fastapi", "fastapi_is_not_installed_here")
    result = rcp("-o", "json", "serve")
    assert result.exit_code == 6
    error = result.json()["error"]
    assert error["code"] == "missing_extra"
    assert "fastapi" in error["message"]
    assert "pip install 'render-control-plane[serve]'" in error["hint"]


def test_serve_without_api_key_exits_6(rcp: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RCP_SANDBOX")
    result = rcp("-o", "json", "serve")
    assert result.exit_code == 6
    assert result.json()["error"]["code"] == "missing_api_key"


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["serve", "token", "--help"]])
def test_serve_help_imports_nothing_heavy(args: list[str]) -> None:
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
    assert not imported & set(NOT_AT_STARTUP), sorted(imported & set(NOT_AT_STARTUP))
