"""Progress on stderr: a rich live view per resource on a TTY, else one plain line per event."""

from __future__ import annotations

import time
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.live import Live


DONE_STATES = frozenset({"live", "available", "deleted", "suspended", "ACTIVE"})


class NullProgress:
    def event(self, tenant: str, resource: str | None, message: str, state: str | None = None) -> None:
        return None

    def close(self) -> None:
        return None


class PlainProgress:
    """``acme: web: created srv-… (1/3)`` — one line per event, for logs and CI."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def event(self, tenant: str, resource: str | None, message: str, state: str | None = None) -> None:
        from rcp.output.text import escape_control

        prefix = f"{tenant}: {resource}: " if resource else f"{tenant}: "
        self.stream.write(escape_control(prefix + message) + "\n")
        self.stream.flush()

    def close(self) -> None:
        return None


class JsonProgress:
    """``--log-format json``: one JSON record per event (also on a terminal: a log pipeline
    reads every line)."""

    def __init__(self, output: Any) -> None:
        self.output = output

    def event(self, tenant: str, resource: str | None, message: str, state: str | None = None) -> None:
        self.output.log(
            "info",
            f"{tenant}: {resource}: {message}" if resource else f"{tenant}: {message}",
            event="progress",
            tenant=tenant,
            resource=resource,
            state=state,
        )

    def close(self) -> None:
        return None


class LiveProgress:
    """A table per resource (spinner, state, elapsed), redrawn in place on the terminal."""

    def __init__(self, console: Any) -> None:
        from rich.live import Live

        self.console = console
        self.started = time.monotonic()
        # (tenant, resource) → (state, started, finished or None)
        self.rows: dict[tuple[str, str], tuple[str, float, float | None]] = {}
        self.notes: dict[str, str] = {}
        self.live: Live = Live(self._render(), console=console, refresh_per_second=8, transient=False)
        self.live.start()

    def _render(self) -> Any:
        from rich.spinner import Spinner
        from rich.table import Table

        table = Table(box=None, show_header=True, pad_edge=False)
        table.add_column("")
        table.add_column("TENANT", overflow="fold")
        table.add_column("RESOURCE", overflow="fold")
        table.add_column("STATE")
        table.add_column("ELAPSED", justify="right")
        now = time.monotonic()
        for (tenant, resource), (state, since, finished) in self.rows.items():
            marker: Any = "✓" if finished is not None else Spinner("dots")
            elapsed = (finished or now) - since
            table.add_row(marker, tenant, resource, state, f"{elapsed:4.0f}s")
        for tenant, note in self.notes.items():
            table.add_row("", tenant, "", note, "")
        return table

    def event(self, tenant: str, resource: str | None, message: str, state: str | None = None) -> None:
        if resource is None:
            self.notes[tenant] = message
        else:
            key = (tenant, resource)
            now = time.monotonic()
            since = self.rows.get(key, ("", now, None))[1]
            shown = state or message
            finished = now if shown in DONE_STATES else None
            self.rows[key] = (shown, since, finished)
        self.live.update(self._render())

    def close(self) -> None:
        self.live.update(self._render())
        self.live.stop()


def make_progress(output: Any) -> NullProgress | PlainProgress | JsonProgress | LiveProgress:
    """Pick the sink for this run: nothing with -q, JSON records with --log-format json, live
    on a TTY, plain lines otherwise."""
    if output.quiet:
        return NullProgress()
    if getattr(output, "log_json", False):
        return JsonProgress(output)
    if output.stderr_is_tty():
        return LiveProgress(output.err_console())
    return PlainProgress(output.stderr)
