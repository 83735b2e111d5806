"""examples/ as an attacker and a careful operator would read them (issue 11 item 9): names
after `--`, a pull-request job that can change nothing and cannot run forever, no install of
whatever the public index calls `rcp`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

EXAMPLES = PROJECT_ROOT / "examples"


def workflow() -> dict[Any, Any]:
    data = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_the_pull_request_job_gets_no_write_credentials_and_a_timeout() -> None:
    data = workflow()
    plan = data["jobs"]["plan"]
    assert plan["if"] == "github.event_name == 'pull_request'"
    assert isinstance(plan["timeout-minutes"], int) and 0 < plan["timeout-minutes"] <= 30
    # Only read access for the token; nothing else granted anywhere in the file.
    assert data["permissions"] == {"contents": "read"}
    assert "permissions" not in plan
    # No Render key, and only the read-only database URL, in what the plan job sees.
    visible = {**data.get("env", {}), **plan.get("env", {})}
    assert "RENDER_API_KEY" not in visible
    assert visible["RCP_DATABASE_URL"] == "${{ secrets.RCP_PLAN_DATABASE_URL }}"
    text = yaml.safe_dump(plan)
    assert "secrets.RENDER_API_KEY" not in text and "secrets.RCP_DATABASE_URL " not in text
    checkout = next(s for s in plan["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["persist-credentials"] is False
    # Every job is bounded in time.
    assert all("timeout-minutes" in job for job in data["jobs"].values())


def test_no_step_installs_the_public_indexs_rcp() -> None:
    text = (EXAMPLES / "github-actions.yml").read_text()
    assert not re.search(r"pip3? install\s+[\"']?rcp\b", text)
    assert "|| 'rcp'" not in text
    installs = [
        step["run"]
        for job in workflow()["jobs"].values()
        for step in job["steps"]
        if "pip install" in step.get("run", "")
    ]
    assert len(installs) == 2
    for run in installs:
        assert 'pip install "$RCP_INSTALL_SPEC"' in run
        assert ":?" in run  # an unset variable stops the job instead of guessing a package


def test_the_install_step_refuses_to_guess_when_the_spec_is_unset(tmp_path: Path) -> None:
    run = next(
        step["run"]
        for step in workflow()["jobs"]["plan"]["steps"]
        if "pip install" in step.get("run", "")
    )
    env = {k: v for k, v in os.environ.items() if k != "RCP_INSTALL_SPEC"}
    env["RCP_INSTALL_SPEC"] = ""
    proc = subprocess.run(
        ["bash", "-e", "-c", run], env=env, capture_output=True, text=True, timeout=30, cwd=tmp_path
    )
    assert proc.returncode != 0
    assert "set the repository variable RCP_INSTALL_SPEC" in proc.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is needed to run the example")
def test_ci_provision_passes_names_after_double_dash(isolated_env: Path) -> None:
    script = (EXAMPLES / "ci-provision.sh").read_text()
    assert re.search(r'rcp tenant create [^\n]*-- "\$name"', script)
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "RCP_SANDBOX": "1",
        "RCP_SANDBOX_DEPLOY_SECONDS": "0.2",
        "RCP_SANDBOX_DATASTORE_SECONDS": "0.2",
    }
    # A name that looks like an option is still a name (before: "No such option: --dash").
    proc = subprocess.run(
        ["bash", str(EXAMPLES / "ci-provision.sh"), "--dash Co"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ok: --dash Co -> dash-co" in proc.stderr
    tenants = json.loads(proc.stdout)["data"]
    assert [(t["name"], t["status"]) for t in tenants] == [("--dash Co", "ACTIVE")]
