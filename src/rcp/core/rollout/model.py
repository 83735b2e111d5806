"""What a rollout is, as recorded: the target revision, the options, the waves, and each
tenant's step (docs/fleet.md#rollouts).

Everything here is plain data and parsing; the database keeps it (``RolloutStore``), the
runner (``rcp.core.rollout.runner``) moves it on. The waves are fixed when the rollout starts
and stored, so a rerun takes the same tenants in the same order whatever changed meanwhile.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from rcp.core.models import iso_z
from rcp.errors import UsageError

DEFAULT_WAVES = "1,10%,50%,100%"
_WAVE_ITEM = re.compile(r"(\d+)(%?)")
_TIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


class RolloutState(StrEnum):
    RUNNING = "running"  # being worked on, or stopped by a kill/signal: resume continues it
    PAUSED = "paused"  # `rollout pause`: resume continues it
    HALTED = "halted"  # failures beyond --max-failures: fix, then resume (retries the failed)
    ABORTED = "aborted"  # `rollout abort`: never continued; rollback still possible
    COMPLETED = "completed"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"


# States a `rollout resume` (or a `start` of the same revision) continues.
RESUMABLE = frozenset({RolloutState.RUNNING, RolloutState.PAUSED, RolloutState.HALTED})
# States that block a `start` of another revision of the same template.
UNFINISHED = RESUMABLE | {RolloutState.ROLLING_BACK}


class StepState(StrEnum):
    PENDING = "pending"  # not touched
    UPDATING = "updating"  # previous configuration recorded; Render calls may have been made
    DONE = "done"  # deploys live and healthy on the new revision
    CURRENT = "current"  # already on the revision when its turn came: nothing sent
    FAILED = "failed"
    SKIPPED = "skipped"  # deleted (or moved to another template) since the rollout started
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"


# Tenants a rollback returns to their previous configuration: those the rollout may have changed.
TOUCHED = frozenset(
    {
        StepState.UPDATING,
        StepState.DONE,
        StepState.FAILED,
        StepState.ROLLING_BACK,
        StepState.ROLLBACK_FAILED,
    }
)


@dataclass(frozen=True)
class WaveSpec:
    """``1,10%,50%,100%``: cumulative targets, each a tenant count or a share of the tenants."""

    text: str
    targets: tuple[tuple[int, bool], ...]  # (value, is_percent)

    def sizes(self, total: int) -> list[int]:
        """The number of tenants in each wave (empty waves dropped)."""
        sizes: list[int] = []
        done = 0
        for value, percent in self.targets:
            reach = math.ceil(total * value / 100) if percent else value
            reach = min(max(reach, done), total)
            if reach > done:
                sizes.append(reach - done)
                done = reach
        if done < total:
            sizes.append(total - done)
        return sizes


def parse_waves(text: str) -> WaveSpec:
    """UsageError (exit 2) unless a comma list of counts and percentages (≤ 100 %), growing,
    the last 100 %."""
    items = [item.strip() for item in text.split(",")]
    targets: list[tuple[int, bool]] = []
    for item in items:
        match = _WAVE_ITEM.fullmatch(item)
        if match is None or int(match.group(1)) < 1:
            raise UsageError(
                f"--waves: {item!r} is not a tenant count (1, 5) or a percentage (10%)",
                hint=f"e.g. --waves {DEFAULT_WAVES}",
            )
        value, percent = int(match.group(1)), bool(match.group(2))
        if percent and value > 100:
            raise UsageError(f"--waves: {item} is more than 100%")
        targets.append((value, percent))
    if targets[-1] != (100, True):
        raise UsageError(
            "--waves: the last wave must be 100% (every tenant of the rollout)",
            hint=f"e.g. --waves {DEFAULT_WAVES}",
        )
    for (before, before_pct), (after, after_pct) in zip(targets, targets[1:], strict=False):
        if before_pct == after_pct and after <= before:
            raise UsageError(f"--waves: each wave must reach further than the one before ({text})")
    return WaveSpec(",".join(items), tuple(targets))


@dataclass(frozen=True)
class FailureBudget:
    """``--max-failures``: how many failed tenants the rollout tolerates (``N`` or ``P%`` of
    its tenants); one more halts it."""

    text: str
    value: int
    percent: bool

    def allowed(self, total: int) -> int:
        return math.floor(total * self.value / 100) if self.percent else self.value


def parse_max_failures(text: str) -> FailureBudget:
    match = _WAVE_ITEM.fullmatch(text.strip())
    if match is None or (match.group(2) and int(match.group(1)) > 100):
        raise UsageError(
            f"--max-failures: {text!r} is not a count (0, 3) or a percentage (5%)",
            hint="0 (the default) halts at the first failed tenant",
        )
    return FailureBudget(text.strip(), int(match.group(1)), bool(match.group(2)))


def parse_tiers(values: list[str]) -> list[str]:
    """``--tier canary --tier free,pro`` → ``[canary, free, pro]`` (the order waves follow)."""
    tiers: list[str] = []
    for value in values:
        for item in value.split(","):
            tier = item.strip()
            if not _TIER.fullmatch(tier):
                raise UsageError(f"--tier: {item!r} is not a tier name")
            if tier in tiers:
                raise UsageError(f"--tier: {tier} is given twice")
            tiers.append(tier)
    return tiers


def parse_health_path(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith("/") or any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise UsageError(f"--health-path must be a URL path starting with / (got {value!r})")
    return value


@dataclass(frozen=True)
class RolloutOptions:
    waves: str = DEFAULT_WAVES
    tiers: list[str] = field(default_factory=list)
    max_failures: str = "0"
    pause_between: float = 0.0
    health_path: str | None = None
    health_timeout: float = 20.0
    concurrency: int = 4

    def to_json(self) -> dict[str, Any]:
        return {
            "waves": self.waves,
            "tiers": list(self.tiers),
            "max_failures": self.max_failures,
            "pause_between_seconds": self.pause_between,
            "health_path": self.health_path,
            "health_timeout_seconds": self.health_timeout,
            "concurrency": self.concurrency,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RolloutOptions:
        return cls(
            waves=str(data.get("waves") or DEFAULT_WAVES),
            tiers=[str(t) for t in data.get("tiers") or []],
            max_failures=str(data.get("max_failures") or "0"),
            pause_between=float(data.get("pause_between_seconds") or 0.0),
            health_path=data.get("health_path"),
            health_timeout=float(data.get("health_timeout_seconds", 20.0)),
            concurrency=int(data.get("concurrency") or 4),
        )


@dataclass
class RolloutStep:
    """One tenant of a rollout. ``previous`` is what a rollback returns it to, recorded before
    its first Render call: ``rendered`` (its rendered template), ``revision`` ({hash, label} or
    None), ``deploys`` ({service key: the deploy rcp last started}, the build a rollback goes
    back to)."""

    slug: str
    wave: int  # 0-based
    position: int  # 0-based, over the whole rollout
    tier: str | None = None
    state: StepState = StepState.PENDING
    previous: dict[str, Any] | None = None
    error: str | None = None
    error_code: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    def to_json(self) -> dict[str, Any]:
        revision = (self.previous or {}).get("revision")
        return {
            "slug": self.slug,
            "wave": self.wave + 1,
            "tier": self.tier,
            "state": str(self.state),
            "previous_revision": revision.get("hash") if isinstance(revision, dict) else None,
            "error": self.error,
            "error_code": self.error_code,
            "started_at": iso_z(self.started_at),
            "finished_at": iso_z(self.finished_at),
            "seconds": self.seconds,
        }


@dataclass
class Rollout:
    template: str
    revision_hash: str
    revision_label: str | None
    # The target revision's tenant-neutral rendering (rcp.core.templates.revisions): what each
    # tenant is rendered from, also on a rerun after the template file changed.
    revision_content: dict[str, Any]
    options: RolloutOptions
    steps: list[RolloutStep]
    state: RolloutState = RolloutState.RUNNING
    id: int | None = None
    # The wave being worked on (0-based); == number of waves when all are done.
    current_wave: int = 0
    # When each finished wave finished (the pause before the next counts from there).
    wave_finished_at: list[datetime | None] = field(default_factory=list)
    message: str | None = None  # why it halted, who paused or aborted it
    actor: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def wave_count(self) -> int:
        return max((step.wave for step in self.steps), default=-1) + 1

    def wave(self, index: int) -> list[RolloutStep]:
        return [step for step in self.steps if step.wave == index]

    def step(self, slug: str) -> RolloutStep:
        for step in self.steps:
            if step.slug == slug:
                return step
        raise KeyError(slug)

    @property
    def failure_budget(self) -> FailureBudget:
        return parse_max_failures(self.options.max_failures)

    def failures_allowed(self) -> int:
        return self.failure_budget.allowed(len(self.steps))

    def counts(self, steps: list[RolloutStep] | None = None) -> dict[str, int]:
        counts = {str(state): 0 for state in StepState}
        for step in self.steps if steps is None else steps:
            counts[str(step.state)] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        waves = []
        for index in range(self.wave_count):
            steps = self.wave(index)
            finished = self.wave_finished_at[index] if index < len(self.wave_finished_at) else None
            waves.append(
                {
                    "wave": index + 1,
                    "tenants": [step.slug for step in steps],
                    "counts": {k: v for k, v in self.counts(steps).items() if v},
                    "finished_at": iso_z(finished),
                    "tenant_results": [step.to_json() for step in steps],
                }
            )
        return {
            "id": self.id,
            "template": self.template,
            "revision": {"hash": self.revision_hash, "label": self.revision_label},
            "state": str(self.state),
            "message": self.message,
            "options": self.options.to_json(),
            "current_wave": min(self.current_wave + 1, self.wave_count),
            "wave_count": self.wave_count,
            "tenant_count": len(self.steps),
            "failures_allowed": self.failures_allowed(),
            "counts": {k: v for k, v in self.counts().items() if v},
            "waves": waves,
            "actor": self.actor,
            "created_at": iso_z(self.created_at),
            "updated_at": iso_z(self.updated_at),
        }
