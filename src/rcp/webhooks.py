"""Outgoing webhooks (``rcp tenant check --notify URL``): the HTTP adapter behind them.

Wired by ``rcp.context.AppContext.notify_webhook``; commands never speak HTTP themselves. A
webhook URL often carries its token in the path, so no message here ever contains it.
"""

from __future__ import annotations

from typing import Any

# A webhook that does not answer within this long is reported, never waited on.
TIMEOUT_SECONDS = 5.0


def post_json(url: str, payload: Any, *, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """POST ``payload`` as JSON: None when the webhook took it (2xx), else why not."""
    import httpx

    try:
        response = httpx.post(url, json=payload, timeout=timeout)
    except httpx.HTTPError as exc:
        return f"could not notify the webhook ({type(exc).__name__})"
    if response.status_code >= 300:
        return f"the webhook answered HTTP {response.status_code}"
    return None
