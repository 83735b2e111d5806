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
from fault_harness import FAULT_SUMMARY, EngineRunner


@pytest.fixture
def on_engines(tmp_path: Path) -> Iterator[EngineRunner]:
    runner = EngineRunner(tmp_path)
    try:
        yield runner
    finally:
        runner.close()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a pytest-xdist worker: hand this worker's counts to the controller, which prints the
    table (tests/conftest.py merges them; a worker has no terminal of its own)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None and FAULT_SUMMARY:
        workeroutput["fault_summary"] = [
            [scenario, engine, counts.runs, counts.duplicates, counts.orphans, counts.canary_hits]
            for (scenario, engine), counts in FAULT_SUMMARY.items()
        ]
