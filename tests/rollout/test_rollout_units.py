"""The parts of a rollout that are plain rules: wave sizes, the failure budget, tiers, and the
rate-limit bucket a rollback draws on (the per-service one, in the client and the sandbox)."""

from __future__ import annotations

import pytest

from rcp.core.rollout.model import parse_max_failures, parse_tiers, parse_waves
from rcp.errors import UsageError


@pytest.mark.parametrize(
    ("spec", "total", "sizes"),
    [
        ("1,10%,100%", 40, [1, 3, 36]),
        ("1,10%,50%,100%", 200, [1, 19, 80, 100]),
        ("1,10%,50%,100%", 3, [1, 1, 1]),  # 10 % of 3 rounds up to the canary: dropped
        ("5,100%", 3, [3]),
        ("100%", 7, [7]),
        ("2,3,100%", 10, [2, 1, 7]),
    ],
)
def test_wave_sizes(spec: str, total: int, sizes: list[int]) -> None:
    assert parse_waves(spec).sizes(total) == sizes
    assert sum(sizes) == total


def test_failure_budget_and_tiers() -> None:
    assert parse_max_failures("0").allowed(40) == 0
    assert parse_max_failures("3").allowed(40) == 3
    assert parse_max_failures("5%").allowed(40) == 2
    assert parse_max_failures("5%").allowed(10) == 0
    with pytest.raises(UsageError):
        parse_max_failures("150%")
    assert parse_tiers(["canary", "free, pro"]) == ["canary", "free", "pro"]
    with pytest.raises(UsageError, match="given twice"):
        parse_tiers(["pro", "pro"])


def test_rollbacks_draw_on_the_per_service_bucket() -> None:
    from rcp.render.ratelimit import bucket_for
    from rcp.sandbox.ratelimit import RateLimitConfig
    from rcp.sandbox.ratelimit import bucket_for as sandbox_bucket_for

    assert bucket_for("POST", "/v1/services/srv-abc/rollback") == ("service srv-abc", "per_service")
    config = RateLimitConfig()
    sandbox = sandbox_bucket_for("POST", "/services/srv-abc/rollback", config)
    assert sandbox == sandbox_bucket_for("POST", "/services/srv-abc/deploys", config)
