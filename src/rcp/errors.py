"""The one error tree of rcp. Stdlib only.

Every error a user can see is an ``RcpError`` with a stable ``code`` (scripts match on it in the
JSON envelope), a one-line ``message``, an optional ``hint`` and the ``exit_code`` of docs/exit-codes.md.
Only ``rcp.cli`` turns these into process exit codes.

    RcpError (1, internal)
    ├── UsageError (2)                  bad input, rejected before any write or Render call
    ├── TenantNotFound (3)
    ├── ConflictError (4)               exists with another definition
    │   └── LockBusy (4)                another operation holds the tenant
    ├── ProvisioningFailed (5)          a resource reached a failed state; ambiguous Render state
    │   └── Unhealthy (5)               `check` found problems
    ├── ConfigError (6)                 configuration, API key, workspace
    │   ├── AuthError (6)               Render said 401/403
    │   └── WorldMismatch (6)           a record of another Render API or workspace
    ├── RetryLater (75)                 rate limit beyond the wait budget, Render unavailable
    ├── TimedOut (124)                  --timeout reached while waiting
    ├── Interrupted (130 / 143)         stopped cleanly after SIGINT / SIGTERM
    └── RenderAPIError (1 unless a subclass says otherwise)   an unexpected Render answer
        ├── RenderNotFound (404)
        ├── RenderBadRequest (400, 402, 409, 422, other 4xx)
        ├── RenderRateLimited (429)     retried; surfaces as RetryLater when the budget is spent
        ├── RenderServerError (5xx)
        └── RenderTransportError        no HTTP answer (connect, read, protocol errors)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime


class RcpError(Exception):
    """Base of every error rcp reports to a user."""

    code: str = "internal_error"
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class UsageError(RcpError):
    code = "usage_error"
    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        code: str | None = None,
        problems: list[dict[str, str | None]] | None = None,
    ) -> None:
        super().__init__(message, hint=hint, code=code)
        # Every problem of an invalid file ({"file", "location", "message"}): listed one per line
        # on stderr and as "problems" in the JSON error, so none hides behind the first.
        self.problems = problems


_LOCATION = re.compile(r"[A-Za-z_][\w.\[\]-]*(?: \([^()]*\))?")


def problem_entry(text: str, file: str | None = None) -> dict[str, str | None]:
    """``tenants[3].slug: must …`` → ``{"file", "location": "tenants[3].slug", "message"}``;
    a text with no leading location keeps ``location`` None."""
    head, sep, rest = text.partition(": ")
    if sep and _LOCATION.fullmatch(head):
        return {"file": file, "location": head, "message": rest}
    return {"file": file, "location": None, "message": text}


class TenantNotFound(RcpError):
    code = "tenant_not_found"
    exit_code = 3


class ConflictError(RcpError):
    code = "conflict"
    exit_code = 4


class LockBusy(ConflictError):
    code = "tenant_locked"


class ProvisioningFailed(RcpError):
    code = "provisioning_failed"
    exit_code = 5


class Unhealthy(ProvisioningFailed):
    code = "unhealthy"


class ConfigError(RcpError):
    code = "config_error"
    exit_code = 6


class AuthError(ConfigError):
    code = "auth_error"


class WorldMismatch(ConfigError):
    """The record belongs to another world (Render API base or workspace) than this run's:
    refused before any write or Render mutation."""

    code = "world_mismatch"


class RetryLater(RcpError):
    """Temporary: rerunning the same command later resumes. Carries when to retry."""

    code = "retry_later"
    exit_code = 75

    def __init__(
        self,
        message: str,
        *,
        retry_at: datetime | None = None,
        hint: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, code=code)
        self.retry_at = retry_at


class TimedOut(RcpError):
    code = "timeout"
    exit_code = 124


class Interrupted(RcpError):
    code = "interrupted"
    exit_code = 130

    def __init__(self, message: str, *, signal_number: int = 2) -> None:
        super().__init__(message)
        # 128 + signal number: 130 for SIGINT, 143 for SIGTERM.
        self.exit_code = 128 + signal_number


class RenderAPIError(RcpError):
    """Render answered with an error status (or not at all, for the transport subclass)."""

    code = "render_error"
    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.method = method
        self.path = path


class RenderNotFound(RenderAPIError):
    code = "render_not_found"


class RenderBadRequest(RenderAPIError):
    code = "render_rejected"
    exit_code = 2


class RenderRateLimited(RenderAPIError):
    code = "rate_limited"
    exit_code = 75

    def __init__(self, message: str, *, wait_seconds: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.wait_seconds = wait_seconds


class RenderServerError(RenderAPIError):
    code = "render_unavailable"
    exit_code = 75


class RenderTransportError(RenderAPIError):
    """No HTTP answer. ``maybe_sent`` is False only when the request provably never left
    (connect errors), so a POST may be repeated; otherwise the outcome is unknown."""

    code = "render_unreachable"
    exit_code = 75

    def __init__(self, message: str, *, maybe_sent: bool, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.maybe_sent = maybe_sent


class LockLost(ConflictError):
    """Our lease was taken over (fencing generation moved on): stop before any Render call."""

    code = "lock_lost"


class StoreError(ConfigError):
    """The database is unreachable, malformed, or at a schema this code does not know."""

    code = "database_error"
