"""Duration profiles and the scaled clock (``--profile render``, ``--time-scale``): Render's
durations drawn per resource from their spread, divided by the time scale; rate-limit windows
run on the same clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from sandbox_support import MakeSandbox, Sandbox

from rcp.sandbox import SandboxSettings
from rcp.sandbox.profiles import RENDER_DURATIONS, real_seconds, render_seconds


def test_settings_from_env_read_the_profile_and_the_time_scale() -> None:
    defaults = SandboxSettings.from_env({})
    assert (defaults.profile, defaults.time_scale) == ("fixed", 1.0)
    custom = SandboxSettings.from_env(
        {"RCP_SANDBOX_PROFILE": "render", "RCP_SANDBOX_TIME_SCALE": "60"}
    )
    assert (custom.profile, custom.time_scale) == ("render", 60.0)
    assert SandboxSettings.from_env({"RCP_SANDBOX_TIME_SCALE": "1/2"}).time_scale == 0.5
    with pytest.raises(ValueError, match="RCP_SANDBOX_PROFILE"):
        SandboxSettings.from_env({"RCP_SANDBOX_PROFILE": "realistic"})
    with pytest.raises(ValueError, match="RCP_SANDBOX_TIME_SCALE"):
        SandboxSettings.from_env({"RCP_SANDBOX_TIME_SCALE": "fast"})
    with pytest.raises(ValueError, match="time_scale"):
        SandboxSettings(time_scale=0)


def test_render_durations_spread_per_resource_and_scale_with_the_clock() -> None:
    render = SandboxSettings(profile="render")
    for what, (low, high) in RENDER_DURATIONS.items():
        drawn = [render_seconds(render, what, f"id-{i}") for i in range(300)]
        assert all(low <= seconds < high for seconds in drawn)
        # Spread over the whole range, the same for the same resource every time.
        assert min(drawn) < low + 0.1 * (high - low) and max(drawn) > high - 0.1 * (high - low)
        assert render_seconds(render, what, "id-7") == drawn[7]
    assert 90 <= render_seconds(render, "postgres", "dpg-x-a") < 150
    assert 270 <= render_seconds(render, "deploy", "dep-x") < 330
    fast = SandboxSettings(profile="render", time_scale=60)
    assert real_seconds(fast, "deploy", "dep-x") == pytest.approx(
        render_seconds(render, "deploy", "dep-x") / 60
    )
    fixed = SandboxSettings(deploy_seconds=3.0, datastore_seconds=5.0, time_scale=2)
    assert (real_seconds(fixed, "deploy", "d"), real_seconds(fixed, "postgres", "p")) == (1.5, 2.5)


def test_postgres_and_deploys_take_render_time_on_the_scaled_clock(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox: Sandbox = make_sandbox(SandboxSettings(profile="render", time_scale=60))
    db = sandbox.create_postgres("profiled-db")
    ready_in = render_seconds(sandbox.settings, "postgres", db["id"]) / 60
    sandbox.clock.sleep(ready_in - 0.05)
    assert sandbox.client.get(f"/postgres/{db['id']}").json()["status"] == "creating"
    sandbox.clock.sleep(0.1)
    assert sandbox.client.get(f"/postgres/{db['id']}").json()["status"] == "available"

    created = sandbox.create_service("profiled-web")
    service_id, deploy_id = created["service"]["id"], created["deployId"]
    live_in = render_seconds(sandbox.settings, "deploy", deploy_id) / 60
    assert 4.5 <= live_in < 5.5  # 270–330 Render seconds at 60 per second
    sandbox.clock.sleep(live_in - 0.05)
    path = f"/services/{service_id}/deploys/{deploy_id}"
    assert sandbox.client.get(path).json()["status"] != "live"
    sandbox.clock.sleep(0.1)
    assert sandbox.client.get(path).json()["status"] == "live"


def test_rate_limit_windows_run_on_the_scaled_clock(make_sandbox: MakeSandbox) -> None:
    sandbox: Sandbox = make_sandbox(SandboxSettings(time_scale=60))
    assert sandbox.settings.window_scale == pytest.approx(1 / 60)
    response = sandbox.client.get("/owners")
    # Render's one-minute GET window lasts one real second here.
    assert float(response.headers["Ratelimit-Reset"]) <= 1.0
    assert response.headers["Ratelimit-Limit"] == "400"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "realistic"], "--profile"),
        (["--time-scale", "0"], "--time-scale"),
        (["--time-scale", "fast"], "--time-scale"),
    ],
)
def test_serve_refuses_a_bad_profile_or_time_scale(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from rcp.cli.sandbox import app

    monkeypatch.setenv("RCP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RCP_CONFIG_DIR", str(tmp_path / "config"))
    result = CliRunner().invoke(app, ["serve", "--port", "0", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "data" / "sandbox").exists()
