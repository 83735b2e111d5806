"""The read-only fleet dashboard: server-rendered HTML (Jinja2, autoescaped), no JavaScript, no
build step. Signed in with an API token, kept in an HttpOnly SameSite=Strict cookie; requests
with ``Authorization: Bearer`` work too. Also serves the OpenAPI schema and its docs page
behind the same sign-in (every request but the health check needs a token)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from rcp.core.models import Tenant, TenantStatus, iso_z
from rcp.core.tokens import ApiToken, TokenScope
from rcp.serve.auth import COOKIE_NAME, AuthFailure, unauthorized

if TYPE_CHECKING:
    from rcp.serve.runtime import Runtime

REFRESH_SECONDS = 5
COOKIE_MAX_AGE = 8 * 3600
AUDIT_SHOWN = 25
PAGE_SIZE = 200  # tenants per dashboard page
DEPLOYS_SHOWN = 20

_templates = Environment(
    loader=PackageLoader("rcp.serve", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def template_revision(tenant: Tenant) -> str:
    """A short fingerprint of the template a tenant was rendered from: tenants made from the
    same template text share it, so a fleet on mixed revisions shows.

    rcp stores each tenant's *rendered* template (names and values carry its slug, name and
    plugin repo), not the template's text: those are put back as placeholders before hashing.
    The slug only where it stands alone (``acme`` in ``acme-web``, not in ``acme_x``)."""
    canonical = json.dumps(tenant.rendered_template, sort_keys=True, separators=(",", ":"))
    for value, placeholder in (
        (tenant.custom_plugin_repo, "{{ tenant.plugin_repo }}"),
        (tenant.name, "{{ tenant.name }}"),
    ):
        if value:
            canonical = canonical.replace(json.dumps(value)[1:-1], placeholder)
    canonical = re.sub(
        rf"(?<![A-Za-z0-9_]){re.escape(tenant.slug)}(?![A-Za-z0-9_])", "{{ tenant.slug }}", canonical
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]


def _usd(value: Decimal | float | None) -> str:
    return "—" if value is None else f"${float(value):,.2f}"


def _when(moment: Any) -> str:
    text = iso_z(moment)
    return "" if text is None else text.replace("T", " ")[:19]


def _safe_link(url: str | None) -> str | None:
    # Escaping stops markup, not a javascript: URL; only web links become links.
    if url and url.startswith(("https://", "http://")):
        return url
    return None


def _local_path(value: str | None) -> str:
    """Where to go after signing in: a path on this server only (no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def install_dashboard(app: FastAPI, runtime: Runtime) -> None:
    service = runtime.service

    def signed_in(request: Request) -> ApiToken | None:
        """The token of the request (header, else cookie), or None when there is none. An
        invalid or revoked token counts as none: the page asks to sign in again."""
        header = request.headers.get("authorization")
        try:
            if header:
                return runtime.auth.from_header(header, TokenScope.READ)
            cookie = request.cookies.get(COOKIE_NAME)
            if cookie:
                return runtime.auth.check(cookie, TokenScope.READ)
        except AuthFailure:
            return None
        return None

    def to_login(request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
        if request.cookies.get(COOKIE_NAME):
            response.delete_cookie(COOKIE_NAME, path="/")
        return response

    def page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = _templates.get_template(name).render(**context)
        return HTMLResponse(
            html,
            status_code=status_code,
            headers={
                # Nothing external, no scripts, no framing: the page is data only.
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "same-origin",
                "Cache-Control": "no-store",
            },
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(
        request: Request,
        status: Annotated[str | None, Query()] = None,
        page_number: Annotated[int, Query(alias="page", ge=1)] = 1,
    ) -> Response:
        token = signed_in(request)
        if token is None:
            return to_login(request)
        from rcp.core.cost import estimate, load_price_table
        from rcp.core.tenants import iter_tenants

        wanted = status.upper() if status else None
        if wanted not in {None, *(s.value for s in TenantStatus)}:
            wanted = None
        # Every tenant's status (no templates: cheap), for the counts and the page's slugs;
        # the page's own tenants in full, for resources, revisions and prices.
        summaries = list(iter_tenants(service.store))
        counts = Counter(str(t.status) for t in summaries)
        selected = [t.slug for t in summaries if wanted is None or str(t.status) == wanted]
        pages = max(1, -(-len(selected) // PAGE_SIZE))
        page_number = min(page_number, pages)
        shown = selected[(page_number - 1) * PAGE_SIZE : page_number * PAGE_SIZE]
        found = service.store.get_tenants(shown)
        tenants = [found[slug] for slug in shown if slug in found]
        prices = load_price_table(service.app.settings.config_dir)
        report = estimate(tenants, prices)
        monthly = {row["slug"]: row.get("monthly_usd") for row in report["tenants"]}
        rows = [
            {
                "slug": t.slug,
                "name": t.name,
                "status": str(t.status),
                "last_error": t.last_error,
                "resources": [{"key": r.key, "state": r.state} for r in t.resources],
                "template": t.template,
                "revision": template_revision(t),
                "monthly": _usd(monthly.get(t.slug)),
                "updated_at": _when(t.updated_at),
            }
            for t in tenants
        ]
        busy = counts[TenantStatus.PROVISIONING.value] + counts[TenantStatus.DELETING.value] > 0
        complete = len(tenants) == len(summaries)
        total = report.get("total_monthly_usd")
        return page(
            "index.html",
            token=token,
            tenants=rows,
            tenant_count=len(summaries),
            counts=[(s.value, counts[s.value]) for s in TenantStatus if counts[s.value]],
            status=wanted,
            page_number=page_number,
            pages=pages,
            total_cost=_usd(total if total is not None else report.get("known_total_monthly_usd")),
            cost_scope="per month" if complete else "per month (this page)",
            cost_incomplete=total is None and bool(tenants),
            prices_as_of=report.get("prices_as_of", ""),
            refresh=REFRESH_SECONDS if busy else None,
        )

    @app.get("/tenants/{ref}", response_class=HTMLResponse, include_in_schema=False)
    def tenant_page(request: Request, ref: str) -> Response:
        token = signed_in(request)
        if token is None:
            return to_login(request)
        from rcp.core.cost import load_price_table, price_tenant

        tenant = service.resolve(ref)
        priced = {p.key: p for p in price_tenant(tenant, load_price_table(service.app.settings.config_dir))}
        total = None
        if priced and all(p.monthly_usd is not None for p in priced.values()):
            total = sum((p.monthly_usd for p in priced.values() if p.monthly_usd is not None), Decimal(0))
        resources = [
            {
                "key": r.key,
                "type": r.type,
                "render_id": r.render_id,
                "name": r.name,
                "state": r.state,
                "plan": priced[r.key].plan if r.key in priced else None,
                "monthly": _usd(priced[r.key].monthly_usd if r.key in priced else None),
                "url": _safe_link(r.url),
            }
            for r in tenant.resources
        ]
        job = runtime.jobs.state(tenant.slug)
        return page(
            "tenant.html",
            token=token,
            tenant=tenant,
            revision=template_revision(tenant),
            monthly=_usd(total),
            created_at=_when(tenant.created_at),
            updated_at=_when(tenant.updated_at),
            resources=resources,
            deploys=_deploys(service.store, tenant),
            env=service.env(tenant, None, reveal=False),
            audit=[
                {
                    "at": _when(entry.at),
                    "actor": entry.actor,
                    "command": entry.command,
                    "outcome": entry.outcome,
                    "duration": f"{entry.duration_ms / 1000:.1f} s",
                }
                for entry in service.store.list_audit(tenant=tenant.slug, limit=AUDIT_SHOWN)
            ],
            job=job.to_json() if job else None,
            refresh=REFRESH_SECONDS
            if tenant.status in (TenantStatus.PROVISIONING, TenantStatus.DELETING)
            else None,
        )

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(next_: Annotated[str | None, Query(alias="next")] = None) -> Response:
        return page("login.html", token=None, next=_local_path(next_), error=None)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        secret = (form.get("token") or [""])[0].strip()
        target = _local_path((form.get("next") or ["/"])[0])
        try:
            await run_in_threadpool(runtime.auth.check, secret, TokenScope.READ)
        except AuthFailure:
            return page(
                "login.html",
                status_code=401,
                token=None,
                next=target,
                error="That token is not valid (unknown or revoked).",
            )
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            secret,
            max_age=COOKIE_MAX_AGE,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @app.post("/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE_NAME, path="/")
        return response

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> Response:
        if signed_in(request) is None:
            raise unauthorized("unauthorized", "authentication required: no valid token")
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> Response:
        if signed_in(request) is None:
            return to_login(request)
        return get_swagger_ui_html(openapi_url="/openapi.json", title="rcp API")


def _deploys(store: Any, tenant: Tenant) -> list[dict[str, Any]]:
    """Deploys rcp started or saw for the tenant's services, newest first: each service's
    current deploy, and the journal's deploy steps (create, env changes, redeploys)."""
    services = {r.key: r for r in tenant.resources if r.kind.value == "service"}
    rows: list[dict[str, Any]] = []
    for entry in reversed(store.list_journal(tenant.slug)):
        if entry.resource_key not in services or entry.status != "done":
            continue
        if entry.step not in ("create", "deploy", "redeploy", "env", "recreate"):
            continue
        rows.append(
            {
                "at": _when(entry.at),
                "service": entry.resource_key,
                "deploy_id": None,
                "what": entry.step if not entry.detail else f"{entry.step}: {entry.detail}",
                "status": "started",
            }
        )
        if len(rows) >= DEPLOYS_SHOWN:
            break
    current = [
        {
            "at": "current",
            "service": key,
            "deploy_id": resource.deploy_id,
            "what": "latest deploy",
            "status": resource.state,
        }
        for key, resource in services.items()
        if resource.deploy_id
    ]
    return current + rows
