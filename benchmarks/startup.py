"""Start-up cost of rcp, as ratios of medians to bare imports of its framework.

    .venv/bin/python benchmarks/startup.py [--runs 15]

Targets (issue #3): `rcp --help` ≤ 1.5 × `python -c "import typer"`;
`rcp tenant status X -o json` with 1,000 tenants in SQLite ≤ 1.3 × `python -c "import typer, sqlmodel"`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_seconds(command: list[str], env: dict[str, str], runs: int) -> float:
    subprocess.run(command, env=env, capture_output=True, check=False)  # warm the page cache
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(command, env=env, capture_output=True, check=False)
        samples.append(time.perf_counter() - started)
        if proc.returncode not in (0,):
            raise SystemExit(f"{command} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return statistics.median(samples)


def seed_tenants(env: dict[str, str], count: int) -> None:
    """1,000 tenant records with two resources each, written through the store."""
    code = f"""
from rcp.core.models import LockHolder, Resource, Tenant, TenantStatus
from rcp.settings import GlobalOptions, load_settings
from rcp.store import open_store

store = open_store(load_settings(GlobalOptions()).database_url)
holder = LockHolder(actor="bench", host="bench", pid=1, command="seed")
for i in range({count}):
    slug = f"tenant-{{i:04d}}"
    lease = store.acquire_lock(slug, holder)
    store.insert_tenant(
        Tenant(
            name=slug, slug=slug, status=TenantStatus.ACTIVE, template="default",
            rendered_template={{"name": "default", "resources": []}},
            resources=[
                Resource(key="db", type="postgres", name=slug + "-db", render_id=f"dpg-{{i:020d}}-a", state="available"),
                Resource(key="web", type="web_service", name=slug + "-web", render_id=f"srv-{{i:020d}}", state="live", url="https://x.onrender.com"),
            ],
        ),
        lease=lease,
    )
    store.release_lock(lease)
store.close()
"""
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def precompile() -> None:
    """Write rcp's bytecode first, as an installed tool has it (an editable install under
    PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module on every run)."""
    import compileall

    import rcp

    compileall.compile_dir(Path(rcp.__file__).parent, quiet=1)


def main() -> None:
    precompile()
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env.update(
            {"RCP_CONFIG_DIR": str(Path(tmp) / "config"), "RCP_DATA_DIR": str(Path(tmp) / "data")}
        )
        for name in ("RCP_DATABASE_URL", "DATABASE_URL", "RCP_SANDBOX", "RCP_OUTPUT"):
            env.pop(name, None)
        seed_tenants(env, 1000)
        rcp = [sys.executable, "-m", "rcp"]
        typer_only = median_seconds([sys.executable, "-c", "import typer"], env, args.runs)
        typer_sqlmodel = median_seconds(
            [sys.executable, "-c", "import typer, sqlmodel"], env, args.runs
        )
        help_time = median_seconds([*rcp, "--help"], env, args.runs)
        status_time = median_seconds(
            [*rcp, "tenant", "status", "tenant-0500", "-o", "json"], env, args.runs
        )
    print(f"{'measurement':<44} {'median':>9} {'ratio':>7} {'target':>7}")
    print(f"{'python -c import typer':<44} {typer_only * 1000:8.0f}ms")
    print(f"{'python -c import typer, sqlmodel':<44} {typer_sqlmodel * 1000:8.0f}ms")
    print(
        f"{'rcp --help':<44} {help_time * 1000:8.0f}ms {help_time / typer_only:7.2f} {'≤ 1.5':>7}"
    )
    print(
        f"{'rcp tenant status X -o json (1,000 tenants)':<44} {status_time * 1000:8.0f}ms "
        f"{status_time / typer_sqlmodel:7.2f} {'≤ 1.3':>7}"
    )


if __name__ == "__main__":
    main()
