"""Scheduling creates within Render's budget: the limiter's forecast and shared creation bucket,
the wait for a server-reported reset, the scaled windows, admission and deferral, the lone
first create, and a clean stop."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rcp.core.fleet import FleetApplier, FleetPlan, TenantChange, schedule
from rcp.core.fleet.apply import FirstCreateGate
from rcp.core.models import LockHolder, RemoteResource, ResourceKind
from rcp.core.provisioning import StopFlag, Waiting
from rcp.core.tenants import Operator
from rcp.errors import RetryLater
from rcp.render.ratelimit import (
    SHARED_CREATE_BUCKET,
    BucketLimit,
    RateLimiter,
    RateLimits,
    limits_from_env,
    parse_window_scale,
)
from rcp.sandbox.ratelimit import bucket_for as sandbox_bucket_for
from rcp.sandbox.settings import SandboxSettings, SandboxSettingsError

SERVICE, POSTGRES = ResourceKind.SERVICE, ResourceKind.POSTGRES


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def limiter(
    clock: FakeClock, limits: RateLimits | None = None, max_wait: float = 60.0
) -> RateLimiter:
    return RateLimiter(
        limits,
        clock=clock,
        sleep=clock.sleep,
        max_wait=max_wait,
        wall_clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
    )


def creator(slug: str, *kinds: ResourceKind) -> TenantChange:
    return TenantChange(
        slug=slug, action="create", creates=[(f"r{i}", kind) for i, kind in enumerate(kinds)]
    )


# ---- the limiter --------------------------------------------------------------------------


def test_services_postgres_and_key_value_share_one_creation_budget() -> None:
    clock = FakeClock()
    rl = limiter(clock, RateLimits(create=BucketLimit(3, 50.0)))
    rl.acquire("POST", "/services")
    rl.acquire("POST", "/postgres")
    rl.acquire("POST", "/key-value")
    assert clock.now == 1000.0
    assert rl.acquire("POST", "/postgres") == 1050.0  # the fourth create waits for the window
    assert [s.bucket for s in rl.snapshot()] == [SHARED_CREATE_BUCKET]
    separate = limiter(FakeClock(), RateLimits(create=BucketLimit(1, 100.0), shared_creates=False))
    assert separate.acquire("POST", "/services") == separate.acquire("POST", "/postgres") == 1000.0


def test_forecast_predicts_slots_in_order_without_taking_them() -> None:
    clock = FakeClock()
    rl = limiter(clock, RateLimits(create=BucketLimit(2, 10.0)))
    rl.acquire("POST", "/services")
    plan = [("POST", "/postgres"), ("POST", "/services"), ("POST", "/services"), ("GET", "/owners")]
    assert rl.forecast(plan) == [0.0, 10.0, 10.0, 0.0]
    assert rl.forecast(plan) == [0.0, 10.0, 10.0, 0.0]  # nothing was taken
    assert rl.acquire("POST", "/postgres") == 1000.0


def test_forecast_honours_a_server_reported_empty_bucket() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    rl.observe(
        "POST",
        "/services",
        {"Ratelimit-Limit": "20", "Ratelimit-Remaining": "0", "Ratelimit-Reset": "1800"},
    )
    assert rl.forecast([("POST", "/postgres")]) == [1800.0]


def test_a_caller_woken_for_its_slot_also_waits_for_a_reset_render_reported_meanwhile() -> None:
    clock = FakeClock()
    real_sleep = clock.sleep
    rl = limiter(clock, RateLimits(create=BucketLimit(1, 10.0)))
    rl.acquire("POST", "/services")

    answered: list[float] = []

    def sleep_while_render_answers(seconds: float) -> None:
        # While we sleep towards our slot, the previous create's answer says Render's window
        # (which started a little after ours) resets 1.5 s later than we thought.
        if not answered:
            answered.append(seconds)
            rl.observe(
                "POST",
                "/services",
                {
                    "Ratelimit-Limit": "1",
                    "Ratelimit-Remaining": "0",
                    "Ratelimit-Reset": str(seconds + 1.5),
                },
            )
        real_sleep(seconds)

    slot = rl.acquire("POST", "/services", sleep=sleep_while_render_answers)
    assert slot == pytest.approx(1011.5)
    assert clock.now == pytest.approx(1011.5)
    # The next slot counts from when the create really went out.
    assert rl.forecast([("POST", "/services")]) == [pytest.approx(10.0)]


def test_a_reported_reset_beyond_the_budget_gives_the_slot_back() -> None:
    clock = FakeClock()
    rl = limiter(clock, RateLimits(create=BucketLimit(1, 10.0)), max_wait=30.0)
    rl.acquire("POST", "/services")

    def sleep_then_learn(seconds: float) -> None:
        rl.observe("POST", "/services", {"Ratelimit-Remaining": "0", "Ratelimit-Reset": "3000"})
        clock.sleep(seconds)
        rl.observe("POST", "/services", {"Ratelimit-Remaining": "0", "Ratelimit-Reset": "2990"})

    with pytest.raises(RetryLater, match="retry after 2026-01-01"):
        rl.acquire("POST", "/services", sleep=sleep_then_learn)
    assert rl.snapshot()[0].used == 0  # the slot reserved at 1010 was given back


@pytest.mark.parametrize(("text", "value"), [("1/360", 1 / 360), ("0.5", 0.5), (" 2 ", 2.0)])
def test_window_scales_parse(text: str, value: float) -> None:
    assert parse_window_scale(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["0", "-1", "x", "1/0", "nan", "inf"])
def test_bad_window_scales_are_refused(text: str) -> None:
    with pytest.raises((ValueError, ZeroDivisionError)):
        parse_window_scale(text)


def test_the_client_reads_its_scale_or_the_in_process_sandbox_one() -> None:
    assert limits_from_env({}).create == BucketLimit(20, 3600.0)
    assert limits_from_env({"RCP_SANDBOX_RATE_WINDOW_SCALE": "1/360"}).create == BucketLimit(
        20, 10.0
    )
    both = {"RCP_RATE_WINDOW_SCALE": "0.5", "RCP_SANDBOX_RATE_WINDOW_SCALE": "1/360"}
    assert limits_from_env(both).get == BucketLimit(400, 30.0)
    assert limits_from_env({"RCP_RATE_WINDOW_SCALE": "soon"}).create == BucketLimit(20, 3600.0)


def test_the_sandbox_scales_its_windows() -> None:
    assert SandboxSettings.from_env(
        {"RCP_SANDBOX_RATE_WINDOW_SCALE": "1/360"}
    ).rate_window_scale == pytest.approx(1 / 360)
    with pytest.raises(SandboxSettingsError, match="RCP_SANDBOX_RATE_WINDOW_SCALE"):
        SandboxSettings.from_env({"RCP_SANDBOX_RATE_WINDOW_SCALE": "0"})
    bucket = sandbox_bucket_for("POST", "/postgres", window_scale=1 / 360)
    assert (bucket.name, bucket.limit, bucket.window_seconds) == ("create", 20, pytest.approx(10.0))
    assert sandbox_bucket_for("GET", "/services").window_seconds == 60.0


def test_sandbox_serve_refuses_a_bad_scale(tmp_path: Path) -> None:
    from tests.conftest import Cli

    result = Cli()("sandbox", "serve", "--port", "0", "--rate-window-scale", "0")
    assert result.exit_code == 2
    assert "--rate-window-scale" in result.stderr


# ---- admission ----------------------------------------------------------------------------


def test_tenants_whose_creates_fit_the_budget_are_admitted_in_order() -> None:
    clock = FakeClock()
    rl = limiter(clock, RateLimits(create=BucketLimit(4, 3600.0)))

    def forecast(kinds: list[ResourceKind]) -> list[float]:
        return rl.forecast([("POST", "/services" if k is SERVICE else "/postgres") for k in kinds])

    changes = [
        creator("a", POSTGRES, SERVICE),
        TenantChange(slug="u", action="update"),
        creator("b", POSTGRES, SERVICE),
        creator("c", POSTGRES, SERVICE),
        TenantChange(slug="d", action="delete"),
        creator("e", SERVICE),
    ]
    planned = schedule(changes, forecast, budget=60.0)
    assert [c.slug for c in planned.admitted] == ["a", "u", "b", "d"]
    assert [c.slug for c in planned.deferred] == ["c", "e"]
    assert planned.resume_in == pytest.approx(3600.0)
    assert planned.creates_done_in == 0.0
    assert planned.creates == {POSTGRES: 3, SERVICE: 4}


def test_creates_that_queue_within_the_budget_are_admitted_with_their_eta() -> None:
    rl = limiter(FakeClock(), RateLimits(create=BucketLimit(20, 10.0)))

    def forecast(kinds: list[ResourceKind]) -> list[float]:
        return rl.forecast([("POST", "/services")] * len(kinds))

    changes = [creator(f"t{i}", POSTGRES, SERVICE) for i in range(30)]
    planned = schedule(changes, forecast, budget=60.0)
    assert len(planned.admitted) == 30 and planned.deferred == []
    assert planned.creates_done_in == pytest.approx(20.0)  # three windows: 0, 10, 20 s


# ---- the applier --------------------------------------------------------------------------


class SlowCreates:
    """A gateway whose creates take a while; records how many ran at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.order: list[str] = []
        self._lock = threading.Lock()
        self.first_done = threading.Event()

    def create(
        self, kind: ResourceKind, body: dict[str, Any], env: list[dict[str, Any]]
    ) -> RemoteResource:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.order.append(body["name"])
        threading.Event().wait(0.05)
        with self._lock:
            self.running -= 1
        return RemoteResource(
            kind=kind,
            render_id=f"id-{body['name']}",
            name=body["name"],
            type="web_service",
            state="live",
        )


def test_the_first_create_goes_out_alone_then_the_rest_in_parallel() -> None:
    inner = SlowCreates()
    gate = FirstCreateGate(inner)  # type: ignore[arg-type]
    threads = [
        threading.Thread(target=gate.create, args=(SERVICE, {"name": f"n{i}"}, []))
        for i in range(6)
    ]
    for thread in threads:
        thread.start()
        if thread is threads[0]:
            threading.Event().wait(0.01)
    for thread in threads:
        thread.join()
    assert len(inner.order) == 6
    assert inner.order[0] == "n0"
    assert inner.most > 1  # after the first answer, the others ran together


def test_a_stop_before_a_tenant_starts_leaves_it_untouched() -> None:
    stop = StopFlag()
    stop.request(15)
    operator = Operator(
        store=object(),  # type: ignore[arg-type]  # never reached: nothing may start
        gateway=object(),  # type: ignore[arg-type]
        progress=object(),  # type: ignore[arg-type]
        holder=LockHolder(actor="t", host="h", pid=1, command="rcp apply"),
        stop=stop,
    )
    applier = FleetApplier(operator=operator, waiting=Waiting())
    plan = FleetPlan(changes=[creator("a", SERVICE), creator("b", SERVICE)])
    report = applier.apply(plan)
    assert [(r.slug, r.outcome, r.exit_code) for r in report.results] == [
        ("a", "interrupted", 143),
        ("b", "interrupted", 143),
    ]
    assert report.exit_code() == 143
