"""What each endpoint does, through the same core use cases, store, gateway, leases and audit
log as the CLI. Synchronous: FastAPI runs these in its thread pool, background work runs in
``rcp.serve.jobs``.

Who acts: every use case runs with an ``Operator`` whose lock holder is the token's name (so
``rcp tenant …`` run meanwhile names it as the holder), and every mutation is audited with the
token's name as the actor, once its preconditions passed (as the CLI does).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rcp.core.models import AuditEntry, LockHolder, Tenant, TenantStatus
from rcp.errors import RcpError, TenantNotFound, UsageError

if TYPE_CHECKING:
    from rcp.context import AppContext
    from rcp.core.provisioning import StopFlag
    from rcp.core.tenants import CreatePlan, Operator
    from rcp.serve.config import ServeConfig

log = logging.getLogger("rcp.serve")

# Lock waits of requests: long enough to queue behind another request's short critical section
# (recording a tenant), short enough that a request never hangs behind a provisioning run.
REQUEST_LOCK_WAIT = 2.0


class LogProgress:
    """Progress of server-side work: log lines (the server has no terminal to draw on)."""

    def event(self, tenant: str, resource: str | None, message: str, state: str | None = None) -> None:
        where = f"{tenant}: {resource}" if resource else tenant
        log.info("%s: %s", where, message)


@dataclass
class Audit:
    """The audit entry of one mutation, written when the block ends — only if the use case
    got past its preconditions (``proceeded``), as the CLI does."""

    actor: str
    command: str
    tenant: str | None
    proceeded: bool = False
    outcome: str = "ok"

    def proceed(self) -> None:
        self.proceeded = True


def tenant_ref_is_id(ref: str) -> bool:
    """``{id}`` in a path is a numeric id or a slug (slugs start with a letter)."""
    return ref.isdigit()


class TenantService:
    def __init__(self, app: AppContext, config: ServeConfig, stop: StopFlag) -> None:
        self.app = app
        self.config = config
        # Shared by every operation of this process: set once the server shuts down, so work in
        # flight stops before its next Render call and releases its lease.
        self.stop = stop
        self._host = socket.gethostname()

    # ------------------------------------------------------------------ plumbing

    @property
    def store(self) -> Any:
        return self.app.store()

    def operator(
        self,
        actor: str,
        command: str,
        *,
        lock_wait: float = 0.0,
        on_locked: Callable[[], None] = lambda: None,
    ) -> Operator:
        from rcp.core.tenants import Operator

        return Operator(
            store=self.store,
            gateway=self.app.gateway(),
            progress=LogProgress(),
            holder=LockHolder(
                actor=actor, host=self._host, pid=os.getpid(), command=f"rcp serve: {command}"
            ),
            stop=self.stop,
            lock_wait=lock_wait,
            on_locked=on_locked,
            failpoint=self.app.failpoint(),
            secrets=tuple(self.app.settings.secrets()),
        )

    @contextmanager
    def audited(self, actor: str, command: str, tenant: str | None) -> Iterator[Audit]:
        audit = Audit(actor=actor, command=command, tenant=tenant)
        started = time.monotonic()
        exit_code = 0
        try:
            yield audit
        except RcpError as exc:
            exit_code, audit.outcome = exc.exit_code, exc.code
            raise
        except Exception:
            exit_code, audit.outcome = 1, "internal_error"
            raise
        finally:
            if audit.proceeded:
                self.write_audit(audit, exit_code, time.monotonic() - started)

    def write_audit(self, audit: Audit, exit_code: int, seconds: float) -> None:
        try:
            self.store.append_audit(
                AuditEntry(
                    actor=audit.actor,
                    command=audit.command,
                    tenant=audit.tenant,
                    outcome=audit.outcome,
                    exit_code=exit_code,
                    duration_ms=int(seconds * 1000),
                )
            )
        except Exception as exc:  # the audit must never mask the operation's own outcome
            log.warning("could not write the audit log: %s", type(exc).__name__)

    # ------------------------------------------------------------------ reads

    def resolve(self, ref: str) -> Tenant:
        """The tenant named by ``{id}``: a numeric id or a slug (404 when there is none)."""
        if tenant_ref_is_id(ref):
            tenant: Tenant | None = self.store.get_tenant_by_id(int(ref))
            if tenant is None:
                raise TenantNotFound(f"tenant {ref} not found", hint="see GET /api/tenants/")
            return tenant
        from rcp.core.slugs import validate_slug

        try:
            validate_slug(ref)
        except UsageError:
            # Not a slug: no tenant can have it (a 404, as for any unknown path).
            raise TenantNotFound(f"tenant {ref!r} not found", hint="see GET /api/tenants/") from None
        found: Tenant | None = self.store.get_tenant(ref)
        if found is None:
            raise TenantNotFound(f"tenant {ref} not found", hint="see GET /api/tenants/")
        return found

    def list_tenants(self, status: str | None) -> list[Tenant]:
        """Tenant objects of every tenant (of ``status``), read a page at a time without the
        rendered templates the tenant JSON does not carry."""
        from rcp.core.tenants import iter_tenants

        return list(iter_tenants(self.store, status))

    def live(self, tenant: Tenant, actor: str) -> Tenant:
        from rcp.core.tenants import live_status

        return live_status(self.operator(actor, f"tenant status {tenant.slug} --live"), tenant)

    def env(
        self, tenant: Tenant, service: str | None, reveal: bool
    ) -> list[dict[str, str | None]]:
        from rcp.core.tenants import check_service_key, env_entries

        check_service_key(tenant, service)
        return env_entries(tenant, service=service, reveal=reveal)

    # ------------------------------------------------------------------ writes

    def plan(
        self, *, name: str, slug: str | None, template: str | None, plugin_repo: str | None
    ) -> CreatePlan:
        from rcp.core.tenants import plan_create

        return plan_create(
            name=name,
            slug=slug,
            template=template,
            plugin_repo=plugin_repo,
            config_dir=self.app.settings.config_dir,
        )

    def accept_create(self, actor: str, plan: CreatePlan) -> tuple[Tenant, bool]:
        """Record the tenant (PROVISIONING) and answer; provisioning runs in the background.
        An existing tenant of the same definition is returned as it is (idempotent)."""
        from rcp.core.tenants import accept_create

        # The API key and workspace are preconditions: checked before anything is written.
        self.app.gateway().owner_id()
        with self.audited(actor, f"tenant create {plan.slug}", plan.slug) as audit:
            operator = self.operator(
                actor, f"tenant create {plan.slug}", lock_wait=REQUEST_LOCK_WAIT,
                on_locked=audit.proceed,
            )
            tenant, created = accept_create(operator, plan)
            audit.outcome = "accepted" if created else "ok"
            return tenant, created

    def accept_delete(self, actor: str, tenant: Tenant) -> Tenant:
        from rcp.core.tenants import accept_delete

        self.app.gateway()
        with self.audited(actor, f"tenant delete {tenant.slug}", tenant.slug) as audit:
            operator = self.operator(
                actor, f"tenant delete {tenant.slug}", lock_wait=REQUEST_LOCK_WAIT,
                on_locked=audit.proceed,
            )
            marked = accept_delete(operator, tenant.slug)
            audit.outcome = "accepted"
            return marked

    def suspend(self, actor: str, tenant: Tenant) -> Tenant:
        from rcp.core.tenants import suspend_tenant

        self.app.gateway()
        with self.audited(actor, f"tenant suspend {tenant.slug}", tenant.slug) as audit:
            operator = self.operator(
                actor, f"tenant suspend {tenant.slug}", on_locked=audit.proceed
            )
            return suspend_tenant(operator, tenant.slug)

    def set_env(
        self,
        actor: str,
        tenant: Tenant,
        values: dict[str, str],
        *,
        service: str | None,
        deploy: bool,
    ) -> dict[str, Any]:
        from rcp.core.tenants import set_env, validate_env_key

        for key in values:
            validate_env_key(key)
        self.app.gateway()
        keys = " ".join(f"{key}=***" for key in sorted(values))
        with self.audited(actor, f"tenant env set {tenant.slug} {keys}", tenant.slug) as audit:
            operator = self.operator(
                actor, f"tenant env set {tenant.slug}", on_locked=audit.proceed
            )
            change = set_env(operator, tenant.slug, values, service=service, deploy=deploy)
            data: dict[str, Any] = change.to_json()
            return data

    def unset_env(
        self, actor: str, tenant: Tenant, keys: list[str], *, service: str | None, deploy: bool
    ) -> dict[str, Any]:
        from rcp.core.provisioning import Waiting
        from rcp.core.tenants import unset_env

        self.app.gateway()
        shown = " ".join(sorted(keys))
        with self.audited(actor, f"tenant env unset {tenant.slug} {shown}", tenant.slug) as audit:
            operator = self.operator(
                actor, f"tenant env unset {tenant.slug}", on_locked=audit.proceed
            )
            change = unset_env(
                operator,
                tenant.slug,
                keys,
                service=service,
                deploy=deploy,
                waiting=Waiting(timeout=self.config.provision_timeout),
            )
            data: dict[str, Any] = change.to_json()
            return data

    # ------------------------------------------------------------------ background work

    def provision(self, slug: str, actor: str) -> None:
        """Provision (or resume provisioning) a recorded tenant until ACTIVE — the CLI's
        ``rcp tenant create`` on an existing record."""
        from rcp.core.provisioning import Waiting
        from rcp.core.tenants import create_tenant, plan_of_record

        tenant = self.store.get_tenant(slug)
        if tenant is None or tenant.status == TenantStatus.DELETING:
            return
        command = f"tenant create {slug}"
        with self.audited(actor, f"{command} (background)", slug) as audit:
            operator = self.operator(actor, command, on_locked=audit.proceed)
            create_tenant(
                operator,
                plan_of_record(tenant),
                waiting=Waiting(timeout=self.config.provision_timeout),
                if_exists="resume",
            )

    def delete(self, slug: str, actor: str) -> None:
        from rcp.core.tenants import delete_tenant

        if self.store.get_tenant(slug) is None:
            return
        command = f"tenant delete {slug}"
        with self.audited(actor, f"{command} (background)", slug) as audit:
            delete_tenant(self.operator(actor, command, on_locked=audit.proceed), slug)

    def resume(self, slug: str, actor: str) -> None:
        from rcp.core.provisioning import Waiting
        from rcp.core.tenants import resume_tenant

        command = f"tenant resume {slug}"
        with self.audited(actor, f"{command} (background)", slug) as audit:
            resume_tenant(
                self.operator(actor, command, on_locked=audit.proceed),
                slug,
                Waiting(timeout=self.config.provision_timeout),
            )

    def redeploy(
        self, slug: str, actor: str, service: str | None, *, clear_cache: bool = False
    ) -> None:
        from rcp.core.provisioning import Waiting
        from rcp.core.tenants import redeploy_tenant

        target = f" --service {service}" if service else ""
        command = f"tenant redeploy {slug}{target}" + (" --clear-cache" if clear_cache else "")
        with self.audited(actor, f"{command} (background)", slug) as audit:
            redeploy_tenant(
                self.operator(actor, command, on_locked=audit.proceed),
                slug,
                service=service,
                waiting=Waiting(timeout=self.config.provision_timeout),
                clear_cache=clear_cache,
            )

    def check_resume_allowed(self, tenant: Tenant) -> None:
        from rcp.core.tenants import refuse_deleting

        refuse_deleting(tenant, "resume")

    def check_redeploy(self, tenant: Tenant, service: str | None) -> None:
        """The redeploy's preconditions, checked before answering 202 (422/409 otherwise)."""
        from rcp.core.tenants import redeploy_targets

        redeploy_targets(tenant, service)
