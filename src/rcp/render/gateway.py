"""``Gateway``: Render as the provisioning engine sees it (``rcp.core.ports.RenderGateway``).

Translates the engine's resource kinds into the client's endpoint families (by looking them up
in ``rcp.render.kinds``, never by branching on them) and Render's JSON into ``RemoteResource``. The state of a service is what a person would call it: "suspended"
when suspended, else the status of its latest deploy ("live" when it has never deployed); a
datastore's state is Render's ``status``.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from rcp.core.models import (
    DeployInfo,
    LogLine,
    LogPage,
    RemoteResource,
    ResourceKind,
    World,
)
from rcp.core.references import SERVICE_HOST, SERVICE_PORT
from rcp.errors import ConfigError, RenderAPIError, RenderNotFound
from rcp.render.client import RenderClient
from rcp.render.kinds import SERVICE, STATE_EXISTS, RenderKind, kind_of
from rcp.render.models import (
    Deploy,
    EnvGroup,
    Environment,
    RenderResource,
    connection_info_dict,
)

if TYPE_CHECKING:
    from rcp.core.ports import RenderGateway

# A service with no deploy at all is serving whatever it has: nothing is in progress.
STATE_NO_DEPLOYS = "live"
STATE_SUSPENDED = "suspended"
STATE_UNKNOWN = "unknown"


class Gateway:
    """Implements ``rcp.core.ports.RenderGateway`` on top of a ``RenderClient``."""

    def __init__(
        self,
        client: RenderClient,
        owner_id: str | None = None,
        *,
        in_flight_seconds: float | None = None,
    ) -> None:
        self._client = client
        # None: as long as the client's read timeout. 0 for an in-process simulator, whose
        # requests die with the process that sent them.
        self._in_flight_seconds = in_flight_seconds
        self._configured_owner = (owner_id or "").strip() or None
        # Set once GET /owners confirmed it (the configured one or the only one).
        self._owner: str | None = None
        self._owner_lock = threading.Lock()

    @property
    def client(self) -> RenderClient:
        return self._client

    @property
    def in_flight_seconds(self) -> float:
        """How long after it was sent a request may still be acted on (the read timeout)."""
        if self._in_flight_seconds is not None:
            return self._in_flight_seconds
        return self._client.read_timeout or 0.0

    # -- workspace -------------------------------------------------------------------------

    def owner_id(self) -> str:
        """RENDER_OWNER_ID when given, else the only workspace the key sees. Either way
        ``GET /owners`` answers first (once; cached): a refused key is AuthError (exit 6) and a
        configured workspace the key does not see is ConfigError (exit 6) before any write."""
        with self._owner_lock:
            if self._owner is not None:
                return self._owner
            owners = self._client.list_owners()
            configured = self._configured_owner
            if configured is not None:
                if not any(owner.id == configured for owner in owners):
                    listed = ", ".join(f"{owner.id} ({owner.name or '?'})" for owner in owners)
                    raise ConfigError(
                        f"RENDER_OWNER_ID {configured} is not a workspace this API key sees"
                        + (f" (it sees {listed})" if listed else ""),
                        hint="set RENDER_OWNER_ID to one of the listed workspace ids, or use a "
                        "key of a member of that workspace",
                        code="unknown_owner",
                    )
                self._owner = configured
                return self._owner
            if not owners:
                raise ConfigError(
                    "the Render API key sees no workspace",
                    hint="create a workspace in the Render dashboard, or use a key of a workspace member",
                )
            if len(owners) > 1:
                listed = ", ".join(f"{owner.id} ({owner.name or '?'})" for owner in owners)
                raise ConfigError(
                    f"the Render API key sees {len(owners)} workspaces: {listed}",
                    hint="set RENDER_OWNER_ID to the workspace id to use",
                )
            self._owner = owners[0].id
            return self._owner

    def world(self, *, resolve: bool = True) -> World:
        """This gateway's API base URL and workspace (``resolve=False``: no Render call, the
        workspace only when configured)."""
        owner = self.owner_id() if resolve else self._configured_owner
        return World(api_url=self._client.base_url, owner_id=owner)

    # -- lookups ---------------------------------------------------------------------------

    def find_by_name(self, kind: ResourceKind, name: str) -> list[RemoteResource]:
        """Exact-name matches in the workspace (Render's ``name`` filter is not trusted to be
        exact, so the result is filtered again here)."""
        entry = kind_of(kind)
        if entry.list_scope is not None:
            raise ValueError(f"{kind} is found by name within a {entry.list_scope} only")
        found = self._client.list_resources(entry, name=name, owner_id=self.owner_id())
        return [self._remote(entry, item) for item in found if item.name == name]

    def list_named(
        self, kind: ResourceKind, names: Collection[str] | None
    ) -> list[RemoteResource]:
        """Every resource of ``kind`` in the workspace named exactly one of ``names`` (None:
        every one), page after page: Render's ``name`` filter is an array (spec: ``form``
        style, comma-separated), so any number of names costs one request per page. The state
        is not looked up (no deploy list per service): a datastore's is Render's ``status``,
        a service's "suspended" or "unknown"."""
        entry = kind_of(kind)
        if entry.list_scope is not None:
            raise ValueError(f"{kind} is found by name within a {entry.list_scope} only")
        wanted = None if names is None else sorted(set(names))
        if wanted is not None and not wanted:
            return []
        found = self._client.list_resources(entry, name=wanted, owner_id=self.owner_id())
        return [
            _listed(entry, item)
            for item in found
            if wanted is None or (item.name or "") in wanted
        ]

    def find_environment(self, project_id: str, name: str) -> list[RemoteResource]:
        """Exact-name matches among a project's environments (Render lists environments of
        given projects only: ``projectId`` is required)."""
        entry = kind_of(ResourceKind.ENVIRONMENT)
        found = self._client.list_resources(entry, name=name, project_id=project_id)
        return [self._remote(entry, item) for item in found if item.name == name]

    def get(self, kind: ResourceKind, render_id: str) -> RemoteResource | None:
        entry = kind_of(kind)
        try:
            return self._remote(entry, self._client.get_resource(entry, render_id))
        except RenderNotFound:
            return None

    def reads_in_batches(self, kind: ResourceKind) -> bool:
        """Whether ``read_many`` reads this kind with list requests: kinds whose state is their
        own ``status`` and whose list endpoint filters by name workspace-wide (Postgres, Key
        Value). A service's state is its latest deploy's, which no list shows."""
        entry = kind_of(kind)
        return entry.state_source == "status" and entry.list_scope is None

    def read_many(
        self, kind: ResourceKind, wanted: dict[str, str]
    ) -> dict[str, RemoteResource | None]:
        """The current state of many resources of one kind (``wanted``: render id → name):
        one list request filtered by their names per 100 (``reads_in_batches`` kinds), then a
        single ``GET`` for any the list did not show (renamed, or gone: None)."""
        entry = kind_of(kind)
        if not self.reads_in_batches(kind):
            return {render_id: self.get(kind, render_id) for render_id in wanted}
        found = self._client.find_resources(entry, wanted, owner_id=self.owner_id())
        states: dict[str, RemoteResource | None] = {
            render_id: self._remote(entry, resource) for render_id, resource in found.items()
        }
        for render_id in wanted:
            if render_id not in states:
                states[render_id] = self.get(kind, render_id)
        return states

    def deploy_status(self, service_id: str, deploy_id: str) -> str | None:
        """One deploy's status (one request); None when the service or deploy is gone."""
        try:
            return self._client.get_deploy(service_id, deploy_id).status
        except RenderNotFound:
            return None

    # -- lifecycle -------------------------------------------------------------------------

    def create(
        self, kind: ResourceKind, body: dict[str, Any], env: list[dict[str, Any]]
    ) -> RemoteResource:
        entry = kind_of(kind)
        payload = dict(body)
        if entry.owned:
            payload["ownerId"] = self.owner_id()
        if entry.takes_env_vars:
            payload["envVars"] = [dict(item) for item in env]
        elif env:
            raise ValueError(f"env vars do not apply to {kind}")
        created = self._client.create(entry, payload)
        if created.resource is None:
            # 201 without the resource: the create happened but we cannot tell its id;
            # the engine's name lookup will find it.
            raise RenderAPIError(
                f"Render created the {kind} but returned no {entry.created_wrapper} in its answer",
                status=201,
                method="POST",
                path=entry.path,
            )
        resource = created.resource
        if entry.ready_on_create:
            return _remote(entry, resource, STATE_EXISTS)
        if entry.state_source == "status" or resource.is_suspended:
            return _remote(entry, resource, _status_state(resource))
        # The create started a deploy whose status the answer does not carry.
        state = "created" if created.deploy_id else STATE_NO_DEPLOYS
        return _remote(entry, resource, state, deploy_id=created.deploy_id)

    def delete(self, kind: ResourceKind, render_id: str) -> bool:
        try:
            self._client.delete_resource(kind_of(kind), render_id)
        except RenderNotFound:
            return False
        return True

    def suspend(self, kind: ResourceKind, render_id: str) -> None:
        self._client.suspend(kind_of(kind), render_id)

    def resume(self, kind: ResourceKind, render_id: str) -> None:
        self._client.resume(kind_of(kind), render_id)

    def connection_info(self, kind: ResourceKind, render_id: str) -> dict[str, str]:
        """A datastore's ``GET …/connection-info`` (Render's keys); for a kind without that
        endpoint (services), the resource's address on the private network as ``host`` and
        ``port`` (one ``GET {path}/{id}``)."""
        entry = kind_of(kind)
        if entry.connection_info is not None:
            return connection_info_dict(self._client.connection_info(entry, render_id))
        address = self._client.get_resource(entry, render_id).private_address
        if address is None:  # a worker or cron job: nothing to connect to
            return {}
        host, port = address
        info = {SERVICE_HOST: host}
        if port is not None:
            info[SERVICE_PORT] = str(port)
        return info

    # -- rate limits -----------------------------------------------------------------------

    def create_forecast(self, kinds: list[ResourceKind]) -> list[float]:
        """Seconds from now until each of these creates (in this order) could be sent, by the
        limiter's current picture of Render's create buckets. Takes no slot."""
        return self._client.limiter.forecast([("POST", kind_of(kind).path) for kind in kinds])

    # -- env vars and deploys --------------------------------------------------------------

    def list_env_vars(self, service_id: str) -> dict[str, str]:
        return {var.key: var.value or "" for var in self._client.list_env_vars(service_id)}

    def set_env_var(self, service_id: str, key: str, value: str) -> None:
        self._client.put_env_var(service_id, key, value)

    def delete_env_var(self, service_id: str, key: str) -> bool:
        try:
            self._client.delete_env_var(service_id, key)
        except RenderNotFound:
            return False
        return True

    def list_deploys(self, service_id: str, limit: int) -> list[DeployInfo] | None:
        """One page of the service's deploys (newest first); None when the service is gone."""
        try:
            deploys = self._client.list_deploys(service_id, limit=limit)
        except RenderNotFound:
            return None
        return [_deploy_info(deploy) for deploy in deploys]

    # -- logs ------------------------------------------------------------------------------

    def list_logs(
        self,
        resources: list[str],
        *,
        start: str | None,
        end: str | None,
        direction: str,
        limit: int,
    ) -> LogPage:
        page = self._client.list_logs(
            self.owner_id(),
            resources,
            start_time=start,
            end_time=end,
            direction=direction,
            limit=limit,
        )
        lines = [
            LogLine(
                id=entry.id,
                timestamp=entry.timestamp,
                message=entry.message or "",
                labels={
                    label.name: label.value for label in entry.labels or [] if label.value is not None
                },
            )
            for entry in page.logs or []
        ]
        return LogPage(lines, page.has_more, page.next_start_time, page.next_end_time)

    def trigger_deploy(self, service_id: str, *, clear_cache: bool = False) -> str | None:
        deploy = self._client.trigger_deploy(service_id, clear_cache=clear_cache)
        return deploy.id if deploy is not None else None

    def rollback_deploy(self, service_id: str, deploy_id: str) -> str:
        return self._client.rollback_deploy(service_id, deploy_id).id

    # -- updates ---------------------------------------------------------------------------

    def update_service(self, service_id: str, body: dict[str, Any]) -> RemoteResource:
        return self._update(SERVICE, service_id, body)

    def update_datastore(
        self, kind: ResourceKind, render_id: str, body: dict[str, Any]
    ) -> RemoteResource:
        entry = kind_of(kind)
        if entry.connection_info is None:
            raise ValueError(f"{kind!r} is not a datastore")
        return self._update(entry, render_id, body)

    # -- env groups and environments (issue 14) -------------------------------------------

    def env_group_links(self, group_id: str) -> list[str] | None:
        """The ids of the services linked to a group; None when the group is gone."""
        try:
            group = self._client.get_resource(kind_of(ResourceKind.ENV_GROUP), group_id)
        except RenderNotFound:
            return None
        assert isinstance(group, EnvGroup)
        return group.linked_service_ids

    def link_env_group(self, group_id: str, service_id: str) -> None:
        """Link one service (the per-service endpoint: other services' links stay)."""
        self._client.link_env_group(group_id, service_id)

    def unlink_env_group(self, group_id: str, service_id: str) -> bool:
        """Unlink one service; False when the link (or the group) was already gone."""
        try:
            self._client.unlink_env_group(group_id, service_id)
        except RenderNotFound:
            return False
        return True

    def env_group_vars(self, group_id: str) -> dict[str, str] | None:
        """A group's variables (``GET /env-groups/{id}`` carries them); None when it is gone."""
        try:
            group = self._client.get_resource(kind_of(ResourceKind.ENV_GROUP), group_id)
        except RenderNotFound:
            return None
        assert isinstance(group, EnvGroup)
        return {var.key: var.value or "" for var in group.env_vars or []}

    def set_env_group_var(self, group_id: str, key: str, value: str) -> None:
        self._client.set_env_group_var(group_id, key, value)

    def delete_env_group_var(self, group_id: str, key: str) -> bool:
        try:
            self._client.delete_env_group_var(group_id, key)
        except RenderNotFound:
            return False
        return True

    def update_environment(self, environment_id: str, body: dict[str, Any]) -> RemoteResource:
        return self._update(kind_of(ResourceKind.ENVIRONMENT), environment_id, body)

    def environment_resources(self, environment_id: str) -> list[str] | None:
        """Every resource id an environment holds; None when the environment is gone."""
        try:
            environment = self._client.get_resource(
                kind_of(ResourceKind.ENVIRONMENT), environment_id
            )
        except RenderNotFound:
            return None
        assert isinstance(environment, Environment)
        return environment.resource_ids

    def environment_project(self, environment_id: str) -> str | None:
        """The project an environment belongs to; None when the environment is gone."""
        try:
            environment = self._client.get_resource(
                kind_of(ResourceKind.ENVIRONMENT), environment_id
            )
        except RenderNotFound:
            return None
        assert isinstance(environment, Environment)
        return environment.project_id

    def add_to_environment(self, environment_id: str, resource_ids: list[str]) -> None:
        self._client.add_environment_resources(environment_id, resource_ids)

    def remove_from_environment(self, environment_id: str, resource_ids: list[str]) -> None:
        self._client.remove_environment_resources(environment_id, resource_ids)

    def _update(self, entry: RenderKind, render_id: str, body: dict[str, Any]) -> RemoteResource:
        return self._remote(entry, self._client.update_resource(entry, render_id, body))

    # -- mapping ---------------------------------------------------------------------------

    def _remote(self, entry: RenderKind, resource: RenderResource) -> RemoteResource:
        """A resource with its current state: suspended; else a service's latest deploy's
        status (no deploy at all: "live"); else Render's ``status``; a kind without readiness
        is "exists"."""
        if entry.ready_on_create:
            return _remote(entry, resource, STATE_EXISTS)
        if entry.state_source == "status" or resource.is_suspended:
            return _remote(entry, resource, _status_state(resource))
        deploys = self._client.list_deploys(resource.id, limit=1)
        if not deploys:
            return _remote(entry, resource, STATE_NO_DEPLOYS)
        latest = deploys[0]
        return _remote(entry, resource, latest.status or STATE_UNKNOWN, deploy_id=latest.id)


def _deploy_info(deploy: Deploy) -> DeployInfo:
    commit = deploy.commit
    image = deploy.image or {}
    ref, sha = image.get("ref"), image.get("sha")
    return DeployInfo(
        id=deploy.id,
        status=deploy.status,
        trigger=deploy.trigger,
        commit_id=commit.id if commit else None,
        commit_message=commit.message if commit else None,
        image_ref=ref if isinstance(ref, str) else None,
        image_sha=sha if isinstance(sha, str) else None,
        created_at=deploy.created_at,
        started_at=deploy.started_at,
        finished_at=deploy.finished_at,
    )


def _listed(entry: RenderKind, resource: RenderResource) -> RemoteResource:
    """A resource as a list answer shows it (no further request for its state)."""
    if entry.ready_on_create:
        return _remote(entry, resource, STATE_EXISTS)
    if entry.state_source == "status" or resource.is_suspended:
        return _remote(entry, resource, _status_state(resource))
    return _remote(entry, resource, STATE_UNKNOWN)


def _status_state(resource: RenderResource) -> str:
    """Render's ``status``; a suspended kind without one (a service) is "suspended"."""
    status = resource.resource_status
    if status is None and resource.is_suspended:
        return STATE_SUSPENDED
    return status or STATE_UNKNOWN


def _remote(
    entry: RenderKind, resource: RenderResource, state: str, deploy_id: str | None = None
) -> RemoteResource:
    return RemoteResource(
        kind=entry.kind,
        render_id=resource.id,
        name=resource.name or "",
        type=resource.resource_type or entry.default_type,
        state=state,
        suspended=resource.is_suspended,
        url=resource.resource_url,
        plan=resource.resource_plan,
        deploy_id=deploy_id,
    )


if TYPE_CHECKING:

    def _implements_the_port(gateway: Gateway) -> RenderGateway:
        return gateway  # mypy checks that Gateway satisfies the Protocol
