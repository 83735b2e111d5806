"""Streamed results (issue 12): the JSON written piece by piece is byte for byte what
``json.dumps`` makes of the whole document, and streamed tables line up."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rcp.output.stream import Later, Stream, json_table, primed, table_lines, write_json

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=25,
)


def lazify(value: Any, choice: st.DataObject, top: bool = True) -> Any:
    """The same document with some lists turned into Streams of generators and some values
    into Laters (Stream items stay plain, as the writer expects)."""
    if isinstance(value, list) and choice.draw(st.booleans()):
        return Stream(item for item in value)
    if choice.draw(st.integers(0, 4)) == 0 and not top:
        return Later(lambda value=value: value)
    if isinstance(value, dict):
        return {key: lazify(item, choice, False) for key, item in value.items()}
    if isinstance(value, list):
        return [lazify(item, choice, False) for item in value]
    return value


@settings(max_examples=300)
@given(document=documents, choice=st.data(), indent=st.sampled_from([None, 2]))
def test_streamed_json_is_what_json_dumps_writes(document: Any, choice: Any, indent: int | None) -> None:
    pieces: list[str] = []
    write_json(pieces.append, lazify(document, choice), indent=indent)
    assert "".join(pieces) == json.dumps(document, indent=indent)


def test_a_stream_is_read_only_while_written() -> None:
    seen: list[int] = []

    def rows() -> Any:
        for index in range(3):
            seen.append(index)
            yield {"n": index}

    pieces: list[str] = []

    def write(text: str) -> None:
        pieces.append(text)
        # Nothing is read ahead of what has been written.
        assert len(seen) <= sum(piece.startswith('{"n"') for piece in pieces) + 1

    total = {"count": 0}
    counted = (total.__setitem__("count", total["count"] + 1) or row for row in rows())
    write_json(write, {"data": {"rows": Stream(counted), "n": Later(lambda: total["count"])}})
    assert "".join(pieces) == '{"data": {"rows": [{"n": 0}, {"n": 1}, {"n": 2}], "n": 3}}'


def test_primed_reads_the_first_item_at_once() -> None:
    def failing() -> Any:
        raise RuntimeError("database down")
        yield  # pragma: no cover

    try:
        primed(failing())
    except RuntimeError as exc:
        assert str(exc) == "database down"
    else:  # pragma: no cover
        raise AssertionError("primed must read the first item")
    assert list(primed(iter([]))) == []
    assert list(primed(iter([1, 2]))) == [1, 2]


def test_table_lines_align_columns_without_trailing_blanks() -> None:
    lines = list(
        table_lines(
            ["slug", "name", "usd"],
            [["acme", "Acme Corporation", "$1.00"], ["b", "Café 東京", "$120.50"]],
            right={"usd"},
        )
    )
    assert lines == [
        "SLUG  NAME                  USD",
        "acme  Acme Corporation    $1.00",
        "b     Café 東京         $120.50",
    ]


def test_json_table_shows_none_as_an_empty_cell() -> None:
    written: list[str] = []
    json_table([{"slug": "acme", "last_error": None}], ["slug", "last_error"])(written.append)
    assert "".join(written) == "SLUG  LAST_ERROR\nacme\n"
