"""Human renderings of fleet plans, the apply schedule and apply reports (``rcp plan|apply``).

The JSON of the same results is ``FleetPlan.to_json()`` / ``ApplyReport.to_json()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decimal import Decimal

    from rich.console import Console

    from rcp.core.fleet import ApplyReport, FleetPlan, Schedule, TenantResult

_SYMBOLS = {"create": "+", "update": "~", "delete": "-", "noop": " "}


def describe_detail(detail: dict[str, Any]) -> str:
    change = detail.get("change")
    resource = detail.get("resource")
    if change == "create_resource":
        if detail.get("type") == "env_group":
            return f"create {resource} (env_group)"  # groups have no plan
        return f"create {resource} ({detail.get('type')}, {detail.get('plan') or 'default plan'})"
    if change == "delete_resource":
        return f"delete {resource} ({detail.get('render_id') or 'not created'})"
    if change == "update_resource":
        parts = [
            f"{path}: {values['from']!r} → {values['to']!r}"
            for path, values in (detail.get("fields") or {}).items()
        ]
        parts += [f"{path}: cannot change in place" for path in detail.get("unsupported") or []]
        return f"update {resource}: " + "; ".join(parts)
    if change == "env":
        parts = []
        for label, field in (
            ("set", "set"),
            ("from template", "from_template"),
            ("unset", "unset"),
        ):
            if detail.get(field):
                parts.append(f"{label} {', '.join(detail[field])}")
        where = f" on {'group ' if detail.get('group') else ''}{resource}" if resource else ""
        return f"env{where}: " + "; ".join(parts)
    if change == "groups":
        parts = [f"link {group}" for group in detail.get("link") or []]
        parts += [f"unlink {group}" for group in detail.get("unlink") or []]
        return f"groups of {resource}: " + ", ".join(parts)
    if change == "resume":
        missing = ", ".join(detail.get("missing") or []) or "none"
        return f"resume provisioning (status {detail.get('status')}; missing: {missing})"
    if change == "revision":
        return f"revision: {_revision(detail.get('from'))} → {_revision(detail.get('to'))}"
    if change in ("name", "template", "plugin_repo", "tier"):
        return f"{change}: {detail.get('from')!r} → {detail.get('to')!r}"
    if change == "blocked":
        return f"blocked: {detail.get('reason')}"
    return str(detail.get("reason") or change)


def _revision(value: Any) -> str:
    if not isinstance(value, dict) or not value.get("hash"):
        return "none recorded"
    short = str(value["hash"])[:12]
    return f"{short} ({value['label']})" if value.get("label") else short


def _usd_change(value: Decimal | None) -> str:
    if value is None:
        return "unknown (a plan the price table does not price)"
    sign = "+" if value > 0 else "-" if value < 0 else "±"
    return f"{sign}${abs(value):,.2f}/month"


def plan(plan: FleetPlan) -> str:
    lines: list[str] = []
    for change in plan.pending:
        cost = f"  ({_usd_change(change.cost_change)})" if change.priced else ""
        lines.append(f"{_SYMBOLS[change.action]} {change.action} {change.slug}{cost}")
        revision = change.to_json()["revision"]
        moved = revision["to"] is not None and (
            revision["from"] is None or revision["from"]["hash"] != revision["to"]["hash"]
        )  # with no revision on record yet, shown for a change made for another reason
        if moved and not any(d.get("change") == "revision" for d in change.details):
            lines.append(f"    {describe_detail({'change': 'revision', **revision})}")
        lines.extend(f"    {describe_detail(detail)}" for detail in change.details)
    counts = plan.summary()
    if not plan.pending:
        lines.append(f"No changes: the {counts['noop']} tenants of the file are up to date.")
    else:
        lines.append(
            f"Plan: {counts['create']} to create, {counts['update']} to update, "
            f"{counts['delete']} to delete, {counts['noop']} unchanged."
        )
        if plan.prices_as_of is not None:
            lines.append(
                f"Monthly cost change: {_usd_change(plan.cost_change)} "
                f"(prices as of {plan.prices_as_of})."
            )
    deletions = len(plan.deletions)
    if deletions > plan.delete_threshold():
        lines.append(
            f"apply will refuse to delete {deletions} of {plan.managed_total} fleet-managed "
            "tenants without --allow-mass-delete (limit: 10 %, at least 1)."
        )
    if plan.unmanaged:
        why = (
            "not managed by a fleet file (made by hand or adopted): --prune leaves them"
            if plan.prune
            else "--prune deletes those a fleet apply created or updated"
        )
        lines.append(
            f"{len(plan.unmanaged)} recorded tenants are not in the file and stay as they are "
            f"({why}): {', '.join(plan.unmanaged)}"
        )
    return "\n".join(lines)


def schedule(plan: FleetPlan, planned: Schedule, concurrency: int) -> str:
    counts = plan.summary()
    text = (
        f"applying {len(plan.pending)} changes ({counts['create']} create, {counts['update']} "
        f"update, {counts['delete']} delete) with concurrency {concurrency}"
    )
    if planned.creates:
        listed = ", ".join(f"{n} {kind}" for kind, n in sorted(planned.creates.items()))
        text += f"; {sum(planned.creates.values())} Render creates ({listed})"
        if planned.creates_done_in >= 1:
            text += f", the last one within ~{planned.creates_done_in:.0f} s (rate limit)"
    if planned.deferred:
        text += (
            f"; by Render's limits as known so far, {len(planned.deferred)} tenants do not fit "
            f"within the wait budget (next window in ~{planned.resume_in or 0:.0f} s; revised "
            "as Render's answers tell its real limits)"
        )
    return text


def tenant_result(
    result: TenantResult, done: int, total: int, eta: float | None, *, live: bool
) -> str:
    """One finished tenant of a running apply: ``[3/10] acme: created in 4.2 s; ETA ~12 s`` on
    stderr, or its note in the live view (``live``: the slug is in its own column there)."""
    text = f"{result.outcome} in {result.seconds:.1f} s"
    if result.error:
        text += f" ({result.error})"
    eta_text = f"; ETA ~{eta:.0f} s" if eta is not None else ""
    if live:
        return f"{text} [{done}/{total}]{eta_text}"
    return f"[{done}/{total}] {result.slug}: {text}{eta_text}"


def apply_report(report: ApplyReport) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        from rich.table import Table

        actions = {c.slug: c.action for c in report.plan.changes}
        table = Table(box=None, pad_edge=False)
        for column in ("SLUG", "ACTION", "OUTCOME", "EXIT", "SECONDS", "ERROR"):
            table.add_column(column, overflow="fold")
        for result in report.results:
            if result.outcome == "noop":
                continue
            table.add_row(
                result.slug,
                actions.get(result.slug, ""),
                result.outcome,
                str(result.exit_code),
                f"{result.seconds:.1f}",
                result.error or "",
            )
        if table.row_count:
            console.print(table)
        counts: dict[str, int] = {}
        for result in report.results:
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        console.print(f"Apply finished in {report.seconds:.1f} s: {summary}.")

    return render
