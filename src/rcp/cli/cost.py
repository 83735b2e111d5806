"""`rcp cost [SLUG|--all]`: estimated monthly USD per resource, tenant and total."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from rcp.cli._common import app_context, handle_errors
from rcp.errors import UsageError

if TYPE_CHECKING:
    pass


@handle_errors
def cost(
    ctx: typer.Context,
    slug: Annotated[str | None, typer.Argument(help="Tenant slug (default: every tenant).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every tenant (the default).")] = False,
) -> None:
    """Estimated monthly USD per resource, tenant and total, from plans × a dated price table
    (override entries in <config dir>/prices.toml)."""
    from rcp.core.cost import CostReport, load_price_table
    from rcp.core.tenants.records import get_tenant, iter_tenants
    from rcp.output import admin as human
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
    app_ctx.output.result_stream(document, human=human.cost(report, rows))
