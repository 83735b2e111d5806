"""`rcp cost [SLUG|--all]`: estimated monthly USD per resource, tenant and total."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rcp.cli._common import app_context, handle_errors
from rcp.errors import UsageError

if TYPE_CHECKING:
    from rcp.core.cost import CostReport


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def _render(report: CostReport, rows: Iterable[dict[str, Any]]) -> Any:
    """The human cost table, printed as the tenants are priced, then the fleet totals."""

    def render(write: Callable[[str], None]) -> None:
        from rcp.output.stream import table_lines

        def cells() -> Iterator[list[str]]:
            for tenant in rows:
                for resource in tenant["resources"]:
                    yield [
                        tenant["slug"],
                        resource["key"],
                        resource["type"],
                        resource["plan"] or "-",
                        _usd(resource["monthly_usd"]),
                    ]
                yield [tenant["slug"], "", "", "total", _total(tenant, "monthly_usd")]

        columns = ["TENANT", "KEY", "TYPE", "PLAN", "USD/MONTH"]
        for line in table_lines(columns, cells(), right={"USD/MONTH"}):
            write(line + "\n")
        totals = {
            "total_monthly_usd": report.total_monthly_usd,
            "known_total_monthly_usd": report.known_total_monthly_usd,
        }
        write(
            f"fleet total: {_total(totals, 'total_monthly_usd')} per month "
            f"(prices as of {report.prices.prices_as_of.isoformat()}, "
            f"{', '.join(report.prices.sources)})\n"
        )
        if report.unknown_count:
            listed = ", ".join(
                f"{item['slug']}/{item['key']} ({item['type']} {item['plan'] or 'no plan'})"
                for item in report.unknown_plans()
            )
            write(f"unknown plans (not priced; add them to <config dir>/prices.toml): {listed}\n")

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
    from rcp.core.cost import CostReport, load_price_table
    from rcp.core.tenants import get_tenant, iter_tenants
    from rcp.output.stream import Later, Stream, primed

    app_ctx = app_context(ctx)
    if slug is not None and all_:
        raise UsageError("give a tenant SLUG or --all, not both")
    if slug is not None:
        from rcp.core.slugs import validate_slug

        validate_slug(slug)
    # The price table is configuration: checked before the database is opened.
    prices = load_price_table(app_ctx.settings.config_dir)
    store = app_ctx.store()
    tenants = (
        [get_tenant(store, slug)] if slug is not None else primed(iter_tenants(store, details=True))
    )
    # Streamed: each tenant is priced as it is printed; totals and unknown plans follow.
    report = CostReport(prices)
    rows = report.tenant_rows(tenants)
    document = {
        **report.header(),
        "tenants": Stream(rows),
        "total_monthly_usd": Later(lambda: report.total_monthly_usd),
        "known_total_monthly_usd": Later(lambda: report.known_total_monthly_usd),
        "unknown_plans": Stream(report.unknown_plans()),
    }
    app_ctx.output.result_stream(document, human=_render(report, rows))
