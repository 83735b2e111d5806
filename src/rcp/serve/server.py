"""Run the application on uvicorn: one process, or ``workers`` processes sharing one socket.

The socket is bound here, before uvicorn starts, so that ``--port 0`` (any free port) can be
announced, and every worker builds its own runtime from the environment (``app_from_env``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from rcp.serve.config import ServeConfig

APP_FACTORY = "rcp.serve.app:app_from_env"
# How long a stopping server waits for requests in flight before closing their connections.
GRACEFUL_SHUTDOWN_SECONDS = 10


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto given explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and accepted connections inherit it. Without it every response waits ~40 ms (Nagle's
    # algorithm against the client's delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(
    config: ServeConfig,
    *,
    host: str,
    port: int,
    workers: int,
    access_log: bool,
    on_ready: Callable[[str], None],
) -> None:
    """Serve until SIGINT/SIGTERM; returns after a clean shutdown (background work stopped at
    its next Render call, leases released). OSError when the address cannot be bound."""
    import uvicorn

    os.environ.update(config.to_env())
    sock = bind(host, port)
    on_ready(url_of(sock))
    uvicorn_config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        workers=workers,
        access_log=access_log,
        log_level="info",
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = uvicorn.Server(uvicorn_config)
    try:
        if workers > 1:
            from uvicorn.supervisors import Multiprocess

            Multiprocess(uvicorn_config, sockets=[sock]).run()
        else:
            server.run(sockets=[sock])
    finally:
        sock.close()
