"""`rcp backup export|import`: the control-plane state as one versioned JSON document.

Export writes the document to FILE (created 0600: it may hold secrets) or, without FILE, prints
it on stdout — there the document *is* the result (inside the usual ``{"data": …}`` envelope
with ``-o json``; import accepts both forms). Import restores records only; it never calls
Render.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rcp.cli._common import app_context, handle_errors, mark_audited, mutation_waits
from rcp.cli._options import LockTimeoutOption, MaxWaitOption
from rcp.errors import UsageError

if TYPE_CHECKING:
    from rcp.output.stream import Write

app = typer.Typer(
    no_args_is_help=True,
    help="Export and import the control-plane state (tenants, journal, env overrides, audit).",
)

STDIO = "-"


def _write_private_file(path: Path, content: Callable[[Write], None]) -> None:
    """Write what ``content(write)`` writes to ``path`` with mode 0600, replacing any old file
    atomically (a new inode, so an old file's wider mode never carries over)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            content(handle.write)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        # The content failed half-way (the database went away): no partial backup is left.
        temporary.unlink(missing_ok=True)
        raise


@app.command("export")
@handle_errors
def export(
    ctx: typer.Context,
    file: Annotated[
        str | None, typer.Argument(help="Write here (mode 0600); default: stdout.")
    ] = None,
    include_secrets: Annotated[
        bool,
        typer.Option("--include-secrets", help="Include env override values (secrets)."),
    ] = False,
) -> None:
    """Write every tenant (resources, rendered template, env overrides, journal) and the audit
    log as one JSON document."""
    from rcp.core.backup import audit_json, document_header, tenant_json
    from rcp.core.models import utcnow
    from rcp.output.stream import Stream, primed, write_json

    app_ctx = app_context(ctx)
    target = None if file in (None, STDIO) else Path(file)
    if target is not None and target.is_dir():
        raise UsageError(f"{target} is a directory: give a file name")
    output = app_ctx.output
    counts = {"tenants": 0, "audit": 0}

    def counted(kind: str, items: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for item in items:
            counts[kind] += 1
            yield item

    # Streamed from one snapshot: each tenant is written as it is read (memory stays flat).
    with app_ctx.backup_store().streamed_snapshot() as snapshot:
        tenants = primed(tenant_json(item, include_secrets) for item in snapshot.tenants())
        document = {
            **document_header(include_secrets=include_secrets, exported_at=utcnow()),
            "tenants": Stream(counted("tenants", tenants)),
            "audit": Stream(counted("audit", (audit_json(e) for e in snapshot.audit()))),
        }
        if target is None:
            # Written as is, not through Output.result: its redaction of known secrets could
            # alter an env value that happens to contain one, and a backup must round-trip
            # byte for byte.
            output.result_written = True
            body = {"data": document} if output.json else document
            write_json(output.stdout.write, body, indent=None if output.json else 2)
            output.stdout.write("\n")
            output.stdout.flush()
            return

        def content(write: Write) -> None:
            write_json(write, document, indent=2)
            write("\n")

        _write_private_file(target, content)
    summary = {
        "path": str(target),
        "tenants": counts["tenants"],
        "audit_entries": counts["audit"],
        "secrets_included": include_secrets,
        "exported_at": document["exported_at"],
    }
    secrets_note = "with env values" if include_secrets else "without env values"
    output.result(
        summary,
        human=(
            f"wrote {summary['tenants']} tenant(s) and {summary['audit_entries']} audit "
            f"entries to {target} ({secrets_note})"
        ),
    )


def _read_document(file: str) -> Any:
    import json

    if file == STDIO:
        text = sys.stdin.read()
        where = "stdin"
    else:
        path = Path(file)
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise UsageError(f"cannot read {where}: {reason}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # Not quoting the content: it may hold secrets.
        raise UsageError(
            f"{where} is not JSON (line {exc.lineno}, column {exc.colno})",
            hint="the file must be a document written by `rcp backup export`",
        ) from None


@app.command("import")
@handle_errors
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="A document from `rcp backup export` (- = stdin).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and report; write nothing.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace tenants that already exist.")
    ] = False,
    max_wait: MaxWaitOption = None,
    lock_timeout: LockTimeoutOption = "0",
) -> None:
    """Restore tenants, their journal and env overrides, and the audit log, into this database.

    Records only: Render is not touched. All or nothing. A tenant that already exists is
    refused (exit 4) unless --overwrite. Audit entries already present are not added twice.
    """
    from rcp.core.backup import import_backup, parse_document
    from rcp.output import admin as human

    app_ctx = app_context(ctx)
    # --max-wait is accepted for uniformity with the other mutating commands (no Render call).
    lock_wait = mutation_waits(app_ctx, lock_timeout=lock_timeout, max_wait=max_wait)
    snapshot = parse_document(_read_document(file))
    report = import_backup(
        app_ctx.backup_store(),
        snapshot,
        holder=app_ctx.lock_holder(),
        overwrite=overwrite,
        dry_run=dry_run,
        lock_wait=lock_wait,
        on_locked=lambda: mark_audited(app_ctx, "backup import", None),
    )
    data = report.to_json()
    for missing in report.env_values_missing:
        app_ctx.output.warn(
            f"{missing['slug']}: env override {missing['service']}/{missing['key']} has no value "
            "in the backup (exported without --include-secrets); not restored — set it again "
            "with `rcp tenant env set`"
        )

    app_ctx.output.result(data, human=human.backup_import(report, dry_run=dry_run))
