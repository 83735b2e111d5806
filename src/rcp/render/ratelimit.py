"""Client-side rate limiter for Render's API buckets, shared by the whole process.

Render limits per API-key owner (Render's documented limits): GET 400/min; other writes 30/min
(100/min observed); creating services, Postgres and Key Value 20/hour; service PATCH, deploys,
suspend and resume 10/min *per service*. Staying under these on our side avoids 429s, which
matter most for creates: an hourly bucket cannot be waited out inside the wait budget.

Algorithm: per bucket a log of granted slot times. A new slot is never earlier than the slot
``limit`` places back plus the window, nor earlier than the previous slot (first come, first
served), so no window of ``window`` seconds ever holds more than ``limit`` slots. A caller
reserves its slot under the lock and then sleeps outside it until the slot time. Render's
``Ratelimit-Limit`` / ``-Remaining`` / ``-Reset`` headers correct the picture: a lower limit
replaces ours, and "0 remaining, reset in N s" blocks the bucket until then, which also covers
calls made by other processes with the same key.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from rcp.errors import RetryLater
from rcp.render.waits import (
    describe_retry_time,
    parse_int_header,
    parse_ratelimit_reset,
    retry_time,
)


@dataclass(frozen=True)
class BucketLimit:
    """``limit`` requests per ``window`` seconds."""

    limit: int
    window: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= 0:
            raise ValueError(f"invalid rate limit {self.limit}/{self.window}s")


@dataclass(frozen=True)
class RateLimits:
    """Render's documented limits; scale them for a raised quota or for tests."""

    get: BucketLimit = BucketLimit(400, 60.0)
    write: BucketLimit = BucketLimit(30, 60.0)
    create: BucketLimit = BucketLimit(20, 3600.0)
    per_service: BucketLimit = BucketLimit(10, 60.0)
    # One creation budget for services, Postgres and Key Value together. Render documents one
    # creation limit (docs/reliability.md: "service and datastore creation 20/hour") and the sandbox counts
    # it that way; each endpoint reports its own 20/hour counter, but whether they are separate
    # is unknown. Shared never sends a create Render would refuse; if they are separate, the
    # cost is only an earlier wait for the next window.
    shared_creates: bool = True

    def scaled(self, factor: float) -> RateLimits:
        """Every limit multiplied by ``factor`` (at least 1 request per window)."""

        def scale(bucket: BucketLimit) -> BucketLimit:
            return replace(bucket, limit=max(1, int(bucket.limit * factor)))

        return RateLimits(
            get=scale(self.get),
            write=scale(self.write),
            create=scale(self.create),
            per_service=scale(self.per_service),
            shared_creates=self.shared_creates,
        )

    def with_windows_scaled(self, factor: float) -> RateLimits:
        """Every window multiplied by ``factor`` (same counts): matches a sandbox whose clock
        for rate limits runs faster, e.g. ``1/360`` turns 20 creations per hour into 20 per 10 s."""
        if not factor > 0:
            raise ValueError(f"invalid window scale {factor!r}")

        def scale(bucket: BucketLimit) -> BucketLimit:
            return replace(bucket, window=bucket.window * factor)

        return RateLimits(
            get=scale(self.get),
            write=scale(self.write),
            create=scale(self.create),
            per_service=scale(self.per_service),
            shared_creates=self.shared_creates,
        )


WINDOW_SCALE_VARIABLES = ("RCP_RATE_WINDOW_SCALE", "RCP_SANDBOX_RATE_WINDOW_SCALE")


def parse_window_scale(text: str) -> float:
    """``0.5``, ``1/360`` → a positive factor; ValueError otherwise."""
    numerator, _, denominator = text.strip().partition("/")
    value = float(numerator) / float(denominator) if denominator else float(numerator)
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError(f"not a positive number: {text!r}")
    return value


def limits_from_env(environ: Mapping[str, str]) -> RateLimits:
    """Render's limits, with windows scaled by ``RCP_RATE_WINDOW_SCALE`` (else by the in-process
    sandbox's ``RCP_SANDBOX_RATE_WINDOW_SCALE``, so client and simulator agree). A malformed
    value is ignored with a warning: the limiter then errs on the slow side."""
    for name in WINDOW_SCALE_VARIABLES:
        raw = environ.get(name, "").strip()
        if not raw:
            continue
        try:
            return RateLimits().with_windows_scaled(parse_window_scale(raw))
        except (ValueError, ZeroDivisionError):
            log.warning("ignoring %s=%r: not a positive number", name, raw)
    return RateLimits()


# Paths are relative to the API base (``/services``, not ``/v1/services``).
log = logging.getLogger("rcp.render")

_CREATE_PATHS = frozenset({"/services", "/postgres", "/key-value"})
SHARED_CREATE_BUCKET = "POST /services|/postgres|/key-value"
_SERVICE_ONLY = re.compile(r"^/services/([^/]+)$")
_SERVICE_ACTION = re.compile(r"^/services/([^/]+)/(?:deploys|suspend|resume)$")


def normalise_path(path: str) -> str:
    path = path.split("?", 1)[0].rstrip("/") or "/"
    if path == "/v1" or path.startswith("/v1/"):
        path = path[3:] or "/"
    return path


def bucket_for(method: str, path: str) -> tuple[str, str]:
    """``(bucket key, family)`` of a request; family is a field name of ``RateLimits``.

    Creates get one bucket per endpoint: Render reports a separate ``Ratelimit-Limit: 20``
    counter on each of the three, and the headers correct us if they are in fact shared.
    """
    verb = method.upper()
    path = normalise_path(path)
    if verb in ("GET", "HEAD"):
        return "GET", "get"
    if verb == "POST" and path in _CREATE_PATHS:
        return f"POST {path}", "create"
    service = _SERVICE_ONLY.match(path) if verb == "PATCH" else None
    if service is None and verb == "POST":
        service = _SERVICE_ACTION.match(path)
    if service is not None:
        return f"service {service.group(1)}", "per_service"
    return "writes", "write"


@dataclass(frozen=True)
class BucketSnapshot:
    """One bucket as the limiter sees it now (for `rcp health`)."""

    bucket: str
    limit: int
    window: float
    used: int  # slots granted within the current window
    server_remaining: int | None
    server_reset_in: float | None


class _Bucket:
    def __init__(self, limit: BucketLimit) -> None:
        self.limit = limit.limit
        self.window = limit.window
        self.slots: deque[float] = deque()
        self.server_remaining: int | None = None
        self.server_reset_at: float | None = None

    def forget_old(self, now: float) -> None:
        # A slot at or before now - window cannot push the next slot past now: drop it.
        horizon = now - self.window
        while self.slots and self.slots[0] <= horizon:
            self.slots.popleft()
        if self.server_reset_at is not None and now >= self.server_reset_at:
            self.server_remaining = None
            self.server_reset_at = None

    def next_slot(self, now: float) -> float:
        slot = now
        if self.slots:
            slot = max(slot, self.slots[-1])
        if len(self.slots) >= self.limit:
            slot = max(slot, self.slots[-self.limit] + self.window)
        if (
            self.server_remaining is not None
            and self.server_remaining <= 0
            and self.server_reset_at is not None
        ):
            slot = max(slot, self.server_reset_at)
        return slot

    def take(self, slot: float) -> None:
        self.slots.append(slot)
        if self.server_remaining is not None and self.server_reset_at is not None:
            if slot < self.server_reset_at:
                self.server_remaining -= 1
            else:
                # The slot lies in the server's next window; its old count no longer applies.
                self.server_remaining = None
                self.server_reset_at = None

    def used(self, now: float) -> int:
        return sum(1 for slot in self.slots if now - self.window < slot <= now)

    def copy(self) -> _Bucket:
        twin = _Bucket(BucketLimit(self.limit, self.window))
        twin.slots = deque(self.slots)
        twin.server_remaining = self.server_remaining
        twin.server_reset_at = self.server_reset_at
        return twin

    def server_block(self, now: float) -> float | None:
        """When Render said the bucket is empty until later than ``now``: that moment."""
        if (
            self.server_remaining is not None
            and self.server_remaining <= 0
            and self.server_reset_at is not None
            and self.server_reset_at > now
        ):
            return self.server_reset_at
        return None


class RateLimiter:
    """Thread-safe limiter over Render's buckets; ``acquire`` before, ``observe`` after a call."""

    def __init__(
        self,
        limits: RateLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 60.0,
        wall_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.limits = limits or RateLimits()
        self._clock = clock
        self._sleep = sleep
        self.max_wait = max_wait
        self._wall_clock = wall_clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def _storage_key(self, key: str, family: str) -> str:
        return SHARED_CREATE_BUCKET if family == "create" and self.limits.shared_creates else key

    def _bucket(self, key: str, family: str) -> _Bucket:
        key = self._storage_key(key, family)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(getattr(self.limits, family))
            self._buckets[key] = bucket
        return bucket

    def acquire(
        self,
        method: str,
        path: str,
        *,
        max_wait: float | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> float:
        """Wait for a slot in the request's bucket; return the slot's clock time.

        Raises ``RetryLater`` (without taking a slot) when the slot is more than ``max_wait``
        seconds away. ``max_wait``/``sleep`` override the limiter's own for this call, so one
        process-wide limiter serves clients with different budgets and injected sleeps.
        """
        budget = self.max_wait if max_wait is None else max_wait
        key, family = bucket_for(method, path)
        with self._lock:
            now = self._clock()
            bucket = self._bucket(key, family)
            bucket.forget_old(now)
            slot = bucket.next_slot(now)
            wait = slot - now
            if wait > budget:
                at = retry_time(wait, self._wall_clock())
                raise RetryLater(
                    f"Render rate limit for {key} ({bucket.limit} per {bucket.window:g} s) is "
                    f"used up; retry after {describe_retry_time(at)} (in {wait:.0f} s)",
                    retry_at=at,
                    hint="rerun the same command then; it resumes where it stopped",
                )
            bucket.take(slot)
        if wait > 0:
            if wait >= 1.0:
                log.info("waiting %.1f s for Render's %s rate limit", wait, key)
            (sleep or self._sleep)(wait)
            slot = self._await_server_reset(key, bucket, slot, budget, sleep or self._sleep)
        return slot

    def _await_server_reset(
        self,
        key: str,
        bucket: _Bucket,
        slot: float,
        budget: float,
        sleep: Callable[[float], None],
    ) -> float:
        """After sleeping for a slot: if Render reported the bucket empty meanwhile (its window
        can start later than ours, e.g. by the request latency), wait for its reset too, so
        callers queued for the next window do not all arrive a moment early and get 429s."""
        while True:
            with self._lock:
                now = self._clock()
                blocked_until = bucket.server_block(now)
                if blocked_until is None:
                    return slot
                wait = blocked_until - now
                if wait > budget:
                    if slot in bucket.slots:
                        bucket.slots.remove(slot)
                    at = retry_time(wait, self._wall_clock())
                    raise RetryLater(
                        f"Render rate limit for {key} is used up; retry after "
                        f"{describe_retry_time(at)} (in {wait:.0f} s)",
                        retry_at=at,
                        hint="rerun the same command then; it resumes where it stopped",
                    )
                # Our slot moves to the server's reset: later slots are computed from it.
                if slot in bucket.slots:
                    bucket.slots.remove(slot)
                    bucket.slots.append(blocked_until)
                    bucket.slots = deque(sorted(bucket.slots))
                bucket.server_remaining = None
                bucket.server_reset_at = None
                slot = blocked_until
            sleep(wait)

    def forecast(self, requests: Sequence[tuple[str, str]]) -> list[float]:
        """Seconds from now until each of ``requests`` (``(method, path)``, sent in this order)
        could go out, without taking any slot: what a caller planning them can expect."""
        copies: dict[str, _Bucket] = {}
        waits: list[float] = []
        with self._lock:
            now = self._clock()
            for method, path in requests:
                key, family = bucket_for(method, path)
                storage = self._storage_key(key, family)
                bucket = copies.get(storage)
                if bucket is None:
                    existing = self._buckets.get(storage)
                    bucket = existing.copy() if existing else _Bucket(getattr(self.limits, family))
                    bucket.forget_old(now)
                    copies[storage] = bucket
                slot = bucket.next_slot(now)
                bucket.take(slot)
                waits.append(max(0.0, slot - now))
        return waits

    def observe(self, method: str, path: str, headers: Mapping[str, str]) -> None:
        """Correct the request's bucket from Render's ``Ratelimit-*`` response headers."""
        limit = parse_int_header(headers, "Ratelimit-Limit")
        remaining = parse_int_header(headers, "Ratelimit-Remaining")
        reset = parse_ratelimit_reset(headers)
        if limit is None and (remaining is None or reset is None):
            return
        key, family = bucket_for(method, path)
        with self._lock:
            now = self._clock()
            bucket = self._bucket(key, family)
            if limit is not None and 1 <= limit < bucket.limit:
                bucket.limit = limit
            if remaining is not None and reset is not None:
                reset_at = now + reset
                same_window = (
                    bucket.server_reset_at is not None
                    and abs(bucket.server_reset_at - reset_at) < 1.0
                    and bucket.server_remaining is not None
                )
                if same_window and bucket.server_remaining is not None:
                    # Answers can arrive out of order; the lowest count is the freshest.
                    bucket.server_remaining = min(bucket.server_remaining, remaining)
                else:
                    bucket.server_remaining = remaining
                    bucket.server_reset_at = reset_at

    def snapshot(self) -> list[BucketSnapshot]:
        with self._lock:
            now = self._clock()
            return [
                BucketSnapshot(
                    bucket=key,
                    limit=bucket.limit,
                    window=bucket.window,
                    used=bucket.used(now),
                    server_remaining=bucket.server_remaining,
                    server_reset_in=(
                        max(0.0, bucket.server_reset_at - now)
                        if bucket.server_reset_at is not None
                        else None
                    ),
                )
                for key, bucket in sorted(self._buckets.items())
            ]


_default_limiter: RateLimiter | None = None
_default_lock = threading.Lock()


def default_limiter() -> RateLimiter:
    """The process-wide limiter (created on first use) that every client shares by default."""
    global _default_limiter
    with _default_lock:
        if _default_limiter is None:
            _default_limiter = RateLimiter(limits_from_env(os.environ))
        return _default_limiter


def reset_default_limiter(replacement: RateLimiter | None = None) -> None:
    """Replace the process-wide limiter (``None``: a fresh one on next use).

    For test suites that run many commands in one process: without a reset, the 20-per-hour
    create buckets fill up across tests exactly as they would in one long-running process.
    """
    global _default_limiter
    with _default_lock:
        _default_limiter = replacement
