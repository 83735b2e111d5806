"""Issue 12 item 2: `tenant list`, `status --all`, `cost` and `backup export` are written as
they are read, and print exactly the document the buffered code built."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rcp.core.models import Resource, Tenant, TenantStatus
from tests.conftest import Cli

COUNT = 1_203  # three pages of 500, the last one partial


def _open_store() -> object:
    from rcp.settings import GlobalOptions, load_settings
    from rcp.store import open_store

    return open_store(load_settings(GlobalOptions(), read_credentials=False).database_url)


@pytest.fixture
def seeded(cli: Cli) -> Cli:
    """COUNT tenants with the default template's rendered record and Render ids."""
    from rcp.core.templates import load_template, render_template
    from rcp.store.transfer import bulk_insert_tenants

    template = load_template("default", Path("/nonexistent"))
    tenants = []
    for index in range(COUNT):
        slug = f"t{index:05d}"
        rendered = render_template(template, slug=slug, name=f"T {index}", plugin_repo=None)
        tenants.append(
            Tenant(
                name=f"Tenant «{index}»",
                slug=slug,
                status=TenantStatus.ACTIVE if index % 4 else TenantStatus.ERROR,
                template="default",
                rendered_template=rendered.to_dict(),
                last_error=None if index % 4 else f"boom {index}",
                env_overrides={"web": {"FEATURE": str(index)}},
                resources=[
                    Resource(key="db", type="postgres", name=f"{slug}-db", render_id=f"dpg-{index}"),
                    Resource(key="web", type="web_service", name=f"{slug}-web", render_id=f"srv-{index}"),
                ],
            )
        )
    with _open_store() as store:  # type: ignore[attr-defined]
        bulk_insert_tenants(store, tenants)
    return cli


def test_streamed_json_is_the_buffered_document(seeded: Cli) -> None:
    from rcp.core.backup import build_document
    from rcp.core.cost import estimate, load_price_table
    from rcp.settings import GlobalOptions, load_settings
    from rcp.store.transfer import SnapshotStore

    config_dir = load_settings(GlobalOptions(), read_credentials=False).config_dir
    with _open_store() as store:  # type: ignore[attr-defined]
        tenants = store.list_tenants()
        expected_rows = [t.to_json() for t in tenants]
        expected_cost = estimate(tenants, load_price_table(config_dir))
        snapshot = SnapshotStore(store).read_snapshot()
        errors = [t.to_json() for t in store.list_tenants(TenantStatus.ERROR)]
    assert len(expected_rows) == COUNT

    listed = seeded("tenant", "list", "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout == json.dumps({"data": expected_rows}, default=str) + "\n"
    only_errors = seeded("tenant", "list", "--status", "error", "-o", "json")
    assert only_errors.stdout == json.dumps({"data": errors}, default=str) + "\n"
    assert len(errors) == (COUNT + 3) // 4

    status = seeded("tenant", "status", "--all", "-o", "json")
    assert status.stdout == listed.stdout

    cost = seeded("cost", "-o", "json")
    assert cost.exit_code == 0, cost.stderr
    assert cost.stdout == json.dumps({"data": expected_cost}, default=str) + "\n"

    exported = seeded("backup", "export", "-o", "json")
    assert exported.exit_code == 0, exported.stderr
    document = exported.json()["data"]
    assert exported.stdout == json.dumps(
        {
            "data": build_document(
                snapshot,
                include_secrets=False,
                exported_at=_parse(document["exported_at"]),
            )
        }
    ) + "\n"
    human = seeded("backup", "export")
    assert json.loads(human.stdout)["tenants"] == document["tenants"]
    assert human.stdout.startswith('{\n  "format": "rcp-backup",\n')


def _parse(moment: str) -> object:
    from datetime import datetime

    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def test_streamed_tables_for_people(seeded: Cli) -> None:
    listed = seeded("tenant", "list")
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["SLUG", "NAME", "STATUS", "TEMPLATE", "REVISION", "CREATED_AT"]
    # Widths come from the first 1,000 rows (names up to "Tenant «999»"); a wider name after
    # them pushes its own line out instead of holding the table back.
    assert lines[1].startswith("t00000  Tenant «0»    ERROR   default   ")
    assert lines[1001].startswith("t01000  Tenant «1000»  ERROR   default   ")
    assert len(lines) == COUNT + 1
    assert all(line == line.rstrip() for line in lines)

    cost = seeded("cost").stdout.splitlines()
    assert cost[0].split() == ["TENANT", "KEY", "TYPE", "PLAN", "USD/MONTH"]
    assert cost[1].split() == ["t00000", "db", "postgres", "basic_256mb", "$6.00"]
    assert cost[3].split() == ["t00000", "total", "$13.00"]
    assert cost[-1].startswith(f"fleet total: ${COUNT * 13:,.2f} per month (prices as of ")


@pytest.mark.slow
def test_a_reader_that_goes_away_ends_the_listing_quietly(seeded: Cli, tmp_path: Path) -> None:
    """`rcp tenant list | head -1`: exit 141 (as SIGPIPE would), no error message."""
    pipeline = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{sys.executable} -m rcp tenant list | head -1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert pipeline.stdout.split() == ["SLUG", "NAME", "STATUS", "TEMPLATE", "REVISION", "CREATED_AT"]
    assert pipeline.returncode == 141
    assert pipeline.stderr == ""


def test_status_all_live_refreshes_every_tenant_then_prints(
    cli: Cli, sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--live --all refreshes each tenant from Render (flipping PROVISIONING → ACTIVE) and
    prints the rows once the progress display is gone."""
    import time

    monkeypatch.setenv("RENDER_API_KEY", "rnd_stream_test_key")
    for slug in ("alpha", "beta"):
        created = cli("tenant", "create", slug, "--no-wait", "-o", "json")
        assert created.exit_code == 0, created.stderr
        assert created.json()["data"]["status"] == "PROVISIONING"
    time.sleep(0.5)  # past the sandbox's readiness delays (0.2 s / 0.3 s)
    live = cli("tenant", "status", "--all", "--live", "-o", "json")
    assert live.exit_code == 0, live.stderr
    assert [(t["slug"], t["status"]) for t in live.json()["data"]] == [
        ("alpha", "ACTIVE"),
        ("beta", "ACTIVE"),
    ]
    human = cli("tenant", "status", "--all", "--live")
    assert human.stdout.splitlines()[1].split()[:3] == ["alpha", "alpha", "ACTIVE"]
