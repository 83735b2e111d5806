"""Declarative fleets (`rcp plan FILE` / `rcp apply FILE`): a YAML file lists the tenants that
should exist; the plan is their difference from the records, apply converges them in parallel.

- ``load_fleet(path, config_dir)`` → ``FleetFile`` (validated; UsageError otherwise)
- ``plan_fleet(fleet, store, prune=…)`` → ``FleetPlan`` (no Render call; reads the file's
  tenants and the slug list, not every record); ``compute_plan`` is its pure part
- ``FleetApplier(...).apply(plan)`` → ``ApplyReport`` (per-tenant results, exit code)
"""

from __future__ import annotations

from rcp.core.fleet.admission import CreateForecast
from rcp.core.fleet.apply import (
    ApplyReport,
    FleetApplier,
    Schedule,
    TenantResult,
    describe_moment,
    failure_summary,
    schedule,
)
from rcp.core.fleet.diff import (
    FleetPlan,
    TenantChange,
    compute_plan,
    diff_tenant,
    plan_fleet,
    price_plan,
)
from rcp.core.fleet.spec import ALL_SERVICES, DesiredTenant, FleetFile, load_fleet, parse_fleet

__all__ = [
    "ALL_SERVICES",
    "ApplyReport",
    "CreateForecast",
    "DesiredTenant",
    "FleetApplier",
    "FleetFile",
    "FleetPlan",
    "Schedule",
    "TenantChange",
    "TenantResult",
    "compute_plan",
    "describe_moment",
    "diff_tenant",
    "failure_summary",
    "load_fleet",
    "parse_fleet",
    "plan_fleet",
    "price_plan",
    "schedule",
]
