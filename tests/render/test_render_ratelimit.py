"""The client-side rate limiter: buckets, never overflowing, header correction, the budget."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import pytest
from render_helpers import json_response, make_client, service_json

from rcp.errors import RetryLater
from rcp.render.kinds import SERVICE
from rcp.render.ratelimit import (
    BucketLimit,
    RateLimiter,
    RateLimits,
    bucket_for,
    default_limiter,
    reset_default_limiter,
)


class FakeClock:
    """A thread-safe clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        # Overlapping sleeps of several threads add up (time runs fast); the limiter's slots,
        # not the clock, are what the tests check.
        with self._lock:
            self.now += seconds


def limiter(
    clock: FakeClock, limits: RateLimits | None = None, max_wait: float = 10_000.0
) -> RateLimiter:
    return RateLimiter(limits, clock=clock, sleep=clock.sleep, max_wait=max_wait)


@pytest.mark.parametrize(
    ("method", "path", "bucket"),
    [
        ("GET", "/services", ("GET", "get")),
        ("GET", "/services/srv-1/deploys", ("GET", "get")),
        ("POST", "/services", ("POST /services", "create")),
        ("POST", "/postgres", ("POST /postgres", "create")),
        ("POST", "/key-value", ("POST /key-value", "create")),
        ("PATCH", "/services/srv-1", ("service srv-1", "per_service")),
        ("POST", "/services/srv-1/deploys", ("service srv-1", "per_service")),
        ("POST", "/services/srv-1/suspend", ("service srv-1", "per_service")),
        ("POST", "/services/srv-1/resume", ("service srv-1", "per_service")),
        ("DELETE", "/services/srv-1", ("writes", "write")),
        ("PUT", "/services/srv-1/env-vars", ("writes", "write")),
        ("PATCH", "/postgres/dpg-1-a", ("writes", "write")),
        ("POST", "/postgres/dpg-1-a/suspend", ("writes", "write")),
        ("POST", "/v1/services?x=1", ("POST /services", "create")),
    ],
)
def test_requests_fall_into_render_buckets(method: str, path: str, bucket: tuple[str, str]) -> None:
    assert bucket_for(method, path) == bucket


def test_documented_defaults() -> None:
    limits = RateLimits()
    assert (limits.get, limits.write, limits.create, limits.per_service) == (
        BucketLimit(400, 60.0),
        BucketLimit(30, 60.0),
        BucketLimit(20, 3600.0),
        BucketLimit(10, 60.0),
    )
    assert limits.scaled(2).create == BucketLimit(40, 3600.0)
    assert limits.scaled(0.001).create.limit == 1


def test_a_full_bucket_waits_for_the_oldest_slot_to_leave_the_window() -> None:
    clock = FakeClock()
    rl = limiter(clock, RateLimits(get=BucketLimit(3, 10.0)))
    slots = [rl.acquire("GET", "/services") for _ in range(4)]
    assert slots == [1000.0, 1000.0, 1000.0, 1010.0]
    assert clock.now == 1010.0


def test_buckets_are_independent_and_per_service() -> None:
    clock = FakeClock()
    rl = limiter(clock, RateLimits(per_service=BucketLimit(2, 60.0), write=BucketLimit(1, 60.0)))
    for _ in range(2):
        rl.acquire("PATCH", "/services/srv-a")
        rl.acquire("POST", "/services/srv-b/deploys")
    rl.acquire("DELETE", "/services/srv-a")
    rl.acquire("GET", "/services")
    assert clock.now == 1000.0  # nothing had to wait
    assert rl.acquire("POST", "/services/srv-a/suspend") == 1060.0


def test_a_wait_beyond_the_budget_raises_retry_later_without_taking_a_slot() -> None:
    clock = FakeClock()
    rl = limiter(clock, RateLimits(create=BucketLimit(1, 3600.0)), max_wait=60.0)
    rl.acquire("POST", "/services")
    with pytest.raises(RetryLater) as caught:
        rl.acquire("POST", "/services")
    assert caught.value.retry_at is not None and "retry after" in caught.value.message
    assert clock.now == 1000.0
    # No slot was taken: once the hour has passed, exactly one create goes through at once.
    clock.sleep(3600.0)
    assert rl.acquire("POST", "/services") == 4600.0
    # A per-call budget overrides the limiter's own.
    assert rl.acquire("POST", "/services", max_wait=4000.0) == 8200.0


def test_threads_hammering_never_overflow_a_bucket() -> None:
    clock = FakeClock()
    limit, window = 7, 5.0
    rl = limiter(clock, RateLimits(get=BucketLimit(limit, window)))
    granted: list[float] = []
    granted_lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(25):
                slot = rl.acquire("GET", "/services")
                assert clock() >= slot  # nobody proceeds before its slot
                with granted_lock:
                    granted.append(slot)
        except BaseException as exc:  # surfaced below: assertions in threads are silent otherwise
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == [] and len(granted) == 200
    granted.sort()
    # Any `limit + 1` consecutive slots span at least one full window.
    assert all(granted[i + limit] - granted[i] >= window for i in range(len(granted) - limit))


def test_headers_saying_nothing_remains_block_until_reset() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    rl.observe(
        "GET",
        "/services",
        {"Ratelimit-Limit": "400", "Ratelimit-Remaining": "0", "Ratelimit-Reset": "30"},
    )
    assert rl.acquire("GET", "/services/srv-1") == 1030.0


def test_headers_remaining_count_is_spent_before_blocking() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    rl.observe(
        "POST",
        "/services",
        {"Ratelimit-Limit": "20", "Ratelimit-Remaining": "2", "Ratelimit-Reset": "100"},
    )
    assert [rl.acquire("POST", "/services") for _ in range(3)] == [1000.0, 1000.0, 1100.0]


def test_a_lower_server_limit_replaces_ours_but_a_higher_one_does_not() -> None:
    clock = FakeClock()
    rl = limiter(clock, RateLimits(write=BucketLimit(10, 60.0), get=BucketLimit(2, 60.0)))
    rl.observe("PUT", "/services/srv-1/env-vars", {"Ratelimit-Limit": "3"})
    rl.observe("GET", "/services", {"Ratelimit-Limit": "400"})
    assert [rl.acquire("DELETE", "/services/srv-1") for _ in range(4)] == [1000.0] * 3 + [1060.0]
    assert [rl.acquire("GET", "/services") for _ in range(3)] == [1060.0, 1060.0, 1120.0]


def test_garbage_headers_are_ignored() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    rl.observe(
        "GET",
        "/services",
        {"Ratelimit-Limit": "lots", "Ratelimit-Remaining": "-3", "Ratelimit-Reset": "soon"},
    )
    assert rl.acquire("GET", "/services") == 1000.0
    snapshot = {s.bucket: s for s in rl.snapshot()}
    assert snapshot["GET"].limit == 400 and snapshot["GET"].used == 1


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
            json_response(
                200,
                service_json(),
                {"Ratelimit-Limit": "400", "Ratelimit-Remaining": "1", "Ratelimit-Reset": "40"},
            ),
            json_response(
                200,
                service_json(),
                {"Ratelimit-Limit": "400", "Ratelimit-Remaining": "0", "Ratelimit-Reset": "39"},
            ),
            json_response(200, service_json()),
        ]
    )
    client, recorder = make_client(lambda request: next(answers), sleep=clock.sleep, limiter=rl)  # type: ignore[arg-type]
    with client:
        for _ in range(3):
            client.get_resource(SERVICE, "srv-1")
    assert len(recorder.requests) == 3
    assert clock.now == 1039.0  # the third call waited for the window Render reported


def test_the_client_budget_applies_to_the_limiter_wait() -> None:
    clock = FakeClock()
    rl = limiter(clock, RateLimits(create=BucketLimit(1, 3600.0)))
    handler: Callable[[httpx.Request], httpx.Response] = lambda request: json_response(  # noqa: E731
        201, {"service": service_json(), "deployId": "dep-1"}
    )
    client, recorder = make_client(handler, sleep=clock.sleep, limiter=rl, max_wait=60.0)
    with client:
        client.create(SERVICE, {"type": "web_service", "name": "a", "ownerId": "tea-x"})
        with pytest.raises(RetryLater):
            client.create(SERVICE, {"type": "web_service", "name": "b", "ownerId": "tea-x"})
    assert len(recorder.requests) == 1
