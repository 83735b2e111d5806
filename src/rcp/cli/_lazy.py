"""A command tree built on demand.

Typer turns every command of an app into a Click command before it parses anything: for each
parameter of each function it evaluates the annotations and builds Click parameters — most of
the start-up time of a short command once the imports are done. Here groups hold their
subcommands as *pending* entries, built (by Typer's own functions, so with Typer's behaviour)
the first time they are looked up: ``rcp tenant status X`` builds the root, the ``tenant``
group and ``status``, nothing else. A group's help lists its subcommands from what is known
without building them (name, help text, hidden), through the same Click code that formats
built ones; ``tests/cli/test_cli_lazy.py`` checks every help page against an eager build.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from functools import partial
from gettext import gettext as _
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info, get_group_from_info, solve_typer_info_defaults
from typer.models import CommandInfo, DefaultPlaceholder, TyperInfo

from rcp.cli._click import Command, Context, HelpFormatter


@dataclass
class Pending:
    """A subcommand not built yet: how to build it, and a light stand-in for help listings."""

    build: Callable[[], Command]
    stub: Callable[[], Command]


class LazyCommands(MutableMapping[str, Command]):
    """A group's ``commands``: names in registration order, each built on first access."""

    def __init__(self, built: dict[str, Command], pending: dict[str, Pending]) -> None:
        self._order = [*built, *(name for name in pending if name not in built)]
        self._built = dict(built)
        self._pending = dict(pending)

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            if name not in self._pending:
                raise KeyError(name)
            self._built[name] = self._pending.pop(name).build()
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        if name not in self._order:
            self._order.append(name)
        self._pending.pop(name, None)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        self._order.remove(name)
        self._built.pop(name, None)
        self._pending.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._built or name in self._pending

    def listing(self, name: str) -> Command:
        """The built command, or a stand-in with its name, help and flags (for help pages)."""
        if name in self._built:
            return self._built[name]
        return self._pending[name].stub()


class LazyGroup(TyperGroup):
    """A Typer group whose subcommands are built when first looked up."""

    commands: MutableMapping[str, Command]

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        # TyperGroup.format_commands, reading stand-ins instead of building every subcommand
        # just to print its one-line help.
        listing = getattr(self.commands, "listing", self.commands.__getitem__)
        commands = []
        for name in self.list_commands(ctx):
            command = listing(name)
            if not command.hidden:
                commands.append((name, command))
        if not commands:
            return
        limit = formatter.width - 6 - max(len(name) for name, _command in commands)
        rows = [(name, command.get_short_help_str(limit)) for name, command in commands]
        with formatter.section(_("Commands")):
            formatter.write_dl(rows)


@dataclass(frozen=True)
class BuildOptions:
    """What Typer passes down when it builds an app's tree (the root app's settings)."""

    pretty_exceptions_short: bool = True
    suggest_commands: bool = True
    rich_markup_mode: Any = None


def pending_children(instance: typer.Typer, options: BuildOptions) -> dict[str, Pending]:
    """The commands and sub-apps registered on ``instance``, as pending entries."""
    pending: dict[str, Pending] = {}
    for info in instance.registered_commands:
        assert info.callback is not None
        name = info.name or typer.main.get_command_name(info.callback.__name__)
        pending[name] = Pending(
            build=partial(command, info, options), stub=partial(command_stub, name, info)
        )
    for group_info in instance.registered_groups:
        solved = solve_typer_info_defaults(group_info)
        if not solved.name:
            # The commands of an unnamed sub-app are the group's own (Typer ignores its callback).
            assert group_info.typer_instance is not None
            pending.update(pending_children(group_info.typer_instance, options))
            continue
        pending[solved.name] = Pending(
            build=partial(lazy_group, group_info, options), stub=partial(group_stub, solved)
        )
    return pending


def group_stub(solved: TyperInfo) -> Command:
    """A stand-in with a group's name, help and flags (``solved``: its resolved settings)."""
    return TyperCommand(
        solved.name,
        help=solved.help,
        short_help=solved.short_help,
        hidden=bool(solved.hidden),
        deprecated=bool(solved.deprecated),
    )


def lazy_group(info: TyperInfo, options: BuildOptions) -> TyperGroup:
    """The group of ``info`` (Typer's build of its callback and settings) with lazy children."""
    instance = info.typer_instance
    assert instance is not None
    shell = copy.copy(instance)
    shell.registered_commands = []
    shell.registered_groups = []
    shell_info = copy.copy(info)
    shell_info.typer_instance = shell
    if isinstance(shell_info.cls, DefaultPlaceholder) and isinstance(
        shell.info.cls, DefaultPlaceholder
    ):
        shell_info.cls = LazyGroup
    group = get_group_from_info(
        shell_info,
        pretty_exceptions_short=options.pretty_exceptions_short,
        suggest_commands=options.suggest_commands,
        rich_markup_mode=options.rich_markup_mode,
    )
    group.commands = LazyCommands(dict(group.commands), pending_children(instance, options))
    return group


def group_entry(
    instance: typer.Typer, name: str, help_text: str, options: BuildOptions
) -> Pending:
    """A pending group for ``instance`` mounted as ``name`` (as ``add_typer`` would)."""
    info = TyperInfo(instance, name=name, help=help_text)
    return Pending(
        build=partial(lazy_group, info, options),
        stub=partial(group_stub, solve_typer_info_defaults(info)),
    )


def function_entry(name: str, callback: Callable[..., Any], options: BuildOptions) -> Pending:
    """A pending command for a plain function (the root's ``plan``, ``cost``, …)."""
    info = CommandInfo(name=name, callback=callback)
    return Pending(build=partial(command, info, options), stub=partial(command_stub, name, info))


def command(info: CommandInfo, options: BuildOptions) -> Command:
    """Typer's build of one command."""
    return get_command_from_info(
        info,
        pretty_exceptions_short=options.pretty_exceptions_short,
        rich_markup_mode=options.rich_markup_mode,
    )


def command_stub(name: str, info: CommandInfo) -> Command:
    """A command with ``info``'s name, help and flags and nothing else (for help listings)."""
    # The help text exactly as get_command_from_info derives it.
    text = inspect.getdoc(info.callback) if info.help is None else inspect.cleandoc(info.help)
    return TyperCommand(
        name,
        help=text,
        short_help=info.short_help,
        hidden=bool(info.hidden),
        deprecated=bool(info.deprecated),
    )
