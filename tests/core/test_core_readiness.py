"""The shared readiness poller (rcp.core.readiness): many awaited resources of one kind are
read with few requests, each caller gets its own resource's state, a failed batch falls back
to single reads so that only a resource's own error reaches its tenant, and the pace of single
polls follows what the run learned."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from rcp.core.models import RemoteResource, ResourceKind
from rcp.core.readiness import PEER_RATIO, ReadinessPoller
from rcp.errors import RenderNotFound, RenderServerError

PG = ResourceKind.POSTGRES


def remote(render_id: str, name: str, state: str) -> RemoteResource:
    return RemoteResource(
        kind=PG, render_id=render_id, name=name, type="postgres", state=state, suspended=False
    )


@dataclass
class ListingGateway:
    """The two reads the poller uses, answering from ``states`` (id → state; absent = gone)
    and counting requests. ``batch_error``: the list request fails; ``broken``: ids whose single
    read fails."""

    states: dict[str, str]
    batch_error: Exception | None = None
    broken: set[str] = field(default_factory=set)
    list_requests: list[dict[str, str]] = field(default_factory=list)
    single_requests: list[str] = field(default_factory=list)
    release: threading.Event | None = None

    def reads_in_batches(self, kind: ResourceKind) -> bool:
        return kind is PG

    def read_many(
        self, kind: ResourceKind, wanted: dict[str, str]
    ) -> dict[str, RemoteResource | None]:
        self.list_requests.append(dict(wanted))
        if self.release is not None:
            self.release.wait(5)
        if self.batch_error is not None:
            raise self.batch_error
        return {
            rid: remote(rid, name, self.states[rid]) if rid in self.states else None
            for rid, name in wanted.items()
        }

    def get(self, kind: ResourceKind, render_id: str) -> RemoteResource | None:
        self.single_requests.append(render_id)
        if render_id in self.broken:
            raise RenderNotFound(f"not found: {render_id}")
        state = self.states.get(render_id)
        return None if state is None else remote(render_id, f"n-{render_id}", state)


def ids(count: int) -> list[str]:
    return [f"dpg-{i:03d}-a" for i in range(count)]


def test_forty_awaited_datastores_are_read_with_one_list_request() -> None:
    states = {rid: ("available" if i % 3 == 0 else "creating") for i, rid in enumerate(ids(40))}
    gateway = ListingGateway(states, release=threading.Event())
    poller = ReadinessPoller(gateway, clock=lambda: 10.0)  # type: ignore[arg-type]
    for rid in ids(40):
        poller.watch(PG, rid, f"t-{rid}")
    results: dict[str, str | None] = {}

    def await_one(rid: str) -> None:
        seen = poller.read(PG, rid, f"t-{rid}", fresh_after=10.0)
        results[rid] = None if seen is None else seen.state

    threads = [threading.Thread(target=await_one, args=(rid,)) for rid in ids(40)]
    for thread in threads:
        thread.start()
    # Every engine is due at the same tick: the first reads the batch, the others wait for it.
    assert gateway.release is not None
    gateway.release.set()
    for thread in threads:
        thread.join(5)
    assert len(gateway.list_requests) == 1
    assert gateway.list_requests[0] == {rid: f"t-{rid}" for rid in ids(40)}
    assert gateway.single_requests == []
    assert results == states


def test_each_caller_gets_its_own_state_and_gone_is_none() -> None:
    gateway = ListingGateway({"dpg-a": "available", "dpg-b": "creating"})
    now = [1.0]
    poller = ReadinessPoller(gateway, clock=lambda: now[0])  # type: ignore[arg-type]
    for rid in ("dpg-a", "dpg-b", "dpg-gone"):
        poller.watch(PG, rid, rid)
    first = poller.read(PG, "dpg-a", "dpg-a", fresh_after=1.0)
    assert first is not None and first.state == "available"
    # The same tick: the batch already read answers the other two without a request.
    second = poller.read(PG, "dpg-b", "dpg-b", fresh_after=1.0)
    assert second is not None and second.state == "creating"
    assert poller.read(PG, "dpg-gone", "dpg-gone", fresh_after=1.0) is None
    assert len(gateway.list_requests) == 1
    # A later tick reads again, now without the resource nobody awaits any more.
    poller.unwatch(PG, "dpg-a")
    now[0] = 5.0
    gateway.states["dpg-b"] = "available"
    again = poller.read(PG, "dpg-b", "dpg-b", fresh_after=5.0)
    assert again is not None and again.state == "available"
    assert len(gateway.list_requests) == 2
    assert set(gateway.list_requests[1]) == {"dpg-b", "dpg-gone"}


def test_a_failed_list_falls_back_to_single_reads_and_isolates_errors() -> None:
    gateway = ListingGateway(
        {"dpg-a": "available", "dpg-b": "creating", "dpg-c": "creating"},
        batch_error=RenderServerError("Render answered 503", status=503),
        broken={"dpg-b"},
    )
    poller = ReadinessPoller(gateway, clock=lambda: 2.0)  # type: ignore[arg-type]
    for rid in ("dpg-a", "dpg-b", "dpg-c"):
        poller.watch(PG, rid, rid)
    seen_a = poller.read(PG, "dpg-a", "dpg-a", fresh_after=2.0)
    assert seen_a is not None and seen_a.state == "available"
    # Only the resource whose own read failed gets the error.
    with pytest.raises(RenderNotFound):
        poller.read(PG, "dpg-b", "dpg-b", fresh_after=2.0)
    seen_c = poller.read(PG, "dpg-c", "dpg-c", fresh_after=2.0)
    assert seen_c is not None and seen_c.state == "creating"
    assert len(gateway.list_requests) == 1
    assert sorted(gateway.single_requests) == ["dpg-a", "dpg-b", "dpg-c"]


def test_ticks_are_a_grid_shared_by_engines_and_scaled_by_the_time_scale() -> None:
    poller = ReadinessPoller(ListingGateway({}), time_scale=10.0)  # type: ignore[arg-type]
    # 4 Render seconds = 0.4 s of the clock at ten Render seconds per second.
    assert poller.clock_seconds(4.0) == pytest.approx(0.4)
    assert poller.next_tick(4.0, 1.01) == pytest.approx(1.2)
    assert poller.next_tick(4.0, 1.2) == pytest.approx(1.2)


def test_quiet_periods_follow_the_oldest_peer_then_what_was_learned() -> None:
    poller = ReadinessPoller(ListingGateway({}))  # type: ignore[arg-type]
    klass = "default/web/web_service"
    # Nothing known: no quiet period.
    assert poller.quiet_until(klass, "srv-1", 100.0, 4.0) == 100.0
    poller.started(klass, "srv-1", 100.0)
    poller.started(klass, "srv-2", 110.0)
    # The oldest is polled from its start; a peer 10 s younger waits until its age is
    # PEER_RATIO of the oldest's (the oldest is not ready either).
    assert poller.quiet_until(klass, "srv-1", 100.0, 4.0) == 100.0
    head = 10.0
    expected = 110.0 + PEER_RATIO * head / (1 - PEER_RATIO)
    assert poller.quiet_until(klass, "srv-2", 110.0, 4.0) == pytest.approx(expected)
    # The oldest was last seen not ready 280 Render seconds after its start, then ready: the
    # class takes at least that long; later members are quiet until 4 s before.
    poller.finished(klass, "srv-1", 280.0)
    assert poller.shortest(klass) == 280.0
    assert poller.quiet_until(klass, "srv-2", 110.0, 4.0) == pytest.approx(110.0 + 276.0)
    # A failure or a resource seen ready at its first poll teaches nothing.
    poller.finished(klass, "srv-2", None)
    assert poller.shortest(klass) == 280.0
    # Shorter durations lower the bound.
    poller.finished(klass, "srv-3", 250.0)
    assert poller.shortest(klass) == 250.0
