"""Helpers for the Render client tests: a recording mock transport, clients that never sleep,
and access to the shared reference data (OpenAPI spec, real recordings). Imported by the
test modules as ``render_helpers`` (a unique name; conftest modules of other areas clash)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from rcp.render.client import RenderClient
from rcp.render.ratelimit import RateLimiter

RENDER_SHARED = (Path(__file__).resolve().parents[2] / ".." / "shared").resolve()
API_KEY = "rnd_SECRETKEY0123456789abcdef"
BASE_URL = "https://api.render.test/v1"

Handler = Callable[[httpx.Request], httpx.Response]


def render_shared_dir() -> Path:
    if not (RENDER_SHARED / "render-api").is_dir():
        pytest.skip(f"../shared not present: {RENDER_SHARED} (Render spec and recordings)")
    return RENDER_SHARED


@cache
def load_cassettes() -> tuple[tuple[str, list[dict[str, Any]]], ...]:
    """Every recording as ``(relative path, interactions)``, parsed once per test session."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    recordings = render_shared_dir() / "render-api" / "recordings"
    parsed = []
    for cassette in sorted(recordings.rglob("*.yaml")):
        document = yaml.load(cassette.read_text(), Loader=loader)
        parsed.append(
            (str(cassette.relative_to(recordings)), list(document.get("interactions") or []))
        )
    return tuple(parsed)


@dataclass
class Recorder:
    """A MockTransport handler that records every request and answers from ``handler``."""

    handler: Handler
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.handler(request)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


@dataclass
class SleepLog:
    """An injected sleep that returns at once and remembers what it was asked."""

    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make_client(
    handler: Handler,
    *,
    sleep: SleepLog | None = None,
    limiter: RateLimiter | None = None,
    **kwargs: Any,
) -> tuple[RenderClient, Recorder]:
    recorder = Recorder(handler)
    client = RenderClient(
        API_KEY,
        base_url=BASE_URL,
        transport=httpx.MockTransport(recorder),
        sleep=sleep if sleep is not None else SleepLog(),
        # A private limiter with generous limits: these tests are about the client.
        limiter=limiter if limiter is not None else RateLimiter(sleep=lambda _s: None),
        **kwargs,
    )
    return client, recorder


def json_response(
    status: int, payload: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    if payload is None:
        return httpx.Response(status, headers=headers or {})
    return httpx.Response(status, json=payload, headers=headers or {})


def service_json(
    service_id: str = "srv-d0000000000000000000", name: str = "acme-web", **extra: Any
) -> dict[str, Any]:
    """A service object as Render returns it (trimmed from a real recording)."""
    base: dict[str, Any] = {
        "autoDeploy": "yes",
        "branch": "main",
        "createdAt": "2024-12-02T18:24:16.047704Z",
        "dashboardUrl": f"https://dashboard.render.com/web/{service_id}",
        "id": service_id,
        "name": name,
        "notifyOnFail": "default",
        "ownerId": "tea-d0000000000000000000",
        "repo": "https://github.com/render-examples/express-hello-world",
        "rootDir": "",
        "serviceDetails": {
            "env": "node",
            "plan": "starter",
            "region": "oregon",
            "runtime": "node",
            "url": f"https://{name}.onrender.com",
        },
        "slug": name,
        "suspended": "not_suspended",
        "suspenders": [],
        "type": "web_service",
        "updatedAt": "2024-12-02T18:24:17.131053Z",
    }
    base.update(extra)
    return base
