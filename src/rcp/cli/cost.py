"""`rcp cost [SLUG|--all]`: estimated monthly USD per resource, tenant and total."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from rcp.cli._common import app_context, handle_errors
from rcp.errors import UsageError


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def _render(report: dict[str, Any]) -> Any:
    def render(console: Any) -> None:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for column in ("TENANT", "KEY", "TYPE", "PLAN", "USD/MONTH"):
            table.add_column(column, justify="right" if column == "USD/MONTH" else "left")
        for tenant in report["tenants"]:
            for resource in tenant["resources"]:
                table.add_row(
                    tenant["slug"],
                    resource["key"],
                    resource["type"],
                    resource["plan"] or "-",
                    _usd(resource["monthly_usd"]),
                )
            table.add_row(
                tenant["slug"], "", "", "[bold]total[/bold]", _total(tenant, "monthly_usd")
            )
        console.print(table)
        console.print(
            f"fleet total: {_total(report, 'total_monthly_usd')} per month "
            f"(prices as of {report['prices_as_of']}, {', '.join(report['price_sources'])})"
        )
        if report["unknown_plans"]:
            listed = ", ".join(
                f"{item['slug']}/{item['key']} ({item['type']} {item['plan'] or 'no plan'})"
                for item in report["unknown_plans"]
            )
            console.print(
                f"unknown plans (not priced; add them to <config dir>/prices.toml): {listed}"
            )

    return render


def _total(row: dict[str, Any], field: str) -> str:
    value = row[field]
    if value is not None:
        return _usd(value)
    return f"≥ {_usd(row['known_' + field])} + unknown"


@handle_errors
def cost(
    ctx: typer.Context,
    slug: Annotated[str | None, typer.Argument(help="Tenant slug (default: every tenant).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every tenant (the default).")] = False,
) -> None:
    """Estimated monthly USD per resource, tenant and total, from plans × a dated price table
    (override entries in <config dir>/prices.toml)."""
    from rcp.core.cost import estimate, load_price_table
    from rcp.core.tenants import get_tenant, list_tenants

    app_ctx = app_context(ctx)
    if slug is not None and all_:
        raise UsageError("give a tenant SLUG or --all, not both")
    if slug is not None:
        from rcp.core.slugs import validate_slug

        validate_slug(slug)
    # The price table is configuration: checked before the database is opened.
    prices = load_price_table(app_ctx.settings.config_dir)
    store = app_ctx.store()
    tenants = [get_tenant(store, slug)] if slug is not None else list_tenants(store, None)
    report = estimate(tenants, prices)
    app_ctx.output.result(report, human=_render(report))
