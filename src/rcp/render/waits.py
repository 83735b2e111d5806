"""How long Render asks us to wait: ``Retry-After`` and ``Ratelimit-Reset``.

Render's ``Ratelimit-Reset`` is the number of seconds until the window resets (0–59 on per-minute
buckets, up to ~3,600 on hourly ones), although its docs call it "UTC epoch seconds"; a value too
large to be a delay (> 10⁹) is therefore read as an epoch timestamp, to be safe either way.
Header values come from the network: parsing never raises, never returns a negative wait and
caps the result, so one absurd header cannot make rcp sleep for a year.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

# Longest server-requested wait we ever report (one day). Waits above the caller's budget
# already end the command with "retry later"; the cap only keeps arithmetic and messages sane.
MAX_SERVER_WAIT_SECONDS = 86_400.0

# Delta-seconds larger than this are taken to be epoch timestamps (2001-09-09 onwards).
_EPOCH_THRESHOLD = 1_000_000_000.0


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works for ``httpx.Headers`` and plain dicts."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if isinstance(key, str) and key.lower() == lowered:
            return candidate
    return None


def _seconds(raw: str, now: datetime, *, allow_http_date: bool) -> float | None:
    text = raw.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number):
            return None
        if number > _EPOCH_THRESHOLD:
            number = number - now.timestamp()
        return number
    if not allow_http_date:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return (moment - now).total_seconds()
    except OverflowError:
        return None


def _clamp(seconds: float, cap: float) -> float:
    return min(max(seconds, 0.0), max(cap, 0.0))


def parse_wait_headers(
    headers: Mapping[str, str],
    *,
    now: datetime | None = None,
    use_ratelimit_reset: bool = True,
    cap: float = MAX_SERVER_WAIT_SECONDS,
) -> float | None:
    """Seconds Render asked us to wait, or ``None`` when it did not say (or said nonsense).

    ``Retry-After`` (delta-seconds or an HTTP date) wins; else ``Ratelimit-Reset`` when
    ``use_ratelimit_reset`` (meaningful on a 429 only: on other answers it describes the
    rate window, not an outage). The result is within ``[0, cap]``.
    """
    moment = now if now is not None else datetime.now(UTC)
    try:
        retry_after = header_value(headers, "Retry-After")
        if retry_after is not None:
            seconds = _seconds(str(retry_after), moment, allow_http_date=True)
            if seconds is not None:
                return _clamp(seconds, cap)
        if use_ratelimit_reset:
            reset = header_value(headers, "Ratelimit-Reset")
            if reset is not None:
                seconds = _seconds(str(reset), moment, allow_http_date=False)
                if seconds is not None:
                    return _clamp(seconds, cap)
    except Exception:  # a malformed header must never break a call
        return None
    return None


def parse_int_header(headers: Mapping[str, str], name: str) -> int | None:
    """A non-negative integer header (``Ratelimit-Limit``/``-Remaining``), else ``None``."""
    raw = header_value(headers, name)
    if raw is None:
        return None
    try:
        number = float(str(raw).strip())
    except ValueError:
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return int(number)


def parse_ratelimit_reset(
    headers: Mapping[str, str], *, now: datetime | None = None
) -> float | None:
    """Seconds until Render's rate window resets (``Ratelimit-Reset`` only), within ``[0, cap]``."""
    try:
        raw = header_value(headers, "Ratelimit-Reset")
        if raw is None:
            return None
        seconds = _seconds(
            str(raw), now if now is not None else datetime.now(UTC), allow_http_date=False
        )
    except Exception:  # a malformed header must never break a call
        return None
    return None if seconds is None else _clamp(seconds, MAX_SERVER_WAIT_SECONDS)


def retry_time(wait_seconds: float, now: datetime | None = None) -> datetime:
    """The wall-clock moment ``wait_seconds`` from now (UTC)."""
    moment = now if now is not None else datetime.now(UTC)
    return moment + timedelta(seconds=min(max(wait_seconds, 0.0), MAX_SERVER_WAIT_SECONDS * 365))


def describe_retry_time(moment: datetime) -> str:
    """``2026-11-26 15:04:05 UTC`` — what a person needs to know to rerun the command."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
