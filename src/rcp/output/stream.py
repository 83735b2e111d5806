"""Results written while they are read: JSON documents and text tables whose memory does not
grow with the number of rows (``tenant list``, ``status --all``, ``cost``, ``backup export``).

The JSON written is byte for byte what ``json.dumps`` makes of the same document (``indent``
None or 2), so a streamed command prints exactly what it printed when it built the whole
document first. Inside a document, a ``Stream`` is an array written item by item as its
iterable yields them, and a ``Later`` is a value computed only when the writer reaches it (a
total that is known once the rows before it have been written).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator
from itertools import chain
from typing import Any

Write = Callable[[str], object]

# Rows whose widths set a streamed table's columns: the widths of a table that fits are exactly
# a buffered table's; a longer one keeps its first page's widths (later, wider cells push their
# line out rather than the whole table waiting for the last row).
TABLE_WIDTH_ROWS = 1000


class Stream:
    """A JSON array whose items come from ``items`` while the document is written. The items
    are plain JSON values (not searched for further ``Stream``/``Later``: that is per-row cost)."""

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = items


class Later:
    """A value computed when the writer reaches it (after everything before it was written)."""

    def __init__(self, compute: Callable[[], Any]) -> None:
        self.compute = compute


def primed(items: Iterable[Any]) -> Iterator[Any]:
    """``items`` with its first item already read: a failure to read (the database is down)
    is raised here, before anything is printed, rather than half-way through a document."""
    iterator = iter(items)
    for first in iterator:
        return chain((first,), iterator)
    return iter(())


def write_json(write: Write, value: Any, *, indent: int | None = None, level: int = 0) -> None:
    """Write ``value`` as ``json.dumps(value, indent=indent, default=str)`` would."""
    if isinstance(value, Later):
        write_json(write, value.compute(), indent=indent, level=level)
    elif isinstance(value, Stream):
        _write_array(write, value.items, indent, level, plain=True)
    elif isinstance(value, dict) and _has_lazy(value):
        _write_object(write, value, indent, level)
    elif isinstance(value, list | tuple) and _has_lazy(value):
        _write_array(write, value, indent, level, plain=False)
    else:
        _write_plain(write, value, indent, level)


def _write_plain(write: Write, value: Any, indent: int | None, level: int) -> None:
    text = json.dumps(value, indent=indent, default=str)
    if indent is not None and level:
        # Nested one level deeper than json.dumps thinks: indent every line after the first
        # (JSON strings hold no raw newline, so every newline is layout).
        text = text.replace("\n", "\n" + " " * (indent * level))
    write(text)


def _has_lazy(value: Any) -> bool:
    """Whether a ``Stream`` or ``Later`` hides anywhere in ``value``."""
    if isinstance(value, Stream | Later):
        return True
    if isinstance(value, dict):
        return any(_has_lazy(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_has_lazy(item) for item in value)
    return False


def _write_array(
    write: Write, items: Iterable[Any], indent: int | None, level: int, *, plain: bool
) -> None:
    separator, newline, inner, outer = _layout(indent, level)
    opened = False
    for item in items:
        if opened:
            write(separator)
        else:
            write("[")
            opened = True
        write(newline + inner)
        if plain:
            _write_plain(write, item, indent, level + 1)
        else:
            write_json(write, item, indent=indent, level=level + 1)
    write(newline + outer + "]" if opened else "[]")


def _write_object(write: Write, value: dict[str, Any], indent: int | None, level: int) -> None:
    separator, newline, inner, outer = _layout(indent, level)
    write("{")
    for position, (key, item) in enumerate(value.items()):
        if position:
            write(separator)
        write(newline + inner + json.dumps(str(key)) + ": ")
        write_json(write, item, indent=indent, level=level + 1)
    write(newline + outer + "}" if value else "}")


def _layout(indent: int | None, level: int) -> tuple[str, str, str, str]:
    """(item separator, newline, inner indentation, closing indentation) of json.dumps."""
    if indent is None:
        return ", ", "", "", ""
    return ",", "\n", " " * (indent * (level + 1)), " " * (indent * level)


def table_lines(
    columns: list[str], rows: Iterable[list[str]], *, right: Collection[str] = ()
) -> Iterator[str]:
    """A plain text table (upper-case headers, columns two spaces apart, no trailing blanks),
    one line at a time. Column widths come from the first ``TABLE_WIDTH_ROWS`` rows; the
    columns named in ``right`` are right-aligned."""
    from rich.cells import cell_len

    from rcp.output.text import escape_control

    headers = [column.upper() for column in columns]
    # Cells are data (names, Render's messages): one line each, no terminal control.
    iterator = ([escape_control(cell) for cell in row] for row in rows)
    first: list[list[str]] = []
    for row in iterator:
        first.append(row)
        if len(first) >= TABLE_WIDTH_ROWS:
            break
    widths = [cell_len(header) for header in headers]
    for row in first:
        widths = [max(width, cell_len(cell)) for width, cell in zip(widths, row, strict=True)]

    flush_right = [column in right for column in columns]

    def line(cells: list[str]) -> str:
        padded = []
        for position, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            fill = " " * max(width - cell_len(cell), 0)
            padded.append(fill + cell if flush_right[position] else cell + fill)
        return "  ".join(padded).rstrip()

    yield line(headers)
    for row in chain(first, iterator):
        yield line(row)


def json_table(rows: Iterable[dict[str, Any]], columns: list[str]) -> Callable[[Write], None]:
    """A human renderer for ``Output.result_stream``: the given fields of each JSON row as a
    streamed table (None → empty cell)."""

    def render(write: Write) -> None:
        cells = ([_cell(row.get(column)) for column in columns] for row in rows)
        for text in table_lines(columns, cells):
            write(text + "\n")

    return render


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


# JSON rows kept in memory before a spool moves to a temporary file.
SPOOL_MEMORY_BYTES = 1 << 20


class Spool:
    """JSON rows set aside (in memory up to a megabyte, then in a temporary file) to be read
    back once, in order."""

    def __init__(self) -> None:
        import tempfile

        self._file = tempfile.SpooledTemporaryFile(
            max_size=SPOOL_MEMORY_BYTES, mode="w+", encoding="utf-8"
        )
        self.count = 0

    def add(self, row: Any) -> None:
        self._file.write(json.dumps(row, default=str) + "\n")
        self.count += 1

    def read(self) -> Iterator[Any]:
        self._file.seek(0)
        for line in self._file:
            yield json.loads(line)
        self._file.close()


def spooled(rows: Iterable[Any]) -> Spool:
    """Every row of ``rows`` read now into a ``Spool``."""
    spool = Spool()
    for row in rows:
        spool.add(row)
    return spool
