"""Tenant use cases: what each mutating `rcp tenant …` command (and each tenant of `rcp apply`)
does, above the provisioning engine.

Every mutating use case goes through one ``Operation`` (``operation.py``): the tenant lease,
the stop-flag + fencing guard, journalled steps, new records, and the engine on that lease.

Adding a mutating use case (redeploy, an env group change, a rollout wave, an HTTP endpoint…):

1. Write ``def my_use_case(operator: Operator, slug: str, …) -> Result`` in a module here.
2. ``with operator.operation(slug) as op:`` — everything below runs under the lease.
3. ``tenant = op.tenant()``; check preconditions (``refuse_deleting``, input against the
   record) and raise ``UsageError`` / ``ConflictError`` — nothing written, nothing audited.
4. ``op.proceed()`` once the preconditions passed (the CLI audits the command from here).
5. Each Render mutation: ``with op.step(tenant, resource, "verb"):`` (guard + journal +
   failpoints), or ``op.guard()`` right before the call when one step makes several calls.
   Creating, deleting and awaiting resources: ``op.engine`` (never build an ``Engine``).
   A new record: ``op.insert(op.new_record(...))``.
6. Export it below; the CLI calls it inside ``rcp.cli._common.operation(...)``, which hands
   it an ``Operator`` wired to the run (store, gateway, signals, audit, failpoints).

Modules: ``operation`` (Operator, Operation, secret masking), ``records`` (reading records and
the rules on them), ``lifecycle`` (create, delete, status --live), ``suspension``, ``env``,
``check`` (check / --repair), ``repair`` (recreate through the journal), ``adopt``,
``converge`` (one tenant of a fleet apply), ``accept`` (record now, work in the background: the
server), ``redeploy``; read-only: ``deploys`` (deploy history), ``logs``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rcp.core.tenants.accept import (
        accept_create,
        accept_delete,
        plan_of_record,
    )
    from rcp.core.tenants.adopt import (
        AdoptPlan,
        adopt_resources,
        parse_resource_args,
        plan_adopt,
    )
    from rcp.core.tenants.check import (
        CheckReport,
        Problem,
        TenantHealth,
        check_tenants,
        inspect_tenant,
    )
    from rcp.core.tenants.converge import (
        converge_tenant,
    )
    from rcp.core.tenants.deploys import (
        DeployHistory,
        ServiceDeploy,
        deploy_history,
        deploy_targets,
    )
    from rcp.core.tenants.env import (
        ALL_SERVICES,
        EnvChange,
        check_group_key,
        check_service_key,
        env_entries,
        parse_assignments,
        set_env,
        unset_env,
        validate_env_key,
    )
    from rcp.core.tenants.lifecycle import (
        CreatePlan,
        DoomedResource,
        create_tenant,
        delete_tenant,
        deletion_preview,
        live_status,
        plan_create,
    )
    from rcp.core.tenants.logs import (
        LogReader,
        LogTarget,
        TenantLogLine,
        log_targets,
    )
    from rcp.core.tenants.operation import (
        Operation,
        Operator,
        redacting,
        tenant_secrets,
    )
    from rcp.core.tenants.records import (
        get_tenant,
        iter_tenants,
        list_tenants,
        refuse_deleting,
    )
    from rcp.core.tenants.redeploy import (
        redeploy_failed,
        redeploy_targets,
        redeploy_tenant,
        start_deploy,
    )
    from rcp.core.tenants.suspension import (
        resume_tenant,
        suspend_tenant,
    )

# Public names → the module defining them, imported on first use: a read-only command that
# needs ``records`` does not load every use case (and the engine) at start-up.
_LAZY = {
    "accept_create": "accept",
    "accept_delete": "accept",
    "plan_of_record": "accept",
    "AdoptPlan": "adopt",
    "adopt_resources": "adopt",
    "parse_resource_args": "adopt",
    "plan_adopt": "adopt",
    "CheckReport": "check",
    "Problem": "check",
    "TenantHealth": "check",
    "check_tenants": "check",
    "inspect_tenant": "check",
    "converge_tenant": "converge",
    "DeployHistory": "deploys",
    "ServiceDeploy": "deploys",
    "deploy_history": "deploys",
    "deploy_targets": "deploys",
    "ALL_SERVICES": "env",
    "EnvChange": "env",
    "check_group_key": "env",
    "check_service_key": "env",
    "env_entries": "env",
    "parse_assignments": "env",
    "set_env": "env",
    "unset_env": "env",
    "validate_env_key": "env",
    "CreatePlan": "lifecycle",
    "DoomedResource": "lifecycle",
    "deletion_preview": "lifecycle",
    "create_tenant": "lifecycle",
    "delete_tenant": "lifecycle",
    "live_status": "lifecycle",
    "plan_create": "lifecycle",
    "LogReader": "logs",
    "LogTarget": "logs",
    "TenantLogLine": "logs",
    "log_targets": "logs",
    "Operation": "operation",
    "Operator": "operation",
    "redacting": "operation",
    "tenant_secrets": "operation",
    "get_tenant": "records",
    "iter_tenants": "records",
    "list_tenants": "records",
    "refuse_deleting": "records",
    "redeploy_failed": "redeploy",
    "redeploy_targets": "redeploy",
    "redeploy_tenant": "redeploy",
    "start_deploy": "redeploy",
    "resume_tenant": "suspension",
    "suspend_tenant": "suspension",
}


__all__ = [
    "ALL_SERVICES",
    "AdoptPlan",
    "CheckReport",
    "CreatePlan",
    "DeployHistory",
    "DoomedResource",
    "EnvChange",
    "LogReader",
    "LogTarget",
    "Operation",
    "Operator",
    "Problem",
    "ServiceDeploy",
    "TenantHealth",
    "TenantLogLine",
    "accept_create",
    "accept_delete",
    "adopt_resources",
    "check_group_key",
    "check_service_key",
    "check_tenants",
    "converge_tenant",
    "create_tenant",
    "delete_tenant",
    "deletion_preview",
    "deploy_history",
    "deploy_targets",
    "env_entries",
    "get_tenant",
    "inspect_tenant",
    "iter_tenants",
    "list_tenants",
    "live_status",
    "log_targets",
    "parse_assignments",
    "parse_resource_args",
    "plan_adopt",
    "plan_create",
    "plan_of_record",
    "redacting",
    "redeploy_failed",
    "redeploy_targets",
    "redeploy_tenant",
    "refuse_deleting",
    "resume_tenant",
    "set_env",
    "start_deploy",
    "suspend_tenant",
    "tenant_secrets",
    "unset_env",
    "validate_env_key",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rcp.core.tenants' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"rcp.core.tenants.{module}"), name)
    globals()[name] = value
    return value
