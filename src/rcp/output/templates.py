"""Human renderings of ``rcp template list|show|validate``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from rcp.core.templates import TemplateInfo
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
