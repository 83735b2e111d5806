"""The small Protocols through which core talks to its adapters (store, render, output).

Adapters satisfy these structurally; core never imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from rcp.core.models import (
    AuditEntry,
    DeployInfo,
    Lease,
    LockHolder,
    LogPage,
    RemoteResource,
    Resource,
    ResourceKind,
    SeenRevision,
    Tenant,
    TenantStatus,
    World,
)
from rcp.core.rollout.model import Rollout, RolloutState, RolloutStep


class RenderGateway(Protocol):
    """Render as the engine sees it. Implemented by ``rcp.render.gateway.Gateway``.

    Errors are the ``rcp.errors`` Render tree: ``RenderTransportError`` (``maybe_sent`` tells
    whether the outcome is unknown), ``RenderServerError`` after retries, ``RetryLater`` when a
    server-requested wait exceeds the wait budget, ``AuthError`` for 401/403, ``RenderBadRequest``.
    """

    @property
    def in_flight_seconds(self) -> float:
        """How long after it was sent a request may still be acted on by Render (the client's
        read timeout; 0 for an in-process simulator). A resumed create waits that long, counted
        from the tenant's last write, before trusting a "not found" lookup."""
        ...

    def owner_id(self) -> str:
        """The workspace for creates: RENDER_OWNER_ID, else the only one ``GET /owners`` lists.
        Always checked with ``GET /owners`` (once per run): it is the API key's check too.
        Raises AuthError (exit 6) for a refused key, ConfigError (exit 6) when there are no
        workspaces or several (naming them), or RENDER_OWNER_ID is not among them."""
        ...

    def world(self, *, resolve: bool = True) -> World:
        """The Render API base URL and workspace this gateway acts on. ``resolve=False``: no
        Render call (the workspace is RENDER_OWNER_ID, or None when not configured);
        ``resolve=True``: the workspace of ``owner_id()`` (which checks the key)."""
        ...

    def find_by_name(self, kind: ResourceKind, name: str) -> list[RemoteResource]:
        """Every resource of ``kind`` in the workspace whose name is exactly ``name``."""
        ...

    def list_named(
        self, kind: ResourceKind, names: Collection[str] | None
    ) -> list[RemoteResource]:
        """Every resource of ``kind`` (a service, Postgres or Key Value) in the workspace named
        exactly one of ``names`` (None: every one of the kind), read page by page. States are
        not looked up: a datastore's is Render's status, a service's "suspended" or
        "unknown"."""
        ...

    def create(
        self, kind: ResourceKind, body: dict[str, Any], env: list[dict[str, Any]]
    ) -> RemoteResource:
        """POST the create. ``body`` lacks ownerId (added here); ``env`` is the envVars list
        (``{"key", "value"}`` or ``{"key", "generateValue": True}``), services only.
        Never repeated after the request may have been sent (see RenderTransportError)."""
        ...

    def get(self, kind: ResourceKind, render_id: str) -> RemoteResource | None:
        """Current state (services: the latest deploy's status, or "suspended"); None on 404."""
        ...

    def reads_in_batches(self, kind: ResourceKind) -> bool:
        """Whether ``read_many`` reads this kind with Render's list endpoint (one request for
        many resources) rather than one request each."""
        ...

    def read_many(
        self, kind: ResourceKind, wanted: dict[str, str]
    ) -> dict[str, RemoteResource | None]:
        """The state of every resource in ``wanted`` (render id → name), as ``get`` would give
        it (None when gone), in as few requests as Render allows."""
        ...

    def deploy_status(self, service_id: str, deploy_id: str) -> str | None:
        """The status of one known deploy (a single request, cheaper than ``get`` for a service
        while its first deploy runs); None on 404."""
        ...

    def delete(self, kind: ResourceKind, render_id: str) -> bool:
        """True when deleted now, False when it was already gone (404)."""
        ...

    def suspend(self, kind: ResourceKind, render_id: str) -> None: ...

    def resume(self, kind: ResourceKind, render_id: str) -> None: ...

    def connection_info(self, kind: ResourceKind, render_id: str) -> dict[str, str]:
        """What other resources can read from this one (``rcp.core.references``): a Postgres or
        Key Value instance's connection info as Render names it (``internalConnectionString``,
        …); a web or private service's address on the private network, ``{"host": <internal
        hostname>, "port": <port>}`` ("port" absent when Render reports none)."""
        ...

    def list_env_vars(self, service_id: str) -> dict[str, str]: ...

    def set_env_var(self, service_id: str, key: str, value: str) -> None: ...

    def delete_env_var(self, service_id: str, key: str) -> bool: ...

    def list_deploys(self, service_id: str, limit: int) -> list[DeployInfo] | None:
        """The service's latest ``limit`` (1–100) deploys, newest first; None when the service
        is gone (404)."""
        ...

    def list_logs(
        self,
        resources: list[str],
        *,
        start: str | None,
        end: str | None,
        direction: str,
        limit: int,
    ) -> LogPage:
        """One page (``limit`` 1–100) of the resources' log lines in the workspace between
        ``start`` and ``end`` (RFC 3339; None: Render's defaults, an hour ago and now), newest
        first (``backward``) or oldest first (``forward``). The resources must share a region."""
        ...

    def trigger_deploy(self, service_id: str, *, clear_cache: bool = False) -> str | None:
        """Start a deploy (``clear_cache``: rebuild without the build cache); its id, or None
        when Render answered 202 without a body."""
        ...

    def rollback_deploy(self, service_id: str, deploy_id: str) -> str:
        """Start a deploy running the build of ``deploy_id`` again (Render's rollback to an
        earlier deploy of the service); the new deploy's id."""
        ...

    def update_service(self, service_id: str, body: dict[str, Any]) -> RemoteResource: ...

    def update_datastore(
        self, kind: ResourceKind, render_id: str, body: dict[str, Any]
    ) -> RemoteResource: ...

    # Env groups and environments (issue 14). Projects, environments and groups are created,
    # read and deleted with the generic calls above (their kinds are ready once created).

    def find_environment(self, project_id: str, name: str) -> list[RemoteResource]:
        """Exact-name matches among one project's environments."""
        ...

    def env_group_links(self, group_id: str) -> list[str] | None:
        """Ids of the services linked to a group; None when the group is gone."""
        ...

    def link_env_group(self, group_id: str, service_id: str) -> None:
        """Link one service; every other link stays (idempotent)."""
        ...

    def unlink_env_group(self, group_id: str, service_id: str) -> bool:
        """False when the link was already gone."""
        ...

    def env_group_vars(self, group_id: str) -> dict[str, str] | None:
        """A group's variables (values are secrets); None when the group is gone."""
        ...

    def set_env_group_var(self, group_id: str, key: str, value: str) -> None: ...

    def delete_env_group_var(self, group_id: str, key: str) -> bool: ...

    def update_environment(self, environment_id: str, body: dict[str, Any]) -> RemoteResource:
        """PATCH an environment's settings (``protectedStatus``, ``networkIsolationEnabled``,
        ``ipAllowList``)."""
        ...

    def environment_resources(self, environment_id: str) -> list[str] | None:
        """Every resource id an environment holds; None when it is gone."""
        ...

    def environment_project(self, environment_id: str) -> str | None:
        """The id of the project an environment belongs to; None when it is gone."""
        ...

    def add_to_environment(self, environment_id: str, resource_ids: list[str]) -> None: ...

    def remove_from_environment(self, environment_id: str, resource_ids: list[str]) -> None: ...


class TenantStore(Protocol):
    """Persistence of tenants, their resources, the step journal, locks and the audit log.

    Implemented by ``rcp.store.repository.SqlStore``. Methods taking ``lease`` are fenced: the
    write happens only while ``lease.generation`` is still the tenant's lock generation, else
    ``LockLost`` is raised and nothing is written.
    """

    def get_tenant(self, slug: str) -> Tenant | None: ...

    def get_tenants(self, slugs: Iterable[str]) -> dict[str, Tenant]:
        """The recorded tenants among ``slugs``, by slug; looked up in bounded chunks."""
        ...

    def list_slugs(self) -> list[str]:
        """Every recorded slug, sorted."""
        ...

    def iter_tenants(
        self, status: TenantStatus | None = None, *, snapshot: bool = True, details: bool = True
    ) -> Iterator[Tenant]:
        """Every tenant in slug order, read a page at a time (memory independent of their
        number). ``snapshot=False`` when the caller writes or runs long between tenants;
        ``details=False`` leaves rendered_template and env_overrides empty (listings)."""
        ...

    def list_tenants(self, status: TenantStatus | None = None) -> list[Tenant]: ...

    def render_name_owners(self, names: Collection[str]) -> list[tuple[str, str]]:
        """``(render name, slug)`` of every recorded resource named one of ``names``, by slug
        (an indexed lookup, whatever the number of tenants)."""
        ...

    def render_id_owners(self, render_ids: Collection[str]) -> list[tuple[str, str, str]]:
        """``(render id, slug, resource key)`` of every recorded resource with one of
        ``render_ids``, by slug (indexed)."""
        ...

    def insert_tenant(self, tenant: Tenant, *, lease: Lease) -> Tenant:
        """Insert with its resources; returns it with id and timestamps. ConflictError if the
        slug exists."""
        ...

    def update_tenant(
        self,
        slug: str,
        *,
        lease: Lease,
        status: TenantStatus | None = None,
        last_error: str | None = None,
        clear_error: bool = False,
        env_overrides: dict[str, dict[str, str]] | None = None,
        rendered_template: dict[str, Any] | None = None,
        definition: tuple[str, str, str | None] | None = None,
        fleet_managed: bool | None = None,
        world: World | None = None,
        tier: str | None = None,
        clear_tier: bool = False,
    ) -> None:
        """Fenced partial update. ``definition`` = (name, template, custom_plugin_repo);
        ``world`` = the Render API base and workspace the record belongs to."""
        ...

    def record_tenant_revision(
        self, slug: str, *, lease: Lease, revision_hash: str, label: str | None
    ) -> None:
        """Fenced: the tenant runs this template revision now; its "since" moves only when the
        hash changes."""
        ...

    def save_template_revision(
        self, template: str, revision_hash: str, label: str | None, content: dict[str, Any]
    ) -> None:
        """Remember a revision of a template (first seen now); nothing when already known."""
        ...

    def template_revisions(self, template: str) -> list[SeenRevision]:
        """Every revision of the template seen, oldest first, with how many tenants run it."""
        ...

    def save_resource(self, slug: str, resource: Resource, *, lease: Lease) -> None:
        """Insert or update the resource with this key (all fields)."""
        ...

    def remove_resource(self, slug: str, key: str, *, lease: Lease) -> None: ...

    def delete_tenant(self, slug: str, *, lease: Lease) -> None: ...

    def journal(
        self,
        slug: str,
        *,
        lease: Lease,
        step: str,
        resource_key: str | None,
        status: str,
        render_name: str | None = None,
        render_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one journal row (``step`` e.g. "create", ``status`` "pending" | "done" |
        "failed"), committed before returning."""
        ...

    def acquire_lock(self, slug: str, holder: LockHolder, *, wait_seconds: float = 0.0) -> Lease:
        """Take the tenant's lease (a row with a generation). Takes over at once from a dead
        process on this host, and from any holder whose lease expired (30 s after its last
        heartbeat). Raises LockBusy naming the holder (actor, host, pid, since) otherwise,
        after waiting up to ``wait_seconds``."""
        ...

    def renew_lock(self, lease: Lease) -> None:
        """Heartbeat; LockLost if the generation moved on."""
        ...

    def check_lock(self, lease: Lease) -> None:
        """LockLost unless ``lease`` is still current. Called before every Render mutation."""
        ...

    def release_lock(self, lease: Lease) -> None: ...

    def keep_alive(self, lease: Lease) -> AbstractContextManager[None]:
        """Renew the lease every 10 s on a background thread while the block runs."""
        ...

    def append_audit(self, entry: AuditEntry) -> None: ...

    def list_audit(
        self, *, tenant: str | None = None, since: datetime | None = None, limit: int | None = None
    ) -> list[AuditEntry]: ...


class RolloutStore(Protocol):
    """Rollouts and their tenant steps (``rcp.store.rollouts.SqlRolloutStore``). Each write is
    its own transaction: what a kill leaves is every step as last written."""

    def insert_rollout(self, rollout: Rollout) -> Rollout:
        """Write a new rollout with its steps; returns it with its id."""
        ...

    def save_progress(self, rollout: Rollout) -> None:
        """The rollout's wave progress (current wave, wave times); never its state."""
        ...

    def set_state(
        self,
        rollout_id: int,
        state: RolloutState,
        message: str | None,
        *,
        only_from: frozenset[RolloutState],
    ) -> bool:
        """Compare and set: move to ``state`` only from one of ``only_from``; whether it moved."""
        ...

    def save_step(self, rollout_id: int, step: RolloutStep) -> None: ...

    def get_rollout(self, rollout_id: int) -> Rollout | None: ...

    def latest_rollout(self, template: str | None = None) -> Rollout | None:
        """The most recent rollout (of ``template``), with its steps."""
        ...

    def rollout_state(self, rollout_id: int) -> tuple[RolloutState, str | None]: ...


class HealthProbe(Protocol):
    """A service's public URL asked for its health (``rcp.render.probe.HttpHealthProbe``)."""

    def status(self, url: str, path: str) -> int | None:
        """The HTTP status of ``GET <url><path>``; None when nothing answered."""
        ...


class ProgressSink(Protocol):
    """Where the engine reports progress (``rcp.output`` renders it on stderr)."""

    def event(
        self, tenant: str, resource: str | None, message: str, state: str | None = None
    ) -> None: ...


Sleep = Callable[[float], None]
Clock = Callable[[], float]
