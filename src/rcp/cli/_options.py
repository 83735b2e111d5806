"""Option aliases shared by commands."""

from __future__ import annotations

from typing import Annotated

import typer

MaxWaitOption = Annotated[
    str | None,
    typer.Option(
        "--max-wait",
        help="Longest server-requested wait (Retry-After) to sit out, e.g. 60s (env: RCP_MAX_WAIT).",
        show_default=False,
    ),
]
LockTimeoutOption = Annotated[
    str,
    typer.Option("--lock-timeout", help="Wait this long for a busy tenant instead of exiting 4."),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
