"""No secret — API key, request or response bodies beyond Render's own ``message`` — ever
reaches an error message or a log record, whatever Render answers."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from render_helpers import API_KEY, json_response, make_client

from rcp.core.models import ResourceKind
from rcp.errors import RcpError
from rcp.render.gateway import Gateway

ENV_SECRET = "postgresql://app:hunter2-very-secret@db.internal/app"
OWNER = "tea-d0000000000000000001"

# Answers that echo secrets back in every way a confused server could.
ECHOING_ANSWERS: list[Callable[[httpx.Request], httpx.Response]] = [
    lambda r: json_response(
        500, {"message": f"failed: {ENV_SECRET}", "request": r.content.decode()}
    ),
    lambda r: json_response(503, {"message": f"Authorization: Bearer {API_KEY}"}),
    lambda r: httpx.Response(502, content=r.content),
    lambda r: json_response(400, {"message": f"invalid key {API_KEY}", "echo": ENV_SECRET}),
    lambda r: json_response(401, {"message": f"bad token {API_KEY}"}),
    lambda r: json_response(422, {"detail": ENV_SECRET}),
    lambda r: httpx.Response(409, content=b"not json " + r.content),
    lambda r: json_response(
        429, {"message": "slow down", "echo": ENV_SECRET}, {"Retry-After": "9999"}
    ),
    lambda r: httpx.Response(200, content=b"{broken " + ENV_SECRET.encode()),
    lambda r: json_response(201, {"service": {"name": ENV_SECRET}}),
]


def _raise(error: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


TRANSPORT_FAILURES = [
    _raise(httpx.ConnectError(f"cannot connect with {API_KEY}")),
    _raise(httpx.ReadTimeout(f"timed out sending {ENV_SECRET}")),
]


@pytest.mark.parametrize("answer", ECHOING_ANSWERS + TRANSPORT_FAILURES)
def test_no_secret_in_errors_or_logs(
    answer: Callable[[httpx.Request], httpx.Response], caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = make_client(answer)
    gateway = Gateway(client, OWNER)
    calls = [
        lambda: gateway.create(
            ResourceKind.SERVICE,
            {"type": "web_service", "name": "acme-web"},
            [{"key": "DATABASE_URL", "value": ENV_SECRET}],
        ),
        lambda: gateway.set_env_var("srv-d0000000000000000002", "DATABASE_URL", ENV_SECRET),
        lambda: client.replace_env_vars(
            "srv-d0000000000000000002", [{"key": "DATABASE_URL", "value": ENV_SECRET}]
        ),
    ]
    with caplog.at_level(logging.DEBUG), client:
        for call in calls:
            with pytest.raises(RcpError) as caught:
                call()
            error = caught.value
            shown = " ".join(str(part) for part in (error, error.message, error.hint, repr(error)))
            assert API_KEY not in shown
            assert "hunter2" not in shown
    for record in caplog.records:
        text = record.getMessage() + " " + " ".join(str(v) for v in record.__dict__.values())
        assert API_KEY not in text and "hunter2" not in text
