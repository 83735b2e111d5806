"""Durations (DESIGN §8): a bare number is seconds; s, m, h (and d) units, combinable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rcp.core.durations import parse_duration
from rcp.errors import UsageError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("90", 90.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1h30m15s", 5415.0),
        ("2m30s", 150.0),
        ("7d", 604_800.0),
        ("1.5", 1.5),
        ("0.5m", 30.0),
        (" 30s ", 30.0),
        ("0s", 0.0),
    ],
)
def test_parses(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "-5",
        "-5m",
        "5x",
        "m",
        "5 m",
        "1h30",
        "30m1h",
        "5m5m",
        "1e3",
        "inf",
        "nan",
        "5M",
        "1.h",
    ],
)
def test_rejects(text: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_duration(text)
    assert raised.value.exit_code == 2
    assert raised.value.message == (
        f"invalid duration {text!r}: use seconds (90) or a number with a unit: 90s, 5m, 1h, 1h30m"
    )


def test_error_names_the_option() -> None:
    with pytest.raises(UsageError, match=r"^invalid --timeout value 'soon': "):
        parse_duration("soon", option="--timeout")


@given(
    st.integers(min_value=0, max_value=99),
    st.integers(min_value=0, max_value=99),
    st.integers(min_value=0, max_value=99),
)
def test_combined_units_add_up(hours: int, minutes: int, seconds: int) -> None:
    assert parse_duration(f"{hours}h{minutes}m{seconds}s") == hours * 3600 + minutes * 60 + seconds
    assert parse_duration(str(seconds)) == parse_duration(f"{seconds}s") == seconds
