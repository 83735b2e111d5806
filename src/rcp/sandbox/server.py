"""HTTP front end: the simulator at ``http://HOST:PORT/v1`` (stdlib ``ThreadingHTTPServer``).

Faults are real here: ``drop_before``/``drop_after`` close the socket without an answer,
``hang`` keeps the connection open without answering until the client goes away, the
rule's ``seconds`` run out, or the server stops. ``serve`` runs until SIGINT or SIGTERM and
then returns normally.
"""

from __future__ import annotations

import select
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from urllib.parse import parse_qsl, urlsplit

from rcp.sandbox.app import SandboxApp, SandboxOutcome, SandboxRequest, SandboxResponse
from rcp.sandbox.settings import SandboxSettings


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        super().__init__(address, _Handler)
        self.app = app
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = host if isinstance(host, str) else host.decode()
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{port}/v1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxHTTPServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        # The request log lives in the world (GET /__sandbox/state); keep stderr quiet.
        return

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0.1)
            if not readable:
                return False
            return bool(self.connection.recv(1, socket.MSG_PEEK) == b"")
        except OSError:
            return True

    def _hang(self, seconds: float | None) -> None:
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self.server.stopping.is_set() and not self._client_gone():
            if deadline is not None and time.monotonic() >= deadline:
                break
        self._drop()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        split = urlsplit(self.path)
        request = SandboxRequest(
            method=self.command,
            path=split.path,
            query=tuple(parse_qsl(split.query, keep_blank_values=True)),
            headers=tuple(self.headers.items()),
            body=body,
        )
        try:
            outcome = self.server.app.handle(request)
        except Exception:  # a simulator bug must not look like a network fault: answer 500
            traceback.print_exc(file=sys.stderr)
            body = b'{"message":"sandbox internal error"}\n'
            outcome = SandboxOutcome(
                "respond",
                SandboxResponse(500, (("Content-Type", "application/json; charset=utf-8"),), body),
            )
        if outcome.disposition == "drop":
            self._drop()
            return
        if outcome.disposition == "hang":
            self._hang(outcome.hang_seconds)
            return
        response = outcome.response
        assert response is not None
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if response.body:
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_PATCH = _handle
    do_DELETE = _handle


def make_server(
    host: str, port: int, state_path: Path, settings: SandboxSettings
) -> SandboxHTTPServer:
    """Bind (port 0 picks a free one) without serving yet."""
    return SandboxHTTPServer((host, port), SandboxApp(state_path, settings))


def serve(
    host: str,
    port: int,
    state_path: Path,
    settings: SandboxSettings,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (must be called from the main thread), then return."""
    server = make_server(host, port, state_path, settings)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {
        signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    worker = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name="rcp-sandbox-http",
        daemon=True,
    )
    worker.start()
    try:
        if on_ready is not None:
            on_ready(server.url)
        while not stop.wait(0.5):
            pass
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        worker.join(timeout=5)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
