"""Health checks of services' public URLs (rcp.render.probe): against Render the URL as it
is; against any other API URL (the served sandbox) the API's origin with the service's host in
``Host``; never the API key; no answer is None."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from rcp.render.probe import HttpHealthProbe


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's spelling)
            seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            self.send_response(204 if self.path.startswith("/healthz") else 500)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()


def test_a_sandbox_api_url_gets_the_request_with_the_service_host(
    server: tuple[str, list[dict[str, str]]],
) -> None:
    origin, seen = server
    probe = HttpHealthProbe(api_url=f"{origin}/v1")
    try:
        assert probe.status("https://acme-web.onrender.com", "/healthz?deep=1") == 204
        assert probe.status("https://acme-web.onrender.com/", "/down") == 500
    finally:
        probe.close()
    assert seen[0]["path"] == "/healthz?deep=1"
    assert seen[0]["host"] == "acme-web.onrender.com"
    assert "authorization" not in seen[0]
    assert seen[1]["path"] == "/down"


def test_render_urls_are_fetched_as_they_are_and_silence_is_none() -> None:
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if request.url.host == "gone.onrender.com":
            raise httpx.ConnectError("no route", request=request)
        return httpx.Response(200)

    probe = HttpHealthProbe(
        api_url="https://api.render.com/v1", transport=httpx.MockTransport(answer)
    )
    try:
        assert probe.status("https://acme-web.onrender.com", "/healthz") == 200
        assert probe.status("https://gone.onrender.com", "/healthz") is None
    finally:
        probe.close()
    assert asked[0] == "https://acme-web.onrender.com/healthz"
