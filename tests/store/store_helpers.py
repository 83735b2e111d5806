"""Helpers shared by the store tests (a module of its own: conftest names collide across folders)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

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
