"""`rcp apply` against the in-process sandbox with Render's durations (`RCP_SANDBOX_PROFILE=
render`) on a fast clock (`RCP_SANDBOX_TIME_SCALE`): the tenants' Postgres instances are
awaited with shared list requests (several names each, never one GET per instance), each new
service through its create deploy, and every tenant ends ACTIVE with fewer requests than
per-resource polling at Render's pace would need."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from fleet_helpers import sandbox_dump

from tests.conftest import Cli

TIME_SCALE = 300  # Render seconds per real second: a 5-minute deploy takes one second


@pytest.fixture
def render_timings(fleet_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCP_SANDBOX_PROFILE", "render")
    monkeypatch.setenv("RCP_SANDBOX_TIME_SCALE", str(TIME_SCALE))


def test_a_fleet_on_render_timings_reads_postgres_in_batches(
    cli: Cli, render_timings: None, write_fleet: Callable[..., Path], isolated_env: Path
) -> None:
    fleet = write_fleet("tenants:\n" + "".join(f"  - name: rp{i}\n" for i in range(6)))
    result = cli("-o", "json", "apply", str(fleet), "--concurrency", "6")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert [r["outcome"] for r in data["results"]] == ["created"] * 6
    # Six tenants each waited for a 2-minute Postgres and a 5-minute deploy of Render time.
    assert data["seconds"] * TIME_SCALE >= 270 + 90

    world = sandbox_dump(isolated_env / "data")
    gets = [(r["path"], r["query"]) for r in world["requests"] if r["method"] == "GET"]
    listed = [
        parse_qs(query)["name"][0].split(",") for path, query in gets if path == "/v1/postgres"
    ]
    # Readiness of Postgres only through the list endpoint, and shared: some list answered for
    # several tenants at once.
    assert listed
    assert not [p for p, _ in gets if p.startswith("/v1/postgres/dpg-") and "connection" not in p]
    assert max(len(names) for names in listed) > 1
    assert {name for names in listed for name in names} == {f"rp{i}-db" for i in range(6)}
    # Each service followed through its create deploy.
    deploy_polls = [p for p, _ in gets if "/deploys/" in p]
    assert len({p.split("/")[3] for p in deploy_polls}) == 6

    status = cli("-o", "json", "tenant", "list")
    assert status.exit_code == 0, status.stderr
    assert {t["status"] for t in status.json()["data"]} == {"ACTIVE"}
