"""Issue 12: no command breaks, or reads every record, because many tenants are on record.

70,000 tenants (above SQLite's 32,766 bound parameters and Postgres's 65,535) are bulk-seeded
straight through the store as copies of a real sandbox tenant, then every command that used to
build one parameter per tenant runs against the in-process sandbox. The copies are records whose
resources were never created (status PROVISIONING, no Render id): ``check --all`` reports them
without asking Render 140,000 times, while the tenants created in the test are checked on Render.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from rcp.core.models import Resource, TenantStatus
from tests.conftest import Cli

SEEDED = 70_000

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgres"])
def scale_cli(
    request: pytest.FixtureRequest,
    cli: Cli,
    sandbox_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Cli:
    monkeypatch.setenv("RENDER_API_KEY", "rnd_scale_test_key")
    monkeypatch.setenv("RCP_SANDBOX_RATE_LIMITS", "off")
    if request.param == "postgres":
        database_url = request.getfixturevalue("fresh_postgres_url")
        monkeypatch.setenv("RCP_DATABASE_URL", database_url)
        # The sandbox keeps its own records unless told where (RCP_SANDBOX_DATABASE_URL).
        monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", database_url)
    return cli


def _seed(model_slug: str) -> None:
    """70,000 copies of ``model_slug``'s record, never provisioned, in a few transactions."""
    from rcp.settings import GlobalOptions, load_settings
    from rcp.store import open_store
    from rcp.store.transfer import bulk_insert_tenants

    settings = load_settings(GlobalOptions(), read_credentials=False)
    with open_store(settings.database_url) as store:
        model = store.get_tenant(model_slug)
        assert model is not None

        def copies() -> object:
            for index in range(SEEDED):
                slug = f"seed-{index:05d}"
                yield dataclasses.replace(
                    model,
                    id=None,
                    name=f"Seeded {index}",
                    slug=slug,
                    status=TenantStatus.PROVISIONING,
                    resources=[
                        Resource(key=r.key, type=r.type, name=f"{slug}-{r.key}")
                        for r in model.resources
                    ],
                )

        assert bulk_insert_tenants(store, copies()) == SEEDED  # type: ignore[arg-type]


def test_every_command_works_with_seventy_thousand_tenants(
    scale_cli: Cli, tmp_path: Path
) -> None:
    cli = scale_cli
    model = cli("tenant", "create", "Model Tenant", "--slug", "model", "-o", "json")
    assert model.exit_code == 0, model.stderr
    _seed("model")
    total = SEEDED + 1

    listed = cli("tenant", "list", "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    rows = listed.json()["data"]
    assert len(rows) == total and rows[0]["slug"] == "model"
    assert rows[1]["resources"][0]["name"] == "seed-00000-db"

    created = cli("tenant", "create", "Late Comer", "--slug", "late", "-o", "json")
    assert created.exit_code == 0, created.stderr
    assert created.json()["data"]["status"] == "ACTIVE"
    clash = cli("tenant", "create", "Clash", "--slug", "seed-00042-x", "--template", "default")
    assert clash.exit_code == 0, clash.stderr  # seed-00042-x-web is free: no false conflict

    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "tenants:\n  - {name: Model Tenant, slug: model}\n  - {name: From Fleet, slug: fleet-new}\n",
        encoding="utf-8",
    )
    plan = cli("plan", str(fleet), "-o", "json")
    assert plan.exit_code == 0, plan.stderr
    document = plan.json()["data"]
    assert document["summary"] == {"create": 1, "update": 0, "delete": 0, "noop": 1}
    assert len(document["unmanaged"]) == total + 1  # every seed, late, seed-00042-x
    applied = cli("apply", str(fleet), "-o", "json")
    assert applied.exit_code == 0, applied.stderr
    assert [r["outcome"] for r in applied.json()["data"]["results"]] == ["noop", "created"] or {
        r["slug"]: r["exit_code"] for r in applied.json()["data"]["results"]
    } == {"model": 0, "fleet-new": 0}

    everyone = total + 3
    cost = cli("cost", "-o", "json")
    assert cost.exit_code == 0, cost.stderr
    assert len(cost.json()["data"]["tenants"]) == everyone

    status = cli("tenant", "status", "--all", "-o", "json")
    assert status.exit_code == 0, status.stderr
    assert len(status.json()["data"]) == everyone

    check = cli("tenant", "check", "--all", "-o", "json")
    assert check.exit_code == 5, check.stderr  # the seeds were never created
    report = check.json()["data"]
    by_slug = {t["slug"]: t for t in report["tenants"]}
    assert len(by_slug) == everyone
    for real in ("model", "late", "seed-00042-x", "fleet-new"):
        assert by_slug[real]["healthy"], json.dumps(by_slug[real])
    assert {p["problem"] for p in by_slug["seed-00007"]["problems"]} == {"not_created"}
