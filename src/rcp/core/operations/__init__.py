"""Day-2 tenant operations above the provisioning engine: suspend/resume, env overrides,
drift and health checks (with repair), and adopting existing Render resources.

Each operation takes the tenant lock, re-reads the record under it, calls ``on_locked`` once
its preconditions passed (the CLI marks the command audited there), and before every Render
mutation checks the stop flag and the lease (``Guard``). Values of env vars never reach the
journal, progress events or error messages.
"""

from __future__ import annotations

from rcp.core.operations.adopt import AdoptPlan, adopt_resources, parse_resource_args, plan_adopt
from rcp.core.operations.check import (
    CheckReport,
    Problem,
    TenantHealth,
    check_tenants,
    inspect_tenant,
)
from rcp.core.operations.common import Guard, Operator
from rcp.core.operations.env import (
    ALL_SERVICES,
    EnvChange,
    env_entries,
    parse_assignments,
    set_env,
    unset_env,
    validate_env_key,
)
from rcp.core.operations.suspension import resume_tenant, suspend_tenant

__all__ = [
    "ALL_SERVICES",
    "AdoptPlan",
    "CheckReport",
    "EnvChange",
    "Guard",
    "Operator",
    "Problem",
    "TenantHealth",
    "adopt_resources",
    "check_tenants",
    "env_entries",
    "inspect_tenant",
    "parse_assignments",
    "parse_resource_args",
    "plan_adopt",
    "resume_tenant",
    "set_env",
    "suspend_tenant",
    "unset_env",
    "validate_env_key",
]
