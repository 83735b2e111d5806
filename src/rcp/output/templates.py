"""Human renderings of ``rcp template list|show|validate``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from rcp.core.templates import TemplateInfo
    from rcp.core.templates.history import TemplateHistory
    from rcp.core.templates.loading import Template


def order_line(resources: list[dict[str, Any]]) -> str:
    """``db (postgres, basic_256mb) -> web (web_service, starter; needs db)``."""
    parts = []
    for resource in resources:
        needs = f"; needs {', '.join(resource['depends_on'])}" if resource["depends_on"] else ""
        # Projects and environments have no plan.
        plan = f", {resource['plan']}" if resource["plan"] is not None else ""
        parts.append(f"{resource['key']} ({resource['type']}{plan}{needs})")
    return " -> ".join(parts)


def template_list(infos: list[TemplateInfo]) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for column in ("NAME", "RESOURCES", "SOURCE"):
            table.add_column(column, overflow="fold")
        for info in infos:
            resources = (
                ", ".join(info.resources) if info.error is None else f"INVALID: {info.error}"
            )
            table.add_row(info.name, resources, info.source)
        console.print(table)

    return render


def template_show(
    loaded: Template, resources: list[dict[str, Any]]
) -> Callable[[Console], None]:
    """The YAML as written, after two comment lines: where it comes from, creation order."""

    def render(console: Console) -> None:
        console.print(f"# template {loaded.name} ({loaded.source})", markup=False)
        console.print(f"# creation order: {order_line(resources)}", markup=False)
        console.print(loaded.text.rstrip("\n"), markup=False)

    return render


def template_valid(loaded: Template, resources: list[dict[str, Any]]) -> str:
    return f"{loaded.name}: valid ({order_line(resources)})"


def template_history(found: TemplateHistory) -> Callable[[Console], None]:
    """``template history``: one row per revision, oldest first; ``*`` marks the template's
    revision now."""

    def render(console: Console) -> None:
        from rich.table import Table

        data = found.to_json()
        if not data["revisions"]:
            console.print(f"{found.template}: no tenant has been provisioned from it yet")
        else:
            table = Table(box=None, pad_edge=False)
            for column in ("", "REVISION", "LABEL", "FIRST SEEN", "TENANTS"):
                table.add_column(column, overflow="fold")
            for row in data["revisions"]:
                table.add_row(
                    "*" if row["current"] else "",
                    row["short"],
                    row["label"] or "-",
                    _second(row["first_seen"]),
                    str(row["tenants"]),
                )
            console.print(table)
        current = data["current"]
        if current is None:
            console.print(f"the template cannot be loaded now: {found.current_error}")
        elif not any(row["current"] for row in data["revisions"]):
            label = f" ({current['label']})" if current["label"] else ""
            console.print(
                f"the template is now at {current['short']}{label}, which no tenant runs yet"
            )

    return render


def _second(moment: str | None) -> str:
    """``2026-12-03T18:40:00Z``: to the second, as a person reads it."""
    if not moment:
        return "-"
    head, _, _ = moment.partition(".")
    return head if head.endswith("Z") else head.rstrip("Z") + "Z"
