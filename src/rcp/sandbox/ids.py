"""Render-style identifiers and random values.

Render ids are a prefix plus 20 characters of xid's alphabet (``[0-9a-v]``), e.g.
``srv-ct6vmjtj0q5s700ckea0``; Postgres primaries end in ``-a`` (``dpg-…-a``).
"""

from __future__ import annotations

import base64
import secrets
import string

XID_ALPHABET = "0123456789abcdefghijklmnopqrstuv"
_PASSWORD_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, suffix: str = "") -> str:
    body = "".join(secrets.choice(XID_ALPHABET) for _ in range(20))
    return f"{prefix}{body}{suffix}"


def random_suffix(length: int = 4) -> str:
    """Render appends ``_xxxx`` to database names and ``-xxxx`` to clashing slugs."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(length))


def random_password(length: int = 32) -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


def generated_value() -> str:
    """``generateValue: true`` → a base64-encoded 256-bit value (44 characters)."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def request_id() -> str:
    return f"sandbox/{secrets.token_urlsafe(8)}-{secrets.randbelow(10**6):06d}"
