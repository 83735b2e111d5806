"""rcp.render.kinds: every resource kind has one entry, and each entry works end to end.

Each kind is driven through the gateway against the in-process sandbox: create → found by
name → ready → (suspend → suspended → resume → ready, where suspendable) → connection info
(where the kind has it) → delete → gone. A ``ResourceKind`` without an entry, or an entry whose
path, wrapper, model or states are wrong, fails here rather than in a user's run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from render_helpers import API_KEY

from rcp.core.models import RENDER_TYPE_KIND, RemoteResource, ResourceKind
from rcp.render.client import RenderClient
from rcp.render.gateway import Gateway
from rcp.render.kinds import KINDS, RenderKind, kind_for_id, kind_for_path, kind_of
from rcp.render.ratelimit import RateLimiter
from rcp.sandbox import SandboxSettings, SandboxTransport

START = 1_780_000_000.0  # a fixed instant: the sandbox's clock never reads the wall clock

# A minimal valid create body per kind (without ownerId, which the gateway adds). A new kind
# needs one here too, or test_every_kind_has_a_create_body fails.
CREATE_BODIES: dict[ResourceKind, dict[str, Any]] = {
    ResourceKind.SERVICE: {
        "type": "web_service",
        "repo": "https://github.com/render-examples/express-hello-world",
        "serviceDetails": {
            "runtime": "node",
            "plan": "starter",
            "region": "oregon",
            "envSpecificDetails": {"buildCommand": "npm install", "startCommand": "npm start"},
        },
    },
    ResourceKind.POSTGRES: {"plan": "basic_256mb", "version": "16", "region": "oregon"},
    ResourceKind.KEY_VALUE: {"plan": "starter", "region": "oregon"},
    ResourceKind.ENV_GROUP: {"envVars": [{"key": "GREETING", "value": "hello"}]},
    ResourceKind.PROJECT: {"environments": [{"name": "production"}]},
    # ``projectId`` is added by the test (a project created first).
    ResourceKind.ENVIRONMENT: {"protectedStatus": "protected", "networkIsolationEnabled": True},
}


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Gateway, FakeClock]]:
    clock = FakeClock()
    settings = SandboxSettings(deploy_seconds=3.0, datastore_seconds=5.0)
    transport = SandboxTransport(tmp_path / "sandbox.db", settings, clock=clock, sleep=clock.sleep)
    client = RenderClient(
        API_KEY,
        base_url="http://sandbox.rcp/v1",
        transport=transport,
        sleep=clock.sleep,
        limiter=RateLimiter(clock=clock, sleep=clock.sleep),
    )
    try:
        yield Gateway(client, in_flight_seconds=0.0), clock
    finally:
        client.close()


def await_state(
    gateway: Gateway, clock: FakeClock, entry: RenderKind, render_id: str, wanted: frozenset[str]
) -> RemoteResource:
    """Poll like the engine does until the resource reaches one of ``wanted`` (a failed
    state, or two simulated minutes, fails the test)."""
    for _ in range(120):
        remote = gateway.get(entry.kind, render_id)
        assert remote is not None, f"{render_id} disappeared"
        assert remote.state not in entry.failed_states, remote
        if remote.state in wanted:
            return remote
        clock.sleep(1.0)
    raise AssertionError(f"{render_id} never reached {sorted(wanted)}")


def test_every_resource_kind_has_exactly_one_entry() -> None:
    assert set(KINDS) == set(ResourceKind)
    for kind, entry in KINDS.items():
        assert entry.kind is kind and kind_of(kind) is entry
        assert kind_for_path(entry.path) is entry
        assert entry.ready_states and not entry.ready_states & entry.failed_states


def test_type_names_agree_with_core() -> None:
    """The engine decides a spec's kind from its type name (core may not import render): the
    two tables must say the same."""
    from_entries = {name: entry.kind for entry in KINDS.values() for name in entry.type_names}
    assert from_entries == RENDER_TYPE_KIND


def test_ids_map_to_their_kind() -> None:
    assert kind_for_id("srv-d0000000000000000001") is kind_of(ResourceKind.SERVICE)
    assert kind_for_id("crn-d0000000000000000001") is kind_of(ResourceKind.SERVICE)
    assert kind_for_id("dpg-d0000000000000000001-a") is kind_of(ResourceKind.POSTGRES)
    assert kind_for_id("red-d0000000000000000001") is kind_of(ResourceKind.KEY_VALUE)
    assert kind_for_id("evg-d0000000000000000001") is kind_of(ResourceKind.ENV_GROUP)
    assert kind_for_id("evm-d0000000000000000001") is kind_of(ResourceKind.ENVIRONMENT)
    assert kind_for_id("prj-d0000000000000000001") is kind_of(ResourceKind.PROJECT)
    assert kind_for_id("dsk-d0000000000000000001") is None


def test_every_kind_has_a_create_body() -> None:
    assert set(CREATE_BODIES) == set(KINDS)


@pytest.mark.parametrize("kind", list(ResourceKind), ids=str)
def test_kind_lifecycle_on_the_sandbox(
    kind: ResourceKind, world: tuple[Gateway, FakeClock]
) -> None:
    gateway, clock = world
    entry = kind_of(kind)
    name = f"kinds-{kind.value.replace('_', '-')}"
    env = [{"key": "GREETING", "value": "hello"}] if entry.takes_env_vars else []

    body: dict[str, Any] = {"name": name, **CREATE_BODIES[kind]}
    if entry.list_scope is not None:
        project = gateway.create(
            ResourceKind.PROJECT, {"name": "kinds", "environments": [{"name": "other"}]}, []
        )
        body["projectId"] = project.render_id
    created = gateway.create(kind, body, env)
    assert created.kind is kind and created.name == name
    assert created.render_id.startswith(entry.id_prefixes)
    assert created.type in entry.type_names
    if entry.state_source == "deploy":
        assert created.deploy_id, "a create that starts a deploy reports it"

    def find() -> list[RemoteResource]:
        if entry.list_scope is not None:
            return gateway.find_environment(body["projectId"], name)
        return gateway.find_by_name(kind, name)

    assert [r.render_id for r in find()] == [created.render_id]
    if entry.ready_on_create:
        assert created.state in entry.ready_states

    ready = await_state(gateway, clock, entry, created.render_id, entry.ready_states)
    assert not ready.suspended

    if entry.takes_env_vars:
        assert gateway.list_env_vars(created.render_id) == {"GREETING": "hello"}

    if entry.connection_info is not None:
        info = gateway.connection_info(kind, created.render_id)
        assert info.get("internalConnectionString")

    if entry.suspendable:
        gateway.suspend(kind, created.render_id)
        suspended = gateway.get(kind, created.render_id)
        assert suspended is not None and suspended.suspended and suspended.state == "suspended"
        gateway.resume(kind, created.render_id)
        resumed = await_state(gateway, clock, entry, created.render_id, entry.ready_states)
        assert not resumed.suspended

    assert gateway.delete(kind, created.render_id) is True
    assert gateway.get(kind, created.render_id) is None
    assert find() == []
    assert gateway.delete(kind, created.render_id) is False


def test_a_missing_entry_is_named() -> None:
    with pytest.raises(ValueError, match="rcp.render.kinds"):
        kind_of("disk")  # type: ignore[arg-type]


def test_client_refuses_what_a_kind_does_not_have() -> None:
    """Operations a kind lacks are refused before any request (no guessing a path)."""
    requests: list[httpx.Request] = []
    client = RenderClient(
        API_KEY,
        base_url="https://api.render.test/v1",
        transport=httpx.MockTransport(lambda r: requests.append(r) or httpx.Response(500)),
        limiter=RateLimiter(),
    )
    with client, pytest.raises(ValueError, match="no connection info"):
        client.connection_info(kind_of(ResourceKind.SERVICE), "srv-d0000000000000000001")
    with pytest.raises(TypeError, match="cannot be filtered"):
        client.list_resources(kind_of(ResourceKind.POSTGRES), service_type="web_service")
    assert requests == []


def test_env_group_links_and_environment_resources(world: tuple[Gateway, FakeClock]) -> None:
    """Issue 14's calls: per-service links (another service's link stays), per-key group
    variables, resources added to and removed from an environment."""
    gateway, _ = world
    services = [
        gateway.create(
            ResourceKind.SERVICE, {"name": f"linked-{n}", **CREATE_BODIES[ResourceKind.SERVICE]}, []
        )
        for n in (1, 2)
    ]
    group = gateway.create(ResourceKind.ENV_GROUP, {"name": "shared", "envVars": []}, [])
    for service in services:
        gateway.link_env_group(group.render_id, service.render_id)
    gateway.link_env_group(group.render_id, services[0].render_id)  # idempotent
    assert gateway.env_group_links(group.render_id) == [s.render_id for s in services]
    assert gateway.unlink_env_group(group.render_id, services[0].render_id) is True
    assert gateway.unlink_env_group(group.render_id, services[0].render_id) is False
    assert gateway.env_group_links(group.render_id) == [services[1].render_id]
    gateway.set_env_group_var(group.render_id, "K", "v")
    assert gateway.delete_env_group_var(group.render_id, "K") is True
    assert gateway.delete_env_group_var(group.render_id, "K") is False

    project = gateway.create(
        ResourceKind.PROJECT, {"name": "p", "environments": [{"name": "e"}]}, []
    )
    [environment] = gateway.find_environment(project.render_id, "e")
    gateway.add_to_environment(environment.render_id, [services[0].render_id, group.render_id])
    assert sorted(gateway.environment_resources(environment.render_id) or []) == sorted(
        [services[0].render_id, group.render_id]
    )
    gateway.remove_from_environment(environment.render_id, [services[0].render_id])
    assert gateway.environment_resources(environment.render_id) == [group.render_id]
    assert gateway.delete(ResourceKind.ENV_GROUP, group.render_id) is True
    assert gateway.env_group_links(group.render_id) is None
    assert gateway.delete(ResourceKind.ENVIRONMENT, environment.render_id) is True
    assert gateway.environment_resources(environment.render_id) is None
