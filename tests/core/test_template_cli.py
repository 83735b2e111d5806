"""`rcp template list|show|validate` through the real CLI (in-process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

JOBS = """\
services:
  - type: worker
    name: jobs
    runtime: node
    repo: "{{ tenant.plugin_repo }}"
    buildCommand: npm ci
    startCommand: node worker.js
    envVars:
      - key: REDIS_URL
        fromService: {name: cache, type: keyvalue, property: connectionString}
  - type: keyvalue
    name: cache
    plan: starter
    ipAllowList: []
"""
BROKEN = """\
services:
  - {type: web, name: web, runtime: node, repo: 'https://github.com/a/b', plan: free,
     buildCommand: a, startCommand: b, region: mars}
"""


@pytest.fixture
def templates(isolated_env: Path) -> Path:
    folder = isolated_env / "config" / "templates"
    folder.mkdir(parents=True)
    (folder / "jobs.yaml").write_text(JOBS)
    (folder / "broken.yaml").write_text(BROKEN)
    return folder


def test_list_json(cli: Any, templates: Path) -> None:
    result = cli("template", "list", "-o", "json")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert [(t["name"], t["resources"], t["valid"]) for t in data] == [
        ("broken", [], False),
        ("default", ["db", "web"], True),
        ("jobs", ["cache", "jobs"], True),
    ]
    assert data[1]["source"] == "built-in"
    assert data[2]["source"] == str((templates / "jobs.yaml").resolve())
    assert data[0]["error"].startswith("template 'broken': services[0].plan: free plans")


def test_list_human(cli: Any, templates: Path) -> None:
    result = cli("template", "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "RESOURCES", "SOURCE"]
    assert any(
        line.startswith("default") and "db, web" in line and "built-in" in line for line in lines
    )
    assert any(line.startswith("jobs") and "cache, jobs" in line for line in lines)


def test_show_default_json(cli: Any) -> None:
    result = cli("-o", "json", "template", "show")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["name"] == "default"
    assert data["source"] == "built-in"
    assert data["resources"] == [
        {
            "key": "db",
            "type": "postgres",
            "name_pattern": "<slug>-db",
            "plan": "basic_256mb",
            "depends_on": [],
        },
        {
            "key": "web",
            "type": "web_service",
            "name_pattern": "<slug>-web",
            "plan": "starter",
            "depends_on": ["db"],
        },
    ]
    assert "express-hello-world" in data["yaml"]
    assert data["template"]["databases"] == [
        {"name": "db", "plan": "basic-256mb", "postgresMajorVersion": "16", "region": "oregon"}
    ]


def test_show_human_prints_order_and_yaml(cli: Any, templates: Path) -> None:
    result = cli("template", "show", "jobs")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1] == (
        "# creation order: cache (key_value, starter) -> jobs (background_worker, starter; needs cache)"
    )
    assert JOBS.rstrip("\n") in result.stdout


def test_validate_valid(cli: Any, templates: Path) -> None:
    result = cli("template", "validate", "jobs")
    assert result.exit_code == 0
    assert result.stdout == (
        "jobs: valid (cache (key_value, starter) -> jobs (background_worker, starter; needs cache))\n"
    )
    data = cli("template", "validate", "jobs", "-o", "json").json()["data"]
    assert data["name"] == "jobs"
    assert data["valid"] is True
    assert [r["key"] for r in data["resources"]] == ["cache", "jobs"]


def test_validate_by_path(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "custom.yml"
    path.parent.mkdir()
    path.write_text(JOBS)
    result = cli("template", "validate", str(path), "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["data"]["source"] == str(path.resolve())


def test_validate_invalid_lists_every_problem(cli: Any, templates: Path) -> None:
    result = cli("template", "validate", "broken")
    assert result.exit_code == 2
    assert result.stdout == ""
    source = templates / "broken.yaml"
    assert result.stderr.splitlines() == [
        "Error: template 'broken': services[0].plan: free plans cannot be created through Render's API; "
        "use a paid plan such as starter (and 1 more problem)",
        f"  {source}: services[0].plan: free plans cannot be created through Render's API; use a paid plan such as starter",
        f"  {source}: services[0].region: unknown value 'mars': use one of oregon, ohio, frankfurt, singapore, virginia",
    ]


def test_validate_invalid_json_envelope(cli: Any, templates: Path) -> None:
    result = cli("-o", "json", "template", "validate", "broken")
    assert result.exit_code == 2
    envelope = json.loads(result.stdout)
    assert envelope["error"]["code"] == "usage_error"
    assert envelope["error"]["message"].startswith(
        "template 'broken': services[0].plan: free plans"
    )


def test_unknown_template(cli: Any, templates: Path) -> None:
    result = cli("template", "show", "nope")
    assert result.exit_code == 2
    assert "Error: unknown template 'nope' (available: broken, default, jobs)" in result.stderr


def test_malformed_yaml_names_the_line(cli: Any, templates: Path) -> None:
    (templates / "typo.yaml").write_text("services:\n  - type: web\n   name: web\n")
    result = cli("template", "validate", "typo")
    assert result.exit_code == 2
    assert "Error: template 'typo': invalid YAML at line 3, column 4:" in result.stderr


def test_template_commands_do_not_load_yaml_at_import() -> None:
    code = "import sys, rcp.cli.template, rcp.core.templates; print('yaml' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "False"
