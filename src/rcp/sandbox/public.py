"""A web service's public side: what ``https://<name>.onrender.com/<path>`` answers.

Not Render's API: the app a service runs. The sandbox stands in for it so a rollout's health
gate (``GET <service url><health path>``) can be exercised. It is reached the same way from
both front ends: by the request's ``Host`` — the in-process transport is handed the full URL
(httpx sets ``Host: acme-web.onrender.com``), and ``rcp sandbox serve`` serves any request that
arrives with that ``Host`` header (``curl -H 'Host: acme-web.onrender.com'
http://127.0.0.1:10000/healthz``).

The host is the service's ``url`` as the API reports it: every recorded web service answer has
``"url": "https://<slug>.onrender.com"`` (services.service_url). What it answers, on any path:

- 200 ``{"status": "ok"}`` while the service has a live deploy. A failed or still-running newer
  deploy leaves the live one serving: the spec's deployStatus ``deactivated`` is a live deploy
  a newer one replaced, which only happens once that newer one is live (as the recorded deploy
  lists show it; deploys.service_deploys);
- 503 ``{"status": "unavailable"}`` when it has none (first deploy not live yet, every deploy
  failed) or it is suspended (suspension deactivates its deploys);
- 404 for a host no web service has (Render's edge answers unknown hosts 404).

A ``health_status`` fault rule replaces the answer (rcp.sandbox.faults).
"""

from __future__ import annotations

from typing import Any

from rcp.sandbox.api import WorldContext
from rcp.sandbox.api.deploys import service_deploys
from rcp.sandbox.api.plumbing import load_resources

PUBLIC_SUFFIX = ".onrender.com"
_SERVED_TYPES = ("web_service", "static_site")


def public_host(host_header: str | None) -> str | None:
    """The public host a request is for (``acme-web.onrender.com``, lowercased, no port), or
    None for a request to the API."""
    if not host_header:
        return None
    host = host_header.strip().lower()
    if host.startswith("["):  # an IPv6 literal is never a service host
        return None
    host = host.split(":", 1)[0]
    if not host.endswith(PUBLIC_SUFFIX) or host == PUBLIC_SUFFIX[1:]:
        return None
    return host


def find_public_service(ctx: WorldContext, host: str) -> dict[str, Any] | None:
    """The web service whose URL has this host."""
    url = f"https://{host}"
    for _, service in load_resources(ctx, "service"):
        if service.get("type") in _SERVED_TYPES and service.get("serviceDetails", {}).get(
            "url", f"https://{service.get('slug')}{PUBLIC_SUFFIX}"
        ) == url:
            return service
    return None


def public_answer(ctx: WorldContext, service: dict[str, Any] | None) -> tuple[int, Any]:
    """(status, JSON body) of the service's app at ``ctx.now``."""
    if service is None:
        return 404, {"message": "not found"}
    if service.get("suspended") == "suspended":
        return 503, {"status": "unavailable", "reason": "suspended"}
    if any(deploy["status"] == "live" for _, deploy in service_deploys(ctx, service["id"])):
        return 200, {"status": "ok"}
    return 503, {"status": "unavailable", "reason": "no live deploy"}
