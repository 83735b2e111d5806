"""Human renderings of `rcp group …` (shared environment groups). The JSON is the results'
``to_json()``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rcp.output.tables import rows_table

if TYPE_CHECKING:
    from rich.console import Console

    from rcp.core.groups import GroupChange, SharedGroup
    from rcp.output import HumanRender


def group_list(groups: list[SharedGroup]) -> HumanRender:
    if not groups:
        return "no shared environment groups (templates declare them with shared: true)"
    rows = [
        {
            "name": group.name,
            "render_id": group.render_id or "(not created)",
            "tenants": len(group.tenants),
            "services": len(group.services),
        }
        for group in groups
    ]
    return rows_table(rows, ["name", "render_id", "tenants", "services"])


def group_env_table(rows: list[dict[str, str]]) -> HumanRender:
    if not rows:
        return "no variables"
    return rows_table(rows, ["key", "value"])


def group_detail(shown: dict[str, Any]) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        from rich.text import Text

        console.print(Text(str(shown["name"]), style="bold"), str(shown["render_id"]), sep="  ")
        console.print(f"tenants:  {', '.join(shown['tenants']) or '-'}")
        rows_table(shown["env"], ["key", "value"])(console)
        services = [
            {**user, "linked": "yes" if user["render_id"] in shown["linked"] else "NO"}
            for user in shown["services"]
        ]
        if services:
            rows_table(services, ["tenant", "service", "render_id", "linked"])(console)
        if shown["unrecorded_links"]:
            console.print(
                f"linked on Render but on no tenant's record: {', '.join(shown['unrecorded_links'])}"
            )

    return render


def group_change(change: GroupChange, verb: str) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        console.print(f"group {change.name}: {verb} {', '.join(change.keys)}")
        for item in change.services:
            deployed = (
                f"deploy {item.deploy_id or 'queued'}"
                if item.deployed
                else (item.note or "not deployed")
            )
            console.print(f"{item.tenant}/{item.service}: {deployed}")

    return render
