"""Replay of the real Render recordings (shared/render-api/recordings, go-vcr cassettes).

For every recorded interaction whose method and path the client covers, the recorded answer
(status, headers, body) is served through an ``httpx.MockTransport`` to the client method
that makes that call, and must parse without error into the expected typed result. Every
recorded error answer goes through the client's error mapping and must become the typed error
its status calls for.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from render_helpers import API_KEY, load_cassettes

from rcp.errors import AuthError, RenderBadRequest, RenderNotFound, RenderServerError
from rcp.render.client import Created, RenderClient
from rcp.render.kinds import ENVIRONMENT, KEY_VALUE, POSTGRES, PROJECT, SERVICE
from rcp.render.models import (
    Deploy,
    Environment,
    EnvVar,
    KeyValue,
    KeyValueConnectionInfo,
    Postgres,
    PostgresConnectionInfo,
    Project,
    Service,
)
from rcp.render.ratelimit import RateLimiter

ID = r"([a-z]{3}-[0-9a-z]+(?:-[a-z])?)"
Call = Callable[[RenderClient, re.Match[str], Any], Any]

# (method, path regex relative to /v1, operation name, how to call the client, result check)
COVERED: list[tuple[str, str, str, Call, Callable[[Any, re.Match[str]], bool]]] = [
    ("GET", r"/services", "list_services",
     lambda c, m, b: c.list_resources(SERVICE, name="x", owner_id="tea-x"),
     lambda r, m: isinstance(r, list) and all(isinstance(s, Service) for s in r)),
    ("POST", r"/services", "create_service",
     lambda c, m, b: c.create(SERVICE, b),
     lambda r, m: isinstance(r, Created) and isinstance(r.resource, Service) and bool(r.deploy_id)),
    ("GET", rf"/services/{ID}", "get_service",
     lambda c, m, b: c.get_resource(SERVICE, m[1]),
     lambda r, m: isinstance(r, Service) and r.id == m[1] and r.type is not None),
    ("PATCH", rf"/services/{ID}", "update_service",
     lambda c, m, b: c.update_resource(SERVICE, m[1], b),
     lambda r, m: isinstance(r, Service) and r.id == m[1]),
    ("DELETE", rf"/services/{ID}", "delete_service",
     lambda c, m, b: c.delete_resource(SERVICE, m[1]),
     lambda r, m: r is None),
    ("GET", rf"/services/{ID}/env-vars", "list_env_vars",
     lambda c, m, b: c.list_env_vars(m[1]),
     lambda r, m: isinstance(r, list) and all(isinstance(v, EnvVar) for v in r)),
    ("PUT", rf"/services/{ID}/env-vars", "replace_env_vars",
     lambda c, m, b: c.replace_env_vars(m[1], b),
     lambda r, m: isinstance(r, list) and all(isinstance(v, EnvVar) and v.key for v in r)),
    ("POST", rf"/services/{ID}/deploys", "trigger_deploy",
     lambda c, m, b: c.trigger_deploy(m[1]),
     lambda r, m: r is None or (isinstance(r, Deploy) and r.id.startswith("dep-"))),
    ("POST", r"/postgres", "create_postgres",
     lambda c, m, b: c.create(POSTGRES, b).resource,
     lambda r, m: isinstance(r, Postgres) and r.id.startswith("dpg-") and r.status is not None),
    ("GET", rf"/postgres/{ID}", "get_postgres",
     lambda c, m, b: c.get_resource(POSTGRES, m[1]),
     lambda r, m: isinstance(r, Postgres) and r.id == m[1]),
    ("PATCH", rf"/postgres/{ID}", "update_postgres",
     lambda c, m, b: c.update_resource(POSTGRES, m[1], b),
     lambda r, m: isinstance(r, Postgres) and r.id == m[1]),
    ("DELETE", rf"/postgres/{ID}", "delete_postgres",
     lambda c, m, b: c.delete_resource(POSTGRES, m[1]),
     lambda r, m: r is None),
    ("GET", rf"/postgres/{ID}/connection-info", "postgres_connection_info",
     lambda c, m, b: c.connection_info(POSTGRES, m[1]),
     lambda r, m: isinstance(r, PostgresConnectionInfo) and bool(r.internal_connection_string)),
    ("POST", r"/key-value", "create_key_value",
     lambda c, m, b: c.create(KEY_VALUE, b).resource,
     lambda r, m: isinstance(r, KeyValue) and r.id.startswith("red-")),
    ("GET", rf"/key-value/{ID}", "get_key_value",
     lambda c, m, b: c.get_resource(KEY_VALUE, m[1]),
     lambda r, m: isinstance(r, KeyValue) and r.id == m[1]),
    ("PATCH", rf"/key-value/{ID}", "update_key_value",
     lambda c, m, b: c.update_resource(KEY_VALUE, m[1], b),
     lambda r, m: isinstance(r, KeyValue) and r.id == m[1]),
    ("DELETE", rf"/key-value/{ID}", "delete_key_value",
     lambda c, m, b: c.delete_resource(KEY_VALUE, m[1]),
     lambda r, m: r is None),
    ("GET", rf"/key-value/{ID}/connection-info", "key_value_connection_info",
     lambda c, m, b: c.connection_info(KEY_VALUE, m[1]),
     lambda r, m: isinstance(r, KeyValueConnectionInfo) and bool(r.external_connection_string)),
    # Issue 14: a template's isolation block (the tenant's project and environment).
    ("POST", r"/projects", "create_project",
     lambda c, m, b: c.create(PROJECT, b).resource,
     lambda r, m: isinstance(r, Project) and r.id.startswith("prj-")),
    ("GET", rf"/projects/{ID}", "get_project",
     lambda c, m, b: c.get_resource(PROJECT, m[1]),
     lambda r, m: isinstance(r, Project) and r.id == m[1]),
    ("PATCH", rf"/projects/{ID}", "update_project",
     lambda c, m, b: c.update_resource(PROJECT, m[1], b),
     lambda r, m: isinstance(r, Project) and r.id == m[1]),
    ("DELETE", rf"/projects/{ID}", "delete_project",
     lambda c, m, b: c.delete_resource(PROJECT, m[1]),
     lambda r, m: r is None),
    ("POST", r"/environments", "create_environment",
     lambda c, m, b: c.create(ENVIRONMENT, b).resource,
     lambda r, m: isinstance(r, Environment) and r.id.startswith("evm-")),
    ("GET", rf"/environments/{ID}", "get_environment",
     lambda c, m, b: c.get_resource(ENVIRONMENT, m[1]),
     lambda r, m: isinstance(r, Environment) and r.id == m[1]),
    ("PATCH", rf"/environments/{ID}", "update_environment",
     lambda c, m, b: c.update_resource(ENVIRONMENT, m[1], b),
     lambda r, m: isinstance(r, Environment) and r.id == m[1]),
    ("DELETE", rf"/environments/{ID}", "delete_environment",
     lambda c, m, b: c.delete_resource(ENVIRONMENT, m[1]),
     lambda r, m: r is None),
    ("POST", rf"/environments/{ID}/resources", "add_environment_resources",
     lambda c, m, b: c.add_environment_resources(m[1], b["resourceIds"]),
     lambda r, m: r is None),
    ("DELETE", rf"/environments/{ID}/resources", "remove_environment_resources",
     lambda c, m, b: c.remove_environment_resources(m[1], ["srv-x"]),
     lambda r, m: r is None),
]  # fmt: skip


def _recorded_response(recorded: dict[str, Any]) -> Callable[[httpx.Request], httpx.Response]:
    headers = [
        (name, value)
        for name, values in (recorded.get("headers") or {}).items()
        # Content-Length/Encoding describe the original transfer, not our replayed body.
        if name.lower() not in ("content-length", "content-encoding", "transfer-encoding")
        for value in values
    ]
    body = (recorded.get("body") or "").encode()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor"):
            return httpx.Response(200, json=[])  # the recorded page was the last one
        return httpx.Response(recorded["code"], headers=headers, content=body)

    return answer


def _replay_client(recorded: dict[str, Any]) -> RenderClient:
    # One attempt, no waiting: a recorded answer is replayed exactly once per call.
    return RenderClient(
        API_KEY,
        base_url="https://api.testing.render.com/v1",
        transport=httpx.MockTransport(_recorded_response(recorded)),
        max_attempts=1,
        sleep=lambda _s: None,
        limiter=RateLimiter(sleep=lambda _s: None, max_wait=86_400),
    )


def _interactions() -> list[tuple[str, str, str, dict[str, Any], dict[str, Any]]]:
    rows = []
    for cassette, interactions in load_cassettes():
        for interaction in interactions:
            request, response = interaction["request"], interaction["response"]
            path = httpx.URL(request["url"]).path.removeprefix("/v1")
            rows.append((cassette, request["method"], path, request, response))
    return rows


def test_every_covered_recorded_answer_parses() -> None:
    parsed: Counter[str] = Counter()
    statuses: Counter[tuple[str, int]] = Counter()
    for cassette, method, path, request, response in _interactions():
        if not 200 <= response["code"] < 300:
            continue
        for op_method, pattern, operation, call, check in COVERED:
            match = re.fullmatch(pattern, path)
            if op_method != method or match is None:
                continue
            body = json.loads(request["body"]) if request.get("body") else None
            with _replay_client(response) as client:
                result = call(client, match, body)
            assert check(result, match), (
                f"{cassette}: {method} {path} → {operation} gave {result!r}"
            )
            parsed[operation] += 1
            statuses[(operation, response["code"])] += 1
            break

    assert set(parsed) == {operation for _m, _p, operation, _c, _k in COVERED}, parsed
    assert sum(parsed.values()) >= 1200, parsed  # 1,244 covered answers at the time of writing
    # Both deploy-trigger answers Render gives were replayed.
    assert statuses[("trigger_deploy", 201)] > 0 and statuses[("trigger_deploy", 202)] > 0
    # Every recorded project and environment answer rcp's isolation calls (issue 14).
    assert parsed["create_project"] == 15 and parsed["get_environment"] == 107, parsed


_EXPECTED_ERROR = {401: AuthError, 403: AuthError, 404: RenderNotFound}


def test_every_recorded_error_answer_maps_to_its_typed_error() -> None:
    mapped = 0
    for cassette, method, path, _request, response in _interactions():
        status = response["code"]
        if status < 400:
            continue
        expected: type[Exception] = _EXPECTED_ERROR.get(
            status, RenderServerError if status >= 500 else RenderBadRequest
        )
        with _replay_client(response) as client, pytest.raises(expected) as caught:
            client.request(method, path)
        if status == 404:
            # Render's own words are kept: "not found: <id>"
            assert "not found" in str(caught.value), f"{cassette}: {caught.value}"
        assert API_KEY not in str(caught.value)
        mapped += 1
    assert mapped >= 400  # the recordings hold ~450 real 404s
