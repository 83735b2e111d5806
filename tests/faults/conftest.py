"""Fixtures of the fault suite (see fault_harness.py) and the summary table it prints.

Each scenario runs on SQLite and on Postgres *at the same time* (``on_engines``): one served
sandbox and one control-plane database per engine, the scenario body on a thread per engine.
Most of a scenario's wall time is spent waiting (timeouts, delays, leases, subprocess start-up),
so this halves the suite's time on two cores without pytest-xdist.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_harness import FAULT_SUMMARY, EngineRunner, summary_lines


@pytest.fixture
def on_engines(tmp_path: Path) -> Iterator[EngineRunner]:
    runner = EngineRunner(tmp_path)
    try:
        yield runner
    finally:
        runner.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FAULT_SUMMARY:
        return
    terminalreporter.section("fault matrix: duplicates, orphans and canary hits must all be 0")
    for line in summary_lines():
        terminalreporter.write_line(line)
    terminalreporter.write_line(
        "runs: rcp invocations (property rows: generated examples; stateful: engine create/delete/resume runs)"
    )
