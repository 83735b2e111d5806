"""Tenant use cases: what each `rcp tenant …` command does, above the engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcp.core.models import Lease, LockHolder, Resource, Tenant, TenantStatus
from rcp.core.ports import ProgressSink, RenderGateway, TenantStore
from rcp.core.provisioning import Engine, StopFlag, Waiting
from rcp.errors import ConflictError, TenantNotFound, UsageError


@dataclass(frozen=True)
class CreatePlan:
    """A validated create request: everything checked, nothing written yet."""

    name: str
    slug: str
    template_name: str
    rendered: dict[str, Any]
    plugin_repo: str | None
    template_given: bool


def plan_create(
    *,
    name: str,
    slug: str | None,
    template: str | None,
    plugin_repo: str | None,
    config_dir: Path,
) -> CreatePlan:
    """Validate input and render the template. Raises UsageError (exit 2); no I/O but reading
    the template file."""
    from rcp.core import slugs, templates

    clean_name = slugs.validate_name(name)
    clean_slug = slugs.validate_slug(slug) if slug is not None else slugs.derive_slug(clean_name)
    repo = slugs.validate_url(plugin_repo) if plugin_repo is not None else None
    loaded = templates.load_template(template or "default", config_dir)
    templates.validate_template(loaded)
    rendered = templates.render_template(
        loaded, slug=clean_slug, name=clean_name, plugin_repo=repo
    )
    return CreatePlan(
        name=clean_name,
        slug=clean_slug,
        template_name=loaded.name,
        rendered=rendered.to_dict(),
        plugin_repo=repo,
        template_given=template is not None,
    )


@contextmanager
def tenant_lock(
    store: TenantStore, slug: str, holder: LockHolder, *, wait_seconds: float = 0.0
) -> Iterator[Lease]:
    lease = store.acquire_lock(slug, holder, wait_seconds=wait_seconds)
    try:
        with store.keep_alive(lease):
            yield lease
    finally:
        try:
            store.release_lock(lease)
        except Exception:  # a lost lease needs no release; the original error matters more
            pass


def tenant_secrets(tenant: Tenant | None) -> list[str]:
    """The tenant's env override values: never to be printed unless revealed."""
    if tenant is None:
        return []
    return [value for values in tenant.env_overrides.values() for value in values.values() if value]


@contextmanager
def redacting(secrets: list[str]) -> Iterator[None]:
    """Errors escaping the block have ``secrets`` replaced by ``***`` in their text.

    The CLI already masks the API key and database password in every message; a tenant's env
    values are only known once its record is loaded, so the use case masks them here — an
    unexpected exception (a driver error quoting a value, say) must not print them either.
    """
    try:
        yield
    except BaseException as exc:
        wanted = sorted((s for s in secrets if s), key=len, reverse=True)
        if wanted:
            _redact_exception(exc, wanted)
        raise


def _redact_exception(exc: BaseException, secrets: list[str]) -> None:
    def clean(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    exc.args = tuple(clean(a) if isinstance(a, str) else a for a in exc.args)
    for attribute in ("message", "hint"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str):
            try:
                setattr(exc, attribute, clean(value))
            except AttributeError:  # read-only on some exception types
                pass


def _check_render_names_free(store: TenantStore, plan: CreatePlan) -> None:
    """Render names are ``<slug>-<key>`` and slugs and keys share the hyphen, so tenant ``acme``
    with key ``b-web`` and tenant ``acme-b`` with key ``web`` would both own ``acme-b-web``; the
    lookup by name would then adopt the other tenant's resource. Refuse such a tenant."""
    from rcp.core.models import RenderedTemplate

    wanted = {spec.name for spec in RenderedTemplate.from_dict(plan.rendered).resources}
    others = [(name, slug) for name, slug in store.render_name_owners(wanted) if slug != plan.slug]
    if others:
        other = others[0][1]  # the first by slug, as a scan in slug order would find
        clash = sorted(name for name, slug in others if slug == other)
        raise ConflictError(
            f"tenant {other} already uses the Render name(s) {', '.join(clash)} "
            f"that tenant {plan.slug} would need",
            hint="choose another --slug (or another template)",
            code="render_name_conflict",
        )


def _check_same_definition(existing: Tenant, plan: CreatePlan) -> None:
    differences = []
    if existing.name != plan.name:
        differences.append(f"name {existing.name!r}")
    if plan.template_given and existing.template != plan.template_name:
        differences.append(f"template {existing.template!r}")
    if plan.plugin_repo is not None and existing.custom_plugin_repo != plan.plugin_repo:
        differences.append(f"plugin repo {existing.custom_plugin_repo!r}")
    if differences:
        raise ConflictError(
            f"tenant {plan.slug} exists with a different definition ({', '.join(differences)})",
            hint="use another --slug, or delete the existing tenant first",
            code="tenant_conflict",
        )


def create_tenant(
    *,
    store: TenantStore,
    gateway: RenderGateway,
    progress: ProgressSink,
    holder: LockHolder,
    plan: CreatePlan,
    waiting: Waiting | None,
    if_exists: str,
    lock_wait: float,
    stop: StopFlag,
    on_locked: Callable[[], None] = lambda: None,
    failpoint: Callable[[str], None] = lambda _step: None,
    unknown_outcome_settle: float | None = None,
    in_flight_window: float | None = None,
) -> Tenant:
    """Record the tenant and provision it; an existing tenant with the same definition is
    resumed (idempotent), or refused with ``if_exists == "fail"``. A new tenant whose Render
    names another tenant already uses is refused (exit 4) before anything is written."""
    with tenant_lock(store, plan.slug, holder, wait_seconds=lock_wait) as lease:
        existing = store.get_tenant(plan.slug)
        with redacting(tenant_secrets(existing)):
            return _create_locked(
                store=store,
                gateway=gateway,
                progress=progress,
                plan=plan,
                waiting=waiting,
                if_exists=if_exists,
                stop=stop,
                on_locked=on_locked,
                failpoint=failpoint,
                lease=lease,
                existing=existing,
                unknown_outcome_settle=unknown_outcome_settle,
                in_flight_window=in_flight_window,
            )


def _create_locked(
    *,
    store: TenantStore,
    gateway: RenderGateway,
    progress: ProgressSink,
    plan: CreatePlan,
    waiting: Waiting | None,
    if_exists: str,
    stop: StopFlag,
    on_locked: Callable[[], None],
    failpoint: Callable[[str], None],
    lease: Lease,
    existing: Tenant | None,
    unknown_outcome_settle: float | None,
    in_flight_window: float | None,
) -> Tenant:
    """The create use case once the lease is held (``existing``: the record, if any)."""
    if existing is not None:
        if if_exists == "fail":
            raise ConflictError(
                f"tenant {plan.slug} already exists",
                hint="drop --if-exists fail to resume it",
                code="tenant_exists",
            )
        _check_same_definition(existing, plan)
        if existing.status == TenantStatus.DELETING:
            raise ConflictError(
                f"tenant {plan.slug} is being deleted",
                hint=f"finish with `rcp tenant delete {plan.slug} --yes`",
                code="tenant_deleting",
            )
    else:
        _check_render_names_free(store, plan)
    on_locked()
    engine = Engine(
        store=store,
        gateway=gateway,
        progress=progress,
        lease=lease,
        stop=stop,
        failpoint=failpoint,
    )
    if unknown_outcome_settle is not None:
        engine.unknown_outcome_settle = unknown_outcome_settle
    if in_flight_window is None:
        in_flight_window = gateway.in_flight_seconds
    engine.in_flight_window = in_flight_window
    if existing is None:
        from rcp.core.models import RenderedTemplate

        rendered = RenderedTemplate.from_dict(plan.rendered)
        tenant = store.insert_tenant(
            Tenant(
                name=plan.name,
                slug=plan.slug,
                status=TenantStatus.PROVISIONING,
                template=plan.template_name,
                rendered_template=plan.rendered,
                custom_plugin_repo=plan.plugin_repo,
                resources=[
                    Resource(key=s.key, type=s.render_type, name=s.name)
                    for s in rendered.resources
                ],
            ),
            lease=lease,
        )
        progress.event(plan.slug, None, "recorded; provisioning", "PROVISIONING")
    else:
        tenant = existing
        if tenant.status == TenantStatus.ACTIVE and all(r.render_id for r in tenant.resources):
            return tenant
        progress.event(plan.slug, None, f"resuming ({tenant.status})", str(tenant.status))
    engine.provision(tenant, waiting)
    refreshed = store.get_tenant(plan.slug)
    assert refreshed is not None
    return refreshed


def get_tenant(store: TenantStore, slug: str) -> Tenant:
    tenant = store.get_tenant(slug)
    if tenant is None:
        raise TenantNotFound(
            f"tenant {slug} not found", hint="see `rcp tenant list` for the tenants on record"
        )
    return tenant


def list_tenants(store: TenantStore, status: str | None) -> list[Tenant]:
    wanted: TenantStatus | None = None
    if status is not None:
        try:
            wanted = TenantStatus(status.upper())
        except ValueError:
            names = ", ".join(s.value for s in TenantStatus)
            raise UsageError(f"unknown status {status!r}; expected one of {names}") from None
    return store.list_tenants(wanted)


def live_status(
    *,
    store: TenantStore,
    gateway: RenderGateway,
    progress: ProgressSink,
    holder: LockHolder,
    tenant: Tenant,
) -> Tenant:
    """Refresh from Render; persist (and flip PROVISIONING → ACTIVE) when the tenant is free."""
    from rcp.errors import LockBusy

    try:
        with tenant_lock(store, tenant.slug, holder) as lease:
            engine = Engine(store=store, gateway=gateway, progress=progress, lease=lease)
            engine.refresh(tenant, persist=True)
            refreshed = store.get_tenant(tenant.slug)
            return refreshed or tenant
    except LockBusy:
        # Someone is working on the tenant: report what Render says without writing.
        dummy = Lease(slug=tenant.slug, holder=holder, generation=-1, acquired_at=tenant.updated_at or _now())
        engine = Engine(store=store, gateway=gateway, progress=progress, lease=dummy)
        return engine.refresh(tenant, persist=False)


def _now() -> Any:
    from rcp.core.models import utcnow

    return utcnow()


def delete_tenant(
    *,
    store: TenantStore,
    gateway: RenderGateway,
    progress: ProgressSink,
    holder: LockHolder,
    slug: str,
    lock_wait: float,
    stop: StopFlag,
    on_locked: Callable[[], None] = lambda: None,
    failpoint: Callable[[str], None] = lambda _step: None,
) -> list[str]:
    with tenant_lock(store, slug, holder, wait_seconds=lock_wait) as lease:
        tenant = get_tenant(store, slug)
        on_locked()
        engine = Engine(
            store=store, gateway=gateway, progress=progress, lease=lease, stop=stop, failpoint=failpoint
        )
        with redacting(tenant_secrets(tenant)):
            return engine.destroy(tenant)
