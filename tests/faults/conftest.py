"""Fixtures of the fault suite (see fault_harness.py) and the summary table it prints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_harness import FAULT_SUMMARY, Rcp, Sandbox, summary_lines


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    served = Sandbox(tmp_path / "render")
    try:
        yield served
    finally:
        served.close()


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def database_url(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if engine == "postgres":
        url: str = request.getfixturevalue("fresh_postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'rcp.db'}"


@pytest.fixture
def rcp(sandbox: Sandbox, database_url: str, engine: str, tmp_path: Path) -> Rcp:
    return Rcp(sandbox=sandbox, database_url=database_url, engine=engine, home=tmp_path / "home")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FAULT_SUMMARY:
        return
    terminalreporter.section("fault matrix: duplicates, orphans and canary hits must all be 0")
    for line in summary_lines():
        terminalreporter.write_line(line)
