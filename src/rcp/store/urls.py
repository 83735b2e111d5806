"""Re-export of the stdlib-only URL helpers (they live in ``rcp.urls`` so settings can use them)."""

from rcp.urls import (
    MASK,
    POSTGRES_SCHEME,
    SQLITE_SCHEME,
    mask_url,
    normalise_url,
    sqlite_path,
    url_passwords,
)

__all__ = [
    "MASK",
    "POSTGRES_SCHEME",
    "SQLITE_SCHEME",
    "mask_url",
    "normalise_url",
    "sqlite_path",
    "url_passwords",
]
