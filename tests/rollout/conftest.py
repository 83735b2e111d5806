"""Fixtures of the rollout tests: the CLI against the in-process sandbox (a raised creation
quota, so a fleet of 40 is made in one apply), the template in revision 1 and a fleet file."""

from __future__ import annotations

from pathlib import Path

import pytest
from rollout_helpers import APP_V1, write_template

from tests.conftest import Cli


@pytest.fixture
def rollout_env(
    sandbox_env: dict[str, str], isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The data dir of a sandbox world where 200 creates fit one hour; template ``app`` v1."""
    monkeypatch.setenv("RENDER_API_KEY", "rnd_rollout_test_key")
    monkeypatch.setenv("RCP_SANDBOX_CREATE_LIMIT", "1000")
    for name in ("RCP_RATE_WINDOW_SCALE", "RCP_SANDBOX_RATE_WINDOW_SCALE"):
        monkeypatch.delenv(name, raising=False)
    write_template(isolated_env / "config", APP_V1)
    return isolated_env / "data"


@pytest.fixture
def rollout_cli(cli: Cli, rollout_env: Path) -> Cli:
    return cli
