"""Parameter coercion without pydantic for the simple values rcp's commands take.

Typer (0.29) coerces every parameter value through a pydantic ``TypeAdapter`` built the first
time the parameter is processed, and the root options are processed on every run (``--help``
of a subcommand and ``--version`` included). Building the first adapter imports pydantic, which
costs more than all of Typer and Click: it was most of the start-up time of ``rcp tenant
--help``. Here the plain cases rcp uses (``str``, ``bool``, ``int``/``float`` written as plain
digits, ``Enum`` choices, ``list[str]``, ``Path``) are coerced directly to the value Typer's
adapter returns; anything else — other annotations, and every value the fast path does not
accept, so every error message — still goes through Typer's own adapter.
``tests/cli/test_cli_params.py`` checks the two agree on the annotations rcp uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from typer import core as typer_core
from typer._coercion import RuntimeParam, TypeDescriptor
from typer._coercion import build_runtime_param as typer_runtime_param
from typer._param_types import _path_options_requested, coerce_cli_choice, coerce_cli_path

# (accepted, value): accepted False sends the value to Typer's adapter.
Fast = Callable[[Any, Any, Any], tuple[bool, Any]]
_PLAIN_INT = re.compile(r"(0|[1-9][0-9]*)")
_PLAIN_FLOAT = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?")
_REJECT: tuple[bool, Any] = (False, None)


@dataclass(frozen=True)
class LightRuntimeParam(RuntimeParam):
    """Coerces what ``fast`` accepts; falls back to Typer's adapter (built only then)."""

    descriptor: TypeDescriptor
    fast: Fast

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        accepted, result = self.fast(value, param, ctx)
        if accepted:
            return result
        return typer_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)


def build_runtime_param(descriptor: TypeDescriptor) -> RuntimeParam:
    fast = _fast_path(descriptor)
    if fast is None:
        return typer_runtime_param(descriptor)
    return LightRuntimeParam(
        annotation=descriptor.annotation,
        parameter_info=descriptor.parameter_info,
        descriptor=descriptor,
        fast=fast,
    )


def _fast_path(descriptor: TypeDescriptor) -> Fast | None:
    annotation = descriptor.annotation
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or getattr(info, "parser", None) is not None:
        return None
    if annotation is str:
        return lambda value, _param, _ctx: (True, value) if isinstance(value, str) else _REJECT
    if annotation is bool:
        return lambda value, _param, _ctx: (True, value) if isinstance(value, bool) else _REJECT
    if annotation in (int, float) and not getattr(info, "clamp", False):
        return _number(annotation, info.min, info.max)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        choices = list(annotation)
        case_sensitive = info.case_sensitive

        def choice(value: Any, _param: Any, ctx: Any) -> tuple[bool, Any]:
            try:
                return True, coerce_cli_choice(
                    value, choices=choices, case_sensitive=case_sensitive, ctx=ctx
                )
            except ValueError:
                return _REJECT  # Typer's adapter words the error

        return choice
    if annotation == list[str]:

        def strings(value: Any, _param: Any, _ctx: Any) -> tuple[bool, Any]:
            if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
                return True, list(value)
            return _REJECT

        return strings
    if (
        isinstance(annotation, type)
        and issubclass(annotation, Path)
        and info.path_type is None
        and not _path_options_requested(info)
    ):

        def path(value: Any, param: Any, ctx: Any) -> tuple[bool, Any]:
            if not isinstance(value, str):
                return _REJECT
            # A Path instance skips the adapter inside; the existence/permission checks run.
            return True, coerce_cli_path(
                annotation(value), info, path_type=annotation, param=param, ctx=ctx
            )

        return path
    return None


def _number(kind: type[float], low: float | None, high: float | None) -> Fast:
    pattern = _PLAIN_INT if kind is int else _PLAIN_FLOAT

    def number(value: Any, _param: Any, _ctx: Any) -> tuple[bool, Any]:
        parsed: float
        if type(value) is kind:
            parsed = value
        elif isinstance(value, str) and pattern.fullmatch(value):
            parsed = kind(value)
        else:
            return _REJECT
        if (low is not None and parsed < low) or (high is not None and parsed > high):
            return _REJECT  # Typer's adapter words the range error
        return True, parsed

    return number


def install() -> None:
    """Make Typer's parameters use ``build_runtime_param`` (idempotent)."""
    typer_core.build_runtime_param = build_runtime_param  # type: ignore[attr-defined]
