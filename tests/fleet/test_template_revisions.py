"""Template revisions through the real CLI on the in-process sandbox (SQLite and Postgres):
what each tenant runs (`tenant show|list`), `template history`, `plan` current → target, and
the fleet file's `tier:`."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleet_helpers import mutating, sandbox_requests

from tests.conftest import Cli

TEMPLATE = """\
version: "{label}"
services:
  - type: web
    name: web
    runtime: node
    repo: https://github.com/acme/app
    buildCommand: npm ci
    startCommand: npm start
    plan: {plan}
"""

# The same template, reformatted: other key order, flow style, comments, quoting, blank lines.
TEMPLATE_REFORMATTED = """\
# the app, one web service per tenant
services:

  - {{name: web, type: web, plan: '{plan}', startCommand: "npm start",
     buildCommand: npm ci, repo: 'https://github.com/acme/app', runtime: node}}
version: {label}
"""

HASH = re.compile(r"[0-9a-f]{64}")


class _Matches:
    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and self.pattern.fullmatch(other) is not None


ANY_HASH = _Matches("[0-9a-f]{64}")
ANY_SHORT = _Matches("[0-9a-f]{12}")


def fleet_text(*entries: str) -> str:
    return "tenants:\n" + "".join(f"  - {entry}\n" for entry in entries)


def data_of(cli: Cli, *args: str) -> Any:
    result = cli("-o", "json", *args)
    assert result.exit_code in (0, 2), result.stderr
    return result.json()["data"]


def revision_of(cli: Cli, slug: str) -> dict[str, Any]:
    revision: dict[str, Any] = data_of(cli, "tenant", "show", slug)["template_revision"]
    return revision


def test_tenant_create_records_the_revision_and_history_lists_it(
    fleet_cli: Cli, isolated_env: Path
) -> None:
    created = fleet_cli("-o", "json", "tenant", "create", "Acme", "--slug", "acme")
    assert created.exit_code == 0, created.stderr
    tenant = created.json()["data"]
    revision = tenant["template_revision"]
    assert HASH.fullmatch(revision["hash"])
    assert revision["label"] is None
    assert revision["since"].endswith("Z")
    assert tenant["tier"] is None

    history = fleet_cli("-o", "json", "template", "history", "default")
    assert history.exit_code == 0, history.stderr
    data = history.json()["data"]
    assert data["template"] == "default"
    assert data["current"]["hash"] == revision["hash"]
    assert [(r["hash"], r["tenants"], r["current"]) for r in data["revisions"]] == [
        (revision["hash"], 1, True)
    ]
    assert data["revisions"][0]["short"] == revision["hash"][:12]

    human = fleet_cli("template", "history", "default")
    assert human.exit_code == 0
    assert revision["hash"][:12] in human.stdout
    assert human.stdout.splitlines()[1].startswith("*")  # the template's revision now

    shown = fleet_cli("tenant", "show", "acme")
    assert f"revision {revision['hash'][:12]}" in shown.stdout
    listed = fleet_cli("tenant", "list")
    assert "REVISION" in listed.stdout and revision["hash"][:12] in listed.stdout


def test_a_reformatted_template_is_the_same_revision(
    fleet_cli: Cli, write_fleet: Callable[..., Path], isolated_env: Path
) -> None:
    write_fleet(TEMPLATE.format(label="v1", plan="starter"), "app.yaml")
    fleet = write_fleet(fleet_text("{name: Alpha, template: app.yaml}"))
    assert fleet_cli("apply", str(fleet), "--yes").exit_code == 0
    before = revision_of(fleet_cli, "alpha")
    assert before["label"] == "v1"

    write_fleet(TEMPLATE_REFORMATTED.format(label="v1", plan="starter"), "app.yaml")
    plan = fleet_cli("-o", "json", "plan", str(fleet), "--detailed-exitcode")
    assert plan.exit_code == 0, plan.stdout  # no changes: same revision, same configuration
    change = plan.json()["data"]["changes"][0]
    assert change["action"] == "noop"
    assert change["revision"]["from"]["hash"] == change["revision"]["to"]["hash"] == before["hash"]


def test_plan_shows_current_and_target_revision_and_apply_moves_tenants(
    fleet_cli: Cli, write_fleet: Callable[..., Path], isolated_env: Path
) -> None:
    write_fleet(TEMPLATE.format(label="v1", plan="starter"), "app.yaml")
    fleet = write_fleet(
        fleet_text(
            "{name: Alpha, template: app.yaml, tier: canary}",
            "{name: Bravo, template: app.yaml}",
        )
    )
    assert fleet_cli("apply", str(fleet), "--yes").exit_code == 0
    v1 = revision_of(fleet_cli, "alpha")
    assert revision_of(fleet_cli, "bravo")["hash"] == v1["hash"]

    write_fleet(TEMPLATE.format(label="v2", plan="standard"), "app.yaml")
    plan = fleet_cli("-o", "json", "plan", str(fleet))
    assert plan.exit_code == 0, plan.stderr
    changes = {c["slug"]: c for c in plan.json()["data"]["changes"]}
    alpha = changes["alpha"]
    assert alpha["action"] == "update"
    assert alpha["revision"]["from"] == {"hash": v1["hash"], "short": v1["hash"][:12], "label": "v1"}
    v2_hash = alpha["revision"]["to"]["hash"]
    assert HASH.fullmatch(v2_hash) and v2_hash != v1["hash"]
    assert [d["change"] for d in alpha["details"]] == ["update_resource"]
    human = fleet_cli("plan", str(fleet))
    assert f"revision: {v1['hash'][:12]} (v1) → {v2_hash[:12]} (v2)" in human.stdout

    applied = fleet_cli("-o", "json", "apply", str(fleet), "--yes")
    assert applied.exit_code == 0, applied.stderr
    for slug in ("alpha", "bravo"):
        now = revision_of(fleet_cli, slug)
        assert (now["hash"], now["label"]) == (v2_hash, "v2")
        assert now["since"] > v1["since"]

    by_label = data_of(fleet_cli, "tenant", "list", "--revision", "v2")
    assert [t["slug"] for t in by_label] == ["alpha", "bravo"]
    assert data_of(fleet_cli, "tenant", "list", "--revision", "v1") == []
    by_prefix = data_of(fleet_cli, "tenant", "list", "--revision", v2_hash[:6].upper())
    assert [t["slug"] for t in by_prefix] == ["alpha", "bravo"]
    assert data_of(fleet_cli, "tenant", "list", "--revision", v1["hash"][:8]) == []

    history = data_of(fleet_cli, "template", "history", str(fleet.parent / "app.yaml"))
    assert history["template"] == "app"
    assert [(r["label"], r["tenants"], r["current"]) for r in history["revisions"]] == [
        ("v1", 0, False),
        ("v2", 2, True),
    ]
    # Nothing left to do: the recorded revision is the file's.
    again = fleet_cli("plan", str(fleet), "--detailed-exitcode")
    assert again.exit_code == 0, again.stdout


def test_a_relabel_alone_is_recorded_without_touching_render(
    fleet_cli: Cli, write_fleet: Callable[..., Path], isolated_env: Path
) -> None:
    write_fleet(TEMPLATE.format(label="v1", plan="starter"), "app.yaml")
    fleet = write_fleet(fleet_text("{name: Alpha, template: app.yaml}"))
    assert fleet_cli("apply", str(fleet), "--yes").exit_code == 0
    write_fleet(TEMPLATE.format(label="2026-12-03", plan="starter"), "app.yaml")
    sent_before = len(mutating(sandbox_requests(isolated_env / "data")))

    plan = fleet_cli("-o", "json", "plan", str(fleet))
    details = plan.json()["data"]["changes"][0]["details"]
    assert details == [
        {
            "change": "revision",
            "from": {"hash": ANY_HASH, "short": ANY_SHORT, "label": "v1"},
            "to": {"hash": ANY_HASH, "short": ANY_SHORT, "label": "2026-12-03"},
        }
    ]
    assert "revision: " in fleet_cli("plan", str(fleet)).stdout
    applied = fleet_cli("-o", "json", "apply", str(fleet), "--yes")
    assert applied.exit_code == 0, applied.stderr
    assert applied.json()["data"]["results"][0]["outcome"] == "updated"
    assert revision_of(fleet_cli, "alpha")["label"] == "2026-12-03"
    assert len(mutating(sandbox_requests(isolated_env / "data"))) == sent_before


def test_fleet_tier_is_validated_stored_and_planned(
    fleet_cli: Cli, write_fleet: Callable[..., Path], isolated_env: Path
) -> None:
    bad = write_fleet(fleet_text("{name: Alpha, tier: 'not a tier'}"))
    refused = fleet_cli("-o", "json", "plan", str(bad))
    assert refused.exit_code == 2
    assert "tenants[0].tier: must be 1-40 letters" in refused.json()["error"]["message"]
    assert "tier" in refused.stderr

    fleet = write_fleet(fleet_text("{name: Alpha, tier: canary}", "{name: Bravo, tier: 2}"))
    assert fleet_cli("apply", str(fleet), "--yes").exit_code == 0
    tiers = {t["slug"]: t["tier"] for t in data_of(fleet_cli, "tenant", "list")}
    assert tiers == {"alpha": "canary", "bravo": "2"}
    assert "tier:           canary" in fleet_cli("tenant", "show", "alpha").stdout

    moved = write_fleet(fleet_text("{name: Alpha, tier: gold}", "{name: Bravo}"))
    plan = fleet_cli("-o", "json", "plan", str(moved))
    changes = {c["slug"]: c["details"] for c in plan.json()["data"]["changes"]}
    assert changes["alpha"] == [{"change": "tier", "from": "canary", "to": "gold"}]
    assert changes["bravo"] == [{"change": "tier", "from": "2", "to": None}]
    assert "tier: 'canary' → 'gold'" in fleet_cli("plan", str(moved)).stdout
    sent_before = len(mutating(sandbox_requests(isolated_env / "data")))
    assert fleet_cli("apply", str(moved), "--yes").exit_code == 0
    tiers = {t["slug"]: t["tier"] for t in data_of(fleet_cli, "tenant", "list")}
    assert tiers == {"alpha": "gold", "bravo": None}
    assert len(mutating(sandbox_requests(isolated_env / "data"))) == sent_before


def test_bad_version_labels_and_revision_filters_are_usage_errors(
    cli: Cli, fleet_env: dict[str, str], isolated_env: Path
) -> None:
    templates = isolated_env / "config" / "templates"
    templates.mkdir(parents=True)
    for value, problem in (
        ("1.5", "must be a text label"),
        ("[v1]", "must be a text label"),
        ('"   "', "must be 1-64 printable characters"),
        ('"{{ tenant.slug }}"', "cannot use placeholders"),
    ):
        (templates / "app.yaml").write_text(
            TEMPLATE.format(label="x", plan="starter").replace('"x"', value), encoding="utf-8"
        )
        result = cli("-o", "json", "template", "validate", "app")
        assert result.exit_code == 2, (value, result.stdout)
        assert problem in result.json()["error"]["message"], value
        created = cli("tenant", "create", "Acme", "--template", "app")
        assert created.exit_code == 2
    assert data_of(cli, "tenant", "list") == []  # nothing recorded

    empty = cli("-o", "json", "tenant", "list", "--revision", " ")
    assert empty.exit_code == 2
    assert "invalid --revision value" in empty.json()["error"]["message"]

    unknown = cli("-o", "json", "template", "history", "nosuch")
    assert unknown.exit_code == 2
    assert "unknown template 'nosuch'" in unknown.json()["error"]["message"]


def test_history_of_a_template_that_no_longer_loads_stays_readable(
    cli: Cli, fleet_env: dict[str, str], isolated_env: Path
) -> None:
    templates = isolated_env / "config" / "templates"
    templates.mkdir(parents=True)
    (templates / "app.yaml").write_text(TEMPLATE.format(label="v1", plan="starter"))
    assert cli("tenant", "create", "Acme", "--template", "app").exit_code == 0
    (templates / "app.yaml").unlink()
    result = cli("-o", "json", "template", "history", "app")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["current"] is None and "unknown template" in data["current_error"]
    assert [(r["label"], r["tenants"]) for r in data["revisions"]] == [("v1", 1)]
    human = cli("template", "history", "app")
    assert "cannot be loaded now" in human.stdout
