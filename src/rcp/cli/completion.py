"""`rcp completion bash|zsh|fish`: print the shell's completion script (docs/install.md).

The scripts are Typer's: the shell runs ``rcp`` with ``_RCP_COMPLETE=complete_<shell>`` and the
words typed so far, and rcp answers with the candidates (commands, options, choices). This
module imports nothing Typer has not loaded already, so mounting it costs ``rcp --help`` nothing.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated

import typer

COMPLETE_VAR = "_RCP_COMPLETE"


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def prepare_request() -> None:
    """Make a completion request (``_RCP_COMPLETE`` set) answerable before Click sees it.

    Registers Typer's completion classes (Typer does so only for apps built with
    ``add_completion``, which would put ``--install-completion`` and ``--show-completion`` on
    every ``rcp --help``) and accepts Click's spelling of the instruction
    (``bash_source``, what Click's documentation tells users to run) besides Typer's
    (``source_bash``, what the scripts send).
    """
    from typer._completion_classes import completion_init

    completion_init()
    instruction = os.environ.get(COMPLETE_VAR, "")
    shell, _, action = instruction.partition("_")
    if shell in set(Shell) and action in ("source", "complete"):
        os.environ[COMPLETE_VAR] = f"{action}_{shell}"


def completion(
    shell: Annotated[Shell, typer.Argument(help="The shell: bash, zsh or fish.")],
) -> None:
    """Print the shell completion script for SHELL (see docs/install.md to install it).

    \b
    Examples:
      rcp completion bash > ~/.local/share/bash-completion/completions/rcp
      rcp completion zsh > ~/.rcp-completion.zsh   # source it in ~/.zshrc
      rcp completion fish > ~/.config/fish/completions/rcp.fish
    """
    from typer._click.shell_completion import get_completion_class

    from rcp.cli import _click as click

    prepare_request()
    completer = get_completion_class(shell.value)
    if completer is None:  # registered by prepare_request; a Typer change would land here
        raise RuntimeError(f"no completion support for {shell.value} in this Typer")
    root = click.get_current_context().find_root().command
    typer.echo(completer(root, {}, "rcp", COMPLETE_VAR).source())
