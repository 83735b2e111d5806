"""Render's cursor pagination: ``[{"cursor": …, <wrapper>: item}]``."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from rcp.sandbox.api.plumbing import ApiRequest, bad_request, query_value


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"rcp-sandbox:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
        prefix, _, number = text.partition(":")
        if prefix != "rcp-sandbox":
            raise ValueError(cursor)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_request(f"invalid cursor {cursor!r}") from None


def page_limit(request: ApiRequest) -> int:
    raw = query_value(request, "limit")
    if raw is None or raw == "":
        return 20
    try:
        limit = int(raw)
    except ValueError:
        raise bad_request(f"invalid limit {raw!r}: must be an integer between 1 and 100") from None
    if not 1 <= limit <= 100:
        raise bad_request(f"invalid limit {limit}: must be between 1 and 100")
    return limit


def paginate(
    request: ApiRequest,
    items: list[tuple[int, Any]],
    wrapper: str,
) -> list[dict[str, Any]]:
    """``[{"cursor": …, wrapper: item}]``, newest first; ``cursor`` → the items strictly after it.

    Newest first is what the recordings show for deploys and env vars (cursors encode the
    item's id; a page lists descending ids).
    """
    limit = page_limit(request)
    ordered = sorted(items, key=lambda pair: pair[0], reverse=True)
    cursor = query_value(request, "cursor")
    if cursor:
        position = decode_cursor(cursor)
        ordered = [pair for pair in ordered if pair[0] < position]
    return [{"cursor": encode_cursor(seq), wrapper: item} for seq, item in ordered[:limit]]
