"""`rcp tenant logs`: a tenant's log lines through Render's logs API (``GET /logs``).

Read-only (no lock, not audited). Render answers one page of at most 100 lines for resources
of one owner and one region, newest first (``backward``) or oldest first (``forward``), and
says where the next page starts (``hasMore``, ``nextStartTime``/``nextEndTime``). So:

- the resources are asked for by region (a template may put them in different regions), and
  each region's pages are followed until ``limit`` lines or the window's start;
- ``follow`` asks again every ``interval`` seconds, forward from a little before the newest
  line seen (Render may file a line a moment after its timestamp), and drops the lines it has
  already shown by id.

The text of a line is Render's: data, which the output layer shows escaped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rcp.core.models import RUNNING_KINDS, LogLine, LogPage, Tenant, iso_z
from rcp.core.ports import RenderGateway
from rcp.core.provisioning import StopFlag
from rcp.core.tenants.records import creation_order, template_of
from rcp.errors import UsageError

DEFAULT_SINCE = "1h"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
PAGE = 100  # Render's largest page (the spec's ``limit``)
# How often --follow asks again. Render documents 30 requests a minute for its logs endpoints
# (docs/reliability.md); one request per region every 2.5 s stays under it.
FOLLOW_INTERVAL = 2.5
# How far before the newest line seen a follow asks again from: lines Render files late.
FOLLOW_OVERLAP = timedelta(seconds=10)


@dataclass(frozen=True)
class LogTarget:
    key: str  # the resource's key in the tenant's template
    render_id: str
    region: str | None


@dataclass(frozen=True)
class TenantLogLine:
    """A line of one of the tenant's resources."""

    key: str
    line: LogLine

    def to_json(self) -> dict[str, Any]:
        """One item of ``rcp -o json tenant logs`` (docs/json.md)."""
        labels = self.line.labels
        return {
            "id": self.line.id,
            "timestamp": iso_z(self.line.timestamp),
            "resource": self.key,
            "resource_id": self.line.resource,
            "type": labels.get("type"),
            "level": labels.get("level"),
            "instance": labels.get("instance"),
            "message": self.line.message,
            "labels": dict(labels),
        }


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"invalid --limit value {limit}: use 1 to {MAX_LIMIT}")
    return limit


def check_since(since: datetime, now: datetime) -> datetime:
    if since > now:
        raise UsageError("invalid --since value: it is in the future")
    return since


def log_targets(tenant: Tenant, service: str | None) -> list[LogTarget]:
    """The tenant's resources on Render (or the one named — a service, Postgres or Key Value
    key; UsageError, exit 2, for any other key)."""
    # Only what runs has logs (not an env group, project or environment).
    resources = [r for r in creation_order(tenant) if r.kind in RUNNING_KINDS]
    if service is not None:
        named = [r for r in resources if r.key == service]
        if not named:
            known = ", ".join(r.key for r in resources) or "none"
            raise UsageError(
                f"tenant {tenant.slug} has no resource {service!r} (resources: {known})"
            )
        resources = named
    regions = _regions(tenant)
    return [
        LogTarget(r.key, r.render_id, regions.get(r.key)) for r in resources if r.render_id
    ]


def _regions(tenant: Tenant) -> dict[str, str | None]:
    """Each template resource's region, as the create asked for it (Render's default when the
    template names none is one region for all, so None groups them together)."""
    found: dict[str, str | None] = {}
    for spec in template_of(tenant).resources:
        region = spec.body.get("region") or (spec.body.get("serviceDetails") or {}).get("region")
        found[spec.key] = region if isinstance(region, str) else None
    return found


def _by_region(targets: list[LogTarget]) -> list[list[LogTarget]]:
    groups: dict[str | None, list[LogTarget]] = {}
    for target in targets:
        groups.setdefault(target.region, []).append(target)
    return list(groups.values())


@dataclass
class LogReader:
    """Reads (and follows) the lines of ``targets`` through ``gateway``."""

    gateway: RenderGateway
    targets: list[LogTarget]
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    interval: float = FOLLOW_INTERVAL
    # Lines already handed out, by id, with their time (the follow's overlap drops them).
    _seen: dict[str, datetime] = field(default_factory=dict)
    _keys: dict[str, str] = field(default_factory=dict)

    # The tenant the targets belong to: a record of another world is refused (exit 6) before
    # Render is asked about its ids.
    tenant: Tenant | None = None

    def __post_init__(self) -> None:
        self._keys = {target.render_id: target.key for target in self.targets}
        if self.tenant is not None:
            from rcp.core.tenants.worlds import require_world

            require_world(self.gateway, self.tenant)

    def recent(self, *, since: datetime, limit: int) -> list[TenantLogLine]:
        """The newest ``limit`` lines since ``since``, oldest first."""
        found: dict[str, LogLine] = {}
        for group in _by_region(self.targets):
            ids = [target.render_id for target in group]
            window: tuple[str | None, str | None] = (iso_z(since), None)
            wanted = limit
            asked: set[tuple[str | None, str | None]] = set()
            while wanted > 0 and window not in asked:
                asked.add(window)
                page = self._page(ids, window, "backward", min(wanted, PAGE))
                fresh = [line for line in page.lines if line.id not in found]
                for line in fresh:
                    found[line.id] = line
                wanted -= len(fresh)
                if not page.has_more or not page.lines:
                    break
                window = (page.next_start, page.next_end)
        newest = sorted(found.values(), key=_order)[-limit:]
        return [self._hand_out(line) for line in newest]

    def follow(self, *, since: datetime, stop: StopFlag) -> Iterator[TenantLogLine]:
        """New lines as they appear, until ``stop`` is requested (a signal)."""
        newest = max(self._seen.values(), default=since)
        while True:
            if self._pause(stop):
                return
            start = max(since, newest - FOLLOW_OVERLAP)
            fresh: dict[str, LogLine] = {}
            for group in _by_region(self.targets):
                if stop.requested:
                    return
                for line in self._forward([t.render_id for t in group], start, stop):
                    if line.id not in self._seen:
                        fresh[line.id] = line
            for line in sorted(fresh.values(), key=_order):
                newest = max(newest, line.timestamp)
                yield self._hand_out(line)
            self._forget_before(newest - FOLLOW_OVERLAP)

    # ---- pieces -------------------------------------------------------------------------

    def _page(
        self, ids: list[str], window: tuple[str | None, str | None], direction: str, limit: int
    ) -> LogPage:
        start, end = window
        return self.gateway.list_logs(
            ids, start=start, end=end, direction=direction, limit=limit
        )

    def _forward(self, ids: list[str], start: datetime, stop: StopFlag) -> Iterator[LogLine]:
        """Every line from ``start`` up to now, oldest first, page after page."""
        window: tuple[str | None, str | None] = (iso_z(start), None)
        asked: set[tuple[str | None, str | None]] = set()
        while window not in asked and not stop.requested:
            asked.add(window)
            page = self._page(ids, window, "forward", PAGE)
            yield from page.lines
            if not page.has_more or not page.lines:
                return
            window = (page.next_start, page.next_end)

    def _pause(self, stop: StopFlag) -> bool:
        """Wait ``interval`` in short slices; True when a stop was asked for meanwhile."""
        end = self.clock() + self.interval
        while not stop.requested:
            left = end - self.clock()
            if left <= 0:
                return False
            self.sleep(min(left, 0.2))
        return True

    def _hand_out(self, line: LogLine) -> TenantLogLine:
        self._seen[line.id] = line.timestamp
        return TenantLogLine(self._keys.get(line.resource or "", line.resource or "?"), line)

    def _forget_before(self, moment: datetime) -> None:
        """Ids of lines older than the next request's window can never come back."""
        for line_id in [i for i, at in self._seen.items() if at < moment]:
            del self._seen[line_id]


def _order(line: LogLine) -> tuple[datetime, str]:
    return (line.timestamp, line.id)
