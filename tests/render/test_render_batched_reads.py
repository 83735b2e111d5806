"""Gateway.read_many against the in-process sandbox with Render's durations (``--profile
render``): many Postgres and Key Value instances are read with one list request per kind
(``GET /postgres?name=a,b,…&ownerId=…``), each with its own status; one that is gone is
asked for on its own and comes back None; services are not read in batches (their state is
their deploy's, which no list shows)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from render_helpers import API_KEY

from rcp.core.models import ResourceKind
from rcp.render.client import RenderClient
from rcp.render.gateway import Gateway
from rcp.render.ratelimit import RateLimiter
from rcp.sandbox import SandboxSettings, SandboxTransport

START = 1_780_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Gateway, FakeClock, Path]]:
    clock = FakeClock()
    settings = SandboxSettings(profile="render")
    state = tmp_path / "sandbox.db"
    transport = SandboxTransport(state, settings, clock=clock, sleep=clock.sleep)
    client = RenderClient(
        API_KEY,
        base_url="http://sandbox.rcp/v1",
        transport=transport,
        sleep=clock.sleep,
        limiter=RateLimiter(clock=clock, sleep=clock.sleep),
    )
    try:
        yield Gateway(client, in_flight_seconds=0.0), clock, state
    finally:
        client.close()


def logged(state: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(state) as connection:
        return [
            (str(m), str(p), str(q))
            for m, p, q in connection.execute(
                "SELECT method, path, query FROM requests ORDER BY seq"
            )
        ]


def test_many_datastores_are_read_with_one_request_per_kind(
    world: tuple[Gateway, FakeClock, Path],
) -> None:
    gateway, clock, state = world
    postgres = {
        gateway.create(
            ResourceKind.POSTGRES,
            {"name": f"tenant{i:02d}-db", "plan": "basic_256mb", "version": "16"},
            [],
        ).render_id: f"tenant{i:02d}-db"
        for i in range(15)
    }
    # Render's Postgres takes 90–150 s under this profile: after 115 s some are available.
    clock.sleep(115.0)
    before = len(logged(state))
    states = gateway.read_many(ResourceKind.POSTGRES, postgres)
    requests = logged(state)[before:]
    assert len(requests) == 1
    method, path, query = requests[0]
    assert (method, path) == ("GET", "/v1/postgres")
    assert sorted(parse_qs(query)["name"][0].split(",")) == sorted(postgres.values())
    assert set(states) == set(postgres)
    seen = {remote.state for remote in states.values() if remote is not None}
    assert seen == {"creating", "available"}
    # Each state is the one a single read gives.
    for render_id, remote in list(states.items())[:5]:
        single = gateway.get(ResourceKind.POSTGRES, render_id)
        assert remote is not None and single is not None and remote.state == single.state

    # One gone: the list omits it, a single read says so.
    gone = next(iter(postgres))
    gateway.delete(ResourceKind.POSTGRES, gone)
    before = len(logged(state))
    states = gateway.read_many(ResourceKind.POSTGRES, postgres)
    assert states[gone] is None
    assert [p for _, p, _ in logged(state)[before:]] == ["/v1/postgres", f"/v1/postgres/{gone}"]

    key_values = {
        gateway.create(
            ResourceKind.KEY_VALUE, {"name": f"kv{i}", "plan": "starter"}, []
        ).render_id: f"kv{i}"
        for i in range(3)
    }
    before = len(logged(state))
    kv_states = gateway.read_many(ResourceKind.KEY_VALUE, key_values)
    assert [p for _, p, _ in logged(state)[before:]] == ["/v1/key-value"]
    assert {r.state for r in kv_states.values() if r is not None} == {"creating"}


def test_services_are_not_read_in_batches(world: tuple[Gateway, FakeClock, Path]) -> None:
    gateway, _clock, _state = world
    assert gateway.reads_in_batches(ResourceKind.POSTGRES)
    assert gateway.reads_in_batches(ResourceKind.KEY_VALUE)
    assert not gateway.reads_in_batches(ResourceKind.SERVICE)
