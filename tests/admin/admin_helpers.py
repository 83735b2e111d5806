"""Helpers for the operator-command tests: seed records without Render, create for real."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import Cli

_ID_PREFIX = {"postgres": "dpg", "key_value": "red", "cron_job": "crn"}


def seed_tenant(
    url: str,
    name: str,
    *,
    config_dir: Path,
    template: str | None = None,
    env_overrides: dict[str, dict[str, str]] | None = None,
) -> str:
    """Record a tenant straight in the database (no Render): what cost, audit and backup read.

    The template is rendered exactly as `rcp tenant create` renders it.
    """
    from rcp.core.models import LockHolder, Resource, Tenant, TenantStatus
    from rcp.core.tenants import plan_create
    from rcp.store import open_store

    plan = plan_create(
        name=name, slug=None, template=template, plugin_repo=None, config_dir=config_dir
    )
    store = open_store(url)
    try:
        holder = LockHolder(actor="seed", host="test", pid=os.getpid(), command="seed")
        lease = store.acquire_lock(plan.slug, holder)
        resources = [
            Resource(
                key=spec["key"],
                type=spec["render_type"],
                name=spec["name"],
                # Each kind's own id prefix: backup import checks it as adopt does.
                render_id=f"{_ID_PREFIX.get(spec['render_type'], 'srv')}-seed{index}{plan.slug}",
                state="live",
            )
            for index, spec in enumerate(plan.rendered["resources"])
        ]
        store.insert_tenant(
            Tenant(
                name=plan.name,
                slug=plan.slug,
                status=TenantStatus.ACTIVE,
                template=plan.template_name,
                rendered_template=plan.rendered,
                resources=resources,
                env_overrides=env_overrides or {},
            ),
            lease=lease,
        )
        store.journal(plan.slug, lease=lease, step="create", resource_key="web", status="done")
        store.release_lock(lease)
    finally:
        store.close()
    return plan.slug


def set_env_overrides(url: str, slug: str, overrides: dict[str, dict[str, str]]) -> None:
    from rcp.core.models import LockHolder
    from rcp.store import open_store

    store = open_store(url)
    try:
        lease = store.acquire_lock(
            slug, LockHolder(actor="seed", host="test", pid=os.getpid(), command="seed")
        )
        store.update_tenant(slug, lease=lease, env_overrides=overrides)
        store.release_lock(lease)
    finally:
        store.close()


def create_tenant(cli: Cli, name: str, *args: str) -> dict[str, Any]:
    """`rcp tenant create` for real, against the sandbox."""
    result = cli("-o", "json", "tenant", "create", name, *args)
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = result.json()["data"]
    return data


@dataclass
class ServedSandbox:
    url: str
    app: Any

    def fail(self, rules: list[dict[str, Any]]) -> None:
        from rcp.sandbox.faults import parse_rules

        self.app.add_faults(parse_rules(rules))
