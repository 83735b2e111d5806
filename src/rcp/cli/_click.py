"""The Click layer Typer vendors (``typer._click`` since Typer 0.29), imported in one place."""

from typer._click import Command, Context, HelpFormatter
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer._click.globals import get_current_context
from typer.exceptions import Abort

__all__ = [
    "Abort",
    "ClickException",
    "Command",
    "Context",
    "HelpFormatter",
    "NoArgsIsHelpError",
    "UsageError",
    "get_current_context",
]
