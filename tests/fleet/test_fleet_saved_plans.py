"""Plan/apply as reviewers expect (issue 13 item 3): --detailed-exitcode, saved plans applied
exactly or refused when stale, monthly cost changes, prune limited to fleet-managed tenants and
the mass-delete guard. In-process sandbox, SQLite."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fleet_helpers import mutating, sandbox_requests

from tests.conftest import Cli


def slugs_on_record(cli: Cli) -> list[str]:
    return sorted(t["slug"] for t in cli("-o", "json", "tenant", "list").json()["data"])


def test_detailed_exitcode_is_0_without_changes_2_with_changes_1_on_error(
    cli: Cli, fleet_env: dict[str, str], write_fleet: Callable[..., Path]
) -> None:
    fleet = write_fleet("tenants:\n  - name: Acme\n")
    changes = cli("-o", "json", "plan", str(fleet), "--detailed-exitcode")
    assert changes.exit_code == 2, changes.stderr
    assert changes.json()["data"]["summary"]["create"] == 1
    assert cli("apply", str(fleet)).exit_code == 0
    same = cli("plan", str(fleet), "--detailed-exitcode")
    assert same.exit_code == 0 and "No changes" in same.stdout
    bad = write_fleet("tenants:\n  - name: ''\n", "bad.yaml")
    broken = cli("-o", "json", "plan", str(bad), "--detailed-exitcode")
    assert broken.exit_code == 1
    assert broken.json()["error"]["code"] == "usage_error"
    # Without the flag the same bad file keeps its documented usage exit code.
    assert cli("plan", str(bad)).exit_code == 2


def test_a_saved_plan_is_applied_exactly(
    cli: Cli, fleet_env: dict[str, str], write_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    fleet = write_fleet("tenants:\n  - name: Acme\n  - name: Beta\n")
    saved = tmp_path / "fleet.plan"
    planned = cli("-o", "json", "plan", str(fleet), "--out", str(saved))
    assert planned.exit_code == 0, planned.stderr
    assert f"plan saved to {saved}" in planned.stderr
    document = json.loads(saved.read_text())
    assert (document["format"], document["version"]) == ("rcp-plan", 1)
    assert len(document["fleet_sha256"]) == 64 and len(document["records_fingerprint"]) == 64
    assert document["plan"]["summary"]["create"] == 2
    assert document["options"] == {"prune": False, "allow_absolute_templates": False}

    applied = cli("-o", "json", "apply", str(saved))
    assert applied.exit_code == 0, applied.stderr
    outcomes = {r["slug"]: r["outcome"] for r in applied.json()["data"]["results"]}
    assert outcomes == {"acme": "created", "beta": "created"}
    assert slugs_on_record(cli) == ["acme", "beta"]
    # Applied once, the plan is stale: the records it was made from changed.
    again = cli("-o", "json", "apply", str(saved))
    assert again.exit_code == 4
    assert again.json()["error"]["code"] == "plan_stale"
    assert "records changed" in again.json()["error"]["message"]


def test_a_saved_plan_is_refused_when_the_fleet_file_or_the_records_changed(
    cli: Cli,
    fleet_env: dict[str, str],
    write_fleet: Callable[..., Path],
    tmp_path: Path,
    isolated_env: Path,
) -> None:
    fleet = write_fleet("tenants:\n  - name: Acme\n")
    saved = tmp_path / "acme.plan"
    assert cli("plan", str(fleet), "--out", str(saved)).exit_code == 0
    fleet.write_text("tenants:\n  - name: Acme\n  - name: Gamma\n")
    before = sandbox_requests(isolated_env / "data")
    stale = cli("apply", str(saved))
    assert stale.exit_code == 4
    assert "fleet file" in stale.stderr and "changed since the plan was made" in stale.stderr
    assert "rcp plan FILE --out PLAN" in stale.stderr
    assert sandbox_requests(isolated_env / "data") == before
    assert slugs_on_record(cli) == []

    fleet.write_text("tenants:\n  - name: Acme\n")
    assert cli("plan", str(fleet), "--out", str(saved)).exit_code == 0
    # Someone creates a tenant by hand meanwhile: the records the plan read changed.
    assert cli("tenant", "create", "Hand Made").exit_code == 0
    before = mutating(sandbox_requests(isolated_env / "data"))
    refused = cli("-o", "json", "apply", str(saved))
    assert refused.exit_code == 4
    assert refused.json()["error"]["code"] == "plan_stale"
    assert mutating(sandbox_requests(isolated_env / "data")) == before
    assert slugs_on_record(cli) == ["hand-made"]


def test_a_saved_plan_made_without_prune_is_not_pruned(
    cli: Cli, fleet_env: dict[str, str], write_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    fleet = write_fleet("tenants:\n  - name: Acme\n")
    saved = tmp_path / "fleet.plan"
    assert cli("plan", str(fleet), "--out", str(saved)).exit_code == 0
    refused = cli("apply", str(saved), "--prune", "--yes")
    assert refused.exit_code == 2
    assert "made without --prune" in refused.stderr


def test_the_plan_shows_the_monthly_cost_change_per_tenant_and_in_total(
    cli: Cli, fleet_env: dict[str, str], write_fleet: Callable[..., Path]
) -> None:
    fleet = write_fleet("tenants:\n  - name: Acme\n  - name: Beta\n")
    data = cli("-o", "json", "plan", str(fleet)).json()["data"]
    costs = {c["slug"]: c["cost"] for c in data["changes"]}
    # The default template: a starter web service ($7) and a basic-256mb Postgres ($6).
    assert costs["acme"] == {
        "monthly_usd_before": 0.0,
        "monthly_usd_after": 13.0,
        "monthly_usd_change": 13.0,
    }
    assert data["cost"]["currency"] == "USD"
    assert data["cost"]["monthly_usd_change"] == 26.0
    assert data["cost"]["prices_as_of"]
    human = cli("plan", str(fleet))
    assert "+ create acme  (+$13.00/month)" in human.stdout
    assert "Monthly cost change: +$26.00/month" in human.stdout
    assert cli("apply", str(fleet)).exit_code == 0
    fleet.write_text("tenants:\n  - name: Acme\n")
    pruned = cli("-o", "json", "plan", str(fleet), "--prune").json()["data"]
    beta = next(c for c in pruned["changes"] if c["slug"] == "beta")
    assert beta["cost"]["monthly_usd_change"] == -13.0
    assert pruned["cost"]["monthly_usd_change"] == -13.0
    assert "- delete beta  (-$13.00/month)" in cli("plan", str(fleet), "--prune").stdout


def test_prune_deletes_only_fleet_managed_tenants_within_the_mass_delete_limit(
    cli: Cli,
    fleet_env: dict[str, str],
    write_fleet: Callable[..., Path],
    isolated_env: Path,
) -> None:
    assert cli("tenant", "create", "Hand Made").exit_code == 0
    assert cli("-o", "json", "tenant", "show", "hand-made").json()["data"]["fleet_managed"] is False
    fleet = write_fleet("tenants:\n  - name: Acme\n  - name: Beta\n  - name: Gamma\n")
    assert cli("apply", str(fleet)).exit_code == 0
    assert cli("-o", "json", "tenant", "show", "acme").json()["data"]["fleet_managed"] is True

    # An emptied fleet file: everything managed would go, far beyond 10 % → refused, no write.
    fleet.write_text("tenants: []\n")
    plan = cli("-o", "json", "plan", str(fleet), "--prune").json()["data"]
    assert plan["summary"]["delete"] == 3
    assert plan["unmanaged"] == ["hand-made"]
    assert "--allow-mass-delete" in cli("plan", str(fleet), "--prune").stdout
    before = sandbox_requests(isolated_env / "data")
    refused = cli("-o", "json", "apply", str(fleet), "--prune", "--yes")
    assert refused.exit_code == 2
    error = refused.json()["error"]
    assert error["code"] == "mass_delete_refused"
    assert "3 of 3 fleet-managed tenants" in error["message"]
    assert "--allow-mass-delete" in error["message"]
    assert sandbox_requests(isolated_env / "data") == before
    assert slugs_on_record(cli) == ["acme", "beta", "gamma", "hand-made"]

    # One deletion is within the limit (at least 1).
    fleet.write_text("tenants:\n  - name: Acme\n  - name: Beta\n")
    one = cli("-o", "json", "apply", str(fleet), "--prune", "--yes")
    assert one.exit_code == 0, one.stderr
    assert slugs_on_record(cli) == ["acme", "beta", "hand-made"]

    # Asked for explicitly, the mass delete goes ahead, and the hand-made tenant stays.
    fleet.write_text("tenants: []\n")
    done = cli("-o", "json", "apply", str(fleet), "--prune", "--yes", "--allow-mass-delete")
    assert done.exit_code == 0, done.stderr
    assert slugs_on_record(cli) == ["hand-made"]


def test_a_hand_made_tenant_listed_in_the_file_becomes_managed_when_apply_updates_it(
    cli: Cli, fleet_env: dict[str, str], write_fleet: Callable[..., Path]
) -> None:
    assert cli("tenant", "create", "Acme").exit_code == 0
    fleet = write_fleet("tenants:\n  - name: Acme\n    env: {LOG_LEVEL: info}\n")
    assert cli("apply", str(fleet)).exit_code == 0
    assert cli("-o", "json", "tenant", "show", "acme").json()["data"]["fleet_managed"] is True
    fleet.write_text("tenants: []\n")
    pruned = cli("-o", "json", "plan", str(fleet), "--prune").json()["data"]
    assert [c["slug"] for c in pruned["changes"] if c["action"] == "delete"] == ["acme"]
