"""Fixtures for the store tests: one database URL per backend, a controllable clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_helpers import FakeClock, HolderFactory

from rcp.core.models import LockHolder
from rcp.store import open_store
from rcp.store.repository import SqlStore


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend (Postgres skips without RCP_TEST_DATABASE_URL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'rcp.db'}"
    else:
        if not os.environ.get("RCP_TEST_DATABASE_URL"):
            pytest.skip("RCP_TEST_DATABASE_URL not set: Postgres variant skipped")
        yield request.getfixturevalue("fresh_postgres_url")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(db_url: str, clock: FakeClock) -> Iterator[SqlStore]:
    """A migrated SqlStore on a fresh database, with the fake clock (no real waiting)."""
    opened = open_store(db_url, clock=clock.now, monotonic=clock.monotonic, sleep=clock.sleep)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def make_holder() -> HolderFactory:
    """``make_holder(actor="alice", host="ci-1", pid=None)``: a LockHolder (pid defaults to ours)."""

    def build(actor: str = "alice", *, host: str = "ci-1", pid: int | None = None) -> LockHolder:
        return LockHolder(
            actor=actor,
            host=host,
            pid=os.getpid() if pid is None else pid,
            command=f"rcp tenant create acme (by {actor})",
        )

    return build
