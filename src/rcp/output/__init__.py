"""The only place that prints. Results go to stdout; everything else to stderr.

JSON mode prints exactly one document on stdout: ``{"data": …}`` or ``{"error": {…}}``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import IO, TYPE_CHECKING, Any

# json and rcp.output.text load on first use: `rcp --help` imports this package (for Format)
# and prints nothing through it.

if TYPE_CHECKING:
    from rich.console import Console

    from rcp.errors import RcpError


class Format(StrEnum):
    """The output formats (-o/--output, RCP_OUTPUT, the config file's ``output``): a new one is
    a member here, rendered by ``Output`` below — nothing outside ``rcp.output`` changes."""

    human = "human"
    json = "json"


FORMATS = tuple(member.value for member in Format)


def _json_dumps(value: Any, **options: Any) -> str:
    import json

    return json.dumps(value, **options)


def escape_control(text: str, *, multiline: bool = False) -> str:
    """``rcp.output.text.escape_control`` (loaded on first use)."""
    from rcp.output.text import escape_control as escape

    return escape(text, multiline=multiline)


def check_format(value: str, setting: str) -> None:
    """ConfigError (exit 6) naming ``setting`` unless ``value`` is one of FORMATS."""
    if value not in FORMATS:
        from rcp.errors import ConfigError

        raise ConfigError(f"invalid {setting} value {value!r}: expected {' or '.join(FORMATS)}")


HumanRender = str | Callable[["Console"], None] | None


def log_record(level: str, message: str, **fields: Any) -> str:
    """One line of ``--log-format json``: the fields of the logging records (``ts``, ``level``,
    ``logger``, ``message``) plus what the event adds (``event``, ``code``, ``hint``, …)."""
    import time

    record: dict[str, Any] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "level": level,
        "logger": "rcp",
        "message": message,
    }
    record.update({key: value for key, value in fields.items() if value is not None})
    return _json_dumps(record, default=str)


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class Output:
    def __init__(
        self,
        mode: str = "human",
        *,
        quiet: bool = False,
        no_color: bool = False,
        secrets: Iterable[str] = (),
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        log_format: str = "text",
    ) -> None:
        self.mode = mode
        # "json": every line rcp writes on stderr is one JSON record (log pipelines).
        self.log_format = log_format
        self.quiet = quiet
        self.no_color = no_color
        self.secrets = list(secrets)
        self._stdout = stdout
        self._stderr = stderr
        self._console: Console | None = None
        self._err_console: Console | None = None
        self.result_written = False

    # Streams are looked up late: CliRunner swaps sys.stdout/sys.stderr per invocation.
    @property
    def stdout(self) -> IO[str]:
        return self._stdout or sys.stdout

    @property
    def stderr(self) -> IO[str]:
        return self._stderr or sys.stderr

    @property
    def json(self) -> bool:
        return self.mode == "json"

    def console(self) -> Console:
        from rcp.output.text import safe_console

        if self._console is None or self._console.file is not self.stdout:
            isatty = getattr(self.stdout, "isatty", None)
            self._console = safe_console(
                file=self.stdout,
                no_color=self.no_color,
                highlight=False,
                soft_wrap=True,
                # Piped output is read by scripts and people alike: never cut ids or URLs.
                width=None if (isatty and isatty()) else 1000,
            )
        return self._console

    def err_console(self) -> Console:
        from rcp.output.text import safe_console

        if self._err_console is None or self._err_console.file is not self.stderr:
            self._err_console = safe_console(
                file=self.stderr, no_color=self.no_color, highlight=False, soft_wrap=True
            )
        return self._err_console

    def stderr_is_tty(self) -> bool:
        isatty = getattr(self.stderr, "isatty", None)
        return bool(isatty and isatty())

    def result(self, data: Any, human: HumanRender = None) -> None:
        """Print the command's result: the JSON envelope, or the human rendering."""
        self.result_written = True
        if self.json:
            self.stdout.write(_redact(_json_dumps({"data": data}, default=str), self.secrets) + "\n")
            self.stdout.flush()
            return
        if human is None:
            self.stdout.write(_redact(_json_dumps(data, indent=2, default=str), self.secrets) + "\n")
        elif isinstance(human, str):
            if human:
                self.stdout.write(escape_control(_redact(human, self.secrets), multiline=True) + "\n")
        else:
            human(self.console())
        self.stdout.flush()

    def result_stream(
        self,
        data: Any,
        human: Callable[[Callable[[str], None]], None],
        *,
        live: bool = False,
    ) -> None:
        """Print a result that is read while it is written: ``data`` may hold
        ``rcp.output.stream.Stream`` arrays and ``Later`` values (JSON identical to ``result``
        of the same document); ``human(write)`` writes the human rendering piece by piece.
        Memory stays flat whatever the number of rows. Known secrets are masked in each piece
        (a piece is a whole JSON value or line, so a secret is never split between two).
        ``live``: each piece reaches stdout as soon as it is written (``tenant logs --follow``:
        a line arrives when it happens, not when 64 KiB have piled up)."""
        from rcp.output.stream import write_json

        self.result_written = True
        out = self.stdout
        pending: list[str] = []
        size = 0

        def write(text: str) -> None:
            nonlocal size
            pending.append(_redact(text, self.secrets) if self.secrets else text)
            size += len(text)
            if live or size >= 1 << 16:
                flush()

        def flush() -> None:
            nonlocal size
            out.write("".join(pending))
            pending.clear()
            size = 0
            if live:
                out.flush()

        try:
            if self.json:
                write_json(write, {"data": data})
                write("\n")
            else:
                # Lines rcp composed; whatever data they hold cannot drive the terminal.
                human(lambda text: write(escape_control(text, multiline=True)))
        finally:
            # Also what was read before a failure half-way (its error follows on stderr).
            flush()
            out.flush()

    def error(self, error: RcpError) -> None:
        """Report a failure: one line (plus an optional hint) on stderr; the envelope on stdout
        in JSON mode."""
        message = _redact(error.message, self.secrets)
        hint = _redact(error.hint, self.secrets) if error.hint else None
        if self.log_json:
            self._error_record(error, message, hint)
        else:
            self._error_text(message, hint, getattr(error, "problems", None) or [])
        if self.json and not self.result_written:
            self._error_envelope(error, message, hint)

    @property
    def log_json(self) -> bool:
        return self.log_format == "json"

    def log(self, level: str, message: str, **fields: Any) -> None:
        """One JSON record on stderr (``--log-format json``); secrets masked."""
        self.stderr.write(log_record(level, _redact(message, self.secrets), **fields) + "\n")
        self.stderr.flush()

    def _redacted_problems(self, error: RcpError) -> list[dict[str, Any]]:
        return [
            {**problem, "message": _redact(str(problem.get("message")), self.secrets)}
            for problem in getattr(error, "problems", None) or []
        ]

    def _error_record(self, error: RcpError, message: str, hint: str | None) -> None:
        problems = self._redacted_problems(error)
        retry_at = getattr(error, "retry_at", None)
        from rcp.core.models import iso_z

        self.log(
            "error",
            message,
            event="error",
            code=error.code,
            exit_code=error.exit_code,
            hint=hint,
            retry_at=iso_z(retry_at) if retry_at is not None else None,
            problems=problems or None,
        )

    def _error_text(self, message: str, hint: str | None, problems: list[Any]) -> None:
        # One line each, whatever Render or the user put in the text.
        self.stderr.write(f"Error: {escape_control(message)}\n")
        # Several problems: each on its own line, with where it is (file: location: message);
        # a single one is the error line itself.
        for problem in problems if len(problems) > 1 else []:
            where = ": ".join(str(p) for p in (problem.get("file"), problem.get("location")) if p)
            text = _redact(str(problem.get("message")), self.secrets)
            self.stderr.write(f"  {escape_control(where + ': ' if where else '')}{escape_control(text)}\n")
        if hint:
            self.stderr.write(f"Hint: {escape_control(hint)}\n")
        self.stderr.flush()

    def _error_envelope(self, error: RcpError, message: str, hint: str | None) -> None:
        body: dict[str, Any] = {"code": error.code, "message": message, "hint": hint}
        problems = self._redacted_problems(error)
        if problems:
            body["problems"] = problems
        retry_at = getattr(error, "retry_at", None)
        if retry_at is not None:
            from rcp.core.models import iso_z

            body["retry_at"] = iso_z(retry_at)
        self.stdout.write(_json_dumps({"error": body}) + "\n")
        self.stdout.flush()
        self.result_written = True

    def warn(self, message: str) -> None:
        if self.quiet:
            return
        if self.log_json:
            self.log("warning", message, event="warning")
            return
        self.stderr.write(f"Warning: {escape_control(_redact(message, self.secrets))}\n")
        self.stderr.flush()

    def info(self, message: str) -> None:
        """A status line for humans on stderr (suppressed by -q); a JSON record with
        ``--log-format json``."""
        if self.quiet:
            return
        if self.log_json:
            self.log("info", message, event="info")
            return
        self.stderr.write(escape_control(_redact(message, self.secrets)) + "\n")
        self.stderr.flush()
