"""``Gateway``: Render as the provisioning engine sees it (``rcp.core.ports.RenderGateway``).

Translates the engine's resource kinds into the client's endpoint families and Render's JSON
into ``RemoteResource``. The state of a service is what a person would call it: "suspended"
when suspended, else the status of its latest deploy ("live" when it has never deployed); a
datastore's state is Render's ``status``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from rcp.core.models import RemoteResource, ResourceKind
from rcp.errors import ConfigError, RenderAPIError, RenderNotFound
from rcp.render.client import RenderClient
from rcp.render.models import (
    KeyValue,
    Postgres,
    Service,
    connection_info_dict,
)

if TYPE_CHECKING:
    from rcp.core.ports import RenderGateway

# Render's serviceType → ours is the same string; datastores get the engine's type names.
POSTGRES_TYPE = "postgres"
KEY_VALUE_TYPE = "key_value"
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
        self._owner: str | None = self._configured_owner
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
        """RENDER_OWNER_ID when given, else the only workspace the key sees (cached)."""
        with self._owner_lock:
            if self._owner is not None:
                return self._owner
            owners = self._client.list_owners()
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

    # -- lookups ---------------------------------------------------------------------------

    def find_by_name(self, kind: ResourceKind, name: str) -> list[RemoteResource]:
        """Exact-name matches in the workspace (Render's ``name`` filter is not trusted to be
        exact, so the result is filtered again here)."""
        owner = self.owner_id()
        if kind is ResourceKind.SERVICE:
            services = self._client.list_services(name=name, owner_id=owner)
            return [self._service_resource(s) for s in services if s.name == name]
        if kind is ResourceKind.POSTGRES:
            databases = self._client.list_postgres(name=name, owner_id=owner)
            return [_postgres_resource(db) for db in databases if db.name == name]
        if kind is ResourceKind.KEY_VALUE:
            stores = self._client.list_key_value(name=name, owner_id=owner)
            return [_key_value_resource(kv) for kv in stores if kv.name == name]
        raise ValueError(f"unknown resource kind {kind!r}")

    def get(self, kind: ResourceKind, render_id: str) -> RemoteResource | None:
        try:
            if kind is ResourceKind.SERVICE:
                return self._service_resource(self._client.get_service(render_id))
            if kind is ResourceKind.POSTGRES:
                return _postgres_resource(self._client.get_postgres(render_id))
            if kind is ResourceKind.KEY_VALUE:
                return _key_value_resource(self._client.get_key_value(render_id))
        except RenderNotFound:
            return None
        raise ValueError(f"unknown resource kind {kind!r}")

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
        payload = dict(body)
        payload["ownerId"] = self.owner_id()
        if kind is ResourceKind.SERVICE:
            payload["envVars"] = [dict(item) for item in env]
            created = self._client.create_service(payload)
            if created.service is None:
                # 201 without the service: the create happened but we cannot tell its id;
                # the engine's name lookup will find it.
                raise RenderAPIError(
                    "Render created the service but returned no service in its answer",
                    status=201,
                    method="POST",
                    path="/services",
                )
            service = created.service
            if service.is_suspended:
                state = STATE_SUSPENDED
            else:
                # The create started a deploy whose status the answer does not carry.
                state = "created" if created.deploy_id else STATE_NO_DEPLOYS
            return _service_remote(service, state, deploy_id=created.deploy_id)
        if env:
            raise ValueError("env vars apply to services only")
        if kind is ResourceKind.POSTGRES:
            return _postgres_resource(self._client.create_postgres(payload))
        if kind is ResourceKind.KEY_VALUE:
            return _key_value_resource(self._client.create_key_value(payload))
        raise ValueError(f"unknown resource kind {kind!r}")

    def delete(self, kind: ResourceKind, render_id: str) -> bool:
        try:
            if kind is ResourceKind.SERVICE:
                self._client.delete_service(render_id)
            elif kind is ResourceKind.POSTGRES:
                self._client.delete_postgres(render_id)
            elif kind is ResourceKind.KEY_VALUE:
                self._client.delete_key_value(render_id)
            else:
                raise ValueError(f"unknown resource kind {kind!r}")
        except RenderNotFound:
            return False
        return True

    def suspend(self, kind: ResourceKind, render_id: str) -> None:
        if kind is ResourceKind.SERVICE:
            self._client.suspend_service(render_id)
        elif kind is ResourceKind.POSTGRES:
            self._client.suspend_postgres(render_id)
        elif kind is ResourceKind.KEY_VALUE:
            self._client.suspend_key_value(render_id)
        else:
            raise ValueError(f"unknown resource kind {kind!r}")

    def resume(self, kind: ResourceKind, render_id: str) -> None:
        if kind is ResourceKind.SERVICE:
            self._client.resume_service(render_id)
        elif kind is ResourceKind.POSTGRES:
            self._client.resume_postgres(render_id)
        elif kind is ResourceKind.KEY_VALUE:
            self._client.resume_key_value(render_id)
        else:
            raise ValueError(f"unknown resource kind {kind!r}")

    def connection_info(self, kind: ResourceKind, render_id: str) -> dict[str, str]:
        if kind is ResourceKind.POSTGRES:
            return connection_info_dict(self._client.postgres_connection_info(render_id))
        if kind is ResourceKind.KEY_VALUE:
            return connection_info_dict(self._client.key_value_connection_info(render_id))
        raise ValueError(f"{kind!r} has no connection info")

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

    def trigger_deploy(self, service_id: str) -> str | None:
        deploy = self._client.trigger_deploy(service_id)
        return deploy.id if deploy is not None else None

    # -- updates ---------------------------------------------------------------------------

    def update_service(self, service_id: str, body: dict[str, Any]) -> RemoteResource:
        return self._service_resource(self._client.update_service(service_id, body))

    def update_datastore(
        self, kind: ResourceKind, render_id: str, body: dict[str, Any]
    ) -> RemoteResource:
        if kind is ResourceKind.POSTGRES:
            return _postgres_resource(self._client.update_postgres(render_id, body))
        if kind is ResourceKind.KEY_VALUE:
            return _key_value_resource(self._client.update_key_value(render_id, body))
        raise ValueError(f"{kind!r} is not a datastore")

    # -- mapping ---------------------------------------------------------------------------

    def _service_resource(self, service: Service) -> RemoteResource:
        """A service with its current state: suspended, else its latest deploy's status."""
        if service.is_suspended:
            return _service_remote(service, STATE_SUSPENDED)
        deploys = self._client.list_deploys(service.id, limit=1)
        if not deploys:
            return _service_remote(service, STATE_NO_DEPLOYS)
        latest = deploys[0]
        return _service_remote(service, latest.status or STATE_UNKNOWN, deploy_id=latest.id)


def _service_remote(service: Service, state: str, deploy_id: str | None = None) -> RemoteResource:
    return RemoteResource(
        kind=ResourceKind.SERVICE,
        render_id=service.id,
        name=service.name or "",
        type=service.type or STATE_UNKNOWN,
        state=state,
        suspended=service.is_suspended,
        url=service.url,
        plan=service.plan,
        deploy_id=deploy_id,
    )


def _postgres_resource(db: Postgres) -> RemoteResource:
    return RemoteResource(
        kind=ResourceKind.POSTGRES,
        render_id=db.id,
        name=db.name or "",
        type=POSTGRES_TYPE,
        state=db.status or STATE_UNKNOWN,
        suspended=db.is_suspended,
        plan=db.plan,
    )


def _key_value_resource(kv: KeyValue) -> RemoteResource:
    return RemoteResource(
        kind=ResourceKind.KEY_VALUE,
        render_id=kv.id,
        name=kv.name or "",
        type=KEY_VALUE_TYPE,
        state=kv.status or STATE_UNKNOWN,
        suspended=kv.is_suspended,
        plan=kv.plan,
    )


if TYPE_CHECKING:

    def _implements_the_port(gateway: Gateway) -> RenderGateway:
        return gateway  # mypy checks that Gateway satisfies the Protocol
