"""Enumerations and constants taken from Render's public OpenAPI spec."""

from __future__ import annotations

SERVICE_TYPES = ("static_site", "web_service", "private_service", "background_worker", "cron_job")
RUNTIMES = ("docker", "elixir", "go", "node", "python", "ruby", "rust", "image")
NATIVE_RUNTIMES = ("elixir", "go", "node", "python", "ruby", "rust")
REGIONS = ("frankfurt", "oregon", "ohio", "singapore", "virginia")
WEB_PLANS = (
    "starter",
    "starter_plus",
    "standard",
    "standard_plus",
    "pro",
    "pro_plus",
    "pro_max",
    "pro_ultra",
    "free",
    "custom",
    # Added to the `plan` enum after this spec copy (Render's CLI and TypeScript SDK, August 2026).
    "starter_legacy",
    "standard_legacy",
    "standard_plus_legacy",
    "pro_legacy",
    "pro_plus_legacy",
)
PAID_PLANS = ("starter", "standard", "pro", "pro_plus", "pro_max", "pro_ultra")
POSTGRES_PLANS = (
    "free",
    "starter",
    "standard",
    "pro",
    "pro_plus",
    "custom",
    "basic_256mb",
    "basic_1gb",
    "basic_4gb",
    "pro_4gb",
    "pro_8gb",
    "pro_16gb",
    "pro_32gb",
    "pro_64gb",
    "pro_128gb",
    "pro_192gb",
    "pro_256gb",
    "pro_384gb",
    "pro_512gb",
    "accelerated_16gb",
    "accelerated_32gb",
    "accelerated_64gb",
    "accelerated_128gb",
    "accelerated_256gb",
    "accelerated_384gb",
    "accelerated_512gb",
    "accelerated_768gb",
    "accelerated_1024gb",
)
POSTGRES_VERSIONS = ("11", "12", "13", "14", "15", "16", "17", "18")
KEY_VALUE_PLANS = ("free", "starter", "standard", "pro", "pro_plus", "custom")
MAXMEMORY_POLICIES = (
    "noeviction",
    "allkeys_lfu",
    "allkeys_lru",
    "allkeys_random",
    "volatile_lfu",
    "volatile_lru",
    "volatile_random",
    "volatile_ttl",
)
PERSISTENCE_MODES = ("journal_snapshot", "snapshot", "off")
DEPLOY_STATUSES = (
    "created",
    "queued",
    "build_in_progress",
    "update_in_progress",
    "live",
    "deactivated",
    "build_failed",
    "update_failed",
    "canceled",
    "pre_deploy_in_progress",
    "pre_deploy_failed",
)
SUSPENDED_VALUES = ("suspended", "not_suspended")
KEY_VALUE_VERSION = "8.1.4"
DASHBOARD = "https://dashboard.render.com"
FREE_PLAN_MESSAGE = (
    "services on the free instance type cannot be created through the API; choose a paid plan"
)
