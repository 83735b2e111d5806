"""`rcp apply` under Render's creation limits, as the headers tell them (issue 10 item 2).

Against the in-process sandbox: a raised quota is used in one apply; Render's default limits
with separate creation counters give 20 default tenants (a service and a Postgres each) in the
first window, with shared counters 10; the rest follow with an ETA, or are deferred with the
time to rerun when the next window is beyond the wait budget; at most one answered 429.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import sandbox_requests

from tests.conftest import FULL_TEMPLATE, Cli

CREATES = ("/v1/services", "/v1/postgres", "/v1/key-value", "/v1/redis")


def fleet_of(write_fleet: Callable[..., Path], count: int) -> Path:
    return write_fleet("tenants:\n" + "".join(f"  - name: t{i:02d}\n" for i in range(count)))


def apply_json(cli: Cli, *args: str) -> tuple[int, dict[str, Any], str]:
    result = cli("-o", "json", "apply", *args)
    document = result.json()
    assert "data" in document, result.stderr
    return result.exit_code, document["data"], result.stderr


def creates(data_dir: Path) -> list[tuple[float, str, int, str]]:
    """Every create the sandbox answered: (epoch, path, status, Render name), oldest first."""
    with sqlite3.connect(data_dir / "sandbox" / "render.db") as connection:
        return [
            (float(at), str(path), int(status), str(name or ""))
            for at, path, status, name in connection.execute(
                "SELECT at, path, status, name FROM requests WHERE method = 'POST' ORDER BY seq"
            )
            if path in CREATES
        ]


def tenants_per_window(rows: list[tuple[float, str, int, str]], window: float) -> list[int]:
    """Finished tenants per clock window, counted in the window of their last create."""
    done = [(at, name) for at, _path, status, name in rows if status == 201]
    first = math.floor(min(at for at, _ in done) / window)
    last: dict[str, int] = {}
    for at, name in done:
        tenant = name.rsplit("-", 1)[0]
        last[tenant] = max(last.get(tenant, 0), math.floor(at / window) - first)
    counts = [0] * (max(last.values()) + 1)
    for index in last.values():
        counts[index] += 1
    return counts


def start_of_a_window(window: float) -> None:
    """Begin right after a clock boundary (the sandbox's windows end on it), so the first
    window is a whole one."""
    into = time.time() % window
    if into > 0.1 * window:
        time.sleep(window - into + 0.05)


@pytest.fixture
def scaled(fleet_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> float:
    """Creation windows of 10 s for the sandbox and the client (`--rate-window-scale 1/360`)."""
    monkeypatch.setenv("RCP_SANDBOX_RATE_WINDOW_SCALE", "1/360")
    monkeypatch.setenv("RCP_RATE_WINDOW_SCALE", "1/360")
    return 10.0


def test_a_raised_quota_is_used_in_one_apply(
    cli: Cli,
    fleet_env: dict[str, str],
    write_fleet: Callable[..., Path],
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RCP_SANDBOX_CREATE_LIMIT", "1000")
    code, data, stderr = apply_json(cli, str(fleet_of(write_fleet, 24)), "-c", "24")
    assert code == 0, stderr
    assert {r["outcome"] for r in data["results"]} == {"created"}
    tenants = cli("-o", "json", "tenant", "list").json()["data"]
    assert len(tenants) == 24 and {t["status"] for t in tenants} == {"ACTIVE"}
    assert not [r for r in sandbox_requests(isolated_env / "data") if r[2] == 429]
    rows = creates(isolated_env / "data")
    assert len([r for r in rows if r[2] == 201]) == 48


@pytest.mark.parametrize(("counters", "first_window"), [("separate", 20), ("shared", 10)])
def test_default_limits_fill_each_window_and_schedule_the_rest(
    cli: Cli,
    scaled: float,
    write_fleet: Callable[..., Path],
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    counters: str,
    first_window: int,
) -> None:
    monkeypatch.setenv("RCP_SANDBOX_CREATE_COUNTERS", counters)
    fleet = fleet_of(write_fleet, 24)
    start_of_a_window(scaled)
    code, data, stderr = apply_json(cli, str(fleet), "-c", "24")
    assert code == 0, stderr
    assert {r["outcome"] for r in data["results"]} == {"created"}
    rows = creates(isolated_env / "data")
    per_window = tenants_per_window(rows, scaled)
    assert per_window[0] == first_window, per_window
    assert sum(per_window) == 24
    assert len([r for r in rows if r[2] == 429]) <= 1
    # The tenants after the first window were scheduled, with an estimate of when.
    assert "ETA ~" in stderr


def test_beyond_the_wait_budget_the_rest_is_deferred_with_the_time_to_rerun(
    cli: Cli, fleet_env: dict[str, str], write_fleet: Callable[..., Path], isolated_env: Path
) -> None:
    # Render's real windows: 24 default tenants need 24 service and 24 Postgres creations.
    fleet = fleet_of(write_fleet, 24)
    code, data, stderr = apply_json(cli, str(fleet), "-c", "24")
    assert code == 75, stderr
    results = {r["slug"]: r for r in data["results"]}
    created = [slug for slug, r in results.items() if r["outcome"] == "created"]
    assert created == [f"t{i:02d}" for i in range(20)]
    deferred = [results[f"t{i:02d}"] for i in range(20, 24)]
    assert {r["outcome"] for r in deferred} == {"deferred"}
    assert all(r["exit_code"] == 75 and r["retry_at"].endswith("Z") for r in deferred)
    assert all("not started" in r["error"] for r in deferred)
    assert "4 tenants left for later by Render's rate limits" in stderr
    requests = sandbox_requests(isolated_env / "data")
    assert not [r for r in requests if r[2] == 429]  # scheduled, not refused
    assert cli("-o", "json", "tenant", "show", "t20").exit_code == 3  # never started

    # A new process knows nothing of the spent hour: its first create finds out, alone.
    from rcp.render.ratelimit import reset_default_limiter

    reset_default_limiter()
    code, data, stderr = apply_json(cli, str(fleet), "-c", "24")
    assert code == 75
    assert {r["outcome"] for r in data["results"] if r["slug"] >= "t20"} == {"deferred"}
    refused = [r for r in sandbox_requests(isolated_env / "data")[len(requests) :] if r[2] == 429]
    assert len(refused) == 1




def test_a_tenant_stopped_part_way_by_an_hour_spent_elsewhere_is_rolled_back(
    cli: Cli,
    fleet_env: dict[str, str],
    write_fleet: Callable[..., Path],
    isolated_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 13 item 5: another process spent 18 of the hour's 20 creations; a new process
    knows nothing of it until its first create is answered. The tenant that needs four creates
    is not left half-built until the next window: nothing more goes out once Render's answer
    tells, what it created is deleted again with its record, and it is reported deferred."""
    from rcp.render.ratelimit import reset_default_limiter

    monkeypatch.setenv("RCP_SANDBOX_CREATE_COUNTERS", "shared")
    (tmp_path / "four.yaml").write_text(FULL_TEMPLATE, encoding="utf-8")
    elsewhere = fleet_of(write_fleet, 9)  # 9 default tenants: 18 creates
    code, data, stderr = apply_json(cli, str(elsewhere), "-c", "9")
    assert code == 0, stderr
    reset_default_limiter()  # what a new process knows: nothing of the spent hour

    fleet = write_fleet(
        "tenants:\n"
        + "".join(f"  - name: t{i:02d}\n" for i in range(9))
        + "  - name: big\n    template: four.yaml\n"
        + "  - name: after\n",
        "second.yaml",
    )
    before = len(creates(isolated_env / "data"))
    code, data, stderr = apply_json(cli, str(fleet), "-c", "4")
    assert code == 75, stderr
    results = {r["slug"]: r for r in data["results"]}
    big = results["big"]
    assert big["outcome"] == "deferred"
    assert big["exit_code"] == 75 and big["retry_at"].endswith("Z")
    assert big["error"].startswith("not started: "), big["error"]
    # Whichever create went out first (big's or after's) told what was left; from then on no
    # create went out that Render refused, and no tenant was left part-built: each one either
    # finished or has neither a record nor anything on Render.
    sent = creates(isolated_env / "data")[before:]
    assert sent and {status for _at, _path, status, _name in sent} == {201}
    big_sent = [name for _at, _path, _status, name in sent if name.startswith("big-")]
    assert ("deleted again" in big["error"]) == bool(big_sent), big["error"]
    for slug in ("big", "after"):
        if results[slug]["outcome"] == "created":
            shown = cli("-o", "json", "tenant", "show", slug).json()["data"]
            assert shown["status"] == "ACTIVE"
            assert all(r["render_id"] for r in shown["resources"])
        else:
            assert results[slug]["outcome"] == "deferred"
            assert cli("-o", "json", "tenant", "show", slug).exit_code == 3
            assert _live_render_names(isolated_env / "data", f"{slug}-") == []
    world = cli("-o", "json", "tenant", "list").json()["data"]
    assert {f"t{i:02d}" for i in range(9)} <= {t["slug"] for t in world}
    assert _live_render_names(isolated_env / "data", "t00-")  # the world is read where it is


def _live_render_names(data_dir: Path, prefix: str) -> list[str]:
    """Names of resources the sandbox world still holds that start with ``prefix``."""
    with sqlite3.connect(data_dir / "sandbox" / "render.db") as connection:
        return [
            str(name)
            for (name,) in connection.execute(
                "SELECT name FROM resources WHERE name LIKE ? ORDER BY seq", (prefix + "%",)
            )
        ]
