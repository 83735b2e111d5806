"""Logging on stderr: text or one JSON record per line, with secrets redacted."""

from __future__ import annotations

import json
import logging
import sys

from rcp.output.text import escape_control


class _RedactingFilter(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for secret in self.secrets:
            message = message.replace(secret, "***")
        # A log line is one line, and Render's or a user's text must not drive the terminal.
        record.msg, record.args = escape_control(message), None
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


def configure_logging(verbose: int, quiet: bool, log_format: str, secrets: list[str]) -> None:
    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    if verbose == 1:
        level = logging.INFO
    elif verbose >= 2:
        level = logging.DEBUG
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_rcp", False):
            root.removeHandler(handler)

    class _StderrHandler(logging.Handler):
        # Look sys.stderr up at emit time (CliRunner swaps it per invocation).
        def emit(self, record: logging.LogRecord) -> None:
            try:
                sys.stderr.write(self.format(record) + "\n")
                sys.stderr.flush()
            except Exception:
                self.handleError(record)

    handler = _StderrHandler()
    handler._rcp = True  # type: ignore[attr-defined]
    handler.addFilter(_RedactingFilter(secrets))
    handler.setFormatter(
        _JsonFormatter() if log_format == "json" else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party chatter (httpx logs full URLs at INFO) stays off unless -vv.
    for noisy in ("httpx", "httpcore", "alembic", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose >= 3 else logging.WARNING)
    # SQL statements at -vvv, but never SQLAlchemy's DEBUG level: it logs every result row, and
    # rows hold env override values (parameters are hidden by the engine: hide_parameters).
    logging.getLogger("sqlalchemy.engine").setLevel(
        logging.INFO if verbose >= 3 else logging.WARNING
    )
