"""Human renderings of `rcp rollout` (the JSON is ``Rollout.to_json``)."""

from __future__ import annotations

from rcp.core.rollout.model import Rollout, RolloutStep, StepState

# What each step state reads as, in progress lines and reports.
STATE_WORDS = {
    StepState.PENDING: "pending",
    StepState.UPDATING: "updating",
    StepState.DONE: "updated",
    StepState.CURRENT: "already on the revision",
    StepState.FAILED: "failed",
    StepState.SKIPPED: "skipped",
    StepState.ROLLING_BACK: "rolling back",
    StepState.ROLLED_BACK: "rolled back",
    StepState.ROLLBACK_FAILED: "rollback failed",
}


def revision_text(rollout: Rollout) -> str:
    label = f" ({rollout.revision_label})" if rollout.revision_label else ""
    return f"{rollout.revision_hash[:12]}{label}"


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def header(rollout: Rollout) -> str:
    return (
        f"rollout {rollout.id} of template {rollout.template} to revision "
        f"{revision_text(rollout)}: {len(rollout.steps)} tenants in {rollout.wave_count} waves "
        f"({', '.join(str(len(rollout.wave(i))) for i in range(rollout.wave_count))})"
    )


def progress_line(rollout: Rollout, step: RolloutStep, eta: float | None) -> str:
    counts = rollout.counts()
    finished = sum(
        counts[str(state)]
        for state in (StepState.DONE, StepState.CURRENT, StepState.SKIPPED, StepState.ROLLED_BACK)
    )
    failed = counts[str(StepState.FAILED)] + counts[str(StepState.ROLLBACK_FAILED)]
    what = STATE_WORDS[step.state]
    if step.error:
        what += f": {step.error}"
    eta_text = f", ETA {duration(eta)}" if eta is not None else ""
    return (
        f"wave {step.wave + 1}/{rollout.wave_count}: {step.slug}: {what} "
        f"[{finished}/{len(rollout.steps)} done, {failed} failed{eta_text}]"
    )


def wave_line(rollout: Rollout, index: int, what: str) -> str:
    steps = rollout.wave(index)
    if what == "pausing":
        return (
            f"wave {index}/{rollout.wave_count} done; pausing "
            f"{duration(rollout.options.pause_between)} before wave {index + 1}"
        )
    return f"wave {index + 1}/{rollout.wave_count} {what} ({len(steps)} tenants)"


def report(rollout: Rollout) -> str:
    lines = [
        header(rollout),
        f"state: {rollout.state}" + (f" — {rollout.message}" if rollout.message else ""),
    ]
    for index in range(rollout.wave_count):
        steps = rollout.wave(index)
        counts = ", ".join(
            f"{count} {STATE_WORDS[StepState(state)]}"
            for state, count in rollout.counts(steps).items()
            if count
        )
        lines.append(f"wave {index + 1}: {len(steps)} tenants — {counts}")
        for step in steps:
            if step.error:
                lines.append(f"  {step.slug}: {STATE_WORDS[step.state]}: {step.error}")
    return "\n".join(lines)
