"""Turn Render's answers (and the lack of one) into the typed errors of ``rcp.errors``.

Rules that keep secrets out of messages:
- only Render's own ``message`` field is quoted, and only for 4xx answers: a 5xx body may echo
  the request (env values, connection strings), so it is never read;
- the API key, if it ever shows up in a quoted message, is replaced by ``***``;
- transport errors are described by their class name, not their text.
"""

from __future__ import annotations

import json

import httpx

from rcp.errors import (
    AuthError,
    RcpError,
    RenderAPIError,
    RenderBadRequest,
    RenderNotFound,
    RenderRateLimited,
    RenderServerError,
    RenderTransportError,
)
from rcp.render.waits import parse_wait_headers

# httpx errors raised before a single byte of the request left: repeating any method is safe.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)

# Longest Render message we quote; longer ones are cut (a message is a sentence, not a dump).
_MAX_MESSAGE_CHARS = 300

AUTH_HINT = (
    "check RENDER_API_KEY (or run `rcp auth login`); the key must belong to a user of the workspace"
)


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def render_message(response: httpx.Response) -> str | None:
    """Render's ``{"message": …}`` from an error answer, or ``None``."""
    try:
        payload = json.loads(response.content or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(payload, dict):
        message = payload.get("message")
        if isinstance(message, str) and message.strip():
            text = " ".join(message.split())
            if len(text) > _MAX_MESSAGE_CHARS:
                text = text[: _MAX_MESSAGE_CHARS - 1] + "…"
            return text
    return None


def error_for_response(
    response: httpx.Response,
    *,
    method: str,
    path: str,
    secrets: tuple[str, ...] = (),
) -> RcpError:
    """THE mapping from an error status to an rcp error (callers raise it).

    401/403 → AuthError · 404 → RenderNotFound · 429 → RenderRateLimited (with the wait Render
    asked for) · other 4xx → RenderBadRequest with Render's message · 5xx → RenderServerError
    (body never read) · anything else non-2xx → RenderAPIError.
    """
    status = response.status_code
    where = f"{method} {path}"
    if 500 <= status <= 599:
        return RenderServerError(
            f"Render failed with {status} on {where}",
            status=status,
            method=method,
            path=path,
            hint="Render is having trouble; rerun the same command later to resume",
        )
    quoted = render_message(response)
    detail = f": {redact(quoted, secrets)}" if quoted else ""
    if status in (401, 403):
        reason = "rejected the API key" if status == 401 else "refused access with this API key"
        return AuthError(f"Render {reason} ({status}) on {where}{detail}", hint=AUTH_HINT)
    if status == 404:
        return RenderNotFound(
            f"Render has no such resource ({where}){detail}",
            status=status,
            method=method,
            path=path,
        )
    if status == 429:
        wait = parse_wait_headers(response.headers)
        return RenderRateLimited(
            f"Render rate limit reached on {where}{detail}",
            wait_seconds=wait,
            status=status,
            method=method,
            path=path,
        )
    if 400 <= status <= 499:
        return RenderBadRequest(
            f"Render rejected {where} ({status}){detail}", status=status, method=method, path=path
        )
    return RenderAPIError(
        f"unexpected answer {status} from Render on {where}",
        status=status,
        method=method,
        path=path,
    )


def error_for_transport(exc: Exception, *, method: str, path: str) -> RenderTransportError:
    """No HTTP answer. ``maybe_sent`` is False only when the request provably never left."""
    kind = type(exc).__name__
    not_sent = isinstance(exc, NOT_SENT_ERRORS)
    outcome = "was not sent" if not_sent else "may or may not have reached Render"
    return RenderTransportError(
        f"no answer from Render on {method} {path} ({kind}); the request {outcome}",
        maybe_sent=not not_sent,
        method=method,
        path=path,
        hint="check the network / RENDER_API_URL, then rerun the same command to resume",
    )
