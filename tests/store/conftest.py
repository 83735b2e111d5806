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
        base = os.environ.get("RCP_TEST_DATABASE_URL")
        if not base:
            pytest.skip("RCP_TEST_DATABASE_URL not set: Postgres variant skipped")
        yield from _fresh_postgres_schema(base)


def _fresh_postgres_schema(base: str) -> Iterator[str]:
    """A URL whose connections live in a new, empty schema (search_path), dropped afterwards.

    A schema per test isolates as well as a database per test here and costs far less than
    CREATE/DROP DATABASE, which copies a template and checkpoints.
    """
    import uuid

    import psycopg

    libpq_url = base.replace("postgresql+psycopg://", "postgresql://", 1)
    schema = f"rcp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq_url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(libpq_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


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
