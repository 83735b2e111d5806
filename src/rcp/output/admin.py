"""Human renderings of the operator commands' results: audit, cost, backup import, db, health.

Each takes the finished result (its JSON form, or the report it came from) and only shapes the
text a person reads; the JSON of the same results is built by the command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from rcp.output.tables import rows_table

if TYPE_CHECKING:
    from rich.console import Console

    from rcp.core.backup import ImportReport
    from rcp.core.cost import CostReport
    from rcp.output.stream import Write

AUDIT_COLUMNS = ["id", "at", "actor", "tenant", "outcome", "exit_code", "duration_ms", "command"]


def audit_entries(rows: list[dict[str, Any]]) -> Callable[[Console], None]:
    return rows_table(rows, AUDIT_COLUMNS)


# ------------------------------------------------------------------------------------ cost


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def _total(row: dict[str, Any], field: str) -> str:
    value = row[field]
    if value is not None:
        return _usd(value)
    return f"≥ {_usd(row['known_' + field])} + unknown"


def cost(report: CostReport, rows: Iterable[dict[str, Any]]) -> Callable[[Write], None]:
    """The cost table, written as the tenants are priced (``rows``), then the fleet totals."""

    def render(write: Write) -> None:
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


# ---------------------------------------------------------------------------------- backup


def backup_import(report: ImportReport, *, dry_run: bool) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        verb = "would import" if dry_run else "imported"
        created = ", ".join(report.tenants_created) or "none"
        console.print(f"{verb}: new tenants: {created}")
        if report.tenants_overwritten:
            console.print(f"{verb} over existing tenants: {', '.join(report.tenants_overwritten)}")
        console.print(
            f"journal entries: {report.journal_entries}; audit entries added: "
            f"{report.audit_entries_added} (already present: {report.audit_entries_skipped})"
        )

    return render


# -------------------------------------------------------------------------------------- db


def db_status(data: dict[str, Any]) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        console.print(f"database: {data['url']}")
        current = data["current"] or "none (empty database)"
        console.print(f"schema:   {current}")
        console.print(f"head:     {data['head']}")
        if data["at_head"]:
            console.print("up to date")
        else:
            console.print("behind: run `rcp db upgrade` (or any command: it migrates first)")

    return render


def db_upgrade(data: dict[str, Any]) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        if data["upgraded"]:
            previous = data["previous"] or "empty"
            console.print(f"upgraded {data['url']} from {previous} to {data['current']}")
        else:
            console.print(f"{data['url']} is already at {data['current']}")

    return render


def db_copy(data: dict[str, Any], tables: dict[str, int]) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        counts = ", ".join(f"{name} {count}" for name, count in tables.items())
        console.print(f"copied {data['from']} → {data['to']}: {counts}; verified")

    return render


# ---------------------------------------------------------------------------------- health


def health(report: dict[str, Any]) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        for check in report["checks"]:
            mark = "ok  " if check["ok"] else "FAIL"
            console.print(f"{mark} {check['name']}: {check['detail']}")
        console.print(f"status: {report['status']}")

    return render
