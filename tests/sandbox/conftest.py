"""Fixtures for the sandbox tests: a fake clock, an in-process sandbox, the shared spec."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_support import (
    BASE_URL,
    RECORDINGS,
    SPEC_PATH,
    FakeClock,
    MakeSandbox,
    OperationMatcher,
    ResponseValidator,
    Sandbox,
    reality_adjusted_spec,
    require_shared,
)

from rcp.sandbox import SandboxSettings, SandboxTransport


@pytest.fixture
def make_sandbox(tmp_path: Path) -> Iterator[MakeSandbox]:
    clients: list[httpx.Client] = []

    def make(
        settings: SandboxSettings | None = None,
        *,
        state_path: Path | None = None,
        clock: FakeClock | None = None,
        api_key: str | None = "test-key",
    ) -> Sandbox:
        settings = settings or SandboxSettings()
        clock = clock or FakeClock()
        path = state_path or tmp_path / "sandbox.db"
        transport = SandboxTransport(path, settings, clock=clock, sleep=clock.sleep)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key is not None else {}
        client = httpx.Client(transport=transport, base_url=BASE_URL, headers=headers)
        clients.append(client)
        return Sandbox(path, clock, transport, client, settings)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox()


@pytest.fixture(scope="session")
def raw_spec() -> dict[str, Any]:
    require_shared(SPEC_PATH)
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


@pytest.fixture(scope="session")
def spec(raw_spec: dict[str, Any]) -> dict[str, Any]:
    return reality_adjusted_spec(raw_spec)


@pytest.fixture(scope="session")
def response_validator(spec: dict[str, Any]) -> ResponseValidator:
    return ResponseValidator(spec)


@pytest.fixture(scope="session")
def recordings_dir() -> Path:
    require_shared(RECORDINGS)
    return RECORDINGS


@pytest.fixture(scope="session")
def operation_matcher(spec: dict[str, Any]) -> OperationMatcher:
    return OperationMatcher(spec)
