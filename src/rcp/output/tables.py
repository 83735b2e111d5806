"""A rich table of chosen fields of JSON rows: the human rendering of most list results."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def rows_table(rows: list[dict[str, Any]], columns: list[str]) -> Callable[[Console], None]:
    """The given fields of each row under upper-case headers (None → empty cell)."""

    def render(console: Console) -> None:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for column in columns:
            table.add_column(column.upper(), overflow="fold")
        for row in rows:
            table.add_row(*["" if row.get(c) is None else str(row.get(c)) for c in columns])
        console.print(table)

    return render
