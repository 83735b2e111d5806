"""Test-only hooks (``RCP_FAILPOINT``, ``RCP_TEST_*``): read in ``rcp.testhooks`` only, and
injected into the adapters by the composition root (``rcp.context``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import Cli

SRC = Path(__file__).resolve().parents[2] / "src" / "rcp"


def test_only_the_testhooks_package_names_the_variables() -> None:
    # A string literal naming one (docs may mention them anywhere).
    pattern = re.compile(r"[\"']RCP_(TEST_[A-Z_]+|FAILPOINT\w*)[\"']")
    readers = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    )
    assert readers == ["testhooks/__init__.py"]


@pytest.mark.usefixtures("sandbox_env")
def test_connect_faults_reach_the_client_through_the_context(cli: Cli) -> None:
    # GET /users is idempotent: the injected connect error is retried, then the check passes.
    faults = [{"method": "GET", "path": "/users", "times": 1, "kind": "connect_error"}]
    result = cli(
        "-v",
        "-o",
        "json",
        "health",
        env={"RCP_TEST_CONNECT_FAULTS": json.dumps(faults), "RCP_TEST_BACKOFF_BASE": "0.01"},
    )
    assert result.exit_code == 0, result.stderr
    assert result.json()["data"]["status"] == "healthy"
    assert "ConnectError" in result.stderr


@pytest.mark.usefixtures("sandbox_env")
@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RCP_TEST_HTTP_TIMEOUT", "soon", "RCP_TEST_HTTP_TIMEOUT must be a number of seconds"),
        ("RCP_TEST_LEASE_SECONDS", "-1", "RCP_TEST_LEASE_SECONDS must be a positive number"),
        ("RCP_TEST_CONNECT_FAULTS", "{", "RCP_TEST_CONNECT_FAULTS must be a JSON list of rules"),
    ],
)
def test_a_malformed_hook_is_a_configuration_error(
    cli: Cli, variable: str, value: str, message: str
) -> None:
    result = cli("-o", "json", "tenant", "delete", "acme", "--yes", env={variable: value})
    assert result.exit_code == 6, result.stderr
    assert result.json()["error"]["code"] == "config_error"
    assert message in result.stderr


def test_help_does_not_parse_the_hooks(cli: Cli) -> None:
    result = cli("tenant", "--help", env={"RCP_TEST_LEASE_SECONDS": "nonsense"})
    assert result.exit_code == 0
