"""What rcp templates accept, and how Blueprint spellings map to Render API spellings.

Sources: Render's Blueprint JSON schema and the create-request schemas of Render's OpenAPI spec
(``servicePOST``, ``postgresPOSTInput``, ``keyValuePOSTInput``), checked against what Render's
API answers to them.
"""

from __future__ import annotations

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

# Plans in API spelling. `free` is refused by Render for API creates (docs/templates.md), `custom`
# cannot be chosen, legacy Postgres plans (starter, standard, …) cannot be created any more.
WEB_SERVICE_PLANS: tuple[str, ...] = (
    "starter",
    "starter_plus",
    "standard",
    "standard_plus",
    "pro",
    "pro_plus",
    "pro_max",
    "pro_ultra",
)
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
)
# High availability exists only on the pro and accelerated Postgres plans.
POSTGRES_HA_PLAN_PREFIXES: tuple[str, ...] = ("pro_", "accelerated_")
KEY_VALUE_PLANS: tuple[str, ...] = ("starter", "standard", "pro", "pro_plus")
FREE_PLAN = "free"

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

TOP_LEVEL_FIELDS: frozenset[str] = frozenset({"services", "databases", "version"})
TOP_LEVEL_BLUEPRINT_ONLY: frozenset[str] = frozenset(
    {
        "envVarGroups",
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
    "envVar": frozenset({"sync", "previewValue", "fromGroup"}),
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
