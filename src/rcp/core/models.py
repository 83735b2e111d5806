"""Plain domain records shared by the engine and the adapters (store, render, output)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class TenantStatus(StrEnum):
    PROVISIONING = "PROVISIONING"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    ERROR = "ERROR"
    DELETING = "DELETING"


class ResourceKind(StrEnum):
    """Which Render API family a resource lives in (decides endpoints and id prefix)."""

    SERVICE = "service"  # /services  (srv-, crn-)
    POSTGRES = "postgres"  # /postgres  (dpg-…-a)
    KEY_VALUE = "key_value"  # /key-value (red-)
    ENV_GROUP = "env_group"  # /env-groups (evg-)
    PROJECT = "project"  # /projects (prj-)
    ENVIRONMENT = "environment"  # /environments (evm-)


# The record keys of a tenant's own project and environment (a template's isolation block);
# their Render names are ``<slug>-project`` and ``<slug>-environment``.
PROJECT_KEY = "project"
ENVIRONMENT_KEY = "environment"

# Render API `type` of a resource → its kind. Services use Render's serviceType values.
RENDER_TYPE_KIND: dict[str, ResourceKind] = {
    "web_service": ResourceKind.SERVICE,
    "private_service": ResourceKind.SERVICE,
    "background_worker": ResourceKind.SERVICE,
    "cron_job": ResourceKind.SERVICE,
    "postgres": ResourceKind.POSTGRES,
    "key_value": ResourceKind.KEY_VALUE,
    "env_group": ResourceKind.ENV_GROUP,
    "project": ResourceKind.PROJECT,
    "environment": ResourceKind.ENVIRONMENT,
}
# The kinds a template declares per tenant (tenant records hold only these): services,
# datastores, environment groups (``envVarGroups``, a tenant's own or one shared by the fleet)
# and the project/environment of a template's isolation block.
TENANT_RESOURCE_TYPES: frozenset[str] = frozenset(
    name
    for name, kind in RENDER_TYPE_KIND.items()
    if kind
    in (
        ResourceKind.SERVICE,
        ResourceKind.POSTGRES,
        ResourceKind.KEY_VALUE,
        ResourceKind.PROJECT,
        ResourceKind.ENVIRONMENT,
        ResourceKind.ENV_GROUP,
    )
)


# Kinds that run (and so are suspended and resumed, and have logs): services and datastores.
# Environment groups, projects and environments only hold configuration or other resources.
RUNNING_KINDS: frozenset[ResourceKind] = frozenset(
    {ResourceKind.SERVICE, ResourceKind.POSTGRES, ResourceKind.KEY_VALUE}
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso_z(moment: datetime | None) -> str | None:
    """RFC 3339 UTC with a ``Z`` suffix, as every timestamp in rcp's JSON."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class EnvVarSpec:
    """One env var of a templated service. Exactly one source is set."""

    key: str
    value: str | None = None
    generate: bool = False
    # fromDatabase / fromService: (resource key, property), e.g. ("db", "connectionString")
    from_resource: tuple[str, str] | None = None
    # fromService with envVarKey: read another service's env var
    from_env_var: tuple[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "generate": self.generate,
            "from_resource": list(self.from_resource) if self.from_resource else None,
            "from_env_var": list(self.from_env_var) if self.from_env_var else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvVarSpec:
        fr = data.get("from_resource")
        fe = data.get("from_env_var")
        return cls(
            key=data["key"],
            value=data.get("value"),
            generate=bool(data.get("generate", False)),
            from_resource=(fr[0], fr[1]) if fr else None,
            from_env_var=(fe[0], fe[1]) if fe else None,
        )


@dataclass
class ResourceSpec:
    """One resource of a rendered template, ready to send to Render.

    ``body`` is the create request in Render API spelling *without* ``ownerId`` and ``envVars``
    (the gateway adds the owner; the engine resolves env vars, which may need other resources).

    An environment group (``env_group``) carries its variables in ``env``; ``shared`` marks one
    the whole fleet shares (named as given, created once, never deleted with a tenant). A
    service's ``groups`` are the keys of the groups linked to it (``fromGroup``).
    """

    key: str
    render_type: (
        str  # web_service | private_service | background_worker | cron_job | postgres | key_value
    )
    name: str  # deterministic Render name: <slug>-<key>
    body: dict[str, Any]
    plan: str | None = None  # API spelling, e.g. "starter", "basic_256mb"
    env: list[EnvVarSpec] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    shared: bool = False
    groups: list[str] = field(default_factory=list)

    @property
    def kind(self) -> ResourceKind:
        return RENDER_TYPE_KIND[self.render_type]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key,
            "render_type": self.render_type,
            "name": self.name,
            "body": self.body,
            "plan": self.plan,
            "env": [e.to_dict() for e in self.env],
            "depends_on": list(self.depends_on),
        }
        # Only when set: templates stored before groups existed compare equal to new renders.
        if self.shared:
            data["shared"] = True
        if self.groups:
            data["groups"] = list(self.groups)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResourceSpec:
        return cls(
            key=data["key"],
            render_type=data["render_type"],
            name=data["name"],
            body=dict(data.get("body") or {}),
            plan=data.get("plan"),
            env=[EnvVarSpec.from_dict(e) for e in data.get("env") or []],
            depends_on=list(data.get("depends_on") or []),
            shared=bool(data.get("shared", False)),
            groups=list(data.get("groups") or []),
        )


@dataclass
class RenderedTemplate:
    """A template rendered for one tenant; resources in creation order (dependencies first)."""

    name: str
    resources: list[ResourceSpec]
    # The template's isolation block: ``{"project": <Render name>, "shared_project": bool}``
    # (the environment and a per-tenant project are among ``resources``); None without one.
    isolation: dict[str, Any] | None = None
    # The template revision it was rendered from, ``{"hash", "label"}`` (rcp.core.templates.
    # revisions); None for a rendering stored before revisions were recorded.
    revision: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "resources": [r.to_dict() for r in self.resources],
        }
        if self.isolation is not None:
            data["isolation"] = dict(self.isolation)
        if self.revision is not None:
            data["revision"] = dict(self.revision)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RenderedTemplate:
        isolation = data.get("isolation")
        revision = data.get("revision")
        return cls(
            name=data["name"],
            resources=[ResourceSpec.from_dict(r) for r in data.get("resources") or []],
            isolation=dict(isolation) if isinstance(isolation, dict) else None,
            revision=dict(revision) if isinstance(revision, dict) else None,
        )

    @property
    def shared_project(self) -> str | None:
        """The Render name of the fleet's shared project the tenant's environment lives in."""
        if self.isolation and self.isolation.get("shared_project"):
            return str(self.isolation["project"])
        return None

    def resource(self, key: str) -> ResourceSpec:
        for spec in self.resources:
            if spec.key == key:
                return spec
        raise KeyError(key)


@dataclass(frozen=True)
class TenantRevision:
    """The template revision a tenant runs: content hash, ``version:`` label, and since when
    (the moment it last reached ACTIVE on a new revision)."""

    hash: str
    label: str | None
    since: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"hash": self.hash, "label": self.label, "since": iso_z(self.since)}


@dataclass(frozen=True)
class SeenRevision:
    """A revision of a template rcp provisioned tenants from (``rcp template history``):
    ``content`` is its tenant-neutral rendering (rcp.core.templates.revisions); ``tenants``
    how many tenants of the template run it now."""

    template: str
    hash: str
    label: str | None
    first_seen: datetime
    content: dict[str, Any]
    tenants: int = 0


@dataclass
class Resource:
    """What rcp has recorded about one of a tenant's Render resources."""

    key: str
    type: str  # Render type, as in ResourceSpec.render_type
    name: str
    render_id: str | None = None
    state: str = "pending"  # pending | creating | build_in_progress | live | available | suspended | failed | deleted …
    url: str | None = None
    deploy_id: str | None = None  # a service's current (or awaited) deploy
    # What last went wrong with this resource (e.g. its deploy failed: deploy id, status,
    # phase); cleared once it is up again.
    last_error: str | None = None

    @property
    def kind(self) -> ResourceKind:
        return RENDER_TYPE_KIND[self.type]

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "type": self.type,
            "render_id": self.render_id,
            "name": self.name,
            "state": self.state,
            "url": self.url,
            "last_error": self.last_error,
        }


@dataclass
class Tenant:
    name: str
    slug: str
    status: TenantStatus
    template: str
    rendered_template: dict[str, Any]
    custom_plugin_repo: str | None = None
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_error: str | None = None
    resources: list[Resource] = field(default_factory=list)
    # env overrides: service key → {ENV_KEY: value}; values are secrets (masked on output)
    env_overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    # Created or updated by `rcp apply` (a fleet file manages it): what `apply --prune` may delete.
    fleet_managed: bool = False
    # The world the record belongs to: the Render API base URL and workspace (owner id) it was
    # created against. None on records older than these fields ("unknown"): the next mutating
    # command records its own world (``rcp.core.tenants.worlds``).
    render_api_url: str | None = None
    render_owner_id: str | None = None

    @property
    def world(self) -> World:
        """The recorded world (either part may be unknown: None)."""
        return World(api_url=self.render_api_url, owner_id=self.render_owner_id)
    # The template revision it runs (None: never reached ACTIVE since revisions are recorded).
    template_revision: TenantRevision | None = None
    # The fleet file's `tier:` (rollout waves follow tiers); None when it gives none.
    tier: str | None = None

    def resource(self, key: str) -> Resource | None:
        for res in self.resources:
            if res.key == key:
                return res
        return None

    @property
    def environment(self) -> Resource | None:
        """The Render environment the tenant's resources live in, once created."""
        for res in self.resources:
            if res.kind is ResourceKind.ENVIRONMENT and res.render_id:
                return res
        return None

    def isolation(self) -> dict[str, Any] | None:
        """Where the tenant's resources live (its template's isolation block): the project's
        Render name, whether the fleet shares it, and the environment's id once created.
        None without a block (or when the record was read without its template)."""
        block = (self.rendered_template or {}).get("isolation")
        if not isinstance(block, dict):
            return None
        environment = self.environment
        return {
            "project": block.get("project"),
            "shared_project": bool(block.get("shared_project")),
            "environment_id": environment.render_id if environment else None,
        }

    def resource_plans(self) -> dict[str, dict[str, str | None]]:
        """Each resource's plan and region as its rendered template asks (``tenant show``)."""
        found: dict[str, dict[str, str | None]] = {}
        for spec in (self.rendered_template or {}).get("resources") or []:
            if not isinstance(spec, dict):
                continue
            body = spec.get("body") if isinstance(spec.get("body"), dict) else {}
            details = body.get("serviceDetails") if isinstance(body, dict) else None
            # Datastores carry the region at the top of the create body, services in details.
            region = body.get("region") if isinstance(body, dict) else None
            if region is None and isinstance(details, dict):
                region = details.get("region")
            found[str(spec.get("key"))] = {"plan": spec.get("plan"), "region": region}
        return found

    def to_json(self) -> dict[str, Any]:
        """The tenant object of docs/json.md (fields may be added, never removed)."""
        return {
            "id": self.id,
            "name": self.name,
            "slug": self.slug,
            "status": str(self.status),
            "template": self.template,
            "custom_plugin_repo": self.custom_plugin_repo,
            "render_service_ids": {r.key: r.render_id for r in self.resources if r.render_id},
            "resources": [r.to_json() for r in self.resources],
            "created_at": iso_z(self.created_at),
            "updated_at": iso_z(self.updated_at),
            "last_error": self.last_error,
            "fleet_managed": self.fleet_managed,
            "isolation": self.isolation(),
            "render_api_url": self.render_api_url,
            "render_owner_id": self.render_owner_id,
            "template_revision": (
                self.template_revision.to_json() if self.template_revision else None
            ),
            "tier": self.tier,
        }


@dataclass(frozen=True)
class World:
    """Where Render resources live: an API base URL and a workspace (owner id). Records of one
    world are never acted on from another (the sandbox is a world of its own). None: unknown
    (a record older than the fields, or a workspace not looked up yet)."""

    api_url: str | None
    owner_id: str | None

    def describe(self) -> str:
        api = self.api_url or "an unrecorded Render API"
        owner = f"workspace {self.owner_id}" if self.owner_id else "an unrecorded workspace"
        return f"{api} ({owner})"

    def differs_from(self, other: World) -> bool:
        """Whether the two are known to be different worlds (an unknown part matches)."""
        if self.api_url and other.api_url and not _same_api(self.api_url, other.api_url):
            return True
        return bool(self.owner_id and other.owner_id and self.owner_id != other.owner_id)


def _same_api(first: str, second: str) -> bool:
    return first.rstrip("/").lower() == second.rstrip("/").lower()


@dataclass
class RemoteResource:
    """A resource as Render reports it, reduced to what the engine needs."""

    kind: ResourceKind
    render_id: str
    name: str
    type: str  # Render type (web_service, …, postgres, key_value)
    # services: latest known deploy status or "suspended"; datastores: Render's status
    state: str
    suspended: bool = False
    url: str | None = None
    plan: str | None = None
    deploy_id: str | None = None  # for a freshly created service: the deploy Render started


@dataclass(frozen=True)
class DeployInfo:
    """One deploy of a service as Render reports it (``rcp tenant deploys``)."""

    id: str
    status: str | None = None
    trigger: str | None = None
    commit_id: str | None = None  # Git-backed deploys
    commit_message: str | None = None
    image_ref: str | None = None  # image-backed deploys
    image_sha: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class LogLine:
    """One line of a resource's logs as Render reports it. ``message`` is Render's text: data,
    never to be printed unescaped (it may hold terminal control sequences)."""

    id: str
    timestamp: datetime
    message: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def resource(self) -> str | None:
        return self.labels.get("resource")


@dataclass(frozen=True)
class LogPage:
    """One page of ``GET /logs``; when ``has_more``, the next page's window (Render's own
    strings, to be sent back as ``startTime``/``endTime``)."""

    lines: list[LogLine]
    has_more: bool = False
    next_start: str | None = None
    next_end: str | None = None


@dataclass(frozen=True)
class LockHolder:
    actor: str
    host: str
    pid: int
    command: str


@dataclass(frozen=True)
class Lease:
    slug: str
    holder: LockHolder
    generation: int
    acquired_at: datetime


@dataclass
class AuditEntry:
    actor: str
    command: str  # secrets already redacted
    tenant: str | None
    outcome: str  # "ok" | error code
    exit_code: int
    duration_ms: int
    at: datetime = field(default_factory=utcnow)
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso_z(self.at),
            "actor": self.actor,
            "command": self.command,
            "tenant": self.tenant,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True)
class JournalEntry:
    """One step of the journal of a tenant's operations (``step`` e.g. "create", ``status``
    "pending" | "done" | …). The store records them and the backup carries them: one type."""

    tenant_slug: str
    step: str
    resource_key: str | None
    status: str
    render_name: str | None
    render_id: str | None
    detail: str | None
    generation: int  # the lease generation that wrote it: tells one run's steps from another's
    at: datetime
    id: int | None = None  # the database's (None before it is written)

    def to_json(self) -> dict[str, Any]:
        """As in the backup document: no database id (local to one database) and no slug (the
        entry sits under its tenant there)."""
        return {
            "step": self.step,
            "resource_key": self.resource_key,
            "status": self.status,
            "render_name": self.render_name,
            "render_id": self.render_id,
            "detail": self.detail,
            "generation": self.generation,
            "at": iso_z(self.at),
        }
