"""Bearer tokens of ``rcp serve``: create (shown once), list, revoke, authenticate.

A token is ``rcp_`` + 43 URL-safe characters (256 random bits). Only its SHA-256 is stored: a
plain hash is enough for a secret of that entropy (nothing to brute-force, unlike a password),
and it lets a request be authenticated with one indexed lookup. The token's name is the actor of
the audit log for everything done with it. Stdlib only.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from rcp.core.models import iso_z
from rcp.errors import UsageError

TOKEN_PREFIX = "rcp_"
# How many leading characters of a token `token list` shows (the "rcp_" marker and 6 more).
SHOWN_PREFIX_LENGTH = 10
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class TokenScope(StrEnum):
    READ = "read"  # every GET, the dashboard
    WRITE = "write"  # also create, delete, suspend, resume, env, redeploy

    def allows(self, needed: TokenScope) -> bool:
        return self is TokenScope.WRITE or needed is TokenScope.READ


@dataclass
class ApiToken:
    """A stored token, without its secret."""

    name: str
    scope: TokenScope
    prefix: str
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    id: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "scope": str(self.scope),
            "prefix": self.prefix,
            "created_at": iso_z(self.created_at),
            "last_used_at": iso_z(self.last_used_at),
            "revoked_at": iso_z(self.revoked_at),
        }


class TokenStore(Protocol):
    """Persistence of tokens (``rcp.store.tokens.SqlTokenStore``)."""

    def insert_token(self, token: ApiToken, token_hash: str) -> ApiToken:
        """Insert; ConflictError when an active token has this name."""
        ...

    def list_tokens(self, *, include_revoked: bool) -> list[ApiToken]: ...

    def revoke_token(self, name: str) -> ApiToken | None:
        """Mark the active token of this name revoked; None when there is none."""
        ...

    def find_token(self, token_hash: str) -> ApiToken | None:
        """The token (active or revoked) with this hash."""
        ...

    def touch_token(self, token_id: int, at: datetime) -> None:
        """Record a use (``last_used_at``)."""
        ...


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def validate_token_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise UsageError(
            f"invalid token name {name!r}: 1-64 characters of letters, digits, '.', '_', '@' "
            "and '-', starting with a letter or digit",
        )
    return name


def parse_scope(value: str) -> TokenScope:
    try:
        return TokenScope(value.lower())
    except ValueError:
        raise UsageError(f"invalid --scope value {value!r}: expected read or write") from None


def create_token(store: TokenStore, name: str, scope: TokenScope) -> tuple[ApiToken, str]:
    """A new token: the stored record and the secret (the only time it exists in clear)."""
    validate_token_name(name)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, scope=scope, prefix=secret[:SHOWN_PREFIX_LENGTH])
    return store.insert_token(token, hash_token(secret)), secret


def list_tokens(store: TokenStore, *, include_revoked: bool = False) -> list[ApiToken]:
    return store.list_tokens(include_revoked=include_revoked)


def revoke_token(store: TokenStore, name: str) -> ApiToken:
    validate_token_name(name)
    revoked = store.revoke_token(name)
    if revoked is None:
        # Bad input (exit 2), like any other name that does not exist: nothing was written.
        raise UsageError(
            f"no active token named {name}",
            hint="see `rcp serve token list`",
            code="token_not_found",
        )
    return revoked


def authenticate(store: TokenStore, secret: str) -> ApiToken | None:
    """The active token whose secret this is, else None (unknown, malformed or revoked)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = store.find_token(hash_token(secret))
    if token is None or not token.active:
        return None
    return token
