"""Plans (issue 10 item 5): every plan name Render's spec accepts in a create request passes
``rcp template validate`` — with a warning when the price table does not price it — and what
Render refuses stays refused (exit 2, one line). Through the real CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rcp.core.templates import vocabulary as vocab
from tests.conftest import Cli

BUILD = "runtime: node, repo: 'https://github.com/a/b', buildCommand: a, startCommand: b"
SERVICE_SCHEMAS = {
    "web": "webServiceDetailsPOST",
    "pserv": "privateServiceDetailsPOST",
    "worker": "backgroundWorkerDetailsPOST",
    "cron": "cronJobDetailsPOST",
}
# Added to the spec's `plan` enum after the spec copy the tests read (Render's CLI and TypeScript
# SDK of August 2026); web services take that enum.
LEGACY_WEB_PLANS = (
    "starter_legacy",
    "standard_legacy",
    "standard_plus_legacy",
    "pro_legacy",
    "pro_plus_legacy",
)
# In the spec's Postgres enum, but Render refuses them for new databases.
LEGACY_POSTGRES = ("starter", "standard", "pro", "pro_plus")


def enum_of(spec: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """The enum of a schema, following ``$ref`` (``#/components/schemas/a/properties/b``)."""
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    values: list[str] = schema["enum"]
    return values


def spec_plans(spec: dict[str, Any], kind: str) -> list[str]:
    schemas = spec["components"]["schemas"]
    if kind in SERVICE_SCHEMAS:
        return enum_of(spec, schemas[SERVICE_SCHEMAS[kind]]["properties"]["plan"])
    name = {"postgres": "postgresPOSTInput", "keyvalue": "keyValuePOSTInput"}[kind]
    return enum_of(spec, schemas[name]["properties"]["plan"])


def resource(kind: str, plan: str) -> str:
    if kind == "postgres":
        return f"databases:\n  - {{name: db, plan: '{plan}'}}\n"
    if kind == "keyvalue":
        return f"services:\n  - {{type: keyvalue, name: kv, plan: '{plan}', ipAllowList: []}}\n"
    extra = ", schedule: '0 3 * * *'" if kind == "cron" else ""
    return f"services:\n  - {{type: {kind}, name: app, {BUILD}, plan: '{plan}'{extra}}}\n"


def validate(cli: Cli, tmp_path: Path, text: str) -> Any:
    path = tmp_path / "plans.yaml"
    path.write_text(text)
    return cli("-o", "json", "template", "validate", str(path))


def accepted_cases(spec: dict[str, Any]) -> list[tuple[str, str]]:
    cases = []
    for kind in ("web", "pserv", "worker", "cron", "postgres", "keyvalue"):
        for plan in spec_plans(spec, kind):
            refused = (plan == "free" and kind in SERVICE_SCHEMAS) or (
                kind == "postgres" and plan in LEGACY_POSTGRES
            )
            if not refused:
                cases.append((kind, plan))
    cases += [("web", plan) for plan in LEGACY_WEB_PLANS]
    return cases


def test_every_plan_render_accepts_passes_validate(
    cli: Cli, tmp_path: Path, openapi_spec: dict[str, Any]
) -> None:
    cases = accepted_cases(openapi_spec)
    # custom, Key Value free and Postgres free are among them.
    assert {("web", "custom"), ("keyvalue", "free"), ("keyvalue", "custom")} <= set(cases)
    assert {("postgres", "free"), ("postgres", "custom")} <= set(cases)
    assert len(cases) >= 60
    # One template holding a resource per (kind, plan), in API and in Blueprint spelling.
    for spell in (str, vocab.blueprint_plan_spelling):
        services, databases, expected = [], [], {}
        for index, (kind, plan) in enumerate(cases):
            key = f"r{index}"
            expected[key] = plan
            entry = (
                resource(kind, spell(plan)).splitlines()[1].replace("name: db,", f"name: {key},")
            )
            entry = entry.replace("name: kv,", f"name: {key},").replace(
                "name: app,", f"name: {key},"
            )
            (databases if kind == "postgres" else services).append(entry)
        text = "services:\n" + "\n".join(services) + "\ndatabases:\n" + "\n".join(databases) + "\n"
        result = validate(cli, tmp_path, text)
        assert result.exit_code == 0, result.stdout
        data = result.json()["data"]
        assert data["valid"] is True
        assert {r["key"]: r["plan"] for r in data["resources"]} == expected


def test_the_plan_lists_are_the_specs(openapi_spec: dict[str, Any]) -> None:
    """rcp's lists are exactly what the spec accepts minus what Render refuses: nothing the spec
    accepts is missing, and nothing the spec does not know is invented."""
    expected = {
        kind: {p for k, p in accepted_cases(openapi_spec) if k == kind} for kind in SERVICE_SCHEMAS
    }
    assert set(vocab.WEB_SERVICE_PLANS) == expected["web"]
    for kind in ("pserv", "worker", "cron"):
        assert set(vocab.PAID_SERVICE_PLANS) == expected[kind]
    spec_postgres = set(spec_plans(openapi_spec, "postgres"))
    assert set(vocab.POSTGRES_PLANS) == spec_postgres - set(LEGACY_POSTGRES)
    assert set(vocab.LEGACY_POSTGRES_PLANS) == set(LEGACY_POSTGRES)
    assert set(vocab.KEY_VALUE_PLANS) == set(spec_plans(openapi_spec, "keyvalue"))


@pytest.mark.parametrize("kind", ["web", "pserv", "worker", "cron"])
def test_free_services_stay_refused(cli: Cli, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "free.yaml"
    path.write_text(resource(kind, "free"))
    result = cli("template", "validate", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "Error: template 'free': services[0].plan: free plans cannot be created through "
        "Render's API; use a paid plan such as starter\n"
    )


@pytest.mark.parametrize("plan", LEGACY_POSTGRES)
def test_legacy_postgres_plans_stay_refused(cli: Cli, tmp_path: Path, plan: str) -> None:
    result = validate(cli, tmp_path, resource("postgres", plan))
    assert result.exit_code == 2
    assert result.json()["error"]["message"] == (
        f"template 'plans': databases[0].plan: legacy Postgres plan '{plan}': Render no longer "
        "creates databases on it; use a current plan such as basic-256mb"
    )


def test_a_plan_of_no_kind_is_refused(cli: Cli, tmp_path: Path) -> None:
    result = validate(cli, tmp_path, resource("worker", "custom"))
    assert result.exit_code == 2
    assert result.json()["error"]["message"].startswith(
        "template 'plans': services[0].plan: unknown plan 'custom' for a worker service: use one of"
    )


# ----- warnings -----------------------------------------------------------------------------


def test_unpriced_plans_pass_with_a_warning(cli: Cli, tmp_path: Path) -> None:
    text = (
        "services:\n"
        f"  - {{type: web, name: web, {BUILD}, plan: custom}}\n"
        f"  - {{type: web, name: site, {BUILD}, plan: starter plus}}\n"
        f"  - {{type: web, name: old, {BUILD}, plan: starter legacy}}\n"
        f"  - {{type: worker, name: jobs, {BUILD}, plan: standard}}\n"
        f"  - {{type: cron, name: nightly, {BUILD}, plan: pro, schedule: '0 3 * * *'}}\n"
        "databases:\n  - {name: db, plan: basic-256mb}\n"
    )
    result = validate(cli, tmp_path, text)
    assert result.exit_code == 0, result.stdout
    warnings = [
        "services[0].plan: the price table has no price for web_service plan 'custom'; "
        "'rcp cost' reports it as unknown (add it to prices.toml in the config dir)",
        "services[1].plan: the price table has no price for web_service plan 'starter_plus'; "
        "'rcp cost' reports it as unknown (add it to prices.toml in the config dir)",
        "services[2].plan: the price table has no price for web_service plan 'starter_legacy'; "
        "'rcp cost' reports it as unknown (add it to prices.toml in the config dir)",
    ]
    assert sorted(result.json()["data"]["warnings"]) == warnings
    # The same on stderr, one line each; the priced plans (and the cron job, priced by run time
    # on a known instance type) say nothing.
    assert sorted(result.stderr.splitlines()) == [f"Warning: {w}" for w in warnings]

    human = cli("template", "validate", str(tmp_path / "plans.yaml"))
    assert human.exit_code == 0
    assert human.stdout.startswith("plans: valid (")
    assert len(human.stderr.splitlines()) == 3


def test_a_price_table_override_silences_the_warning(
    cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    config = isolated_env / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "prices.toml").write_text('prices_as_of = "2026-11-01"\n[services]\ncustom = 900\n')
    result = validate(cli, tmp_path, resource("web", "custom"))
    assert result.exit_code == 0
    assert result.json()["data"]["warnings"] == []
    assert result.stderr == ""


def test_free_datastores_pass_with_what_render_limits(cli: Cli, tmp_path: Path) -> None:
    text = resource("keyvalue", "free") + "databases:\n  - {name: db, plan: free}\n"
    result = validate(cli, tmp_path, text)
    assert result.exit_code == 0, result.stdout
    assert result.json()["data"]["warnings"] == [
        "services[0].plan: Render allows one free Key Value instance per workspace and keeps "
        "its data in memory only: a second tenant from this template cannot get one",
        "databases[0].plan: a free Postgres database expires 30 days after it is created",
    ]


def test_the_default_template_has_no_warning(cli: Cli) -> None:
    result = cli("-o", "json", "template", "validate")
    assert result.exit_code == 0
    assert result.json()["data"]["warnings"] == []
    assert result.stderr == ""


# ----- Render (the sandbox) creates what validate accepts -------------------------------------


def test_the_sandbox_creates_custom_legacy_and_free_plans(
    cli: Cli, tmp_path: Path, sandbox_env: dict[str, str]
) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text(
        "services:\n"
        f"  - {{type: web, name: web, {BUILD}, plan: custom}}\n"
        f"  - {{type: web, name: old, {BUILD}, plan: pro plus legacy}}\n"
        "  - {type: keyvalue, name: kv, plan: free, ipAllowList: []}\n"
    )
    result = cli("-q", "-o", "json", "tenant", "create", "Mixed", "--template", str(path))
    assert result.exit_code == 0, result.stdout
    data = result.json()["data"]
    assert data["status"] == "ACTIVE"
    cost = cli("-o", "json", "cost", "mixed")
    assert cost.exit_code == 0, cost.stdout
    plans = {
        r["key"]: (r["plan"], r["monthly_usd"])
        for r in cost.json()["data"]["tenants"][0]["resources"]
    }
    assert plans == {
        "web": ("custom", None),
        "old": ("pro_plus_legacy", None),
        "kv": ("free", 0.0),
    }
