"""The plan: only real differences between the file and the records (no Render involved)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rcp.core.fleet import DesiredTenant, FleetFile, compute_plan, diff_tenant, parse_fleet
from rcp.core.models import RenderedTemplate, Resource, ResourceKind, Tenant, TenantStatus

TEMPLATE = """
services:
  - type: web
    name: web
    runtime: node
    repo: https://github.com/acme/app
    buildCommand: npm ci
    startCommand: npm start
    plan: {plan}
    region: {region}
    envVars:
      - key: DATABASE_URL
        fromDatabase: {{name: db, property: connectionString}}
      - key: MODE
        value: {mode}
{extra}
databases:
  - name: db
    plan: basic-256mb
    postgresMajorVersion: "16"
"""

WORKER = """
  - type: worker
    name: jobs
    runtime: node
    repo: https://github.com/acme/app
    buildCommand: npm ci
    startCommand: npm run jobs
    plan: starter
"""


def desired(
    tmp_path: Path,
    *,
    plan: str = "starter",
    region: str = "oregon",
    mode: str = "prod",
    extra: str = "",
    env: str = "",
    name: str = "Acme",
) -> DesiredTenant:
    (tmp_path / "app.yaml").write_text(
        TEMPLATE.format(plan=plan, region=region, mode=mode, extra=extra)
    )
    text = f"tenants:\n  - name: {name}\n    slug: acme\n    template: app.yaml\n{env}"
    fleet = parse_fleet(text, tmp_path / "fleet.yaml", tmp_path / "config")
    return fleet.tenants[0]


def recorded_from(tenant: DesiredTenant, status: TenantStatus = TenantStatus.ACTIVE) -> Tenant:
    """The record a successful apply of ``tenant`` leaves behind."""
    template = RenderedTemplate.from_dict(tenant.rendered)
    prefixes = {ResourceKind.SERVICE: "srv-", ResourceKind.POSTGRES: "dpg-"}
    return Tenant(
        name=tenant.name,
        slug=tenant.slug,
        status=status,
        template=tenant.template_name,
        rendered_template=json.loads(json.dumps(tenant.rendered)),
        custom_plugin_repo=tenant.plugin_repo,
        env_overrides={k: dict(v) for k, v in tenant.env_overrides.items()},
        fleet_managed=True,
        resources=[
            Resource(
                key=spec.key,
                type=spec.render_type,
                name=spec.name,
                render_id=prefixes[spec.kind] + spec.key,
                state="live" if spec.kind is ResourceKind.SERVICE else "available",
            )
            for spec in template.resources
        ],
    )


def test_an_unknown_slug_is_a_create_of_every_resource(tmp_path: Path) -> None:
    change = diff_tenant(desired(tmp_path, env="    env: {SECRET: hunter2}\n"), None)
    assert change.action == "create"
    assert change.creates == [("db", ResourceKind.POSTGRES), ("web", ResourceKind.SERVICE)]
    assert change.details == [
        {"change": "create_resource", "resource": "db", "type": "postgres", "plan": "basic_256mb"},
        {"change": "create_resource", "resource": "web", "type": "web_service", "plan": "starter"},
        {"change": "env", "set": ["SECRET"]},
    ]
    assert "hunter2" not in json.dumps(change.to_json())


def test_the_record_of_the_same_definition_is_a_noop(tmp_path: Path) -> None:
    wanted = desired(tmp_path, env="    env: {A: b, web: {C: d}}\n")
    change = diff_tenant(wanted, recorded_from(wanted))
    assert change.action == "noop" and change.details == [] and not change.record_changed


def test_a_plan_change_is_an_in_place_patch(tmp_path: Path) -> None:
    before = desired(tmp_path)
    change = diff_tenant(desired(tmp_path, plan="standard"), recorded_from(before))
    assert change.action == "update"
    (update,) = change.resource_updates
    assert update.key == "web" and update.kind is ResourceKind.SERVICE
    assert update.patch == {"serviceDetails": {"plan": "standard"}}
    assert update.unsupported == []
    assert change.details == [
        {
            "change": "update_resource",
            "resource": "web",
            "fields": {"serviceDetails.plan": {"from": "starter", "to": "standard"}},
        }
    ]
    assert change.creates == [] and change.env_updates == []


def test_a_region_change_cannot_happen_in_place(tmp_path: Path) -> None:
    before = desired(tmp_path)
    change = diff_tenant(desired(tmp_path, region="frankfurt"), recorded_from(before))
    assert change.action == "update"
    assert change.unsupported == ["web.serviceDetails.region"]
    assert change.details[0]["unsupported"] == ["serviceDetails.region"]


def test_env_changes_list_keys_never_values(tmp_path: Path) -> None:
    before = desired(tmp_path, env="    env: {OLD: x, KEEP: same, web: {TOKEN: t1}}\n")
    after = desired(
        tmp_path, mode="staging", env="    env: {KEEP: same, NEW: y, web: {TOKEN: t2}}\n"
    )
    change = diff_tenant(after, recorded_from(before))
    assert change.action == "update"
    (env,) = change.env_updates
    assert env.key == "web"
    assert env.set == {"MODE": "staging", "NEW": "y", "TOKEN": "t2"}
    assert env.unset == ["OLD"]
    assert env.resolve == []
    assert change.details == [
        {"change": "env", "resource": "web", "set": ["MODE", "NEW", "TOKEN"], "unset": ["OLD"]}
    ]
    text = json.dumps(change.to_json())
    assert "staging" not in text and "t2" not in text and "same" not in text


def test_removing_an_override_of_a_template_reference_restores_the_reference(
    tmp_path: Path,
) -> None:
    before = desired(tmp_path, env="    env: {DATABASE_URL: postgres://elsewhere}\n")
    change = diff_tenant(desired(tmp_path), recorded_from(before))
    (env,) = change.env_updates
    assert [var.key for var in env.resolve] == ["DATABASE_URL"]
    assert env.set == {} and env.unset == []
    assert change.details == [
        {"change": "env", "resource": "web", "from_template": ["DATABASE_URL"]}
    ]


def test_a_new_template_resource_is_created_and_a_dropped_one_deleted(tmp_path: Path) -> None:
    with_worker = desired(tmp_path, extra=WORKER)
    without = desired(tmp_path)
    grown = diff_tenant(with_worker, recorded_from(without))
    assert grown.action == "update"
    assert grown.creates == [("jobs", ResourceKind.SERVICE)]
    assert {
        "change": "create_resource",
        "resource": "jobs",
        "type": "background_worker",
        "plan": "starter",
    } in grown.details
    shrunk = diff_tenant(without, recorded_from(with_worker))
    assert shrunk.removed_resources == ["jobs"]
    assert {
        "change": "delete_resource",
        "resource": "jobs",
        "type": "background_worker",
        "render_id": "srv-jobs",
    } in shrunk.details


def test_record_fields_are_differences(tmp_path: Path) -> None:
    before = desired(tmp_path)
    change = diff_tenant(desired(tmp_path, name="Acme Inc"), recorded_from(before))
    assert change.action == "update"
    assert change.record_changed
    assert {"change": "name", "from": "Acme", "to": "Acme Inc"} in change.details


def test_a_change_of_the_record_alone_is_an_update_without_render_calls(tmp_path: Path) -> None:
    before = desired(tmp_path, env="    env: {A: b}\n")
    change = diff_tenant(desired(tmp_path, env="    env: {web: {A: b}}\n"), recorded_from(before))
    assert change.action == "update"
    assert change.details == [{"change": "record", "reason": "stored definition only"}]
    assert not (change.env_updates or change.resource_updates or change.creates)


@pytest.mark.parametrize("status", [TenantStatus.PROVISIONING, TenantStatus.ERROR])
def test_an_unfinished_tenant_is_resumed(tmp_path: Path, status: TenantStatus) -> None:
    wanted = desired(tmp_path)
    record = recorded_from(wanted, status)
    web = record.resource("web")
    assert web is not None
    web.render_id, web.state = None, "pending"
    change = diff_tenant(wanted, record)
    assert change.action == "update" and change.resume
    assert change.creates == [("web", ResourceKind.SERVICE)]
    assert change.details == [
        {"change": "resume", "status": str(status), "missing": ["web"], "not_ready": []}
    ]


def test_a_tenant_being_deleted_is_blocked(tmp_path: Path) -> None:
    wanted = desired(tmp_path)
    change = diff_tenant(wanted, recorded_from(wanted, TenantStatus.DELETING))
    assert (
        change.action == "update" and change.blocked and "rcp tenant delete acme" in change.blocked
    )


def test_prune_deletes_strays_and_otherwise_reports_them(tmp_path: Path) -> None:
    wanted = desired(tmp_path)
    stray = recorded_from(wanted)
    stray.slug = "old-customer"
    fleet = FleetFile(path=tmp_path / "fleet.yaml", tenants=[wanted])
    kept = compute_plan(fleet, [stray, recorded_from(wanted)], prune=False)
    assert kept.summary() == {"create": 0, "update": 0, "delete": 0, "noop": 1}
    assert kept.unmanaged == ["old-customer"]
    assert kept.pending == []
    pruned = compute_plan(fleet, [stray, recorded_from(wanted)], prune=True)
    assert pruned.summary() == {"create": 0, "update": 0, "delete": 1, "noop": 1}
    assert pruned.to_json()["changes"][1] == {
        "slug": "old-customer",
        "action": "delete",
        "details": [
            {
                "change": "delete_resource",
                "resource": "db",
                "type": "postgres",
                "render_id": "dpg-db",
            },
            {
                "change": "delete_resource",
                "resource": "web",
                "type": "web_service",
                "render_id": "srv-web",
            },
        ],
        "revision": {"from": None, "to": None},  # the record has none; a delete has no target
    }
