"""What rcp templates accept, and how Blueprint spellings map to Render API spellings.

Sources: Render's Blueprint JSON schema and the create-request schemas of Render's OpenAPI spec
(``servicePOST``, ``postgresPOSTInput``, ``keyValuePOSTInput``), checked against what Render's
API answers to them.
"""

from __future__ import annotations

from rcp.core import models

# Blueprint service `type` → Render API serviceType.
SERVICE_RENDER_TYPES: dict[str, str] = {
    "web": "web_service",
    "pserv": "private_service",
    "worker": "background_worker",
    "cron": "cron_job",
}
# Key Value is a Blueprint "service" with its own API family; `redis` is the deprecated alias.
KEY_VALUE_BLUEPRINT_TYPES: tuple[str, ...] = ("keyvalue", "redis")
KEY_VALUE_RENDER_TYPE = "key_value"
POSTGRES_RENDER_TYPE = "postgres"

REGIONS: tuple[str, ...] = ("oregon", "ohio", "frankfurt", "singapore", "virginia")
DEFAULT_REGION = "oregon"

# Runtimes that build from source with buildCommand / startCommand.
NATIVE_RUNTIMES: tuple[str, ...] = ("elixir", "go", "node", "python", "ruby", "rust")
DOCKER_RUNTIME = "docker"
SUPPORTED_RUNTIMES: tuple[str, ...] = (DOCKER_RUNTIME, *NATIVE_RUNTIMES)
UNSUPPORTED_RUNTIMES: dict[str, str] = {
    "static": "static sites are not supported by rcp templates",
    # API creates of image services need a registry owner id rcp does not manage.
    "image": "prebuilt-image services are not supported by rcp templates",
}

# Plans in API spelling, per kind: what Render's OpenAPI spec accepts in the create request of
# that kind (``webServiceDetailsPOST.plan`` → ``plan``, ``*ServiceDetailsPOST.plan`` →
# ``paidPlan``, ``postgresPOSTInput.plan``, ``keyValuePOSTInput.plan``), minus what Render refuses
# even so (REFUSED_PLANS below). The spec's enums are not closed in practice (account-specific
# plans), but a name outside them would only fail after other resources were created, so it is an
# error here; names the price table does not know pass with a warning (``rcp template validate``).
WEB_SERVICE_PLANS: tuple[str, ...] = (
    "starter",
    "starter_plus",
    "standard",
    "standard_plus",
    "pro",
    "pro_plus",
    "pro_max",
    "pro_ultra",
    "custom",
    # Added to the spec's `plan` enum after our copy of it (Render's CLI and TypeScript SDK of
    # August 2026): instance types of accounts that keep their old prices.
    "starter_legacy",
    "standard_legacy",
    "standard_plus_legacy",
    "pro_legacy",
    "pro_plus_legacy",
)
# Private services, background workers and cron jobs: the spec's `paidPlan`.
PAID_SERVICE_PLANS: tuple[str, ...] = (
    "starter",
    "standard",
    "pro",
    "pro_plus",
    "pro_max",
    "pro_ultra",
)
DEFAULT_SERVICE_PLAN = "starter"
POSTGRES_PLANS: tuple[str, ...] = (
    "basic_256mb",
    "basic_1gb",
    "basic_4gb",
    *(f"pro_{size}gb" for size in (4, 8, 16, 32, 64, 128, 192, 256, 384, 512)),
    *(f"accelerated_{size}gb" for size in (16, 32, 64, 128, 256, 384, 512, 768, 1024)),
    "free",
    "custom",
)
# In the spec's Postgres enum, but Render refuses them for new databases ("Legacy Postgres plans,
# including 'starter', are no longer supported for new databases").
LEGACY_POSTGRES_PLANS: tuple[str, ...] = ("starter", "standard", "pro", "pro_plus")
# High availability exists only on the pro and accelerated Postgres plans.
POSTGRES_HA_PLAN_PREFIXES: tuple[str, ...] = ("pro_", "accelerated_")
# `free` included: Render creates free Key Value instances through the API (recorded calls
# POST /key-value and POST /redis with "plan": "free" answer 201).
KEY_VALUE_PLANS: tuple[str, ...] = ("starter", "standard", "pro", "pro_plus", "free", "custom")
FREE_PLAN = "free"
# What a free datastore means for a template every tenant is created from (Render's free plans:
# render.com/docs/free).
FREE_PLAN_WARNINGS: dict[str, str] = {
    "postgres": "a free Postgres database expires 30 days after it is created",
    "key_value": "Render allows one free Key Value instance per workspace and keeps its data in "
    "memory only: a second tenant from this template cannot get one",
}

# Render's API accepts "11" … "18"; the Blueprint schema also lists "10", which Render no longer
# creates.
POSTGRES_VERSIONS: tuple[str, ...] = tuple(str(major) for major in range(11, 19))
DEFAULT_POSTGRES_VERSION = "16"

MAXMEMORY_POLICIES: tuple[str, ...] = (
    "noeviction",
    "allkeys_lfu",
    "allkeys_lru",
    "allkeys_random",
    "volatile_lfu",
    "volatile_lru",
    "volatile_random",
    "volatile_ttl",
)

# Properties an env var may read from another resource.
DATABASE_PROPERTIES: tuple[str, ...] = (
    "connectionString",
    "host",
    "port",
    "user",
    "password",
    "database",
)
SERVICE_PROPERTIES: tuple[str, ...] = ("host", "port", "hostport")  # web and pserv only
KEY_VALUE_PROPERTIES: tuple[str, ...] = ("host", "port", "hostport", "connectionString")
# Blueprint service types whose instances listen on a port (so have a host and port).
SERVICE_TYPES_WITH_ADDRESS: tuple[str, ...] = ("web", "pserv")
# Blueprint `fromService.type` values (serviceType definition of the Blueprint schema).
BLUEPRINT_REFERENCE_TYPES: tuple[str, ...] = (
    "web",
    "cron",
    "worker",
    "pserv",
    "static",
    "dpg",
    "job",
    "redis",
    "keyvalue",
)

PLACEHOLDERS: tuple[str, ...] = ("tenant.slug", "tenant.name", "tenant.plugin_repo")

# ----- fields ---------------------------------------------------------------------------------

TOP_LEVEL_FIELDS: frozenset[str] = frozenset(
    {"services", "databases", "envVarGroups", "version", "isolation"}
)

# The ``isolation`` block (rcp's own, docs/templates.md): where a tenant's resources live.
# Field names are Render's API spelling of an environment (spec ``environmentPOSTInput``);
# ``ipAllowList`` entries are Blueprint's ``{source, description}`` as for datastores.
ISOLATION_FIELDS: frozenset[str] = frozenset({"project", "environment"})
ISOLATION_PROJECT_FIELDS: frozenset[str] = frozenset({"name", "perTenant"})
ISOLATION_ENVIRONMENT_FIELDS: frozenset[str] = frozenset(
    {"protectedStatus", "networkIsolationEnabled", "ipAllowList"}
)
PROTECTED_STATUSES: tuple[str, ...] = ("unprotected", "protected")  # spec ``protectedStatus``
# The record keys of the project and environment an isolation block adds (their Render names
# are ``<slug>-project`` and ``<slug>-environment``): no other resource may use them.
PROJECT_KEY = models.PROJECT_KEY
ENVIRONMENT_KEY = models.ENVIRONMENT_KEY
TOP_LEVEL_BLUEPRINT_ONLY: frozenset[str] = frozenset(
    {
        "previews",
        "previewsEnabled",
        "previewsExpireAfterDays",
        "projects",
        "ungrouped",
    }
)

_SERVICE_COMMON: frozenset[str] = frozenset(
    {
        "type",
        "name",
        "runtime",
        "repo",
        "branch",
        "rootDir",
        "plan",
        "region",
        "autoDeploy",
        "envVars",
        "buildCommand",
        "startCommand",
        "dockerCommand",
        "dockerContext",
        "dockerfilePath",
    }
)
NATIVE_ONLY_FIELDS: tuple[str, ...] = ("buildCommand", "startCommand")
DOCKER_ONLY_FIELDS: tuple[str, ...] = ("dockerCommand", "dockerContext", "dockerfilePath")

SERVICE_FIELDS: dict[str, frozenset[str]] = {
    "web": _SERVICE_COMMON | {"numInstances", "healthCheckPath", "preDeployCommand"},
    "pserv": _SERVICE_COMMON | {"numInstances", "preDeployCommand"},
    "worker": _SERVICE_COMMON | {"numInstances", "preDeployCommand"},
    "cron": _SERVICE_COMMON | {"schedule"},
}
ALL_SERVICE_FIELDS: frozenset[str] = frozenset(
    name for names in SERVICE_FIELDS.values() for name in names
)
KEY_VALUE_FIELDS: frozenset[str] = frozenset(
    {"type", "name", "plan", "region", "maxmemoryPolicy", "ipAllowList"}
)
DATABASE_FIELDS: frozenset[str] = frozenset(
    {
        "name",
        "plan",
        "postgresMajorVersion",
        "version",
        "databaseName",
        "user",
        "region",
        "diskSizeGB",
        "ipAllowList",
        "highAvailability",
        "storageAutoscalingEnabled",
    }
)
ENV_VAR_SOURCES: tuple[str, ...] = ("value", "generateValue", "fromDatabase", "fromService")
# A service's envVars entry that links an environment group instead of defining a variable.
FROM_GROUP = "fromGroup"
# Blueprint ``envVarGroup`` (name, envVars) plus rcp's ``shared``: one group for the whole fleet.
ENV_GROUP_FIELDS: frozenset[str] = frozenset({"name", "envVars", "shared"})
# A group's variables are plain values (Blueprint ``envVarFromKeyValue``): no references.
ENV_GROUP_VAR_SOURCES: tuple[str, ...] = ("value", "generateValue")
ENV_GROUP_RENDER_TYPE = "env_group"

# Valid Blueprint fields rcp does not support: named as such instead of "unknown field".
BLUEPRINT_ONLY_FIELDS: dict[str, frozenset[str]] = {
    "service": frozenset(
        {
            "image",
            "registryCredential",
            "scaling",
            "domain",
            "domains",
            "autoDeployTrigger",
            "initialDeployHook",
            "disk",
            "buildFilter",
            "previews",
            "pullRequestPreviewsEnabled",
            "previewPlan",
            "maxShutdownDelaySeconds",
            "ipAllowList",
            "renderSubdomainPolicy",
            "staticPublishPath",
            "headers",
            "routes",
        }
    ),
    "keyvalue": frozenset({"previewPlan"}),
    "database": frozenset({"previewPlan", "previewDiskSizeGB", "readReplicas"}),
    "envVar": frozenset({"sync", "previewValue"}),
}


def normalize_plan(plan: str) -> str:
    """Blueprint plan spelling → API spelling: ``basic-256mb`` → ``basic_256mb``,
    ``pro plus`` / ``pro-plus`` → ``pro_plus``."""
    return "_".join(plan.strip().lower().replace("-", " ").split())


def normalize_maxmemory_policy(policy: str) -> str:
    """``allkeys-lru`` (Blueprint) → ``allkeys_lru`` (API)."""
    return policy.strip().lower().replace("-", "_")


def blueprint_plan_spelling(api_plan: str) -> str:
    """API plan spelling → the Blueprint one, for messages: ``pro_plus`` → ``pro plus``,
    ``basic_256mb`` → ``basic-256mb``."""
    if api_plan.endswith(("mb", "gb")):
        return api_plan.replace("_", "-")
    return api_plan.replace("_", " ")
