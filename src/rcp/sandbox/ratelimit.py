"""Render's rate-limit buckets (Render's documented limits; docs/reliability.md), kept in the shared SQLite file.

Fixed windows per bucket; every API request that passes authentication consumes one unit
of its bucket. ``Ratelimit-Reset`` is the number of seconds until the window resets (what
Render really sends, despite its docs saying "epoch seconds").
"""

from __future__ import annotations

import math
import re
import sqlite3
from dataclasses import dataclass

_SERVICE_ACTION = re.compile(r"^/services/([^/]+)(?:/(deploys|suspend|resume|scale))?$")
CREATE_PATHS = frozenset({"/services", "/postgres", "/key-value"})


@dataclass(frozen=True)
class Bucket:
    name: str
    limit: int
    window_seconds: float


@dataclass(frozen=True)
class BucketState:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int


def bucket_for(method: str, api_path: str, *, window_scale: float = 1.0) -> Bucket:
    """GET 400/min; creates 20/hour; service update/deploy/suspend/resume 10/min/service;
    every other write 30/min. ``window_scale`` multiplies every window (a faster rate clock)."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return Bucket("get", 400, 60.0 * window_scale)
    if method == "POST" and api_path in CREATE_PATHS:
        return Bucket("create", 20, 3600.0 * window_scale)
    match = _SERVICE_ACTION.match(api_path)
    if match:
        service_id, action = match.groups()
        if (method == "PATCH" and action is None) or (method == "POST" and action is not None):
            return Bucket(f"service:{service_id}", 10, 60.0 * window_scale)
    return Bucket("write", 30, 60.0 * window_scale)


def _window(connection: sqlite3.Connection, bucket: Bucket, now: float) -> tuple[float, int]:
    row = connection.execute(
        "SELECT window_start, used FROM rate_buckets WHERE name = ?", (bucket.name,)
    ).fetchone()
    if (
        row is None
        or now >= row["window_start"] + bucket.window_seconds
        or now < row["window_start"]
    ):
        return now, 0
    return float(row["window_start"]), int(row["used"])


def consume(
    connection: sqlite3.Connection, bucket: Bucket, now: float, *, enforce: bool
) -> BucketState:
    """Take one unit; when ``enforce`` and the bucket is empty, refuse (nothing consumed).

    With limits off nothing is counted and the headers report an unspent bucket, so a client
    that believes ``Ratelimit-Remaining`` (as rcp's does) never throttles itself.
    """
    if not enforce:
        return BucketState(True, bucket.limit, bucket.limit, 0)
    start, used = _window(connection, bucket, now)
    reset = max(0, math.ceil(start + bucket.window_seconds - now))
    if enforce and used >= bucket.limit:
        return BucketState(False, bucket.limit, 0, reset)
    used += 1
    connection.execute(
        "INSERT INTO rate_buckets (name, window_start, used) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET window_start = excluded.window_start, used = excluded.used",
        (bucket.name, start, used),
    )
    return BucketState(True, bucket.limit, max(0, bucket.limit - used), reset)


def peek(connection: sqlite3.Connection, bucket: Bucket, now: float) -> BucketState:
    start, used = _window(connection, bucket, now)
    reset = max(0, math.ceil(start + bucket.window_seconds - now))
    return BucketState(used < bucket.limit, bucket.limit, max(0, bucket.limit - used), reset)
