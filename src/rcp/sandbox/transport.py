"""In-process front end: an ``httpx.BaseTransport`` over the simulator.

Inject it into an ``httpx.Client`` (any base URL, e.g. ``http://sandbox.rcp/v1``; only the
path is looked at). Faults surface as the exceptions a real client would see:

- ``drop_before`` / ``drop_after`` → ``httpx.RemoteProtocolError`` ("Server disconnected
  without sending a response."), exactly what httpx raises when a server closes the
  connection before answering; with ``drop_after`` the world has already acted.
- ``hang`` → sleeps for the request's read timeout (or the rule's ``seconds``, or 60 s
  when the request has no read timeout), then ``httpx.ReadTimeout``.
- a ``delay`` (plus latency) longer than the read timeout → the server still acts, the
  client gets ``httpx.ReadTimeout``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from rcp.sandbox.app import SandboxApp, SandboxRequest
from rcp.sandbox.settings import SandboxSettings

DEFAULT_HANG_SECONDS = 60.0


class SandboxTransport(httpx.BaseTransport):
    def __init__(
        self,
        state_path: Path,
        settings: SandboxSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or SandboxSettings()
        self.sleep = sleep
        self.app = SandboxApp(state_path, self.settings, clock=clock, sleep=sleep)

    def close(self) -> None:
        self.app.store.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        timeouts = request.extensions.get("timeout") or {}
        read_timeout = timeouts.get("read")
        sandbox_request = SandboxRequest(
            method=request.method,
            path=request.url.raw_path.split(b"?", 1)[0].decode("ascii"),
            query=tuple(request.url.params.multi_items()),
            headers=tuple(request.headers.items()),
            body=body,
        )
        outcome = self.app.handle(sandbox_request, read_timeout=read_timeout)
        if outcome.disposition == "drop":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        if outcome.disposition == "hang":
            if read_timeout is not None:
                wait = (
                    read_timeout
                    if outcome.hang_seconds is None
                    else min(read_timeout, outcome.hang_seconds)
                )
            else:
                wait = (
                    DEFAULT_HANG_SECONDS if outcome.hang_seconds is None else outcome.hang_seconds
                )
            self.sleep(wait)
            raise httpx.ReadTimeout("The read operation timed out (sandbox hang)", request=request)
        if outcome.disposition == "timeout":
            raise httpx.ReadTimeout("The read operation timed out (sandbox delay)", request=request)
        response = outcome.response
        assert response is not None
        return httpx.Response(
            status_code=response.status,
            headers=list(response.headers),
            content=response.body,
            request=request,
        )
