"""Render's rate-limit buckets, kept in the shared SQLite file.

What is modelled, and where it comes from:

- Buckets and limits (Render's documented limits and the recorded real answers):
  GET 400/min; creates (``POST /services``, ``/postgres``, ``/key-value``, ``/redis``) 20/hour;
  ``PATCH /services/{id}`` and ``POST /services/{id}/deploys|rollback|suspend|resume|scale`` 10/min per
  service; every other write 100/min (what every recorded answer reports — the docs say 30);
  the logs endpoints (``/logs…``) 30/min on their own counter (Render's limits as summarised in
  docs/reliability.md; the recorded ``/logs/streams`` answers report ``Ratelimit-Limit: 30``).
- Fixed windows on the clock: every create answer of the recordings has ``Date`` + ``Reset`` =
  hh:00:00, so a window is ``[k·W, (k+1)·W)`` of the epoch clock. The recordings cannot show
  where per-minute windows start; they are aligned the same way (on the minute).
- Counters: ``/key-value`` and ``/redis`` creates draw on one counter (recordings). Whether
  services, Postgres and Key Value share one is not settled by Render's docs or the recordings,
  so both worlds exist: separate counters by default, one shared counter with
  ``create_counters="shared"``.
- A raised quota (Render raises the creation limit on request; a raised quota of
  1,000/hour is known in the wild): ``create_limit``.
- Headers: ``Ratelimit-Limit``, ``-Remaining`` and ``-Reset`` = seconds until the window resets
  (what Render sends, despite its docs saying "epoch seconds"), rounded up to a whole second of
  the simulated clock: with windows scaled by ``window_scale`` one simulated second is
  ``window_scale`` real seconds, so the value can be fractional (``1/720`` → steps of ~1.4 ms).
"""

from __future__ import annotations

import math
import re
import sqlite3
from dataclasses import dataclass

_SERVICE_ACTION = re.compile(r"^/services/([^/]+)(?:/(deploys|rollback|suspend|resume|scale))?$")
# Each create path → its counter (``/redis`` is the old name of ``/key-value``: one counter).
CREATE_COUNTERS = {
    "/services": "create:services",
    "/postgres": "create:postgres",
    "/key-value": "create:key-value",
    "/redis": "create:key-value",
}
CREATE_PATHS = frozenset(CREATE_COUNTERS)
SHARED_CREATE_COUNTER = "create"
CREATE_COUNTER_MODES = ("separate", "shared")

GET_LIMIT = 400
CREATE_LIMIT = 20
PER_SERVICE_LIMIT = 10
WRITE_LIMIT = 100
LOGS_LIMIT = 30
MINUTE = 60.0
HOUR = 3600.0


@dataclass(frozen=True)
class RateLimitConfig:
    """How this world limits: window scale, the creation quota, shared or separate counters."""

    window_scale: float = 1.0
    create_limit: int = CREATE_LIMIT
    create_counters: str = "separate"


@dataclass(frozen=True)
class Bucket:
    name: str
    limit: int
    window_seconds: float
    scale: float = 1.0  # real seconds per simulated second (for rounding Reset)


@dataclass(frozen=True)
class BucketState:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float

    @property
    def reset_header(self) -> str:
        """``Ratelimit-Reset`` as sent: whole seconds when they are whole, else the fraction."""
        if float(self.reset_seconds).is_integer():
            return str(int(self.reset_seconds))
        return f"{self.reset_seconds:.6f}".rstrip("0").rstrip(".")


def bucket_for(method: str, api_path: str, config: RateLimitConfig | None = None) -> Bucket:
    """The bucket one request draws on (see the module docstring for the sources)."""
    config = config or RateLimitConfig()
    scale = config.window_scale
    if api_path == "/logs" or api_path.startswith("/logs/"):
        return Bucket("logs", LOGS_LIMIT, MINUTE * scale, scale)
    if method in ("GET", "HEAD", "OPTIONS"):
        return Bucket("get", GET_LIMIT, MINUTE * scale, scale)
    if method == "POST" and api_path in CREATE_COUNTERS:
        name = (
            SHARED_CREATE_COUNTER
            if config.create_counters == "shared"
            else CREATE_COUNTERS[api_path]
        )
        return Bucket(name, config.create_limit, HOUR * scale, scale)
    match = _SERVICE_ACTION.match(api_path)
    if match:
        service_id, action = match.groups()
        if (method == "PATCH" and action is None) or (method == "POST" and action is not None):
            return Bucket(f"service:{service_id}", PER_SERVICE_LIMIT, MINUTE * scale, scale)
    return Bucket("write", WRITE_LIMIT, MINUTE * scale, scale)


def _window_start(bucket: Bucket, now: float) -> float:
    return math.floor(now / bucket.window_seconds) * bucket.window_seconds


def _reset(bucket: Bucket, start: float, now: float) -> float:
    """Seconds until the window ends, rounded up to a whole simulated second."""
    left = max(0.0, start + bucket.window_seconds - now)
    # The small epsilon keeps float noise (4.000000001 simulated seconds) from adding a second.
    simulated = math.ceil(left / bucket.scale - 1e-9)
    return max(0, simulated) * bucket.scale


def _used(connection: sqlite3.Connection, bucket: Bucket, start: float) -> int:
    row = connection.execute(
        "SELECT window_start, used FROM rate_buckets WHERE name = ?", (bucket.name,)
    ).fetchone()
    if row is None or abs(float(row["window_start"]) - start) > 1e-6:
        return 0
    return int(row["used"])


def consume(
    connection: sqlite3.Connection, bucket: Bucket, now: float, *, enforce: bool
) -> BucketState:
    """Take one unit; when ``enforce`` and the bucket is empty, refuse (nothing consumed).

    With limits off nothing is counted and the headers report an unspent bucket, so a client
    that believes ``Ratelimit-Remaining`` (as rcp's does) never throttles itself.
    """
    start = _window_start(bucket, now)
    reset = _reset(bucket, start, now)
    if not enforce:
        return BucketState(True, bucket.limit, bucket.limit, reset)
    used = _used(connection, bucket, start)
    if used >= bucket.limit:
        return BucketState(False, bucket.limit, 0, reset)
    used += 1
    connection.execute(
        "INSERT INTO rate_buckets (name, window_start, used) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET window_start = excluded.window_start, used = excluded.used",
        (bucket.name, start, used),
    )
    return BucketState(True, bucket.limit, max(0, bucket.limit - used), reset)


def peek(connection: sqlite3.Connection, bucket: Bucket, now: float) -> BucketState:
    start = _window_start(bucket, now)
    used = _used(connection, bucket, start)
    return BucketState(
        used < bucket.limit, bucket.limit, max(0, bucket.limit - used), _reset(bucket, start, now)
    )
