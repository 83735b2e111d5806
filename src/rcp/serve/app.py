"""The FastAPI application: the tenant API under ``/api/`` and the dashboard at ``/``.

Endpoints are plain ``def``: FastAPI runs them in its thread pool, and the core they call is
synchronous (SQLAlchemy sessions, the Render client). Errors are rcp's error tree, mapped to
HTTP in one place (``rcp.serve.errors``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rcp import __version__
from rcp.core.models import Tenant, TenantStatus
from rcp.core.tokens import ApiToken, TokenScope
from rcp.errors import ConflictError, RcpError, UsageError
from rcp.serve.auth import AuthFailure
from rcp.serve.errors import HttpError, error_body, internal_error, to_http
from rcp.serve.runtime import Runtime

log = logging.getLogger("rcp.serve")

TenantRef = Annotated[
    str,
    Path(
        description="The tenant's numeric id or its slug.",
        examples=["1", "acme-corp"],
        max_length=64,
    ),
]


# ---------------------------------------------------------------------- request bodies


def _core_check(check: Any, value: Any) -> Any:
    """Run a core validator inside a pydantic validator: its UsageError message becomes the
    field's error (so a 422 names the field)."""
    try:
        return check(value)
    except UsageError as exc:
        raise ValueError(exc.message) from None


class TenantCreate(BaseModel):
    """``POST /api/tenants/``: the seed API's body (``slug`` optional, derived from the name)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Display name (1-255 printable characters).")
    slug: str | None = Field(default=None, description="Slug; derived from the name when absent.")
    template: str | None = Field(default=None, description="Template name (default: default).")
    plugin_repo: str | None = Field(default=None, description="The tenant's plugin repository URL.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        from rcp.core.slugs import validate_name

        result: str = _core_check(validate_name, value)
        return result

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        from rcp.core.slugs import validate_slug

        return None if value is None else str(_core_check(validate_slug, value))

    @field_validator("plugin_repo")
    @classmethod
    def _plugin_repo(cls, value: str | None) -> str | None:
        from rcp.core.slugs import validate_url

        return None if value is None else str(_core_check(validate_url, value))

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        # A name from the server's template directory, never a path on the server's disk.
        if value is not None and ("/" in value or "\\" in value or value.startswith(".")):
            raise ValueError("a template name, not a path")
        return value


class EnvSet(BaseModel):
    """``POST /api/tenants/{id}/env/``: set env overrides (``rcp tenant env set``)."""

    model_config = ConfigDict(extra="forbid")

    values: dict[str, str] = Field(description="KEY: value pairs to set.", min_length=1)
    service: str | None = Field(default=None, description="Only this service (default: all).")
    deploy: bool = Field(default=True, description="Deploy the services afterwards.")

    @field_validator("values")
    @classmethod
    def _keys(cls, value: dict[str, str]) -> dict[str, str]:
        from rcp.core.tenants import validate_env_key

        for key in value:
            _core_check(validate_env_key, key)
        return value


class Redeploy(BaseModel):
    """``POST /api/tenants/{id}/redeploy/`` (``rcp tenant redeploy``)."""

    model_config = ConfigDict(extra="forbid")

    service: str | None = Field(default=None, description="Only this service (default: all).")
    clear_cache: bool = Field(
        default=False, description="Build without Render's build cache (--clear-cache)."
    )


# ---------------------------------------------------------------------- authentication


def _reader(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> ApiToken:
    runtime: Runtime = request.app.state.runtime
    return runtime.auth.from_header(authorization, TokenScope.READ)


def _writer(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> ApiToken:
    runtime: Runtime = request.app.state.runtime
    return runtime.auth.from_header(authorization, TokenScope.WRITE)


# A token with scope read (every GET) or write (changes).
Reader = Annotated[ApiToken, Depends(_reader)]
Writer = Annotated[ApiToken, Depends(_writer)]


# ---------------------------------------------------------------------- middleware


class BodyLimit:
    """413 for a request body over ``limit`` bytes, declared (Content-Length) or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.limit + 1
                if declared > self.limit:
                    await self._too_large(send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        response = _json_error(
            HttpError(
                413,
                error_body(
                    "request_too_large",
                    f"request body larger than {self.limit} bytes",
                    None,
                ),
                {"Connection": "close"},
            )
        )
        await response({"type": "http"}, _no_receive, send)


class _BodyTooLarge(Exception):
    pass


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def _json_error(error: HttpError) -> JSONResponse:
    return JSONResponse(error.body, status_code=error.status, headers=error.headers)


# ---------------------------------------------------------------------- the app


def create_app(runtime: Runtime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.close()

    app = FastAPI(
        title="rcp — Render Control Plane",
        version=__version__,
        description="Tenants on Render: create, inspect, suspend, change and delete. Every "
        "endpoint but /api/health/ needs `Authorization: Bearer TOKEN` "
        "(`rcp serve token create NAME --scope read|write`).",
        lifespan=lifespan,
        # Served below behind authentication (every request but the health check needs a token).
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = runtime
    if runtime.config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(runtime.config.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(BodyLimit, limit=runtime.config.max_body_bytes)
    _install_error_handlers(app, runtime)
    _install_api(app, runtime)
    from rcp.serve.dashboard import install_dashboard

    install_dashboard(app, runtime)
    return app


def app_from_env() -> FastAPI:
    """The uvicorn factory of each worker process (``rcp serve --workers N``)."""
    return create_app(Runtime.from_env())


def _install_error_handlers(app: FastAPI, runtime: Runtime) -> None:
    @app.exception_handler(RcpError)
    async def rcp_error(_request: Request, exc: RcpError) -> Response:
        return _json_error(to_http(exc))

    @app.exception_handler(AuthFailure)
    async def auth_failure(_request: Request, exc: AuthFailure) -> Response:
        return _json_error(exc.error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> Response:
        fields = [
            {"field": _field_name(error.get("loc", ())), "message": str(error.get("msg", ""))}
            for error in exc.errors()
        ]
        message = "; ".join(f"{f['field']}: {f['message']}" for f in fields) or "invalid request"
        return JSONResponse(
            error_body(
                "usage_error",
                f"invalid request: {message}",
                "see /docs for the request schema",
                fields=fields,
            ),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail), None),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> Response:
        log.error("internal error: %s", type(exc).__name__, exc_info=exc)
        return _json_error(internal_error(exc))


def _field_name(loc: Any) -> str:
    """``("body", "name")`` → ``name``; ``("query", "status")`` → ``status``."""
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _tenant_json(runtime: Runtime, tenant: Tenant) -> dict[str, Any]:
    """The tenant object of the CLI's JSON, plus ``job``: this server's background work on it
    while there is some (queued, running, waiting for another holder, retrying, failed)."""
    data = tenant.to_json()
    state = runtime.jobs.state(tenant.slug)
    if state is not None and state.state != "done":
        data["job"] = state.to_json()
    return data


def busy_unless(submitted: bool, slug: str) -> None:
    """409 when this server already runs background work on the tenant (the new request would
    otherwise be dropped silently)."""
    if not submitted:
        raise ConflictError(
            f"tenant {slug} is busy: this server is already working on it",
            hint="retry once its status is no longer PROVISIONING or DELETING",
            code="tenant_busy",
        )


def _install_api(app: FastAPI, runtime: Runtime) -> None:
    service = runtime.service

    def status_location(tenant: Tenant) -> str:
        return f"/api/tenants/{tenant.id}/status/"

    def accepted(tenant: Tenant, status_code: int = 202) -> JSONResponse:
        return JSONResponse(
            _tenant_json(runtime, tenant),
            status_code=status_code,
            headers={"Location": status_location(tenant)},
        )

    @app.get("/api/health/", tags=["health"])
    def health() -> JSONResponse:
        """Is the server up and its database reachable and at the current schema? No token
        needed (load balancers call it); says nothing about tenants."""
        checks: list[dict[str, Any]] = []
        try:
            status = service.store.schema_status()
            checks.append(
                {
                    "name": "database",
                    "ok": bool(status["at_head"]),
                    "detail": "reachable, schema at head"
                    if status["at_head"]
                    else "reachable, schema not at head",
                }
            )
        except RcpError as exc:
            checks.append({"name": "database", "ok": False, "detail": exc.code})
        healthy = all(check["ok"] for check in checks)
        return JSONResponse(
            {"status": "healthy" if healthy else "unhealthy", "version": __version__, "checks": checks},
            status_code=200 if healthy else 503,
        )

    @app.get("/api/tenants/", tags=["tenants"])
    def list_tenants(
        _token: Reader,
        status: Annotated[
            str | None, Query(description="Only tenants with this status.")
        ] = None,
    ) -> JSONResponse:
        """Every tenant (the CLI's `rcp tenant list -o json` data)."""
        if status is not None and status.upper() not in {s.value for s in TenantStatus}:
            names = ", ".join(s.value for s in TenantStatus)
            raise UsageError(f"invalid status {status!r}: expected one of {names}")
        return JSONResponse([_tenant_json(runtime, t) for t in service.list_tenants(status)])

    @app.post("/api/tenants/", tags=["tenants"], status_code=202)
    def create_tenant(body: TenantCreate, token: Writer) -> JSONResponse:
        """Record a tenant and provision it in the background: 202 with the tenant
        (PROVISIONING) and a `Location` to poll. The same slug again is idempotent: the
        existing tenant (200 when it is already ACTIVE); 409 when it exists with another name,
        template or plugin repository."""
        plan = service.plan(
            name=body.name, slug=body.slug, template=body.template, plugin_repo=body.plugin_repo
        )
        slug = plan.slug
        with runtime.jobs.reserving(slug):
            tenant, _created = service.accept_create(token.name, plan)
            if tenant.status not in (TenantStatus.PROVISIONING, TenantStatus.ERROR):
                # ACTIVE (or SUSPENDED by an operator): it exists as asked; nothing to do.
                return accepted(tenant, 200)
            # New, still provisioning, or failed: provision (resume) it, as `rcp tenant
            # create` would. A job already running here for the tenant carries on instead.
            runtime.jobs.submit(slug, "provision", lambda: service.provision(slug, token.name))
        return accepted(tenant)

    @app.get("/api/tenants/{ref}/", tags=["tenants"])
    def show_tenant(ref: TenantRef, _token: Reader) -> JSONResponse:
        """The full record (`rcp tenant show`): resources, Render ids and URLs, the rendered
        template, env overrides (values masked)."""
        tenant = service.resolve(ref)
        data = _tenant_json(runtime, tenant)
        data["rendered_template"] = tenant.rendered_template
        data["env_overrides"] = service.env(tenant, None, reveal=False)
        return JSONResponse(data)

    @app.get("/api/tenants/{ref}/status/", tags=["tenants"])
    def tenant_status(
        ref: TenantRef,
        token: Reader,
        live: Annotated[bool, Query(description="Ask Render first (as --live).")] = False,
    ) -> JSONResponse:
        """Recorded status and per-resource state (`rcp tenant status`)."""
        tenant = service.resolve(ref)
        if live:
            tenant = service.live(tenant, token.name)
        return JSONResponse(_tenant_json(runtime, tenant))

    @app.delete("/api/tenants/{ref}/", tags=["tenants"], status_code=202)
    def delete_tenant(ref: TenantRef, token: Writer) -> JSONResponse:
        """Mark the tenant DELETING and delete its Render resources in the background, then
        the record: 202 with the tenant; its status URL answers 404 once it is gone."""
        found = service.resolve(ref)
        slug = found.slug
        with runtime.jobs.reserving(slug):
            tenant = service.accept_delete(token.name, found)
            runtime.jobs.submit(slug, "delete", lambda: service.delete(slug, token.name))
        return accepted(tenant)

    @app.post("/api/tenants/{ref}/suspend/", tags=["operations"])
    def suspend_tenant(ref: TenantRef, token: Writer) -> JSONResponse:
        """Suspend every service and datastore (`rcp tenant suspend`) → SUSPENDED."""
        tenant = service.suspend(token.name, service.resolve(ref))
        return JSONResponse(_tenant_json(runtime, tenant))

    @app.post("/api/tenants/{ref}/resume/", tags=["operations"], status_code=202)
    def resume_tenant(ref: TenantRef, token: Writer) -> JSONResponse:
        """Resume every suspended resource in the background and wait until all are up
        (`rcp tenant resume`) → ACTIVE."""
        tenant = service.resolve(ref)
        service.check_resume_allowed(tenant)
        slug = tenant.slug
        busy_unless(runtime.jobs.submit(slug, "resume", lambda: service.resume(slug, token.name)), slug)
        return accepted(tenant)

    @app.post("/api/tenants/{ref}/redeploy/", tags=["operations"], status_code=202)
    def redeploy_tenant(
        ref: TenantRef, token: Writer, body: Redeploy | None = None
    ) -> JSONResponse:
        """Start a new deploy of the tenant's services (or one) in the background and wait
        for it (`rcp tenant redeploy`)."""
        body = body or Redeploy()
        tenant = service.resolve(ref)
        service.check_redeploy(tenant, body.service)
        slug, key, clear_cache = tenant.slug, body.service, body.clear_cache
        busy_unless(
            runtime.jobs.submit(
                slug,
                "redeploy",
                lambda: service.redeploy(slug, token.name, key, clear_cache=clear_cache),
            ),
            slug,
        )
        return accepted(tenant)

    @app.get("/api/tenants/{ref}/env/", tags=["env"])
    def list_env(
        ref: TenantRef,
        _token: Reader,
        service_key: Annotated[
            str | None, Query(alias="service", description="Only this service's entries.")
        ] = None,
    ) -> JSONResponse:
        """The tenant's env overrides, values masked (`rcp tenant env list`)."""
        tenant = service.resolve(ref)
        return JSONResponse(service.env(tenant, service_key, reveal=False))

    @app.post("/api/tenants/{ref}/env/", tags=["env"])
    def set_env(ref: TenantRef, body: EnvSet, token: Writer) -> JSONResponse:
        """Set env overrides, push them to Render and deploy unless `deploy` is false
        (`rcp tenant env set`). Values are never echoed."""
        tenant = service.resolve(ref)
        change = service.set_env(
            token.name, tenant, body.values, service=body.service, deploy=body.deploy
        )
        return JSONResponse(change)

    @app.delete("/api/tenants/{ref}/env/{key}/", tags=["env"])
    def unset_env(
        ref: TenantRef,
        key: Annotated[str, Path(max_length=256)],
        token: Writer,
        service_key: Annotated[str | None, Query(alias="service")] = None,
        deploy: Annotated[bool, Query()] = True,
    ) -> JSONResponse:
        """Remove an env override; the service gets the template's value back, else the key
        is deleted on Render (`rcp tenant env unset`)."""
        tenant = service.resolve(ref)
        change = service.unset_env(token.name, tenant, [key], service=service_key, deploy=deploy)
        return JSONResponse(change)
