"""Pure pieces of the server: the error tree → HTTP mapping, the template fingerprint, the
server's own settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rcp.core.models import Tenant, TenantStatus
from rcp.errors import (
    AuthError,
    ConfigError,
    ConflictError,
    Interrupted,
    LockBusy,
    ProvisioningFailed,
    RcpError,
    RenderBadRequest,
    RenderRateLimited,
    RenderServerError,
    RenderTransportError,
    RetryLater,
    StoreError,
    TenantNotFound,
    TimedOut,
    UsageError,
)
from rcp.serve.config import ServeConfig
from rcp.serve.errors import http_status, retry_after_seconds, to_http

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (UsageError("bad"), 422),
        (TenantNotFound("gone"), 404),
        (ConflictError("other definition"), 409),
        (LockBusy("held by someone"), 409),
        (ProvisioningFailed("web reached build_failed"), 502),
        (ConfigError("no key"), 503),
        (AuthError("Render said 401"), 503),
        (StoreError("database down"), 503),
        (RetryLater("Render rate limit for create is used up", retry_at=NOW), 429),
        (RetryLater("the database is busy"), 503),
        (RenderRateLimited("429", wait_seconds=7), 429),
        (RenderServerError("502 after retries", status=502), 503),
        (RenderTransportError("reset", maybe_sent=True), 503),
        (RenderBadRequest("400 from Render", status=400), 502),
        (TimedOut("waited too long"), 504),
        (Interrupted("stopping", signal_number=15), 503),
        (RcpError("unexpected"), 500),
    ],
)
def test_every_error_class_has_a_status(error: RcpError, status: int) -> None:
    assert http_status(error) == status
    answer = to_http(error)
    assert answer.status == status
    assert answer.body == {"error": {"code": error.code, "message": error.message, "hint": error.hint, **(
        {"retry_at": "2026-12-01T12:00:00Z"} if getattr(error, "retry_at", None) else {}
    )}}
    if status in (429, 503) and not isinstance(error, ConfigError):
        assert int(answer.headers["Retry-After"]) >= 1
    else:
        assert "Retry-After" not in answer.headers


def test_retry_after_counts_from_retry_at() -> None:
    error = RetryLater("Render rate limit …", retry_at=NOW + timedelta(seconds=90.2))
    assert retry_after_seconds(error, now=NOW) == 91
    assert retry_after_seconds(RenderRateLimited("429", wait_seconds=7)) == 7


def test_secrets_never_reach_the_body() -> None:
    answer = to_http(ConflictError("value s3cr3t leaked", hint="s3cr3t"), secrets=["s3cr3t"])
    assert "s3cr3t" not in str(answer.body)


def _tenant(slug: str, name: str, config_dir: Path) -> Tenant:
    from rcp.core.tenants import plan_create

    plan = plan_create(name=name, slug=slug, template=None, plugin_repo=None, config_dir=config_dir)
    return Tenant(
        name=name,
        slug=slug,
        status=TenantStatus.ACTIVE,
        template=plan.template_name,
        rendered_template=plan.rendered,
    )


def test_template_revision_is_shared_by_tenants_of_one_template(tmp_path: Path) -> None:
    from rcp.serve.dashboard import template_revision

    first = _tenant("acme-corp", "Acme Corporation", tmp_path)
    second = _tenant("globex", "Globex", tmp_path)
    assert template_revision(first) == template_revision(second)
    changed = _tenant("initech", "Initech", tmp_path)
    changed.rendered_template["resources"][0]["plan"] = "pro"
    assert template_revision(changed) != template_revision(first)


def test_serve_config_round_trips_through_the_environment() -> None:
    config = ServeConfig(
        max_body_bytes=1024,
        cors_origins=("https://a.example", "https://b.example"),
        sweep_seconds=2.5,
        provision_timeout=60,
        job_workers=2,
        sandbox=True,
    )
    assert ServeConfig.from_env(config.to_env()) == config
    with pytest.raises(ConfigError, match="RCP_SERVE_SWEEP_SECONDS"):
        ServeConfig.from_env({"RCP_SERVE_SWEEP_SECONDS": "soon"})


def test_accepted_connections_get_tcp_nodelay() -> None:
    """Without TCP_NODELAY each response waited ~40 ms for the client's delayed ACK: asyncio
    sets it only on sockets whose proto says TCP, which ``bind`` must therefore say."""
    import asyncio
    import socket

    from rcp.serve.server import bind

    sock = bind("127.0.0.1", 0)
    seen: dict[str, int] = {}

    async def main() -> None:
        def accepted(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connection = writer.get_extra_info("socket")
            seen["nodelay"] = connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            writer.close()

        server = await asyncio.start_server(accepted, sock=sock)
        reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        await reader.read()
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    assert seen["nodelay"] == 1
