"""Scheduling creates within Render's budget: the predicted schedule, admission as Render's
answers arrive (in file order, reservations first come first served, deferral), the scaled
windows, and a clean stop. The limiter itself is tested in tests/render/test_render_ratelimit.py."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rcp.core.fleet import FleetApplier, FleetPlan, TenantChange, schedule
from rcp.core.fleet.admission import CreateAdmission, CreateTracker, TenantDoesNotFit
from rcp.core.models import LockHolder, RemoteResource, ResourceKind
from rcp.core.provisioning import StopFlag, Waiting
from rcp.core.tenants import Operator
from rcp.render.ratelimit import (
    BucketLimit,
    RateLimiter,
    RateLimits,
    limits_from_env,
    parse_window_scale,
)
from rcp.sandbox.ratelimit import RateLimitConfig
from rcp.sandbox.ratelimit import bucket_for as sandbox_bucket_for
from rcp.sandbox.settings import SandboxSettings, SandboxSettingsError

SERVICE, POSTGRES = ResourceKind.SERVICE, ResourceKind.POSTGRES
PATHS = {SERVICE: "/services", POSTGRES: "/postgres"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def epoch(self) -> float:
        # 10 minutes into a clock hour when the test starts.
        with self._lock:
            return 1_779_998_400.0 + 600.0 + (self.now - 1000.0)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def limiter(clock: FakeClock, limits: RateLimits | None = None) -> RateLimiter:
    return RateLimiter(
        limits,
        clock=clock,
        sleep=clock.sleep,
        max_wait=60.0,
        wall_clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
        epoch=clock.epoch,
    )


def forecast_of(rl: RateLimiter) -> Any:
    def forecast(kinds: list[ResourceKind]) -> list[float]:
        return rl.forecast([("POST", PATHS[kind]) for kind in kinds])

    return forecast


def creator(slug: str, *kinds: ResourceKind) -> TenantChange:
    return TenantChange(
        slug=slug, action="create", creates=[(f"r{i}", kind) for i, kind in enumerate(kinds)]
    )


# ---- scaled windows ------------------------------------------------------------------------


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
    bucket = sandbox_bucket_for("POST", "/postgres", RateLimitConfig(window_scale=1 / 360))
    assert (bucket.name, bucket.limit, bucket.window_seconds) == (
        "create:postgres",
        20,
        pytest.approx(10.0),
    )
    shared = sandbox_bucket_for("POST", "/services", RateLimitConfig(create_counters="shared"))
    assert shared.name == "create"
    assert sandbox_bucket_for("GET", "/services").window_seconds == 60.0


def test_sandbox_serve_refuses_bad_rate_options(tmp_path: Path) -> None:
    from tests.conftest import Cli

    result = Cli()("sandbox", "serve", "--port", "0", "--rate-window-scale", "0")
    assert result.exit_code == 2
    assert "--rate-window-scale" in result.stderr
    result = Cli()("sandbox", "serve", "--port", "0", "--create-counters", "pooled")
    assert result.exit_code == 2
    assert "--create-counters" in result.stderr


# ---- the predicted schedule ----------------------------------------------------------------


def test_the_schedule_predicts_from_what_the_limiter_knows() -> None:
    clock = FakeClock()
    rl = limiter(clock, RateLimits(create=BucketLimit(4, 3600.0)))
    changes = [
        creator("a", POSTGRES, SERVICE),
        TenantChange(slug="u", action="update"),
        creator("b", POSTGRES, SERVICE),
        creator("c", POSTGRES, SERVICE),
        TenantChange(slug="d", action="delete"),
        creator("e", SERVICE),
    ]
    planned = schedule(changes, forecast_of(rl), budget=60.0)
    # Not yet known whether services and Postgres share a counter: planned as one budget.
    assert [c.slug for c in planned.admitted] == ["a", "u", "b", "d"]
    assert [c.slug for c in planned.deferred] == ["c", "e"]
    assert planned.resume_in == pytest.approx(3000.0 + 1.0)  # the clock hour, plus slack
    assert planned.creates_done_in == 0.0
    assert planned.creates == {POSTGRES: 3, SERVICE: 4}


def test_creates_that_queue_within_the_budget_are_admitted_with_their_eta() -> None:
    clock = FakeClock()
    rl = limiter(clock, RateLimits(create=BucketLimit(20, 10.0)))
    changes = [creator(f"t{i}", POSTGRES, SERVICE) for i in range(30)]
    planned = schedule(changes, forecast_of(rl), budget=60.0)
    assert len(planned.admitted) == 30 and planned.deferred == []
    # 60 creates at 20 per window: the current window, then two more (windows on the clock).
    assert 20.0 < planned.creates_done_in <= 30.0


# ---- admission -----------------------------------------------------------------------------


def test_admission_in_order_until_the_budget_is_reserved_then_waits_then_defers() -> None:
    clock = FakeClock()
    rl = limiter(clock, RateLimits(create=BucketLimit(4, 3600.0)))
    admission = CreateAdmission(forecast_of(rl), budget=60.0)
    assert admission.consider("a", [POSTGRES, SERVICE]).admitted
    assert admission.consider("b", [POSTGRES, SERVICE]).admitted
    # The budget is reserved; a's and b's creates are still to go: not decided yet.
    undecided = admission.consider("c", [POSTGRES, SERVICE])
    assert (undecided.admitted, undecided.wait) == (False, None)
    # Once nothing reserved is left to go, it does not fit: deferred to the next hour.
    admission.bind("a")
    admission.bind(None)
    admission.bind("b")
    admission.bind(None)
    spent = {"Ratelimit-Limit": "4", "Ratelimit-Remaining": "0", "Ratelimit-Reset": "3000"}
    for path in ("/postgres", "/services"):  # their creates went out: Render says all spent
        rl.observe(rl.acquire("POST", path), 201, spent)
    verdict = admission.consider("c", [POSTGRES, SERVICE])
    assert not verdict.admitted and verdict.wait is not None and verdict.wait > 60.0


def test_a_later_tenant_waits_for_the_creates_reserved_before_it() -> None:
    """First come, first served: b's Postgres create must not take the slot a's service needs
    (a's service create waits for a's database to be available first)."""
    clock = FakeClock()
    rl = limiter(clock, RateLimits(create=BucketLimit(2, 3600.0)))
    admission = CreateAdmission(forecast_of(rl), budget=7200.0)
    assert admission.consider("a", [POSTGRES, SERVICE]).admitted
    assert admission.consider("b", [POSTGRES, SERVICE]).admitted  # next hour, within budget
    admission.bind("b")
    assert admission.claim(POSTGRES).wait > 0  # behind a's two creates
    admission.bind("a")
    assert admission.claim(POSTGRES).wait == 0
    rl.acquire("POST", "/postgres")  # claimed creates go to the limiter, which counts them
    assert admission.claim(SERVICE).wait == 0
    rl.acquire("POST", "/services")
    admission.bind(None)
    admission.bind("b")
    assert admission.claim(POSTGRES).wait > 0  # the hour's budget went to a
    admission.bind(None)


def test_a_tenant_that_no_longer_fits_sends_no_further_create() -> None:
    """Admitted on the documented budget, then Render's answers tell that another process
    spent most of the hour: before its next create goes out the tenant learns that its
    remaining creates cannot all go within the wait budget, and nothing more is sent."""
    clock = FakeClock()
    rl = limiter(clock, RateLimits(create=BucketLimit(4, 3600.0)))
    admission = CreateAdmission(forecast_of(rl), budget=60.0)
    assert admission.consider("a", [POSTGRES, SERVICE, SERVICE]).admitted
    sent: list[str] = []

    class Recording:
        def create(
            self, kind: ResourceKind, body: dict[str, Any], env: list[dict[str, Any]]
        ) -> RemoteResource:
            rl.acquire("POST", PATHS[kind])
            sent.append(body["name"])
            return RemoteResource(
                kind=kind, render_id="x", name=body["name"], type="service", state="creating"
            )

    tracker = CreateTracker(Recording(), admission, clock=clock)  # type: ignore[arg-type]
    admission.bind("a")
    tracker.create(POSTGRES, {"name": "a-db"}, [])
    # Two service creates of another process (on a counter not proven separate from the
    # Postgres one) leave one slot for a's last two.
    for _ in range(2):
        rl.acquire("POST", "/services")
    claim = admission.claim(SERVICE)
    assert claim.wait == 0 and claim.finish > admission.budget
    with pytest.raises(TenantDoesNotFit) as caught:
        tracker.create(SERVICE, {"name": "a-web"}, [])
    assert caught.value.exit_code == 75 and caught.value.retry_at is not None
    assert sent == ["a-db"]
    admission.bind(None)


def test_the_tracker_holds_a_create_until_it_is_its_turn() -> None:
    order: list[str] = []

    class Recording:
        def create(
            self, kind: ResourceKind, body: dict[str, Any], env: list[dict[str, Any]]
        ) -> RemoteResource:
            order.append(body["name"])
            return RemoteResource(
                kind=kind, render_id="x", name=body["name"], type="postgres", state="creating"
            )

    turn = {"b": 1.0}

    def forecast(kinds: list[ResourceKind]) -> list[float]:
        # b's create waits while a holds a reservation; a never waits.
        return [0.0] * (len(kinds) - 1) + [turn["b"] if len(kinds) > 1 else 0.0]

    admission = CreateAdmission(forecast, budget=60.0)
    assert admission.consider("a", [POSTGRES]).admitted
    assert admission.consider("b", [POSTGRES]).admitted
    tracker = CreateTracker(Recording(), admission, clock=FakeClock())  # type: ignore[arg-type]

    def run(slug: str) -> None:
        admission.bind(slug)
        tracker.create(POSTGRES, {"name": slug}, [])
        admission.bind(None)

    later = threading.Thread(target=run, args=("b",))
    later.start()
    later.join(timeout=0.3)
    assert later.is_alive() and order == []  # b waits for a
    run("a")
    later.join(timeout=5)
    assert order == ["a", "b"]


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
