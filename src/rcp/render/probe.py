"""Health checks of services' public URLs (``rcp rollout --health-path``): one ``GET`` of
``<service url><path>``, never carrying the API key.

Against Render the URL is fetched as it is. Against another API URL (the sandbox of
``rcp sandbox serve``, a test double) the services' ``*.onrender.com`` hosts do not exist on the
network: the request goes to that API URL's origin with the service's host in ``Host``, which is
how the sandbox tells which service's app is asked. With ``--sandbox`` the in-process transport
receives the request as it is.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

import rcp
from rcp.settings import RENDER_API_HOST

PROBE_TIMEOUT_SECONDS = 10.0


class HttpHealthProbe:
    """``status(url, path)``: the HTTP status the service answers, or None without an answer."""

    def __init__(
        self,
        *,
        api_url: str,
        transport: httpx.BaseTransport | None = None,
        timeout: float = PROBE_TIMEOUT_SECONDS,
    ) -> None:
        parts = urlsplit(api_url)
        # Only a real Render API means real service hosts; anything else serves them itself.
        self._origin = (
            None
            if parts.hostname == RENDER_API_HOST or transport is not None
            else f"{parts.scheme}://{parts.netloc}"
        )
        self._http = httpx.Client(
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": f"rcp/{rcp.__version__} (health check)"},
        )

    def close(self) -> None:
        self._http.close()

    def status(self, url: str, path: str) -> int | None:
        target = urlsplit(url.rstrip("/") + path)
        headers: dict[str, str] = {}
        if self._origin is not None:
            headers["Host"] = target.netloc
            address = f"{self._origin}{target.path}"
        else:
            address = target.geturl()
        if target.query:
            address += f"?{target.query}"
        try:
            return self._http.get(address, headers=headers).status_code
        except httpx.HTTPError:
            return None
