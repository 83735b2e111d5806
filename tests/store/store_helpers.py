"""Helpers shared by the store tests (a module of its own: conftest names collide across folders)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from rcp.core.models import LockHolder

HolderFactory = Callable[..., LockHolder]


class FakeClock:
    """Wall clock, monotonic clock and sleep that only move when told (or when slept on)."""

    def __init__(self) -> None:
        self.wall = datetime(2026, 11, 26, 14, 0, 0, tzinfo=UTC)
        self.mono = 1000.0
        self.slept: list[float] = []
        self.on_sleep: list[object] = []  # callables run at each sleep, for scripted waits

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        for hook in list(self.on_sleep):
            hook()  # type: ignore[operator]


# --- worker processes -------------------------------------------------------------------------
# Started by a fork server (not forked from pytest) so that no lock or connection held by a
# thread of the pytest process can leak into them; the server preloads the heavy imports so each
# worker starts in milliseconds. They live here because the server imports them by module name.

_WORKER_PRELOAD = ["store_helpers", "rcp.store.connect", "alembic.command", "psycopg"]


def run_together(target: Callable[..., None], url: str, count: int = 8) -> list[tuple[Any, ...]]:
    """Start ``count`` processes that call ``target(url, index, barrier, results)`` at the same
    moment (after a barrier); return what each put on the results queue."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_WORKER_PRELOAD)
    barrier = context.Barrier(count)
    results = context.Queue()
    workers = [
        context.Process(target=target, args=(url, index, barrier, results))
        for index in range(count)
    ]
    for worker in workers:
        worker.start()
    try:
        return [results.get(timeout=120) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()


def open_fresh_database(url: str, index: int, barrier: Any, results: Any) -> None:
    """Worker: open (and so migrate) the database; report the revision it ends up at."""
    try:
        from rcp.store import open_store

        barrier.wait(timeout=60)
        store = open_store(url)
        status = store.schema_status()
        store.close()
        results.put(("ok", status["current"]))
    except BaseException as exc:  # report, never hang the parent
        results.put(("error", repr(exc)))


def race_for_lock(url: str, index: int, barrier: Any, results: Any) -> None:
    """Worker: try once to take tenant acme's lock; report won (with generation) or busy."""
    try:
        from rcp.core.models import LockHolder
        from rcp.errors import LockBusy
        from rcp.store import open_store

        store = open_store(url)
        holder = LockHolder(actor=f"worker-{index}", host="ci", pid=os.getpid(), command="race")
        barrier.wait(timeout=60)
        try:
            lease = store.acquire_lock("acme", holder)
            results.put(("won", index, lease.generation))
        except LockBusy:
            results.put(("busy", index, 0))
        store.close()
    except BaseException as exc:  # report, never hang the parent
        results.put(("error", index, repr(exc)))
