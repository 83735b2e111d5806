"""Test isolation and the shared fixtures: every test gets its own config and data dirs, no
Render key, no CI variables, and runs the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rcp.testhooks import VARIABLES as TEST_HOOK_VARIABLES

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = (PROJECT_ROOT / ".." / "shared").resolve()

ISOLATED_VARIABLES = (
    "RENDER_API_KEY",
    "RENDER_API_URL",
    "RENDER_OWNER_ID",
    "RCP_DATABASE_URL",
    "DATABASE_URL",
    "RCP_OUTPUT",
    "RCP_SANDBOX",
    "RCP_SANDBOX_DATABASE_URL",
    "RCP_ACTOR",
    "RCP_LOG_FORMAT",
    "RCP_MAX_WAIT",
    "RCP_DEBUG",
    "CI",
    "GITHUB_ACTOR",
    "GITLAB_USER_LOGIN",
    "RCP_SANDBOX_FAULTS",
    "RCP_SANDBOX_DEPLOY_SECONDS",
    "RCP_SANDBOX_DATASTORE_SECONDS",
    "RCP_SANDBOX_LATENCY_MS",
    "RCP_SANDBOX_RATE_LIMITS",
    "RCP_SANDBOX_RATE_WINDOW_SCALE",
    "RCP_SANDBOX_OWNERS",
    "RCP_SANDBOX_DEPLOY_OVERLAP",
    "RCP_RATE_WINDOW_SCALE",
    "RCP_SANDBOX_PROFILE",
    "RCP_SANDBOX_TIME_SCALE",
    "RCP_RENDER_TIME_SCALE",
    *TEST_HOOK_VARIABLES,  # RCP_FAILPOINT, RCP_TEST_*: rcp.testhooks
)



# A template with every resource kind a tenant commonly has (four creates: Postgres, Key
# Value, web, worker), shared by the tenant-operation and fleet tests.
FULL_TEMPLATE = """\
services:
  - type: web
    name: web
    runtime: node
    repo: https://github.com/render-examples/express-hello-world
    buildCommand: npm install
    startCommand: npm start
    plan: starter
    envVars:
      - key: DATABASE_URL
        fromDatabase: {name: db, property: connectionString}
      - key: REDIS_URL
        fromService: {name: cache, type: keyvalue, property: connectionString}
      - key: GREETING
        value: hello
      - key: SESSION_SECRET
        generateValue: true
  - type: worker
    name: worker
    runtime: node
    repo: https://github.com/render-examples/express-hello-world
    buildCommand: npm install
    startCommand: node worker.js
    plan: starter
  - type: keyvalue
    name: cache
    plan: starter
    ipAllowList: []
databases:
  - name: db
    plan: basic-256mb
"""

def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared not present at {SHARED}: reference data unavailable")
    return SHARED


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ISOLATED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    config_dir = tmp_path / "config"
    data_dir = tmp_path / "data"
    monkeypatch.setenv("RCP_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("RCP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("RCP_ACTOR", "tester")
    return tmp_path


@pytest.fixture(autouse=True)
def fresh_rate_limiter() -> Iterator[None]:
    """The client-side limiter is process-wide by design; each test starts with empty buckets."""
    from rcp.render.ratelimit import reset_default_limiter

    reset_default_limiter()
    yield
    reset_default_limiter()


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class Cli:
    """Runs the real CLI in-process (CliRunner) with separate stdout and stderr."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = env or {}

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> CliResult:
        from typer.testing import CliRunner

        from rcp.cli import app

        runner = CliRunner()
        merged = {**self.env, **(env or {})}
        result = runner.invoke(app, list(args), input=input, env=merged, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def sandbox_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """In-process sandbox with a fast clock."""
    env = {
        "RCP_SANDBOX": "1",
        "RCP_SANDBOX_DEPLOY_SECONDS": "0.2",
        "RCP_SANDBOX_DATASTORE_SECONDS": "0.3",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def run_rcp(
    args: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 60, input: str | None = None
) -> CliResult:
    """The CLI as a subprocess (signals, TTYs, concurrency)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "rcp", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def _fault_harness() -> Any:
    """tests/faults/fault_harness.py, imported under the name the fault tests use."""
    faults = str(Path(__file__).parent / "faults")
    if faults not in sys.path:
        sys.path.insert(0, faults)
    import fault_harness

    return fault_harness


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: the controller, as each worker ends
def pytest_testnodedown(node: Any, error: object) -> None:
    rows = getattr(node, "workeroutput", {}).get("fault_summary")
    if rows:
        harness = _fault_harness()
        for scenario, engine, runs, duplicates, orphans, canary_hits in rows:
            harness.record(
                scenario, engine, runs=runs, duplicates=duplicates, orphans=orphans, canary_hits=canary_hits
            )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault suite's table, here rather than in tests/faults/conftest.py because under
    pytest-xdist only the controller has a terminal, and it never loads that conftest."""
    harness = sys.modules.get("fault_harness")  # imported only if fault tests ran or reported
    if harness is None or not harness.FAULT_SUMMARY:
        return
    terminalreporter.section("fault matrix: duplicates, orphans and canary hits must all be 0")
    for line in harness.summary_lines():
        terminalreporter.write_line(line)
    terminalreporter.write_line(
        "runs: rcp invocations (property rows: generated examples; stateful: engine create/delete/resume runs)"
    )


def postgres_url() -> str | None:
    return os.environ.get("RCP_TEST_DATABASE_URL") or None


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A new, empty Postgres database for one test (skips without RCP_TEST_DATABASE_URL)."""
    base = postgres_url()
    if not base:
        pytest.skip("RCP_TEST_DATABASE_URL not set: no Postgres to test against")
    import uuid

    import psycopg

    name = f"rcp_t_{uuid.uuid4().hex[:12]}"
    admin = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
