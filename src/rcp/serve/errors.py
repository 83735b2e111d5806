"""From rcp's one error tree to HTTP: status, headers and the body of the CLI's JSON envelope.

The body is ``{"error": {"code", "message", "hint"}}`` exactly as ``rcp -o json`` prints it
(``retry_at`` added when known, ``fields`` for request validation), so a script can share its
error handling between the CLI and the API. Stdlib only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rcp.errors import (
    ConfigError,
    ConflictError,
    Interrupted,
    ProvisioningFailed,
    RcpError,
    RenderAPIError,
    RenderBadRequest,
    RenderRateLimited,
    RetryLater,
    TenantNotFound,
    TimedOut,
    UsageError,
    WorldMismatch,
)

# Retry-After when an error says "later" without saying when.
DEFAULT_RETRY_SECONDS = 5
RENDER_RETRY_SECONDS = 30


@dataclass(frozen=True)
class HttpError:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def http_status(error: RcpError) -> int:
    """The HTTP status of an rcp error (the same tree decides the CLI's exit code)."""
    if isinstance(error, RenderRateLimited):
        return 429
    if isinstance(error, RetryLater):
        return 429 if _is_rate_limit(error) else 503
    if isinstance(error, RenderBadRequest):
        # Render refused what rcp sent (a template value, say): not the API caller's input.
        return 502
    if isinstance(error, RenderAPIError):
        # 5xx and transport failures after retries (exit 75): come back later.
        return 503 if error.exit_code == 75 else 502
    if isinstance(error, UsageError):
        return 422
    if isinstance(error, TenantNotFound):
        return 404
    if isinstance(error, ConflictError):  # also LockBusy, LockLost
        return 409
    if isinstance(error, ProvisioningFailed):  # a resource failed on Render, or ambiguous state
        return 502
    if isinstance(error, WorldMismatch):  # the record belongs to another Render API/workspace
        return 409
    if isinstance(error, ConfigError):  # the server's own configuration (API key, database)
        return 503
    if isinstance(error, TimedOut):
        return 504
    if isinstance(error, Interrupted):  # the server is shutting down
        return 503
    return 500


def _is_rate_limit(error: RcpError) -> bool:
    cause = error.__cause__
    return isinstance(cause, RenderRateLimited) or "rate limit" in error.message.lower()


def retry_after_seconds(error: RcpError, now: datetime | None = None) -> int | None:
    """Seconds for ``Retry-After`` on 429/503, else None."""
    status = http_status(error)
    if status not in (429, 503):
        return None
    retry_at: datetime | None = getattr(error, "retry_at", None)
    if retry_at is not None:
        moment = now or datetime.now(UTC)
        return max(1, math.ceil((retry_at - moment).total_seconds()))
    wait = getattr(error, "wait_seconds", None)
    if isinstance(wait, int | float) and wait > 0:
        return max(1, math.ceil(wait))
    if isinstance(error, RenderAPIError):
        return RENDER_RETRY_SECONDS
    if isinstance(error, ConfigError):
        return None  # misconfiguration: retrying soon will not help
    return DEFAULT_RETRY_SECONDS


def error_body(
    code: str, message: str, hint: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "hint": hint}
    body.update(extra)
    return {"error": body}


def to_http(error: RcpError, *, secrets: list[str] | None = None) -> HttpError:
    message = _redact(error.message, secrets or [])
    hint = _redact(error.hint, secrets or []) if error.hint else None
    extra: dict[str, Any] = {}
    retry_at = getattr(error, "retry_at", None)
    if retry_at is not None:
        from rcp.core.models import iso_z

        extra["retry_at"] = iso_z(retry_at)
    headers: dict[str, str] = {}
    retry_after = retry_after_seconds(error)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return HttpError(http_status(error), error_body(error.code, message, hint, **extra), headers)


def internal_error(exc: BaseException) -> HttpError:
    """An unexpected exception: the class name only; its text may quote anything."""
    return HttpError(
        500,
        error_body(
            "internal_error",
            f"internal error ({type(exc).__name__})",
            "see the server's log",
        ),
        {},
    )


def _redact(text: str, secrets: list[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
