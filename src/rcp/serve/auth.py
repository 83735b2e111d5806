"""Who is calling: bearer tokens for the API, the same token in a cookie for the dashboard.

The API reads only the ``Authorization`` header, never the cookie: a browser attaches cookies
to cross-site requests by itself, so a cookie that could authorise ``POST``/``DELETE`` would
let any page a logged-in operator visits act for them (CSRF). The dashboard is read-only and
may use either.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rcp.core.models import utcnow
from rcp.core.tokens import ApiToken, TokenScope, TokenStore, authenticate
from rcp.serve.errors import HttpError, error_body

COOKIE_NAME = "rcp_token"
# last_used_at is written at most this often per token and process: a write per request would
# serialise every read on SQLite.
TOUCH_EVERY_SECONDS = 60.0


class AuthFailure(Exception):
    """Raised by the dependencies below; the app turns it into the HTTP answer."""

    def __init__(self, error: HttpError) -> None:
        super().__init__(error.body["error"]["message"])
        self.error = error


def unauthorized(code: str, message: str) -> AuthFailure:
    return AuthFailure(
        HttpError(
            401,
            error_body(
                code,
                message,
                "create a token with `rcp serve token create NAME --scope read|write` and send "
                "it as `Authorization: Bearer TOKEN`",
            ),
            {"WWW-Authenticate": 'Bearer realm="rcp"'},
        )
    )


def forbidden(token: ApiToken, needed: TokenScope) -> AuthFailure:
    return AuthFailure(
        HttpError(
            403,
            error_body(
                "insufficient_scope",
                f"token {token.name} has scope {token.scope}; this needs {needed}",
                "use a token created with --scope write",
            ),
            {"WWW-Authenticate": f'Bearer realm="rcp", error="insufficient_scope", scope="{needed}"'},
        )
    )


class Authenticator:
    def __init__(
        self, tokens: TokenStore, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._tokens = tokens
        self._monotonic = monotonic
        self._touched: dict[int, float] = {}
        self._lock = threading.Lock()

    def from_header(self, authorization: str | None, needed: TokenScope) -> ApiToken:
        if not authorization:
            raise unauthorized("unauthorized", "authentication required: no bearer token")
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise unauthorized("unauthorized", "authentication required: use a Bearer token")
        return self.check(secret.strip(), needed)

    def check(self, secret: str, needed: TokenScope) -> ApiToken:
        token = authenticate(self._tokens, secret)
        if token is None:
            # Unknown and revoked tokens answer alike: nothing to learn about which tokens exist.
            raise unauthorized("invalid_token", "invalid or revoked token")
        if not token.scope.allows(needed):
            raise forbidden(token, needed)
        self._touch(token)
        return token

    def _touch(self, token: ApiToken) -> None:
        if token.id is None:
            return
        now = self._monotonic()
        with self._lock:
            last = self._touched.get(token.id)
            if last is not None and now - last < TOUCH_EVERY_SECONDS:
                return
            self._touched[token.id] = now
        try:
            self._tokens.touch_token(token.id, utcnow())
        except Exception:  # a busy database must not fail the request over a timestamp
            with self._lock:
                self._touched.pop(token.id, None)
