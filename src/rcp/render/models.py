"""Typed views of Render's JSON responses.

Render adds fields over time, returns explicit ``null`` where the spec promises a value
(``ipAllowList: null``, ``commit: null``) and uses enum values newer than any spec copy, so these
models are deliberately lenient: every field except an id is optional, enums are plain strings,
unknown fields are kept (``extra="allow"``) and attributes use snake_case with Render's camelCase
names as aliases. Validation failures surface as ``RenderAPIError`` from the client, never as a
pydantic traceback.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class RenderModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
    )


class Owner(RenderModel):
    """A workspace (``tea-…``) or a user (``own-…``/``usr-…``) as listed by ``GET /owners``."""

    id: str
    name: str | None = None
    email: str | None = None
    type: str | None = None  # "user" | "team"


class User(RenderModel):
    """``GET /users``: the user the API key acts for."""

    email: str | None = None
    name: str | None = None


class ServerPort(RenderModel):
    """One of ``serviceDetails.openPorts`` (spec ``serverPort``): ``{"port": 10000, "protocol":
    "TCP"}`` in every recorded web and private service answer."""

    port: int | None = None
    protocol: str | None = None


class ServiceDetails(RenderModel):
    """The per-type ``serviceDetails`` object; only what rcp reads is typed."""

    url: str | None = None
    open_ports: list[ServerPort] | None = None
    plan: str | None = None
    region: str | None = None
    runtime: str | None = None
    num_instances: int | None = None
    schedule: str | None = None  # cron jobs


class RenderResource(RenderModel):
    """What every resource kind's JSON has in common (``rcp.render.kinds`` maps kinds to models)."""

    id: str
    name: str | None = None

    @property
    def is_suspended(self) -> bool:
        return False

    @property
    def resource_plan(self) -> str | None:
        return None

    @property
    def resource_url(self) -> str | None:
        """The public URL when the kind has one (web services)."""
        return None

    @property
    def resource_type(self) -> str | None:
        """Render's own type of the resource when its JSON carries one (services)."""
        return None

    @property
    def resource_status(self) -> str | None:
        """Render's ``status`` when the kind has one (datastores)."""
        return None

    @property
    def private_address(self) -> tuple[str, int | None] | None:
        """Hostname and port on Render's private network when the kind is reached there by
        address (web and private services); None otherwise."""
        return None


class Service(RenderResource):
    owner_id: str | None = None
    # web_service | private_service | background_worker | cron_job | static_site
    type: str | None = None
    slug: str | None = None
    suspended: str | None = None  # "suspended" | "not_suspended" (a string, not a boolean)
    suspenders: list[str] | None = None
    repo: str | None = None
    branch: str | None = None
    dashboard_url: str | None = None
    service_details: ServiceDetails | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_suspended(self) -> bool:
        return self.suspended == "suspended"

    @property
    def url(self) -> str | None:
        return self.service_details.url if self.service_details else None

    @property
    def plan(self) -> str | None:
        return self.service_details.plan if self.service_details else None

    @property
    def resource_type(self) -> str | None:
        return self.type

    @property
    def resource_plan(self) -> str | None:
        return self.plan

    @property
    def resource_url(self) -> str | None:
        return self.url

    @property
    def private_address(self) -> tuple[str, int | None] | None:
        """The service's slug is its hostname on the private network, and it listens there on
        its open ports (the first TCP one is "the" port). What Render reports in the recorded
        answers: a private service ``some-name`` has ``"openPorts": [{"port": 10000, "protocol":
        "TCP"}]`` and ``"url": "some-name:10000"``; a web service the same ``openPorts`` and its
        public ``https://…onrender.com`` URL (never its private address)."""
        if self.type not in PRIVATE_NETWORK_SERVICE_TYPES:
            return None
        details = self.service_details
        port = None
        for open_port in (details.open_ports if details else None) or []:
            if open_port.port is not None and (open_port.protocol or "TCP").upper() == "TCP":
                port = open_port.port
                break
        host = self.slug
        if self.type == "private_service" and details is not None and details.url:
            # A private service's url is its private address, "<slug>:<port>".
            url_host, _, url_port = details.url.rpartition(":")
            host = host or url_host or None
            if port is None and url_port.isdigit():
                port = int(url_port)
        if not host:
            return None
        return host, port


# Service types with an address on the private network (workers and cron jobs only send).
PRIVATE_NETWORK_SERVICE_TYPES = ("web_service", "private_service")


class CreatedAnswer(RenderModel):
    """A wrapped create answer: ``POST /services`` → 201 ``{"service": …, "deployId": "dep-…"}``
    (both optional in the spec). The wrapped resource stays in ``model_extra`` under the kind's
    ``created_wrapper`` key and is parsed with the kind's model."""

    deploy_id: str | None = None


class DeployCommit(RenderModel):
    id: str | None = None
    message: str | None = None
    created_at: datetime | None = None


class Deploy(RenderModel):
    id: str
    status: str | None = None  # created, build_in_progress, live, build_failed, … (open set)
    trigger: str | None = None
    commit: DeployCommit | None = None
    image: dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class LogLabel(RenderModel):
    name: str
    value: str | None = None


class LogEntry(RenderModel):
    """One line of ``GET /logs`` (the spec's log entry: id, message, timestamp, labels)."""

    id: str
    message: str | None = None
    timestamp: datetime
    labels: list[LogLabel] | None = None


class LogsPage(RenderModel):
    """``GET /logs``: a page of lines and the window of the next page (when ``has_more``).
    The next-window times are kept as Render wrote them, to be sent back verbatim."""

    has_more: bool = False
    next_start_time: str | None = None
    next_end_time: str | None = None
    logs: list[LogEntry] | None = None


class EnvVar(RenderModel):
    key: str
    value: str | None = None


class Postgres(RenderResource):
    """Both the list item (``postgres``) and ``postgresDetail``: the owner is an object here."""

    owner: Owner | None = None
    plan: str | None = None
    region: str | None = None
    status: str | None = None  # creating, available, suspended, … (open set)
    version: str | None = None
    suspended: str | None = None
    database_name: str | None = None
    database_user: str | None = None
    dashboard_url: str | None = None
    environment_id: str | None = None
    ip_allow_list: list[dict[str, Any]] | None = None
    disk_size_gb: int | None = Field(default=None, alias="diskSizeGB")
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_suspended(self) -> bool:
        return self.suspended == "suspended" or self.status == "suspended"

    @property
    def resource_status(self) -> str | None:
        return self.status

    @property
    def resource_plan(self) -> str | None:
        return self.plan


class KeyValue(RenderResource):
    """Both the list item (``keyValue``) and ``keyValueDetail``."""

    owner: Owner | None = None
    plan: str | None = None
    region: str | None = None
    status: str | None = None
    version: str | None = None
    options: dict[str, Any] | None = None
    dashboard_url: str | None = None
    environment_id: str | None = None
    ip_allow_list: list[dict[str, Any]] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_suspended(self) -> bool:
        return self.status == "suspended"

    @property
    def resource_status(self) -> str | None:
        return self.status

    @property
    def resource_plan(self) -> str | None:
        return self.plan


class Project(RenderResource):
    """``project`` (spec): a named set of environments."""

    owner: Owner | None = None
    environment_ids: list[str] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Environment(RenderResource):
    """``environment`` (spec). Render answers ``null`` for an empty list of members
    (recorded), hence every list is optional."""

    project_id: str | None = None
    protected_status: str | None = None
    network_isolation_enabled: bool | None = None
    ip_allow_list: list[dict[str, Any]] | None = None
    service_ids: list[str] | None = None
    databases_ids: list[str] | None = None
    redis_ids: list[str] | None = None
    env_group_ids: list[str] | None = None

    @property
    def resource_ids(self) -> list[str]:
        """Every resource the environment holds."""
        return [
            *(self.service_ids or []),
            *(self.databases_ids or []),
            *(self.redis_ids or []),
            *(self.env_group_ids or []),
        ]


class EnvGroup(RenderResource):
    """``envGroup`` (detail, with variables and files) and ``envGroupMeta`` (list item)."""

    owner_id: str | None = None
    environment_id: str | None = None
    service_links: list[dict[str, Any]] | None = None
    env_vars: list[EnvVar] | None = None
    secret_files: list[dict[str, Any]] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def linked_service_ids(self) -> list[str]:
        return [str(link["id"]) for link in self.service_links or [] if "id" in link]


class ConnectionInfo(RenderModel):
    """``GET …/connection-info`` of a datastore. Secrets: never log or print these values."""

    internal_connection_string: str | None = None
    external_connection_string: str | None = None


class PostgresConnectionInfo(ConnectionInfo):
    """Secrets: never log or print these values."""

    password: str | None = None
    psql_command: str | None = None


class KeyValueConnectionInfo(ConnectionInfo):
    """Secrets: never log or print these values."""

    cli_command: str | None = None


def connection_info_dict(info: ConnectionInfo) -> dict[str, str]:
    """Render's camelCase keys with their string values (``None`` and non-strings dropped)."""
    dumped = info.model_dump(by_alias=True)
    return {key: value for key, value in dumped.items() if isinstance(value, str)}
