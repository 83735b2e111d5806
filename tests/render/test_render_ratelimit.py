"""The client-side rate limiter: families, windows, what Render's headers teach, the budget."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from render_helpers import API_KEY, json_response, make_client, service_json

from rcp.errors import RetryLater
from rcp.render.client import RenderClient
from rcp.render.kinds import SERVICE
from rcp.render.ratelimit import (
    BucketLimit,
    RateLimiter,
    RateLimits,
    Ticket,
    bucket_for,
    default_limiter,
    reset_default_limiter,
)

HOUR_START = 1_780_000_000.0 - 1_600.0  # a clock hour (epoch seconds divisible by 3600)


class FakeClock:
    """A thread-safe clock that only moves when someone sleeps on it; also the epoch."""

    def __init__(self, epoch_offset: float = HOUR_START - 1000.0 + 600.0) -> None:
        self.now = 1000.0
        self.epoch_offset = epoch_offset  # epoch = now + offset: 10 minutes into an hour
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def epoch(self) -> float:
        with self._lock:
            return self.now + self.epoch_offset

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def limiter(
    clock: FakeClock, limits: RateLimits | None = None, max_wait: float = 10_000.0
) -> RateLimiter:
    return RateLimiter(limits, clock=clock, sleep=clock.sleep, max_wait=max_wait, epoch=clock.epoch)


def headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    return {
        "Ratelimit-Limit": str(limit),
        "Ratelimit-Remaining": str(remaining),
        "Ratelimit-Reset": str(reset),
    }


def answered(
    rl: RateLimiter, method: str, path: str, head: dict[str, str], status: int = 201
) -> Ticket:
    ticket = rl.acquire(method, path)
    rl.observe(ticket, status, head)
    return ticket


@pytest.mark.parametrize(
    ("method", "path", "bucket"),
    [
        ("GET", "/services", ("GET", "get")),
        ("GET", "/services/srv-1/deploys", ("GET", "get")),
        ("POST", "/services", ("POST /services", "create")),
        ("POST", "/postgres", ("POST /postgres", "create")),
        ("POST", "/key-value", ("POST /key-value", "create")),
        ("POST", "/redis", ("POST /key-value", "create")),  # one counter in the recordings
        ("PATCH", "/services/srv-1", ("service srv-1", "per_service")),
        ("POST", "/services/srv-1/deploys", ("service srv-1", "per_service")),
        ("POST", "/services/srv-1/suspend", ("service srv-1", "per_service")),
        ("POST", "/services/srv-1/resume", ("service srv-1", "per_service")),
        ("DELETE", "/services/srv-1", ("writes", "write")),
        ("PUT", "/services/srv-1/env-vars", ("writes", "write")),
        ("PATCH", "/postgres/dpg-1-a", ("writes", "write")),
        ("POST", "/postgres/dpg-1-a/suspend", ("writes", "write")),
        ("POST", "/projects", ("writes", "write")),
        ("POST", "/v1/services?x=1", ("POST /services", "create")),
        ("GET", "/logs", ("logs", "logs")),  # the logs endpoints count on their own
        ("GET", "/v1/logs?resource=srv-1", ("logs", "logs")),
    ],
)
def test_requests_fall_into_render_families(
    method: str, path: str, bucket: tuple[str, str]
) -> None:
    assert bucket_for(method, path) == bucket


def test_documented_and_recorded_defaults() -> None:
    limits = RateLimits()
    assert (limits.get, limits.write, limits.create, limits.per_service) == (
        BucketLimit(400, 60.0),
        BucketLimit(100, 60.0),
        BucketLimit(20, 3600.0),
        BucketLimit(10, 60.0),
    )
    assert limits.logs == BucketLimit(30, 60.0)
    assert limits.scaled(2).create == BucketLimit(40, 3600.0)
    assert limits.with_windows_scaled(0.5).logs == BucketLimit(30, 30.0)
    assert limits.scaled(0.001).create.limit == 1


# ---- before Render has answered in a window ----------------------------------------------------


def test_without_answers_the_assumed_limit_holds_per_window() -> None:
    clock = FakeClock()
    rl = limiter(clock, RateLimits(get=BucketLimit(3, 10.0)))
    for _ in range(3):
        rl.release(rl.acquire("GET", "/services"))  # answers that carried no headers
    assert clock.now == 1000.0
    rl.acquire("GET", "/services")
    assert clock.now == pytest.approx(1010.0)  # the window of our first request ended


def test_logs_answers_never_stand_for_the_other_reads() -> None:
    """Render counts its logs endpoints on their own 30/min counter: an exhausted logs counter
    must not hold up a GET of anything else."""
    clock = FakeClock()
    rl = limiter(clock)
    ticket = rl.acquire("GET", "/logs")
    rl.observe(
        ticket,
        200,
        {"Ratelimit-Limit": "30", "Ratelimit-Remaining": "0", "Ratelimit-Reset": "40"},
    )
    rl.release(ticket)
    rl.release(rl.acquire("GET", "/services"))
    assert clock.now == 1000.0  # not held up
    rl.acquire("GET", "/logs")
    assert clock.now >= 1040.0  # the logs counter waits for its reset


def test_families_count_separately_and_per_service() -> None:
    clock = FakeClock()
    rl = limiter(clock, RateLimits(per_service=BucketLimit(2, 60.0), write=BucketLimit(1, 60.0)))
    for _ in range(2):
        rl.release(rl.acquire("PATCH", "/services/srv-a"))
        rl.release(rl.acquire("POST", "/services/srv-b/deploys"))
    rl.release(rl.acquire("DELETE", "/services/srv-a"))
    rl.release(rl.acquire("GET", "/services"))
    assert clock.now == 1000.0  # nothing had to wait
    rl.acquire("POST", "/services/srv-a/suspend")
    assert clock.now == pytest.approx(1060.0)


def test_creation_windows_end_on_the_clock_hour() -> None:
    """The recordings: every create answer's Date + Reset is hh:00:00."""
    clock = FakeClock()  # 600 s into the hour: 3,000 s to go
    rl = limiter(clock, RateLimits(create=BucketLimit(1, 3600.0)))
    rl.observe(rl.acquire("POST", "/services"), 201, {})  # no headers: our count only
    rl.acquire("POST", "/services")
    assert clock.epoch() % 3600 == pytest.approx(1.0)  # the next hour, plus 1 s of slack


def test_the_first_create_of_a_window_goes_alone_until_render_answers() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    first = rl.acquire("POST", "/services")
    went: list[float] = []
    second = threading.Thread(target=lambda: went.append(rl.acquire("POST", "/services").sent_at))
    second.start()
    second.join(timeout=0.3)
    assert second.is_alive() and went == []  # held back while the first is unanswered
    rl.observe(first, 201, headers(1000, 999, 3000))
    second.join(timeout=5)
    assert went == [1000.0]


def test_a_wait_beyond_the_budget_raises_retry_later_and_takes_nothing() -> None:
    clock = FakeClock()
    rl = limiter(clock, max_wait=60.0)
    answered(rl, "POST", "/services", headers(20, 0, 3000))
    with pytest.raises(RetryLater) as caught:
        rl.acquire("POST", "/services")
    assert caught.value.retry_at is not None and "retry after" in caught.value.message
    assert clock.now == 1000.0
    assert rl.snapshot()[0].used == 1


# ---- what the headers teach ------------------------------------------------------------------


def test_a_raised_quota_is_used() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    answered(rl, "POST", "/services", headers(1000, 999, 3000))
    for remaining in range(998, 960, -1):
        answered(rl, "POST", "/services", headers(1000, remaining, 3000))
    assert clock.now == 1000.0  # 39 creates in the window, none waited
    assert rl.forecast([("POST", "/services")] * 900) == [0.0] * 900


def test_other_processes_consumption_is_respected() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    # Our first create of the hour finds only 2 left: someone else used 17.
    answered(rl, "POST", "/services", headers(20, 2, 100))
    answered(rl, "POST", "/services", headers(20, 1, 99))
    answered(rl, "POST", "/services", headers(20, 0, 98))
    rl.acquire("POST", "/services")
    # Reset is rounded and answers take time: the latest reported end (plus slack) is safe.
    assert clock.now == pytest.approx(1000 + 100 + 1.0)


def test_requests_in_flight_count_against_what_remains() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    answered(rl, "POST", "/postgres", headers(20, 2, 500))
    one = rl.acquire("POST", "/postgres")
    two = rl.acquire("POST", "/postgres")
    third: list[Ticket] = []
    waiter = threading.Thread(target=lambda: third.append(rl.acquire("POST", "/postgres")))
    waiter.start()
    waiter.join(timeout=0.2)
    assert waiter.is_alive()  # 2 remained, 2 are in flight
    rl.observe(one, 201, headers(20, 1, 499))
    waiter.join(timeout=0.2)
    assert waiter.is_alive()
    rl.observe(two, 201, headers(20, 0, 499))
    waiter.join(timeout=5)
    assert third and third[0].sent_at == pytest.approx(1000 + 500 + 1.0)


def test_a_429_blocks_the_family_until_render_resets_it() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    answered(rl, "GET", "/services", headers(400, 0, 30), status=429)
    rl.acquire("GET", "/services/srv-1")
    assert clock.now == pytest.approx(1030.0 + 1.0)


def test_garbage_headers_are_ignored() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    answered(
        rl,
        "GET",
        "/services",
        {"Ratelimit-Limit": "lots", "Ratelimit-Remaining": "-3", "Ratelimit-Reset": "soon"},
    )
    rl.acquire("GET", "/services")
    snapshot = {s.bucket: s for s in rl.snapshot()}
    assert snapshot["GET"].limit == 400 and snapshot["GET"].used == 2
    assert clock.now == 1000.0


def test_an_answer_from_an_earlier_window_does_not_overwrite_the_current_one() -> None:
    clock = FakeClock()
    rl = limiter(clock, RateLimits(get=BucketLimit(400, 60.0)))
    late = rl.acquire("GET", "/a")
    answered(rl, "GET", "/b", headers(400, 300, 50))
    clock.sleep(55)  # the window Render reported is over; a new one starts
    answered(rl, "GET", "/c", headers(400, 399, 59))
    rl.observe(late, 200, headers(400, 5, 1))  # sent long ago, answered now
    assert {s.bucket: s for s in rl.snapshot()}["GET"].server_remaining == 399


# ---- counters shared between families -------------------------------------------------------


def test_a_counter_shared_by_services_and_postgres_is_learned() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    answered(rl, "POST", "/postgres", headers(20, 19, 3000))
    # The first service create of the hour: Remaining fell by our Postgres create too.
    answered(rl, "POST", "/services", headers(20, 18, 2999))
    buckets = {s.bucket: s for s in rl.snapshot()}
    assert buckets["POST /postgres+POST /services"].server_remaining == 18
    assert rl.learned()["shared"] == ["POST /postgres+POST /services"]
    waits = rl.forecast([("POST", "/services"), ("POST", "/postgres")] * 10)
    assert waits[:18] == [0.0] * 18 and min(waits[18:]) > 2999


def test_separate_counters_are_proven_and_each_budget_used() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    # Before Render says, a plan counts services and Postgres as one budget.
    assert rl.forecast([("POST", "/services"), ("POST", "/postgres")] * 11)[19:] == [
        0.0,
        pytest.approx(3001.0),
        pytest.approx(3001.0),
    ]
    answered(rl, "POST", "/postgres", headers(20, 19, 3000))
    answered(rl, "POST", "/services", headers(20, 19, 2999))
    assert rl.learned()["separate"] == ["POST /postgres+POST /services"]
    assert rl.forecast([("POST", "/services"), ("POST", "/postgres")] * 19) == [0.0] * 38


def test_consumption_by_another_process_alone_is_not_taken_for_sharing() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    answered(rl, "POST", "/services", headers(20, 10, 3000))  # someone used 9 services
    assert rl.learned()["shared"] == []


def test_a_learned_sharing_that_proves_wrong_is_undone() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    answered(rl, "POST", "/postgres", headers(20, 19, 3000))
    answered(rl, "POST", "/services", headers(20, 10, 2999))  # 9 more used: looks shared
    assert rl.learned()["shared"] == ["POST /postgres+POST /services"]
    # A Postgres create sent after that answer reports more left than 10: not one counter.
    answered(rl, "POST", "/postgres", headers(20, 18, 2998))
    assert rl.learned()["shared"] == []
    buckets = {s.bucket: s.server_remaining for s in rl.snapshot()}
    assert buckets["POST /postgres"] == 18 and buckets["POST /services"] == 10


# ---- the process-wide limiter and the client -------------------------------------------------


def test_the_default_limiter_is_one_per_process() -> None:
    seen: list[RateLimiter] = []
    threads = [threading.Thread(target=lambda: seen.append(default_limiter())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(x) for x in seen}) == 1 and seen[0] is default_limiter()

    replacement = RateLimiter(RateLimits().scaled(10))
    reset_default_limiter(replacement)
    try:
        assert default_limiter() is replacement
    finally:
        reset_default_limiter()
    assert default_limiter() is not replacement and default_limiter() is not seen[0]


def test_the_client_goes_through_the_limiter_and_feeds_it_headers() -> None:
    clock = FakeClock()
    rl = limiter(clock, RateLimits(get=BucketLimit(100, 60.0)))
    answers = iter(
        [
            json_response(200, service_json(), headers(400, 1, 40)),
            json_response(200, service_json(), headers(400, 0, 39)),
            json_response(200, service_json()),
        ]
    )
    client, recorder = make_client(lambda request: next(answers), sleep=clock.sleep, limiter=rl)  # type: ignore[arg-type]
    with client:
        for _ in range(3):
            client.get_resource(SERVICE, "srv-1")
    assert len(recorder.requests) == 3
    assert clock.now == pytest.approx(1040.0 + 1.0)  # the third waited for Render's window


def test_the_client_budget_applies_to_the_limiter_wait() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    handler: Callable[[httpx.Request], httpx.Response] = lambda request: json_response(  # noqa: E731
        201, {"service": service_json(), "deployId": "dep-1"}, headers(20, 0, 3000)
    )
    client, recorder = make_client(handler, sleep=clock.sleep, limiter=rl, max_wait=60.0)
    with client:
        client.create(SERVICE, {"type": "web_service", "name": "a", "ownerId": "tea-x"})
        with pytest.raises(RetryLater):
            client.create(SERVICE, {"type": "web_service", "name": "b", "ownerId": "tea-x"})
    assert len(recorder.requests) == 1


def test_a_request_without_an_answer_gives_its_place_back() -> None:
    clock = FakeClock()
    rl = limiter(clock)

    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    client, _ = make_client(drop, sleep=clock.sleep, limiter=rl, max_attempts=1)
    with client, pytest.raises(Exception, match="no answer|unreachable|Render"):
        client.create(SERVICE, {"type": "web_service", "name": "a", "ownerId": "tea-x"})
    # The probe is no longer in flight: the next create does not wait for its answer.
    rl.acquire("POST", "/services")
    assert clock.now == 1000.0


# ---- against the sandbox: 32 workers, windows scaled to 1/720 ------------------------------


@pytest.fixture
def scaled_sandbox(tmp_path: Path) -> Iterator[Callable[[RateLimiter], RenderClient]]:
    from rcp.sandbox import SandboxSettings, SandboxTransport

    transport = SandboxTransport(
        tmp_path / "sandbox.db",
        SandboxSettings(rate_window_scale=1 / 720, deploy_seconds=0, datastore_seconds=0),
    )
    clients: list[RenderClient] = []

    def make(rl: RateLimiter) -> RenderClient:
        client = RenderClient(
            API_KEY, base_url="http://sandbox.rcp/v1", transport=transport, limiter=rl
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
    transport.close()


def answered_creates(sandbox_dir: Path) -> list[float]:
    """When the sandbox answered each Postgres create with 201, by its own clock, in order."""
    import sqlite3

    with sqlite3.connect(sandbox_dir / "sandbox.db") as connection:
        return [
            float(at)
            for (at,) in connection.execute(
                "SELECT at FROM requests WHERE method = 'POST' AND path LIKE '%/postgres'"
                " AND status = 201 ORDER BY at"
            )
        ]


def test_no_429_with_32_workers_and_windows_scaled_to_1_720(
    scaled_sandbox: Callable[[RateLimiter], RenderClient], tmp_path: Path
) -> None:
    """Issue 12 item 5: the limiter leaves slack for jitter. 5 s creation windows, 32 threads
    creating Postgres as fast as they are let: every create answered 201, each full window
    holding Render's 20."""
    rl = RateLimiter(RateLimits().with_windows_scaled(1 / 720))
    client = scaled_sandbox(rl)
    owner = client.list_owners()[0].id
    statuses: list[int] = []
    lock = threading.Lock()
    deadline = time.time() + 11.0

    def worker(index: int) -> None:
        count = 0
        while time.time() < deadline:
            try:
                response = client.request(
                    "POST",
                    "/postgres",
                    json_body={
                        "name": f"w{index}-{count}",
                        "ownerId": owner,
                        "plan": "basic_256mb",
                        "version": "16",
                    },
                )
                status = response.status_code
            except RetryLater:
                status = 0  # the limiter said "not within the budget": nothing was sent
            except Exception as exc:  # noqa: BLE001 — a 429 surfaces as an error here
                status = getattr(exc, "status", None) or 599
            with lock:
                statuses.append(status)
            count += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert 429 not in statuses and 599 not in statuses
    created = answered_creates(tmp_path)
    assert len(created) == statuses.count(201)
    # Counted by the sandbox's clock (its windows are on it): the moment a client thread gets
    # its answer back may fall in the next window on a busy machine.
    per_window: dict[int, int] = {}
    for moment in created:
        per_window[int(moment // 5)] = per_window.get(int(moment // 5), 0) + 1
    full = [count for window, count in per_window.items() if window != max(per_window)]
    assert full and all(count == 20 for count in full[1:])  # the first may have started late
