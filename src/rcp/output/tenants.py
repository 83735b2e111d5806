"""Human renderings of tenants and of what tenant commands report (env changes, checks).

The JSON of the same results is the records' ``to_json()``; these only shape the text a
person reads, so a new output format never has to touch ``rcp.cli``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rcp.output.tables import rows_table

if TYPE_CHECKING:
    from rich.console import Console

    from rcp.core.models import Tenant
    from rcp.core.tenants import (
        CheckReport,
        DeployHistory,
        DoomedResource,
        EnvChange,
        TenantLogLine,
    )
    from rcp.output import HumanRender

# The columns of `rcp tenant list` and `rcp tenant status --all` (streamed with
# ``rcp.output.stream.json_table``).
LIST_COLUMNS = ["slug", "name", "status", "template", "revision", "created_at"]
STATUS_COLUMNS = ["slug", "name", "status", "template", "last_error"]


def revision_text(revision: dict[str, Any] | None) -> str | None:
    """``3f2a9c1b7d0e (v7)``: the short hash people compare, and the label when there is one."""
    if not revision or not revision.get("hash"):
        return None
    short = str(revision["hash"])[:12]
    return f"{short} ({revision['label']})" if revision.get("label") else short


def with_revision_cell(row: dict[str, Any]) -> dict[str, Any]:
    """A tenant JSON row with the ``revision`` cell of the human table."""
    return {**row, "revision": revision_text(row.get("template_revision"))}


def tenant(record: Tenant) -> Callable[[Console], None]:
    """One tenant: a headline, its last error, a table of its resources."""

    def render(console: Console) -> None:
        from rich.table import Table
        from rich.text import Text

        # Styled with Text, not markup: the console never parses markup (rcp.output.text);
        # the plain string after it is shown literally, control characters escaped.
        console.print(
            Text(record.slug, style="bold"),
            f"{record.name}  status={record.status}  template={record.template}",
            sep="  ",
        )
        if record.last_error:
            console.print(f"last error: {record.last_error}")
        table = Table(box=None, pad_edge=False)
        for column in ("KEY", "TYPE", "RENDER ID", "NAME", "STATE", "URL"):
            # Ids, names and URLs are copied from here: wrapped, never cut (…).
            table.add_column(column, overflow="fold")
        for r in record.resources:
            table.add_row(r.key, r.type, r.render_id or "-", r.name, r.state, r.url or "")
        console.print(table)
        # Each resource's own last error (a failed deploy: deploy id, status, phase).
        for r in record.resources:
            if r.last_error:
                console.print(f"{r.key}: last error: {r.last_error}")

    return render


def full_record(record: Tenant) -> Callable[[Console], None]:
    """``tenant show``: everything on record — definition (template and revision, plugin repo,
    fleet management), env override keys (values masked), and each resource with its id, URL,
    plan, region, state and last error. ``tenant status`` is the short view."""

    def render(console: Console) -> None:
        from rich.table import Table
        from rich.text import Text

        console.print(Text(record.slug, style="bold"), record.name, sep="  ")
        current = record.template_revision
        revision = revision_text(current.to_json()) if current else None
        since = f", since {_moment(current.since)}" if current and current.since else ""
        fields = [
            ("status", str(record.status)),
            ("template", record.template + (f" (revision {revision}{since})" if revision else "")),
            ("plugin repo", record.custom_plugin_repo or "-"),
            ("fleet managed", "yes" if record.fleet_managed else "no"),
            # The world the record belongs to: commands from another one exit 6.
            ("render API", record.render_api_url or "unrecorded"),
            ("workspace", record.render_owner_id or "unrecorded"),
            ("tier", record.tier or "-"),
            ("created", _moment(record.created_at) or "-"),
            ("updated", _moment(record.updated_at) or "-"),
            ("last error", record.last_error or "-"),
        ]
        overrides = [
            f"{service}/{key}=***" if service != "*" else f"{key}=***"
            for service, values in sorted(record.env_overrides.items())
            for key in sorted(values)
        ]
        fields.append(("env overrides", ", ".join(overrides) if overrides else "none"))
        isolation = record.isolation()
        if isolation is not None:
            project = f"project {isolation['project']}" + (
                " (shared)" if isolation["shared_project"] else " (the tenant's own)"
            )
            environment = isolation["environment_id"] or "not created yet"
            fields.append(("environment", f"{environment} in {project}"))
        head = Table(box=None, pad_edge=False, show_header=False)
        head.add_column(no_wrap=True)
        head.add_column(overflow="fold")
        for label, value in fields:
            head.add_row(f"{label}:", value)
        console.print(head)
        # One block per resource, label: value — every id and URL on a line of its own, so it
        # can be copied whole at any terminal width (a long value folds, never cut).
        plans = record.resource_plans()
        for r in record.resources:
            spec = plans.get(r.key, {})
            console.print(Text(f"{r.key} ({r.type})", style="bold"))
            block = Table(box=None, pad_edge=False, show_header=False, padding=(0, 1, 0, 2))
            block.add_column(no_wrap=True)
            block.add_column(overflow="fold")
            for label, value in (
                ("render id", r.render_id or "-"),
                ("name", r.name),
                ("url", r.url or "-"),
                ("plan", spec.get("plan") or "-"),
                ("region", spec.get("region") or "-"),
                ("state", r.state),
                ("last error", r.last_error or "-"),
            ):
                block.add_row(f"{label}:", value)
            console.print(block)

    return render


def env_table(rows: list[dict[str, str | None]]) -> HumanRender:
    if not rows:
        return "no env overrides"
    if any(row.get("group") for row in rows):
        # A group's overrides: "group KEY" in the scope column.
        shown = [{**row, "service": row["service"] or f"group {row['group']}"} for row in rows]
        return rows_table(shown, ["service", "key", "value"])
    return rows_table(rows, ["service", "key", "value"])


def env_change(change: EnvChange, verb: str) -> Callable[[Console], None]:
    """What ``tenant env set|unset`` did, one line per service (``verb``: set or unset)."""

    def render(console: Console) -> None:
        if change.group is not None:
            keys = ", ".join(change.group.get("keys") or []) or "nothing"
            where = "pushed" if change.group.get("render_id") else "recorded (not created yet)"
            console.print(f"{change.slug}/group {change.group['group']}: {verb} {keys} ({where})")
        for item in change.services:
            deployed = (
                f"deploy {item.deploy_id or 'queued'}"
                if item.deployed
                else (item.note or "not deployed")
            )
            console.print(
                f"{change.slug}/{item.service}: {verb} {', '.join(item.keys)} ({deployed})"
            )
        if not change.services and change.group is None:
            console.print(f"{change.slug}: recorded; no service exists on Render yet")

    return render


def check_report(report: CheckReport) -> Callable[[Console], None]:
    """``tenant check``: each tenant's verdict and problems, then the count of healthy ones."""

    def render(console: Console) -> None:
        from rich.table import Table
        from rich.text import Text

        for checked in report.tenants:
            verdict = "healthy" if checked.healthy else "UNHEALTHY"
            console.print(
                Text(checked.slug, style="bold"), f"{checked.status}  {verdict}", sep="  "
            )
            if checked.problems:
                table = Table(box=None, pad_edge=False, show_header=False)
                for _ in range(4):
                    table.add_column(overflow="fold")
                for problem in checked.problems:
                    table.add_row(
                        "  " + (problem.resource or "-"),
                        problem.problem,
                        "repaired" if problem.repaired else "",
                        problem.detail,
                    )
                console.print(table)
        total = len(report.tenants)
        bad = sum(1 for t in report.tenants if not t.healthy)
        console.print(f"{total - bad} of {total} tenants healthy")

    return render


DEPLOY_COLUMNS = ["service", "id", "status", "trigger", "source", "started", "finished"]


def deploys_table(history: DeployHistory) -> HumanRender:
    """``tenant deploys``: one row per deploy, newest first. ``source`` is the commit (id and
    the first line of its message) or the image; ``started`` falls back to when Render took
    the deploy (a queued or running one has no start time of its own yet)."""
    if not history.deploys:
        return f"{history.slug}: no deploys"
    rows = []
    for item in history.deploys:
        deploy = item.deploy
        if deploy.commit_id or deploy.commit_message:
            title = (deploy.commit_message or "").splitlines()[0] if deploy.commit_message else ""
            source = " ".join(part for part in (deploy.commit_id, title) if part)
        else:
            source = deploy.image_ref or ""
        status = deploy.status or "unknown"
        if item.failed_phase:
            status = f"{status} ({item.failed_phase})"
        rows.append(
            {
                "service": item.service,
                "id": deploy.id,
                "status": status,
                "trigger": deploy.trigger,
                "source": source,
                "started": _moment(deploy.started_at or deploy.created_at),
                "finished": _moment(deploy.finished_at),
            }
        )
    return rows_table(rows, DEPLOY_COLUMNS)


def _moment(value: datetime | None) -> str | None:
    """UTC to the second, as a person reads it in a table (JSON keeps Render's precision)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def log_lines(
    lines: Iterable[TenantLogLine], *, width: int = 0
) -> Callable[[Callable[[str], object]], None]:
    """``tenant logs``: one line per log line, as it is read: time (UTC, milliseconds), the
    resource's key (padded to ``width``), Render's text. The text is data: its control
    characters (newlines included: one log line is one output line) are shown escaped."""
    from rcp.output.text import escape_control

    def render(write: Callable[[str], object]) -> None:
        for item in lines:
            moment = item.line.timestamp.astimezone(UTC)
            stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
            key = escape_control(item.key).ljust(width)
            write(f"{stamp}  {key}  {escape_control(item.line.message)}\n")

    return render


def deletion_listing(slug: str, doomed: Iterable[DoomedResource]) -> list[str]:
    """``tenant delete``'s lines before its confirmation prompt: every Render resource it will
    delete, the unrecorded ones (found by their names) marked."""
    items = list(doomed)
    if not items:
        return [f"tenant {slug} has no Render resources; only its record will be deleted"]
    lines = [f"tenant {slug}: these Render resources will be deleted:"]
    for item in items:
        note = "" if item.recorded else "  (not recorded: carries the tenant's name)"
        lines.append(f"  {item.key}  {item.render_id}  {item.name}{note}")
    return lines
