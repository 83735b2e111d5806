"""One entry per Render resource kind: everything rcp needs to know to call Render for it.

The client (``RenderClient.create/list/get/update/delete/suspend/resume/connection_info``) and
the gateway (``Gateway``) look kinds up here instead of branching on them, so adding a kind is
one ``RenderKind`` entry (plus its ``ResourceKind`` member in core and, when Render answers
with a new shape, a model in ``rcp.render.models``). ``tests/render/test_render_kinds.py``
enumerates ``KINDS`` against ``ResourceKind`` and drives each entry through the sandbox, so a
missing or wrong entry fails a test.

Facts per kind come from Render's public OpenAPI spec (paths, list wrappers, create
answers, suspend/resume and connection-info endpoints, status enums) and calls recorded on Render
(id prefixes, the states seen while polling).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from rcp.core.models import ResourceKind
from rcp.render.models import (
    ConnectionInfo,
    EnvGroup,
    Environment,
    KeyValue,
    KeyValueConnectionInfo,
    Postgres,
    PostgresConnectionInfo,
    Project,
    RenderResource,
    Service,
)

# How the state of a resource is read: a service's from its deploys (its own JSON carries no
# progress), a datastore's from its ``status`` field; a kind with no readiness at all (projects,
# environments, env groups: Render's JSON has neither a status nor deploys) is ready as soon
# as its create is answered ("exists").
StateSource = Literal["deploy", "status", "exists"]
STATE_EXISTS = "exists"


@dataclass(frozen=True)
class RenderKind:
    """How one kind of Render resource is called, parsed and judged."""

    kind: ResourceKind
    path: str
    """Collection path relative to ``/v1`` (``/services``); one resource is ``{path}/{id}``."""
    list_wrapper: str
    """Key of the resource in each list item (``[{"cursor", "<wrapper>": {…}}]``); empty when
    the list holds the resources themselves (``GET /env-groups``, spec)."""
    model: type[RenderResource]
    """Model of the resource (the list item and the detail answer alike)."""
    type_names: tuple[str, ...]
    """The resource ``type`` values of this kind (template ``render_type`` / Render's
    ``serviceType``); the first is the one reported when Render's JSON carries none."""
    id_prefixes: tuple[str, ...]
    """How Render's ids of this kind start (``srv-``, ``crn-``): ``tenant adopt`` and sanity."""
    created_wrapper: str | None = None
    """When the create answer wraps the resource (``{"service": {…}, "deployId"}``), its key;
    None when the answer is the resource itself (``postgresDetail``)."""
    connection_info: type[ConnectionInfo] | None = None
    """Model of ``GET {path}/{id}/connection-info``; None when the kind has none."""
    suspendable: bool = True
    """``POST {path}/{id}/suspend`` and ``/resume`` exist."""
    updatable: bool = True
    """``PATCH {path}/{id}`` exists."""
    takes_env_vars: bool = False
    """The create body carries ``envVars`` (and ``/env-vars`` endpoints exist)."""
    state_source: StateSource = "status"
    ready_states: frozenset[str] = frozenset()
    """States in which the resource is up (``live``, ``available``)."""
    failed_states: frozenset[str] = frozenset()
    """States ``tenant check`` reports as failed (a wait for readiness goes through the
    transient ones, e.g. a datastore's ``unavailable``, and stops only on final failures)."""
    creation_limited: bool = False
    """``POST {path}`` draws on Render's creation limit (20 per clock hour, raisable) rather
    than the generic write bucket (Render's documented limits and its recorded answers)."""
    create_aliases: tuple[str, ...] = ()
    """Other create paths drawing on the same creation counter (``/redis`` for Key Value)."""
    list_filters: Mapping[str, str] = field(default_factory=dict)
    """Query filters of the list endpoint beyond ``name`` and ``ownerId``: our keyword → Render's
    query parameter (``service_type`` → ``type``)."""
    owned: bool = True
    """The create body names the workspace (``ownerId``); an environment's names its project."""
    list_scope: str | None = None
    """The list filter Render requires (``project_id`` for environments): such a kind is
    found by name only within one scope."""

    @property
    def ready_on_create(self) -> bool:
        """No readiness to wait for: the resource is usable once its create is answered."""
        return self.state_source == "exists"

    @property
    def default_type(self) -> str:
        return self.type_names[0]

    def item_path(self, render_id: str) -> str:
        """``{path}/{id}``; the id must already be a safe path segment."""
        return f"{self.path}/{render_id}"


# Render's deploy statuses (spec ``deployStatus``) that end a create badly. ``canceled`` and
# ``deactivated`` count as failures only for the deploy being awaited (the engine looks at the
# service's current deploy).
SERVICE_FAILED_STATES = frozenset(
    {"build_failed", "update_failed", "pre_deploy_failed", "canceled", "deactivated"}
)
# Datastore statuses (spec ``databaseStatus`` / ``keyValueStatus``) that need an operator.
DATASTORE_FAILED_STATES = frozenset({"recovery_failed", "unavailable"})

SERVICE = RenderKind(
    kind=ResourceKind.SERVICE,
    path="/services",
    list_wrapper="service",
    model=Service,
    type_names=("web_service", "private_service", "background_worker", "cron_job"),
    id_prefixes=("srv-", "crn-"),
    created_wrapper="service",
    connection_info=None,
    creation_limited=True,
    takes_env_vars=True,
    state_source="deploy",
    ready_states=frozenset({"live"}),
    failed_states=SERVICE_FAILED_STATES,
    list_filters={"service_type": "type"},
)

POSTGRES = RenderKind(
    kind=ResourceKind.POSTGRES,
    path="/postgres",
    list_wrapper="postgres",
    model=Postgres,
    type_names=("postgres",),
    id_prefixes=("dpg-",),
    connection_info=PostgresConnectionInfo,
    creation_limited=True,
    ready_states=frozenset({"available"}),
    failed_states=DATASTORE_FAILED_STATES,
)

KEY_VALUE = RenderKind(
    kind=ResourceKind.KEY_VALUE,
    path="/key-value",
    list_wrapper="keyValue",
    model=KeyValue,
    type_names=("key_value",),
    id_prefixes=("red-",),
    connection_info=KeyValueConnectionInfo,
    creation_limited=True,
    # The recordings: /key-value and /redis creates draw on one counter.
    create_aliases=("/redis",),
    ready_states=frozenset({"available"}),
    failed_states=DATASTORE_FAILED_STATES,
)

# Issue 14. None has a status, suspend/resume or connection info (spec); their creates are
# not counted against the creation limit (only services and datastores are, Render's docs).
ENV_GROUP = RenderKind(
    kind=ResourceKind.ENV_GROUP,
    path="/env-groups",
    list_wrapper="",
    model=EnvGroup,
    type_names=("env_group",),
    id_prefixes=("evg-",),
    suspendable=False,
    state_source="exists",
    ready_states=frozenset({STATE_EXISTS}),
    list_filters={"environment_id": "environmentId"},
)

PROJECT = RenderKind(
    kind=ResourceKind.PROJECT,
    path="/projects",
    list_wrapper="project",
    model=Project,
    type_names=("project",),
    id_prefixes=("prj-",),
    suspendable=False,
    state_source="exists",
    ready_states=frozenset({STATE_EXISTS}),
)

ENVIRONMENT = RenderKind(
    kind=ResourceKind.ENVIRONMENT,
    path="/environments",
    list_wrapper="environment",
    model=Environment,
    type_names=("environment",),
    id_prefixes=("evm-",),
    suspendable=False,
    state_source="exists",
    ready_states=frozenset({STATE_EXISTS}),
    owned=False,
    list_filters={"project_id": "projectId"},
    list_scope="project_id",
)

KINDS: Mapping[ResourceKind, RenderKind] = {
    entry.kind: entry for entry in (SERVICE, POSTGRES, KEY_VALUE, ENV_GROUP, PROJECT, ENVIRONMENT)
}


def kind_of(kind: ResourceKind) -> RenderKind:
    """The entry of ``kind``; a kind without one is a programming error, named."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(
            f"no Render kind entry for {kind!r} (add it to rcp.render.kinds)"
        ) from None


def kind_for_path(path: str) -> RenderKind | None:
    """The kind whose collection ``path`` is (``/services``), else None."""
    for entry in KINDS.values():
        if entry.path == path:
            return entry
    return None


def kind_for_id(render_id: str) -> RenderKind | None:
    """The kind whose ids look like ``render_id`` (by prefix), else None."""
    for entry in KINDS.values():
        if render_id.startswith(entry.id_prefixes):
            return entry
    return None
