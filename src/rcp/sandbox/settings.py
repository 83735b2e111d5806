"""Knobs of the simulator, read from flags (``rcp sandbox serve``) or the environment (in-process)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

RATE_LIMIT_MODES = ("render", "off")
# Render's workspace setting "overlapping deploy policy" (changelog 2025-05-28): a new deploy
# either cancels the one in progress (``override``, Render's default) or waits for it
# (``wait``: queued, and only the most recent queued deploy runs).
DEPLOY_OVERLAP_POLICIES = ("override", "wait")
MAX_OWNERS = 50
CREATE_COUNTER_MODES = ("separate", "shared")
# ``fixed``: every deploy and datastore takes exactly ``deploy_seconds`` / ``datastore_seconds``;
# ``render``: Render's real durations with their spread (``rcp.sandbox.profiles``).
PROFILES = ("fixed", "render")


class SandboxSettingsError(ValueError):
    """A sandbox setting has a value the simulator cannot use (names the setting)."""


@dataclass(frozen=True)
class SandboxSettings:
    deploy_seconds: float = 3.0
    """How long a deploy takes from its start to ``live`` (or its failure), shared evenly by
    its phases (``build_in_progress``, ``pre_deploy_in_progress``, ``update_in_progress``)."""
    datastore_seconds: float = 5.0
    """How long Postgres / Key Value stay ``creating`` before they are ``available`` (also
    after a change that restarts the instance)."""
    latency_ms: float = 0.0
    """Added to every API request before it is answered."""
    rate_limits: str = "render"
    """``render``: Render's buckets and 429s; ``off``: headers only, never 429."""
    faults_file: Path | None = None
    """JSON or YAML list of fault rules loaded into the world (see ``rcp.sandbox.faults``)."""
    rate_window_scale: float = 1.0
    """Every rate-limit window multiplied by this (``1/360``: 20 creations per 10 s instead of
    per hour), so tests and benchmarks can exercise the hourly create bucket in seconds."""
    owners: int = 1
    """How many workspaces the API key sees (``GET /owners``); creates name one by ``ownerId``."""
    deploy_overlap: str = "override"
    """What a new deploy does to one in progress: ``override`` cancels it, ``wait`` queues."""
    create_limit: int = 20
    """Creations per hour window that the world allows and advertises in ``Ratelimit-Limit``:
    Render's default 20, or a raised quota (Render raises it on request, e.g. 1,000)."""
    create_counters: str = "separate"
    """``separate``: services, Postgres and Key Value each have their own creation counter;
    ``shared``: one counter for all three (Render does not say which it is)."""
    profile: str = "fixed"
    """``fixed``: the two durations above; ``render``: Render's real durations, each resource
    its own draw from a spread (Postgres about 2 minutes, a deploy about 5)."""
    time_scale: float = 1.0
    """Render seconds per real second: every duration and rate-limit window is divided by it
    (``60``: a 2-minute Postgres is ready after 2 real seconds, a minute's GET budget lasts one
    real second). Clients told the same (``RCP_RENDER_TIME_SCALE``) pace their polling alike."""

    @property
    def window_scale(self) -> float:
        """Real seconds per rate-limit window second: the window scale on the scaled clock."""
        return self.rate_window_scale / self.time_scale

    def __post_init__(self) -> None:
        if self.deploy_seconds < 0:
            raise SandboxSettingsError("deploy_seconds must be >= 0")
        if self.datastore_seconds < 0:
            raise SandboxSettingsError("datastore_seconds must be >= 0")
        if self.latency_ms < 0:
            raise SandboxSettingsError("latency_ms must be >= 0")
        if not 0 < self.rate_window_scale < float("inf"):
            raise SandboxSettingsError("rate_window_scale must be a positive number")
        if not 0 < self.time_scale < float("inf"):
            raise SandboxSettingsError("time_scale must be a positive number")
        if self.profile not in PROFILES:
            raise SandboxSettingsError(
                f"profile must be one of {', '.join(PROFILES)}, not {self.profile!r}"
            )
        if not 1 <= self.owners <= MAX_OWNERS:
            raise SandboxSettingsError(f"owners must be between 1 and {MAX_OWNERS}")
        if self.deploy_overlap not in DEPLOY_OVERLAP_POLICIES:
            raise SandboxSettingsError(
                f"deploy_overlap must be one of {', '.join(DEPLOY_OVERLAP_POLICIES)}, "
                f"not {self.deploy_overlap!r}"
            )
        if self.rate_limits not in RATE_LIMIT_MODES:
            raise SandboxSettingsError(
                f"rate_limits must be one of {', '.join(RATE_LIMIT_MODES)}, not {self.rate_limits!r}"
            )
        if self.create_limit < 1:
            raise SandboxSettingsError("create_limit must be at least 1")
        if self.create_counters not in CREATE_COUNTER_MODES:
            raise SandboxSettingsError(
                f"create_counters must be one of {', '.join(CREATE_COUNTER_MODES)}, "
                f"not {self.create_counters!r}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SandboxSettings:
        """Read ``RCP_SANDBOX_*``; unset or empty variables keep the defaults."""

        def number(name: str, default: float) -> float:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            try:
                return float(raw)
            except ValueError:
                raise SandboxSettingsError(f"{name} must be a number, not {raw!r}") from None

        rate_limits = environ.get("RCP_SANDBOX_RATE_LIMITS", "").strip() or "render"
        if rate_limits not in RATE_LIMIT_MODES:
            raise SandboxSettingsError(
                f"RCP_SANDBOX_RATE_LIMITS must be render or off, not {rate_limits!r}"
            )
        faults = environ.get("RCP_SANDBOX_FAULTS", "").strip()
        scale_text = environ.get("RCP_SANDBOX_RATE_WINDOW_SCALE", "").strip()
        try:
            scale = parse_scale(scale_text) if scale_text else 1.0
        except ValueError:
            raise SandboxSettingsError(
                f"RCP_SANDBOX_RATE_WINDOW_SCALE must be a positive number such as 0.01 or 1/360, "
                f"not {scale_text!r}"
            ) from None
        owners_text = environ.get("RCP_SANDBOX_OWNERS", "").strip() or "1"
        if not owners_text.isdigit() or not 1 <= int(owners_text) <= MAX_OWNERS:
            raise SandboxSettingsError(
                f"RCP_SANDBOX_OWNERS must be a whole number from 1 to {MAX_OWNERS}, "
                f"not {owners_text!r}"
            )
        overlap = environ.get("RCP_SANDBOX_DEPLOY_OVERLAP", "").strip() or "override"
        if overlap not in DEPLOY_OVERLAP_POLICIES:
            raise SandboxSettingsError(
                f"RCP_SANDBOX_DEPLOY_OVERLAP must be override or wait, not {overlap!r}"
            )
        limit_text = environ.get("RCP_SANDBOX_CREATE_LIMIT", "").strip()
        try:
            create_limit = int(limit_text) if limit_text else 20
        except ValueError:
            raise SandboxSettingsError(
                f"RCP_SANDBOX_CREATE_LIMIT must be a whole number, not {limit_text!r}"
            ) from None
        counters = environ.get("RCP_SANDBOX_CREATE_COUNTERS", "").strip() or "separate"
        if counters not in CREATE_COUNTER_MODES:
            raise SandboxSettingsError(
                f"RCP_SANDBOX_CREATE_COUNTERS must be separate or shared, not {counters!r}"
            )
        profile = environ.get("RCP_SANDBOX_PROFILE", "").strip() or "fixed"
        if profile not in PROFILES:
            raise SandboxSettingsError(
                f"RCP_SANDBOX_PROFILE must be fixed or render, not {profile!r}"
            )
        time_text = environ.get("RCP_SANDBOX_TIME_SCALE", "").strip()
        try:
            time_scale = parse_scale(time_text) if time_text else 1.0
        except ValueError:
            raise SandboxSettingsError(
                f"RCP_SANDBOX_TIME_SCALE must be a positive number such as 60, not {time_text!r}"
            ) from None
        return cls(
            profile=profile,
            time_scale=time_scale,
            create_limit=create_limit,
            create_counters=counters,
            deploy_seconds=number("RCP_SANDBOX_DEPLOY_SECONDS", 3.0),
            datastore_seconds=number("RCP_SANDBOX_DATASTORE_SECONDS", 5.0),
            latency_ms=number("RCP_SANDBOX_LATENCY_MS", 0.0),
            rate_limits=rate_limits,
            faults_file=Path(faults) if faults else None,
            rate_window_scale=scale,
            owners=int(owners_text),
            deploy_overlap=overlap,
        )


def parse_scale(text: str) -> float:
    """``0.01`` or ``1/360`` → a positive finite number; ValueError otherwise."""
    numerator, _, denominator = text.strip().partition("/")
    try:
        value = float(numerator) / float(denominator) if denominator else float(numerator)
    except ZeroDivisionError:
        raise ValueError(text) from None
    if not 0 < value < float("inf"):
        raise ValueError(text)
    return value
