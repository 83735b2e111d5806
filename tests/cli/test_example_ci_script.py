"""examples/ci-provision.sh runs against the sandbox as a CI job would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is needed to run the example")
def test_ci_provision_example(isolated_env: Path) -> None:
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "rcp").exists(), "the rcp entry point is installed beside the interpreter"
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "RCP_SANDBOX": "1",
            "RCP_SANDBOX_DEPLOY_SECONDS": "0.2",
            "RCP_SANDBOX_DATASTORE_SECONDS": "0.3",
        }
    )
    script = PROJECT_ROOT / "examples" / "ci-provision.sh"
    first = subprocess.run(
        ["bash", str(script), "acme", "Globex Corp"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert first.returncode == 0, first.stderr
    assert "ok: acme -> acme" in first.stderr
    assert "ok: Globex Corp -> globex-corp" in first.stderr
    tenants = json.loads(first.stdout)["data"]
    assert sorted((t["slug"], t["status"]) for t in tenants) == [
        ("acme", "ACTIVE"),
        ("globex-corp", "ACTIVE"),
    ]
    # A rerun converges without duplicating anything; a bad name fails with exit 2.
    second = subprocess.run(
        ["bash", str(script), "acme", "!!!"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert second.returncode == 2, second.stderr
    assert "failed (2): !!!" in second.stderr
    again = json.loads(second.stdout)["data"]
    assert [t["render_service_ids"] for t in again if t["slug"] == "acme"] == [
        [t["render_service_ids"] for t in tenants if t["slug"] == "acme"][0]
    ]
