"""`rcp cost`: plans × the packaged (or overridden) price table; unknown is never zero."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from admin_helpers import create_tenant, seed_tenant

from tests.conftest import Cli

REPO = "https://github.com/render-examples/express-hello-world"
MIXED_TEMPLATE = f"""
services:
  - type: web
    name: web
    runtime: node
    repo: {REPO}
    buildCommand: npm install
    startCommand: npm start
    plan: starter plus
    numInstances: 3
  - type: worker
    name: jobs
    runtime: node
    repo: {REPO}
    buildCommand: npm install
    startCommand: node worker.js
    plan: standard
    numInstances: 2
  - type: cron
    name: nightly
    runtime: node
    repo: {REPO}
    buildCommand: npm install
    startCommand: node nightly.js
    schedule: "0 3 * * *"
    plan: starter
  - type: keyvalue
    name: cache
    plan: starter
    ipAllowList: []
databases:
  - name: db
    plan: pro-4gb
    diskSizeGB: 10
"""


def write_template(config_dir: Path, name: str, text: str) -> None:
    (config_dir / "templates").mkdir(parents=True, exist_ok=True)
    (config_dir / "templates" / f"{name}.yaml").write_text(text)


@pytest.mark.usefixtures("sandbox_env")
def test_cost_of_created_tenants(cli: Cli, database_url: str) -> None:
    create_tenant(cli, "acme")
    create_tenant(cli, "Beta Co")

    result = cli("-o", "json", "cost", "--all")
    assert result.exit_code == 0, result.stderr
    default_resources = [
        {"key": "db", "type": "postgres", "plan": "basic_256mb", "monthly_usd": 6.0},
        {
            "key": "web",
            "type": "web_service",
            "plan": "starter",
            "monthly_usd": 7.0,
            "instances": 1,
        },
    ]
    assert result.json()["data"] == {
        "currency": "USD",
        "prices_as_of": "2026-10-01",
        "price_sources": ["builtin"],
        "tenants": [
            {
                "slug": slug,
                "status": "ACTIVE",
                "monthly_usd": 13.0,
                "known_monthly_usd": 13.0,
                "resources": default_resources,
            }
            for slug in ("acme", "beta-co")
        ],
        "total_monthly_usd": 26.0,
        "known_total_monthly_usd": 26.0,
        "unknown_plans": [],
    }

    one = cli("-o", "json", "cost", "acme")
    assert one.exit_code == 0
    assert [t["slug"] for t in one.json()["data"]["tenants"]] == ["acme"]
    assert one.json()["data"]["total_monthly_usd"] == 13.0

    # No argument means every tenant, like --all.
    assert cli("-o", "json", "cost").json() == result.json()

    human = cli("cost")
    assert human.exit_code == 0
    assert "$13.00" in human.stdout and "$26.00" in human.stdout
    assert "2026-10-01" in human.stdout


def test_unknown_plans_are_null_and_listed(cli: Cli, sqlite_url: str, isolated_env: Path) -> None:
    config_dir = isolated_env / "config"
    write_template(config_dir, "mixed", MIXED_TEMPLATE)
    seed_tenant(sqlite_url, "acme", config_dir=config_dir)
    seed_tenant(sqlite_url, "mixed-co", config_dir=config_dir, template="mixed")

    result = cli("-o", "json", "cost")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    mixed = data["tenants"][1]
    assert mixed["slug"] == "mixed-co"
    assert {r["key"]: r["monthly_usd"] for r in mixed["resources"]} == {
        "db": 58.0,  # pro_4gb 55 + 10 GB × 0.30
        "cache": 10.0,
        "web": None,  # starter_plus: no public price
        "jobs": 50.0,  # standard 25 × 2 instances
        "nightly": None,  # cron jobs are billed per run second
    }
    by_key = {r["key"]: r for r in mixed["resources"]}
    assert by_key["web"]["plan"] == "starter_plus" and by_key["web"]["instances"] == 3
    assert by_key["db"]["disk_size_gb"] == 10
    # A total with an unknown part is unknown, with the known part as a lower bound.
    assert mixed["monthly_usd"] is None
    assert mixed["known_monthly_usd"] == 118.0
    assert data["total_monthly_usd"] is None
    assert data["known_total_monthly_usd"] == 131.0
    assert data["unknown_plans"] == [
        {"slug": "mixed-co", "key": "web", "type": "web_service", "plan": "starter_plus"},
        {"slug": "mixed-co", "key": "nightly", "type": "cron_job", "plan": "starter"},
    ]

    human = cli("cost")
    assert "unknown" in human.stdout
    assert "mixed-co/web" in human.stdout


def test_price_override_file(cli: Cli, sqlite_url: str, isolated_env: Path) -> None:
    config_dir = isolated_env / "config"
    write_template(config_dir, "mixed", MIXED_TEMPLATE)
    seed_tenant(sqlite_url, "mixed-co", config_dir=config_dir, template="mixed")
    override = config_dir / "prices.toml"
    override.write_text(
        "prices_as_of = 2027-01-15\n[services]\nstarter_plus = 12.5\nstandard = 30\n"
        "[cron_jobs]\nstarter = 1\n[postgres_storage]\nper_gb_month = 0.5\n"
    )
    result = cli("-o", "json", "cost", "mixed-co")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["prices_as_of"] == "2027-01-15"
    assert data["price_sources"] == ["builtin", str(override)]
    assert {r["key"]: r["monthly_usd"] for r in data["tenants"][0]["resources"]} == {
        "db": 60.0,  # 55 + 10 × 0.5
        "cache": 10.0,  # not overridden: the packaged price stays
        "web": 37.5,  # 12.5 × 3
        "jobs": 60.0,
        "nightly": 1.0,
    }
    assert data["total_monthly_usd"] == 168.5
    assert data["unknown_plans"] == []


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("[services\n", "malformed"),
        ("[services]\nstarter = -1\n", "services.starter"),
        ("[services]\nstarter = 'cheap'\n", "services.starter"),
        ("[gpus]\nbig = 1\n", "unknown section [gpus]"),
        ("currency = 'EUR'\n", "currency must be USD"),
        ("prices_as_of = 'soon'\n", "prices_as_of"),
    ],
)
def test_bad_override_is_a_configuration_error(
    cli: Cli, sqlite_url: str, isolated_env: Path, content: str, complaint: str
) -> None:
    config_dir = isolated_env / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "prices.toml").write_text(content)
    result = cli("-o", "json", "cost")
    assert result.exit_code == 6
    error = result.json()["error"]
    assert error["code"] == "config_error"
    assert complaint in error["message"] and "prices.toml" in error["message"]


def test_cost_usage_and_missing_tenant(cli: Cli, sqlite_url: str, isolated_env: Path) -> None:
    seed_tenant(sqlite_url, "acme", config_dir=isolated_env / "config")
    both = cli("-o", "json", "cost", "acme", "--all")
    assert both.exit_code == 2 and both.json()["error"]["code"] == "usage_error"
    bad = cli("-o", "json", "cost", "Not A Slug")
    assert bad.exit_code == 2
    missing = cli("-o", "json", "cost", "nobody")
    assert missing.exit_code == 3 and missing.json()["error"]["code"] == "tenant_not_found"


def test_empty_fleet_costs_nothing(cli: Cli, sqlite_url: str) -> None:
    result = cli("-o", "json", "cost")
    assert result.exit_code == 0
    data = result.json()["data"]
    assert data["tenants"] == [] and data["total_monthly_usd"] == 0.0


def test_packaged_table_matches_the_research_notes(tmp_path: Path) -> None:
    """The shipped prices are the §11 figures of research/render-api.md (spot checks)."""
    from tests.conftest import shared_dir

    notes = (shared_dir() / "research" / "render-api.md").read_text()
    from rcp.core.cost import load_price_table

    table = load_price_table(tmp_path / "empty-config-dir")
    for section, plan, row_start in (
        ("services", "starter", "| `starter` | 0.5 | 512 MB | **7**"),
        ("services", "pro_ultra", "| `pro_ultra` | 8 | 32 GB | **450**"),
        ("postgres", "basic_256mb", "| `basic_256mb` | 0.1 | 256 MB | **6**"),
        ("postgres", "basic_1gb", "| `basic_1gb` | 0.5 | 1 GB | **19**"),
        ("key_value", "standard", "| `standard` | 1 GB | **32**"),
    ):
        assert row_start in notes, row_start
        price = row_start.rsplit("**", 2)[-2]
        assert table.plans[section][plan] == int(price)
    assert "Storage **$0.30 per GB-month**" in notes
    assert table.postgres_storage_per_gb == Decimal("0.30")
