"""Parsing of Render's wait headers: exact on good input, harmless on anything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from hypothesis import given
from hypothesis import strategies as st

from rcp.render.waits import (
    MAX_SERVER_WAIT_SECONDS,
    describe_retry_time,
    parse_int_header,
    parse_ratelimit_reset,
    parse_wait_headers,
    retry_time,
)

NOW = datetime(2026, 11, 26, 15, 0, 0, tzinfo=UTC)


def test_retry_after_seconds_wins_over_ratelimit_reset() -> None:
    assert parse_wait_headers({"Retry-After": " 7 ", "Ratelimit-Reset": "50"}, now=NOW) == 7.0


def test_retry_after_http_date() -> None:
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_wait_headers({"Retry-After": later}, now=NOW) == 90.0
    earlier = format_datetime(NOW - timedelta(seconds=90), usegmt=True)
    assert parse_wait_headers({"Retry-After": earlier}, now=NOW) == 0.0


def test_ratelimit_reset_is_seconds_until_reset() -> None:
    assert parse_wait_headers({"Ratelimit-Reset": "45"}, now=NOW) == 45.0
    assert parse_wait_headers({"ratelimit-reset": "2144"}, now=NOW) == 2144.0  # any case
    assert parse_wait_headers({"Ratelimit-Reset": "45"}, now=NOW, use_ratelimit_reset=False) is None
    assert parse_ratelimit_reset({"Retry-After": "5", "Ratelimit-Reset": "45"}, now=NOW) == 45.0


def test_an_epoch_timestamp_in_ratelimit_reset_is_read_as_a_moment() -> None:
    epoch = str(int(NOW.timestamp()) + 120)
    assert parse_wait_headers({"Ratelimit-Reset": epoch}, now=NOW) == 120.0


def test_nonsense_gives_none_and_extremes_are_clamped() -> None:
    for value in ("", "soon", "nan", "inf", "-inf", "Mon, 99 Foo 2026"):
        assert parse_wait_headers({"Retry-After": value}, now=NOW) is None
    assert parse_wait_headers({}, now=NOW) is None
    assert parse_wait_headers({"Retry-After": "-5"}, now=NOW) == 0.0
    assert parse_wait_headers({"Retry-After": "1e308"}, now=NOW) == MAX_SERVER_WAIT_SECONDS
    # A nonsense Retry-After falls back to the reset.
    assert parse_wait_headers({"Retry-After": "soon", "Ratelimit-Reset": "3"}, now=NOW) == 3.0


def test_integer_headers() -> None:
    assert parse_int_header({"Ratelimit-Remaining": "13"}, "Ratelimit-Remaining") == 13
    assert parse_int_header({"Ratelimit-Remaining": "-1"}, "Ratelimit-Remaining") is None
    assert parse_int_header({"Ratelimit-Remaining": "x"}, "Ratelimit-Remaining") is None
    assert parse_int_header({}, "Ratelimit-Remaining") is None


def test_retry_time_is_described_in_utc() -> None:
    at = retry_time(65, NOW)
    assert at == NOW + timedelta(seconds=65)
    assert describe_retry_time(at) == "2026-11-26 15:01:05 UTC"


header_text = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
    ).map(lambda d: format_datetime(d, usegmt=True)),
)


@given(
    retry_after=st.none() | header_text,
    reset=st.none() | header_text,
    use_reset=st.booleans(),
    cap=st.floats(min_value=0, max_value=1e6),
)
def test_parsing_never_raises_never_negative_always_capped(
    retry_after: str | None, reset: str | None, use_reset: bool, cap: float
) -> None:
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    if reset is not None:
        headers["Ratelimit-Reset"] = reset
    result = parse_wait_headers(headers, now=NOW, use_ratelimit_reset=use_reset, cap=cap)
    assert result is None or 0.0 <= result <= cap
    window = parse_ratelimit_reset(headers, now=NOW)
    assert window is None or 0.0 <= window <= MAX_SERVER_WAIT_SECONDS


@given(seconds=st.floats(min_value=0, max_value=MAX_SERVER_WAIT_SECONDS, allow_nan=False))
def test_delta_seconds_round_trip(seconds: float) -> None:
    assert parse_wait_headers({"Retry-After": repr(seconds)}, now=NOW) == seconds
