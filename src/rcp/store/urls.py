"""Database URL handling that needs nothing beyond the standard library.

Kept apart from the engine so that settings, error messages and ``rcp db status`` can mask a URL
without importing SQLAlchemy.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from rcp.errors import StoreError

MASK = "***"

# Query parameters that carry a secret in libpq / SQLAlchemy URLs.
_SECRET_QUERY_KEYS = frozenset({"password", "pass", "passwd", "sslpassword"})

# A URL-ish string we could not parse: blank out anything between "://user:" and "@".
_FALLBACK_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*(@)")

SQLITE_SCHEME = "sqlite"
POSTGRES_SCHEME = "postgresql+psycopg"
_POSTGRES_ALIASES = frozenset(
    {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg3", "postgres+psycopg"}
)


def mask_url(url: str) -> str:
    """``url`` with its password (and any password query parameter) replaced by ``***``.

    Never raises: a string that does not parse as a URL is masked by pattern instead.
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostinfo = netloc.rpartition("@")
            if ":" in userinfo:
                user = userinfo.split(":", 1)[0]
                netloc = f"{user}:{MASK}@{hostinfo}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(key.lower() in _SECRET_QUERY_KEYS for key, _ in pairs):
                query = urlencode(
                    [(k, MASK if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs],
                    safe="*",
                )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return _FALLBACK_PASSWORD.sub(rf"\g<1>{MASK}\g<2>", url)


def url_password(url: str) -> str | None:
    """The password in ``url`` (decoded), so error texts from drivers can be scrubbed of it."""
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def normalise_url(url: str, *, setting: str = "RCP_DATABASE_URL") -> str:
    """Canonical SQLAlchemy URL: ``postgres://`` and ``postgresql://`` use the psycopg 3 driver.

    Raises ``StoreError`` naming ``setting`` (password masked) for anything that is not a SQLite
    or Postgres URL.
    """
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme:
        raise _bad_url(url, setting, "expected sqlite:///PATH or postgresql://USER@HOST/DB")
    scheme = scheme.lower()
    if scheme in _POSTGRES_ALIASES:
        if not rest or (rest.startswith("/") and not rest.strip("/")):
            raise _bad_url(url, setting, "a Postgres URL needs a host or a database name")
        try:
            parts = urlsplit(f"{POSTGRES_SCHEME}://{rest}")
            _ = parts.port  # raises ValueError for a non-numeric port
        except ValueError as exc:
            raise _bad_url(url, setting, str(exc)) from None
        return f"{POSTGRES_SCHEME}://{rest}"
    if scheme in {"sqlite", "sqlite+pysqlite"}:
        # sqlite:///relative/path, sqlite:////absolute/path, sqlite:// or sqlite:///:memory:
        if rest and not rest.startswith("/"):
            raise _bad_url(url, setting, "use sqlite:///relative/path or sqlite:////absolute/path")
        return f"{SQLITE_SCHEME}://{rest}"
    raise _bad_url(
        url, setting, f"unsupported database {quote(scheme)!r}; use sqlite or postgresql"
    )


def sqlite_path(normalised_url: str) -> str | None:
    """The file path of a normalised SQLite URL, or None for an in-memory database."""
    rest = normalised_url.partition("://")[2]
    path = rest[1:] if rest.startswith("/") else rest
    path = path.split("?", 1)[0]
    if path in {"", ":memory:"}:
        return None
    return path


def _bad_url(url: str, setting: str, reason: str) -> StoreError:
    return StoreError(
        f"{setting} is not a valid database URL ({mask_url(url)}): {reason}",
        hint="set it to sqlite:///PATH or postgresql://USER:PASSWORD@HOST:5432/DB",
    )
