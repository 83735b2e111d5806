"""examples/: the fleet file applies to the sandbox, and the CI workflow's own steps run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from fleet_helpers import sandbox_dump

from tests.conftest import Cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_example_fleet_applies_to_the_sandbox(
    cli: Cli, fleet_env: dict[str, str], isolated_env: Path
) -> None:
    result = cli("-o", "json", "apply", str(EXAMPLES / "fleet.yaml"), "--concurrency", "3")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert [(r["slug"], r["outcome"]) for r in data["results"]] == [
        ("acme", "created"),
        ("globex-corp", "created"),
        ("initech", "created"),
    ]
    initech = cli("-o", "json", "tenant", "show", "initech").json()["data"]
    assert initech["template"] == "plugin-app"
    assert initech["status"] == "ACTIVE"
    assert sorted(r["key"] for r in initech["resources"]) == ["db", "queue", "web", "worker"]
    world = sandbox_dump(isolated_env / "data")
    worker = next(s for s in world["services"] if s["name"] == "initech-worker")
    env = {e["key"]: e["value"] for e in world["envVars"][worker["id"]]}
    assert env["QUEUE_CONCURRENCY"] == "8"
    assert env["QUEUE_URL"].startswith("redis")
    assert cli("plan", str(EXAMPLES / "fleet.yaml")).stdout.startswith("No changes")


def workflow() -> dict[Any, Any]:
    data = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_the_workflow_plans_pull_requests_and_applies_main() -> None:
    data = workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in triggers
    assert triggers["push"]["branches"] == ["main"]
    plan, apply = data["jobs"]["plan"], data["jobs"]["apply"]
    assert plan["if"] == "github.event_name == 'pull_request'"
    assert "refs/heads/main" in apply["if"] and "pull_request" in apply["if"]
    plan_runs = " ".join(step.get("run", "") for step in plan["steps"])
    apply_runs = " ".join(step.get("run", "") for step in apply["steps"])
    assert "rcp plan fleet.yaml" in plan_runs and "apply" not in plan_runs
    assert "apply fleet.yaml" in apply_runs
    assert apply["env"]["RENDER_API_KEY"] == "${{ secrets.RENDER_API_KEY }}"
    # The pull-request job gets no Render key (tests/docs/test_examples.py checks the rest).
    assert "RENDER_API_KEY" not in {**data["env"], **plan["env"]}


def run_step(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not available")
def test_the_workflow_steps_run_against_the_sandbox(tmp_path: Path, isolated_env: Path) -> None:
    repo = tmp_path / "fleet-repo"
    (repo / "templates").mkdir(parents=True)
    shutil.copy(EXAMPLES / "fleet.yaml", repo / "fleet.yaml")
    shutil.copy(EXAMPLES / "templates" / "plugin-app.yaml", repo / "templates" / "plugin-app.yaml")
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "RCP_SANDBOX": "1",
        "RCP_SANDBOX_DEPLOY_SECONDS": "0.2",
        "RCP_SANDBOX_DATASTORE_SECONDS": "0.2",
        "RENDER_API_KEY": "rnd_workflow_key",
        "CI": "true",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    steps = {
        job: next(
            step["run"]
            for step in spec["steps"]
            if "rcp" in step.get("run", "") and "pip" not in step["run"]
        )
        for job, spec in workflow()["jobs"].items()
    }
    planned = run_step(steps["plan"], repo, env)
    assert planned.returncode == 0, planned.stderr
    assert "Plan: 3 to create, 0 to update, 0 to delete, 0 unchanged." in planned.stdout
    assert "+ create initech" in (tmp_path / "summary.md").read_text()
    applied = run_step(steps["apply"], repo, env)
    assert applied.returncode == 0, applied.stderr
    assert "initech created" in applied.stdout
    result = json.loads((repo / "apply.json").read_text())
    assert result["data"]["summary"]["create"] == 3
    again = run_step(steps["plan"], repo, env)
    assert "No changes" in again.stdout
