"""Shared pieces of the command layer: the error-mapping decorator and context access."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer

from rcp.cli import _click as click
from rcp.errors import Interrupted, RcpError

if TYPE_CHECKING:
    from rcp.context import AppContext

P = ParamSpec("P")
R = TypeVar("R")


def app_context(ctx: typer.Context | None = None) -> AppContext:
    """This run's AppContext, built on first use from the options the root callback stored
    (defaults when a sub-app runs alone), with logging configured."""
    from rcp.context import AppContext

    context = ctx or click.get_current_context()
    found = context.find_object(AppContext)
    if found is None:
        from rcp.cli import _CURRENT_ARGV
        from rcp.cli._logging import configure_logging
        from rcp.settings import GlobalOptions

        options = context.find_object(GlobalOptions) or GlobalOptions()
        found = AppContext(options, argv=_CURRENT_ARGV)
        try:
            settings = found.settings
            configure_logging(
                settings.verbose, settings.quiet, settings.log_format, settings.secrets()
            )
        except Exception:  # reported by the command itself (exit 6) through handle_errors
            configure_logging(options.verbose, options.quiet, options.log_format or "text", [])
        context.find_root().obj = found
    return found


def append_audit(
    app: AppContext, *, tenant: str | None, outcome: str, exit_code: int, duration_ms: int
) -> None:
    """One audit entry for this run's command line (secrets redacted)."""
    from rcp.core.models import AuditEntry

    app.store().append_audit(
        AuditEntry(
            actor=app.settings.actor,
            command=app.command_line(),
            tenant=tenant,
            outcome=outcome,
            exit_code=exit_code,
            duration_ms=duration_ms,
        )
    )


def _write_audit(app: AppContext, exit_code: int, outcome: str) -> None:
    if app.audit_subject is None:
        return
    _command, tenant = app.audit_subject
    try:
        append_audit(
            app,
            tenant=tenant,
            outcome=outcome,
            exit_code=exit_code,
            duration_ms=int((time.monotonic() - app.started) * 1000),
        )
    except Exception as exc:  # the audit must never mask the command's own outcome
        import logging

        logging.getLogger("rcp").warning("could not write the audit log: %s", type(exc).__name__)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Map RcpError to the error output and its exit code; anything else to exit 1.

    The one place where exceptions become exit codes. Also writes the audit entry of a mutating
    command once it has passed its preconditions (``app.audit_subject`` set).
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        app = app_context()
        exit_code = 0
        outcome = "ok"
        try:
            return func(*args, **kwargs)
        except typer.Exit as exc:
            exit_code = exc.exit_code
            outcome = "ok" if exit_code == 0 else f"exit_{exit_code}"
            raise
        except click.ClickException:
            raise
        except RcpError as exc:
            exit_code, outcome = exc.exit_code, exc.code
            app.output.error(exc)
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:
            # The reader went away (`rcp tenant list | head`): stop quietly with the status of
            # a process SIGPIPE ended, as other Unix tools do.
            exit_code, outcome = BROKEN_PIPE_EXIT, "broken_pipe"
            _silence_stdout()
            raise typer.Exit(BROKEN_PIPE_EXIT) from None
        except KeyboardInterrupt:
            interrupted = Interrupted("interrupted", signal_number=2)
            exit_code, outcome = interrupted.exit_code, interrupted.code
            app.output.error(interrupted)
            raise typer.Exit(interrupted.exit_code) from None
        except Exception as exc:
            exit_code, outcome = 1, "internal_error"
            # The same words as the setting (rcp.settings.parse_bool); "false" is not on.
            if os.environ.get("RCP_DEBUG", "").strip().lower() in ("1", "true", "yes"):
                raise
            # Exception text can carry anything (URLs, values): keep the class and a redacted
            # message, never locals.
            internal = RcpError(
                f"internal error ({type(exc).__name__}): {exc}",
                hint="rerun with RCP_DEBUG=1 for a traceback",
            )
            app.output.error(internal)
            raise typer.Exit(1) from None
        finally:
            _write_audit(app, exit_code, outcome)
            app.close()

    return wrapper


BROKEN_PIPE_EXIT = 128 + 13  # SIGPIPE


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import sys

    try:
        fileno = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (tests capture output in memory)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)


def mark_audited(app: AppContext, command: str, tenant: str | None) -> None:
    """Called by a mutating command once its preconditions passed: it will be audited."""
    app.audit_subject = (command, tenant)


def no_input(app: AppContext) -> bool:
    """Never prompt: --no-input, CI set, or stdin not a terminal."""
    import sys

    if app.options.no_input or os.environ.get("CI"):
        return True
    isatty = getattr(sys.stdin, "isatty", None)
    return not (isatty and isatty())


def duration_option(value: str | None, flag: str) -> float | None:
    """A duration flag (``90``, ``90s``, ``5m``, ``1h``); UsageError (exit 2) naming the flag."""
    if value is None:
        return None
    from rcp.core.durations import parse_duration

    seconds = parse_duration(value, option=flag)
    if flag in POSITIVE_DURATION_FLAGS and seconds <= 0:
        from rcp.errors import UsageError

        raise UsageError(f"invalid {flag} value {value!r}: it must be more than 0")
    return seconds


# A zero timeout would give up before the first check; --max-wait and --lock-timeout 0 are
# meaningful ("do not wait").
POSITIVE_DURATION_FLAGS = frozenset({"--timeout"})


def apply_max_wait(app: AppContext, max_wait: str | None) -> None:
    """``--max-wait`` given to the command wins over RCP_MAX_WAIT and the config file."""
    app.max_wait_override = duration_option(max_wait, "--max-wait")


def mutation_waits(app: AppContext, *, lock_timeout: str, max_wait: str | None) -> float:
    """The two waits every mutating command takes (exit 2 on a bad value, before any I/O):
    ``--max-wait`` applied to the run, ``--lock-timeout`` returned as the lock wait."""
    lock_wait = duration_option(lock_timeout, "--lock-timeout") or 0.0
    apply_max_wait(app, max_wait)
    return lock_wait


def progress_for(app: AppContext) -> Any:
    """The progress sink of this run (live view on a terminal, plain lines otherwise)."""
    from rcp.output.progress import make_progress

    return make_progress(app.output)


def make_operator(
    app: AppContext,
    *,
    stop: Any,
    lock_wait: float,
    command: str,
    slug: str | None,
    progress: Any,
) -> Any:
    """A ``rcp.core.tenants.Operator`` wired to this run: store, gateway, lock holder,
    signals, failpoints, and the audit entry once the tenant lock is held."""
    from rcp.core.tenants import Operator

    return Operator(
        store=app.store(),
        gateway=app.gateway(),
        progress=progress,
        holder=app.lock_holder(),
        stop=stop,
        lock_wait=lock_wait,
        on_locked=lambda: mark_audited(app, command, slug),
        failpoint=app.failpoint(),
        secrets=tuple(app.settings.secrets()),
        time_scale=app.time_scale(),
    )


@contextmanager
def operation(
    app: AppContext, *, command: str, slug: str | None, lock_wait: float
) -> Iterator[Any]:
    """An operator for one mutating tenant command: progress on stderr, SIGINT/SIGTERM asking
    for a clean stop, the audit entry once the tenant lock is held."""
    from rcp.cli._signals import graceful_stop

    progress = progress_for(app)
    try:
        with graceful_stop() as stop:
            yield make_operator(
                app,
                stop=stop,
                lock_wait=lock_wait,
                command=command,
                slug=slug,
                progress=progress,
            )
    finally:
        progress.close()

