"""`rcp template history NAME`: every revision of a template rcp provisioned tenants from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rcp.core.models import SeenRevision, iso_z
from rcp.core.ports import TenantStore
from rcp.core.templates.revisions import TemplateRevision, short_hash
from rcp.errors import UsageError


@dataclass(frozen=True)
class TemplateHistory:
    """``revisions`` oldest first; ``current`` is the template file's revision now (None when
    the template can no longer be loaded: its history stays readable)."""

    template: str
    current: TemplateRevision | None
    revisions: list[SeenRevision] = field(default_factory=list)
    current_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        current = self.current
        return {
            "template": self.template,
            "current": (
                {"hash": current.hash, "short": current.short, "label": current.label}
                if current is not None
                else None
            ),
            "current_error": self.current_error,
            "revisions": [
                {
                    "hash": seen.hash,
                    "short": short_hash(seen.hash),
                    "label": seen.label,
                    "first_seen": iso_z(seen.first_seen),
                    "tenants": seen.tenants,
                    "current": current is not None and seen.hash == current.hash,
                }
                for seen in self.revisions
            ],
        }


def template_history(store: TenantStore, name: str, config_dir: Path) -> TemplateHistory:
    """The revisions of template ``name`` (a name, or a path: its file name without suffix is
    the name tenants record) seen so far, and which one the template is at now. UsageError
    (exit 2) for a template that neither loads nor has any history."""
    from rcp.core.templates import is_template_path, load_template, validate_template
    from rcp.core.templates.revisions import revision_of

    recorded_name = Path(name).stem if is_template_path(name) else name
    current: TemplateRevision | None = None
    problem: UsageError | None = None
    try:
        loaded = load_template(name, config_dir)
        validate_template(loaded)
        recorded_name = loaded.name
        current = revision_of(loaded)
    except UsageError as exc:
        problem = exc
    revisions = store.template_revisions(recorded_name)
    if problem is not None and not revisions:
        raise problem
    return TemplateHistory(
        template=recorded_name,
        current=current,
        revisions=revisions,
        current_error=problem.message if problem is not None else None,
    )
