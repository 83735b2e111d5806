"""rcp.cli._params coerces plain values without pydantic: for every parameter of every rcp
command, its result (or error message) is the one Typer's pydantic adapter gives."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import typer
from typer._click import Context
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param as typer_runtime_param

from rcp.cli._params import LightRuntimeParam, build_runtime_param

SAMPLES: dict[Any, list[Any]] = {
    str: ["abc", "", "ünï code", "-x"],
    bool: [True, False],
    int: [0, 3, "0", "1", "3", "64", "65", "-1", "07", " 5", "abc", "1e3", "3.0", ""],
    float: [0.5, "0", "1.5", "2", "-0.5", "1e3", "abc", ".5", "10.25", ""],
    Path: ["/tmp", "relative/x", "/nonexistent/deep/path", __file__],
    list[str]: [("a", "b"), [], ["x"]],
}


def _parameters() -> list[Any]:
    from tests.cli.test_cli_lazy import eager_app

    found = []

    def walk(command: Any) -> None:
        for param in command.params:
            if hasattr(param, "type_descriptor"):
                found.append((command, param))
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(eager_app()))
    return found


def _outcome(runtime: Any, value: Any, param: Any, ctx: Context) -> tuple[str, Any]:
    try:
        return "ok", runtime.coerce(value, param=param, ctx=ctx)
    except BadParameter as exc:
        return "error", exc.format_message()


PARAMETERS = _parameters()


@pytest.mark.parametrize(
    ("command", "param"),
    PARAMETERS,
    ids=[f"{command.name}:{param.name}" for command, param in PARAMETERS],
)
def test_light_coercion_agrees_with_typer(command: Any, param: Any) -> None:
    descriptor = param.type_descriptor
    annotation = descriptor.annotation
    light = build_runtime_param(descriptor)
    # Every parameter type rcp uses takes the light path (no pydantic at start-up).
    assert isinstance(light, LightRuntimeParam), annotation
    samples = SAMPLES.get(annotation)
    if samples is None:
        assert isinstance(annotation, type) and issubclass(annotation, Enum), annotation
        samples = [*(m.value for m in annotation), *(m.value.upper() for m in annotation), "bogus"]
    ctx = Context(command)
    for value in [None, *samples]:
        expected = _outcome(typer_runtime_param(descriptor), value, param, ctx)
        assert _outcome(light, value, param, ctx) == expected, (param.name, value)


def test_every_annotation_kind_is_sampled() -> None:
    kinds = {param.type_descriptor.annotation for _command, param in PARAMETERS}
    assert {str, bool, int, float, Path, list[str]} <= kinds
