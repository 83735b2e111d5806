"""Saved plans: `rcp plan FILE --out PLAN` writes one, `rcp apply PLAN` applies exactly it.

A saved plan is a versioned JSON document that records what the plan was made from: the fleet
file's path and SHA-256, a fingerprint of the records the plan read, the options (prune,
absolute templates) and the plan itself. ``apply`` recomputes the plan from the same file and
records and refuses (ConflictError, exit 4) when anything differs — the file, the templates it
renders, or the records (a tenant created, changed or deleted since) — so what runs is what
was reviewed, never a newer plan nobody saw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcp.core.fleet.diff import FleetPlan
from rcp.core.fleet.spec import FleetFile
from rcp.core.models import iso_z, utcnow
from rcp.errors import ConflictError, UsageError

FORMAT = "rcp-plan"
VERSION = 1


@dataclass(frozen=True)
class SavedPlan:
    fleet_file: Path
    fleet_sha256: str
    records_fingerprint: str
    prune: bool
    allow_absolute_templates: bool
    plan: dict[str, Any]
    source: Path


def plan_document(
    fleet: FleetFile, plan: FleetPlan, *, allow_absolute_templates: bool
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "created_at": iso_z(utcnow()),
        "fleet_file": str(fleet.path),
        "fleet_sha256": fleet.sha256,
        "records_fingerprint": plan.records_fingerprint,
        "options": {"prune": plan.prune, "allow_absolute_templates": allow_absolute_templates},
        "plan": plan.to_json(),
    }


def write_plan(path: Path, document: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the plan to {path}: {exc.strerror or exc}") from None


def read_saved_plan(path: Path) -> SavedPlan | None:
    """The saved plan in ``path``, or None when ``path`` is not one (a fleet file): told apart
    by content, not by name — a saved plan is a JSON object with ``"format": "rcp-plan"``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None  # the fleet loader reports it in its words
    if not text.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    version = data.get("version")
    if version != VERSION:
        raise UsageError(
            f"saved plan {path} has version {version!r}; this rcp reads version {VERSION}",
            hint="make the plan again with this rcp: rcp plan FILE --out PLAN",
        )
    try:
        options = data["options"]
        return SavedPlan(
            fleet_file=Path(str(data["fleet_file"])),
            fleet_sha256=str(data["fleet_sha256"]),
            records_fingerprint=str(data["records_fingerprint"]),
            prune=bool(options["prune"]),
            allow_absolute_templates=bool(options["allow_absolute_templates"]),
            plan=dict(data["plan"]),
            source=path,
        )
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"saved plan {path} is incomplete or damaged") from None


def _essence(plan: dict[str, Any]) -> Any:
    """What must be equal for two plans to be "the same plan": the changes and their details
    (not the prices, which the price table may re-date)."""
    return [
        (c.get("slug"), c.get("action"), c.get("details")) for c in plan.get("changes", [])
    ]


def check_fresh(saved: SavedPlan, fleet: FleetFile, plan: FleetPlan) -> None:
    """Refuse (exit 4) when the fleet file, its templates or the records changed since."""
    hint = "make a new plan (rcp plan FILE --out PLAN), review it, and apply that"
    if fleet.sha256 != saved.fleet_sha256:
        raise ConflictError(
            f"saved plan {saved.source} is stale: the fleet file {saved.fleet_file} changed "
            "since the plan was made",
            hint=hint,
            code="plan_stale",
        )
    if plan.records_fingerprint != saved.records_fingerprint:
        raise ConflictError(
            f"saved plan {saved.source} is stale: the tenant records changed since the plan "
            "was made (a tenant was created, changed or deleted)",
            hint=hint,
            code="plan_stale",
        )
    if _essence(plan.to_json()) != _essence(saved.plan):
        raise ConflictError(
            f"saved plan {saved.source} is stale: the plan made now differs from it "
            "(a template it uses changed)",
            hint=hint,
            code="plan_stale",
        )
