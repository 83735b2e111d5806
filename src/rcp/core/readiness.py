"""Readiness polling shared by every tenant a run provisions (``rcp apply`` at concurrency 32
is one run): one ``ReadinessPoller`` per ``Operator``, used by each of its engines.

Two ways to read a resource's state, chosen by kind (``RenderGateway.reads_in_batches``):

- **In batches** — Postgres and Key Value: Render's list endpoint filtered by name carries each
  instance's ``status``, so one ``GET /postgres?name=a,b,…`` answers for every instance any
  tenant awaits. Engines ask on a shared grid of ticks (``Waiting.poll_max`` Render seconds
  apart): the first engine due at a tick reads the whole batch, the others take its answer. A
  list error does not fail the batch: each resource is then read on its own, and only its own
  error reaches the tenant awaiting it.
- **One by one** — a service's deploy (no list endpoint shows a deploy's status): paced by
  what the run has learned about how long such a deploy takes (``quiet_until``), then polled
  every ``Waiting.poll_max`` until it is done.

Durations are Render seconds; ``time_scale`` (Render seconds per second of ``clock``) maps them
onto this process's clock, so a sandbox on a scaled clock is polled at Render's pace.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from rcp.core.models import RemoteResource, ResourceKind
from rcp.core.ports import RenderGateway

# Before a class of resources has finished once, a younger one is not expected ready while its
# age is under this fraction of the oldest pending one's (which is not ready yet either):
# resources of one template take about as long as each other.
PEER_RATIO = 0.8


@dataclass
class _Observation:
    taken_at: float
    resource: RemoteResource | None = None
    error: BaseException | None = None


class ReadinessPoller:
    """Batched reads of awaited resources and the pace of single ones (module docstring).
    Thread-safe: every engine of a run shares one."""

    def __init__(
        self,
        gateway: RenderGateway,
        *,
        clock: Callable[[], float] = time.monotonic,
        time_scale: float = 1.0,
    ) -> None:
        if not time_scale > 0:
            raise ValueError("time_scale must be positive")
        self.gateway = gateway
        self.clock = clock
        self.time_scale = time_scale
        self._cond = threading.Condition()
        # Batched kinds: every awaited resource (id → name) and the latest observation of each.
        self._watched: dict[ResourceKind, dict[str, str]] = {}
        self._observed: dict[str, _Observation] = {}
        self._in_flight: set[ResourceKind] = set()
        # Learning: per class, the shortest time to ready seen (Render seconds), and when each
        # pending member started (clock).
        self._shortest: dict[str, float] = {}
        self._started: dict[str, dict[str, float]] = {}

    # ---- clock -------------------------------------------------------------------------------

    def clock_seconds(self, render_seconds: float) -> float:
        """Render seconds as seconds of ``clock``."""
        return render_seconds / self.time_scale

    def next_tick(self, interval: float, at: float) -> float:
        """The first tick at or after ``at`` of the grid of every ``interval`` Render seconds:
        engines due at the same tick share one batch."""
        step = self.clock_seconds(interval)
        return math.ceil(at / step) * step

    # ---- batched reads -----------------------------------------------------------------------

    def batched(self, kind: ResourceKind) -> bool:
        return self.gateway.reads_in_batches(kind)

    def watch(self, kind: ResourceKind, render_id: str, name: str) -> None:
        with self._cond:
            self._watched.setdefault(kind, {})[render_id] = name

    def unwatch(self, kind: ResourceKind, render_id: str) -> None:
        with self._cond:
            self._watched.get(kind, {}).pop(render_id, None)
            self._observed.pop(render_id, None)

    def read(
        self,
        kind: ResourceKind,
        render_id: str,
        name: str,
        fresh_after: float,
        check: Callable[[], None] = lambda: None,
    ) -> RemoteResource | None:
        """The resource as Render showed it at or after ``fresh_after`` (None: gone): taken from
        a batch another engine read since, or from the batch this call reads for every watched
        resource of ``kind``. ``check`` runs while waiting for another engine's batch (the
        caller's stop flag)."""
        with self._cond:
            self._watched.setdefault(kind, {})[render_id] = name
            while True:
                seen = self._observed.get(render_id)
                if seen is not None and seen.taken_at >= fresh_after:
                    if seen.error is not None:
                        raise seen.error
                    return seen.resource
                if kind not in self._in_flight:
                    break
                check()
                self._cond.wait(0.2)
            self._in_flight.add(kind)
            wanted = dict(self._watched[kind])
            taken_at = self.clock()
        try:
            observations = self._read_batch(kind, wanted, taken_at)
        finally:
            with self._cond:
                self._in_flight.discard(kind)
                self._cond.notify_all()
        with self._cond:
            for rid, observation in observations.items():
                if rid in self._watched.get(kind, {}):
                    self._observed[rid] = observation
            self._cond.notify_all()
        mine = observations[render_id]
        if mine.error is not None:
            raise mine.error
        return mine.resource

    def _read_batch(
        self, kind: ResourceKind, wanted: dict[str, str], taken_at: float
    ) -> dict[str, _Observation]:
        try:
            states = self.gateway.read_many(kind, wanted)
        except Exception:
            # The list failed (after the client's retries): each resource on its own, so that
            # only a resource's own error reaches the tenant awaiting it.
            observations: dict[str, _Observation] = {}
            for render_id in wanted:
                try:
                    observations[render_id] = _Observation(
                        taken_at, self.gateway.get(kind, render_id)
                    )
                except Exception as exc:
                    observations[render_id] = _Observation(taken_at, error=exc)
            return observations
        return {rid: _Observation(taken_at, states.get(rid)) for rid in wanted}

    # ---- learning the pace -------------------------------------------------------------------

    def started(self, klass: str, member: str, at: float) -> None:
        """A member of ``klass`` (e.g. one template's web service deploy) started at ``at``."""
        with self._cond:
            self._started.setdefault(klass, {})[member] = at

    def finished(self, klass: str, member: str, not_ready_age: float | None) -> None:
        """The member is done (or no longer awaited). ``not_ready_age``: Render seconds after
        its start at which it was last seen not ready, when it then became ready: a lower bound
        of how long the class takes."""
        with self._cond:
            self._started.get(klass, {}).pop(member, None)
            if not_ready_age is not None:
                shortest = self._shortest.get(klass)
                if shortest is None or not_ready_age < shortest:
                    self._shortest[klass] = not_ready_age

    def shortest(self, klass: str) -> float | None:
        with self._cond:
            return self._shortest.get(klass)

    def quiet_until(
        self, klass: str, member: str, started: float, margin: float, *, peers: bool = True
    ) -> float:
        """Clock time before which a member of ``klass`` started at ``started`` is not worth a
        poll: ``margin`` Render seconds before the shortest time to ready the run has seen;
        before any was seen (and with ``peers``), while it is younger than ``PEER_RATIO`` of
        the oldest pending member's age (that one is not ready either). ``started`` when
        nothing is known."""
        with self._cond:
            shortest = self._shortest.get(klass)
            if shortest is not None:
                return started + self.clock_seconds(max(shortest - margin, 0.0))
            if not peers:
                return started
            members = self._started.get(klass, {})
            oldest = min((at for key, at in members.items() if key != member), default=None)
        if oldest is None or oldest >= started:
            return started
        # Its age a reaches PEER_RATIO × (a + head start) at a = ratio × head / (1 − ratio).
        head = started - oldest
        return started + PEER_RATIO * head / (1.0 - PEER_RATIO)
