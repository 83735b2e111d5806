"""The fleet file: parsing, every validation rule, and exit 2 before any write or Render call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fleet_helpers import sandbox_requests

from rcp.core.fleet import ALL_SERVICES, load_fleet, parse_fleet
from rcp.errors import UsageError
from tests.conftest import Cli

CUSTOM_TEMPLATE = """
services:
  - type: web
    name: web
    runtime: node
    repo: "{{ tenant.plugin_repo }}"
    buildCommand: npm ci
    startCommand: npm start
    plan: starter
  - type: worker
    name: jobs
    runtime: node
    repo: https://github.com/acme/jobs
    buildCommand: npm ci
    startCommand: npm run jobs
    plan: starter
"""


def parse(text: str, tmp_path: Path) -> list[object]:
    return list(parse_fleet(text, tmp_path / "fleet.yaml", tmp_path / "config").tenants)


def problem(text: str, tmp_path: Path) -> str:
    with pytest.raises(UsageError) as caught:
        parse_fleet(text, tmp_path / "fleet.yaml", tmp_path / "config")
    return caught.value.message


def test_a_minimal_entry_gets_the_derived_slug_and_the_default_template(tmp_path: Path) -> None:
    fleet = parse_fleet(
        "tenants:\n  - name: Café Ünïcode Ltd\n", tmp_path / "fleet.yaml", tmp_path / "config"
    )
    (tenant,) = fleet.tenants
    assert tenant.slug == "cafe-unicode-ltd"
    assert tenant.name == "Café Ünïcode Ltd"
    assert tenant.template_name == "default"
    assert tenant.plugin_repo is None
    assert tenant.env_overrides == {}
    assert [r["name"] for r in tenant.rendered["resources"]] == [
        "cafe-unicode-ltd-db",
        "cafe-unicode-ltd-web",
    ]


def test_env_maps_plain_keys_to_every_service_and_mappings_to_one(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(CUSTOM_TEMPLATE)
    fleet = parse_fleet(
        """
tenants:
  - name: Acme
    template: app.yaml
    plugin_repo: https://github.com/acme/plugin
    env:
      LOG_LEVEL: info
      DEBUG: false
      RETRIES: 3
      jobs: {CONCURRENCY: 8, QUEUE: default}
""",
        tmp_path / "fleet.yaml",
        tmp_path / "config",
    )
    (tenant,) = fleet.tenants
    assert tenant.template_name == "app"
    assert tenant.plugin_repo == "https://github.com/acme/plugin"
    assert tenant.env_overrides == {
        ALL_SERVICES: {"LOG_LEVEL": "info", "DEBUG": "false", "RETRIES": "3"},
        "jobs": {"CONCURRENCY": "8", "QUEUE": "default"},
    }


def test_template_paths_are_relative_to_the_fleet_file(tmp_path: Path) -> None:
    folder = tmp_path / "deploy"
    (folder / "templates").mkdir(parents=True)
    (folder / "templates" / "app.yaml").write_text(CUSTOM_TEMPLATE)
    fleet_file = folder / "fleet.yaml"
    fleet_file.write_text(
        "tenants:\n  - name: Acme\n    template: templates/app.yaml\n"
        "    plugin_repo: https://github.com/acme/plugin\n"
    )
    (tenant,) = load_fleet(fleet_file, tmp_path / "config").tenants
    assert tenant.template_name == "app"
    assert sorted(r["key"] for r in tenant.rendered["resources"]) == ["jobs", "web"]
    assert tenant.rendered["resources"][0]["name"].startswith("acme-")


def test_named_templates_come_from_the_config_dir(tmp_path: Path) -> None:
    templates = tmp_path / "config" / "templates"
    templates.mkdir(parents=True)
    (templates / "app.yaml").write_text(CUSTOM_TEMPLATE)
    (tenant,) = parse(
        "tenants:\n  - name: Acme\n    template: app\n    plugin_repo: https://github.com/a/b\n",
        tmp_path,
    )
    assert tenant.template_name == "app"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "top level must be a mapping"),
        ("- name: a\n", "top level must be a mapping"),
        ("tenants: {name: a}\n", "tenants: must be a list"),
        ("teams: []\n", "unknown top-level field 'teams'"),
        ("tenants:\n  - acme\n", "tenants[0]: must be a mapping"),
        ("tenants:\n  - slug: acme\n", "tenants[0].name: required"),
        ("tenants:\n  - name: Acme\n    region: oregon\n", "tenants[0].region: unknown field"),
        ("tenants:\n  - name: '   '\n", "tenants[0].name: invalid name"),
        ("tenants:\n  - name: '123'\n", "tenants[0].slug: cannot derive a slug"),
        ("tenants:\n  - name: Acme\n    slug: Not_Valid\n", "tenants[0].slug: invalid slug"),
        ("tenants:\n  - name: Acme\n    slug: 7\n", "tenants[0].slug: invalid slug 7"),
        (
            "tenants:\n  - name: Acme\n  - name: acme\n",
            "tenants[1]: duplicate slug 'acme' (also tenants[0])",
        ),
        (
            "tenants:\n  - name: Acme\n    template: nope\n",
            "tenants[0] (acme): unknown template 'nope'",
        ),
        (
            "tenants:\n  - name: Acme\n    template: missing.yaml\n",
            "tenants[0] (acme): template file not found",
        ),
        (
            "tenants:\n  - name: Acme\n    plugin_repo: ftp://example.com/x\n",
            "tenants[0].plugin_repo:",
        ),
        ("tenants:\n  - name: Acme\n    env: [A, B]\n", "tenants[0].env: must map"),
        (
            "tenants:\n  - name: Acme\n    env: {db: {A: b}}\n",
            "tenants[0].env.db: not a service of the tenant's template (services: web)",
        ),
        ("tenants:\n  - name: Acme\n    env: {1ABC: x}\n", "invalid env var name '1ABC'"),
        ("tenants:\n  - name: Acme\n    env: {web: {'A B': x}}\n", "invalid env var name 'A B'"),
        ("tenants:\n  - name: Acme\n    env: {A: [1]}\n", "tenants[0].env.A: the value must be"),
        ("tenants:\n  - name: Acme\n    env: {A: null}\n", "tenants[0].env.A: the value must be"),
        ("tenants:\n  - name: Acme\n  - name: Acme\n   bad: [\n", "invalid YAML at line"),
        ("tenants:\n  - name: Acme\n    name: Beta\n", "duplicate key 'name'"),
    ],
)
def test_invalid_files_name_the_problem(text: str, expected: str, tmp_path: Path) -> None:
    assert expected in problem(text, tmp_path)


def test_a_template_needing_a_plugin_repo_without_one_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(CUSTOM_TEMPLATE)
    message = problem("tenants:\n  - name: Acme\n    template: app.yaml\n", tmp_path)
    assert "tenants[0] (acme)" in message and "plugin" in message


def test_every_problem_is_counted_and_the_first_named(tmp_path: Path) -> None:
    message = problem(
        "tenants:\n  - name: Acme\n    slug: BAD\n  - {}\n  - name: Beta\n    template: nope\n",
        tmp_path,
    )
    assert message.startswith(f"fleet file {tmp_path / 'fleet.yaml'}: tenants[0].slug")
    assert message.endswith("(and 2 more problems)")


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="fleet file not found"):
        load_fleet(tmp_path / "nope.yaml", tmp_path)


@pytest.mark.usefixtures("fleet_env")
@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_bad_file_exits_2_before_any_write_or_render_call(
    command: str, cli: Cli, write_fleet: Callable[..., Path], isolated_env: Path
) -> None:
    good = write_fleet("tenants:\n  - name: Acme\n")
    assert cli("apply", str(good)).exit_code == 0
    before = sandbox_requests(isolated_env / "data")
    bad = write_fleet("tenants:\n  - name: Beta\n  - name: Gamma\n    slug: -x\n", "bad.yaml")
    result = cli("-o", "json", command, str(bad))
    assert result.exit_code == 2
    error = result.json()["error"]
    assert error["code"] == "usage_error"
    assert "tenants[1].slug" in error["message"]
    assert "Error: fleet file" in result.stderr
    assert sandbox_requests(isolated_env / "data") == before
    listed = cli("-o", "json", "tenant", "list").json()["data"]
    assert [t["slug"] for t in listed] == ["acme"]
