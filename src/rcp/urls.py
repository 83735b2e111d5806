"""Database URL handling that needs nothing beyond the standard library (a leaf module).

Kept apart from the engine so that settings, error messages and ``rcp db status`` can mask a URL
without importing SQLAlchemy.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

from rcp.errors import StoreError

MASK = "***"

# Query parameters that carry a secret in libpq / SQLAlchemy URLs: keep the name, hide the value.
_SECRET_QUERY = re.compile(r"([?&](?:password|pass|passwd|sslpassword)=)[^&#]*", re.IGNORECASE)

SQLITE_SCHEME = "sqlite"
POSTGRES_SCHEME = "postgresql+psycopg"
_POSTGRES_ALIASES = frozenset(
    {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg3", "postgres+psycopg"}
)


def mask_url(url: str) -> str:
    """``url`` with its password (and any password query parameter) replaced by ``***``.

    Only the secret is touched; everything else is returned byte for byte. Never raises.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _mask_query(url)
    netloc_end = len(rest)
    for delimiter in "/?#":
        found = rest.find(delimiter)
        if found != -1:
            netloc_end = min(netloc_end, found)
    netloc, tail = rest[:netloc_end], rest[netloc_end:]
    userinfo, at, hostinfo = netloc.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{hostinfo}"
    return f"{scheme}://{netloc}{_mask_query(tail)}"


def _mask_query(text: str) -> str:
    return _SECRET_QUERY.sub(lambda match: f"{match.group(1)}{MASK}", text)


def url_passwords(url: str) -> list[str]:
    """The password in ``url`` as written and percent-decoded, so driver error texts can be
    scrubbed of either spelling."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    if not password:
        return []
    return sorted({password, unquote(password)}, key=len, reverse=True)


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


def same_database(first: str, second: str) -> bool:
    """Whether two database URLs name one database (SQLite: the same file). Raises
    ``StoreError`` for a malformed URL, like ``normalise_url``."""
    from pathlib import Path

    first_normalised = normalise_url(first)
    second_normalised = normalise_url(second)
    if first_normalised.startswith("sqlite") and second_normalised.startswith("sqlite"):
        first_file = sqlite_path(first_normalised)
        second_file = sqlite_path(second_normalised)
        if first_file is None or second_file is None:
            return False  # two in-memory databases are two databases
        return Path(first_file).resolve() == Path(second_file).resolve()
    return first_normalised == second_normalised
