"""The command tree is built on demand (rcp.cli._lazy): every help page is the one Typer's
eager build of the same apps prints, and commands still run (the rest of the suite)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner


def eager_app() -> typer.Typer:
    """rcp's root app registered the way Typer builds everything up front."""
    from rcp import cli

    eager = typer.Typer()
    eager.info = copy.copy(cli.app.info)
    eager.info.cls = TyperGroup
    eager.registered_callback = cli.app.registered_callback
    eager.rich_markup_mode = cli.app.rich_markup_mode
    eager.pretty_exceptions_short = cli.app.pretty_exceptions_short
    eager._add_completion = False
    for name, mounted, help_text in cli.MOUNTED:
        if isinstance(mounted, typer.Typer):
            eager.add_typer(mounted, name=name, help=help_text)
        else:
            eager.command(name)(mounted)
    return eager


def command_paths() -> Iterator[list[str]]:
    def walk(command: Any, path: list[str]) -> Iterator[list[str]]:
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(eager_app()), [])


@pytest.mark.parametrize("path", list(command_paths()), ids=lambda path: " ".join(path) or "rcp")
def test_every_help_page_is_the_eager_one(path: list[str]) -> None:
    from rcp.cli import app

    runner = CliRunner()
    lazy = runner.invoke(app, [*path, "--help"], prog_name="rcp", env={"COLUMNS": "90"})
    eager = runner.invoke(eager_app(), [*path, "--help"], prog_name="rcp", env={"COLUMNS": "90"})
    assert lazy.exit_code == eager.exit_code == 0, lazy.output
    assert lazy.stdout == eager.stdout


def test_only_the_commands_on_the_line_are_built() -> None:
    from rcp.cli import app
    from rcp.cli._lazy import LazyCommands

    root = typer.main.get_command(app)
    commands = root.commands  # type: ignore[attr-defined]
    assert isinstance(commands, LazyCommands)
    assert list(commands)[:3] == ["plan", "apply", "cost"]
    tenant = commands["tenant"]
    assert set(commands._built) == {"tenant"}
    status = tenant.commands["status"]
    assert status.name == "status" and set(tenant.commands._built) == {"status"}
    assert "env" in tenant.commands and "nope" not in tenant.commands
