"""Admitting creating tenants as Render's creation budget allows, learned while the fleet runs.

Why not one schedule up front: before Render's first answer the limiter only knows the
documented limits, and it cannot know whether services and Postgres share a creation counter;
the first answers tell (a raised quota, another process's use, a shared counter). So tenants
that create Render resources are admitted one at a time, in file order, each when the limiter's
forecast of *all reserved creates* (those of admitted tenants not yet sent, then this tenant's)
says its creates go out within the wait budget. A tenant that does not fit while other admitted
tenants still hold unsent creates waits for them (their answers may change the picture); once
none does, it does not fit at all and is deferred — with every creating tenant after it, so
file order is kept — reported with exit 75 and the time to rerun. No tenant is started that
would sit half-created waiting for a window beyond the budget: one admitted on the documented
limits whose remaining creates no longer fit once Render's answers tell (another process spent
part of the hour) sends no further create (``TenantDoesNotFit``) and is rolled back by the
caller.

Reservations are claimed as creates go out, in admission order: ``CreateTracker`` wraps the
gateway and holds a tenant's create back while the creates reserved by tenants admitted before
it still need the budget it would take (it knows the tenant by its worker thread). From the
moment a create is claimed the limiter counts it (in flight, then from Render's answer).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rcp.core.models import DeployInfo, LogPage, RemoteResource, ResourceKind, World
from rcp.core.ports import RenderGateway
from rcp.errors import RetryLater

# The wait, in seconds from now, before each of these creates could be sent (in this order).
CreateForecast = Callable[[list[ResourceKind]], list[float]]


@dataclass(frozen=True)
class Claim:
    """Seconds before a create may go (0: claimed, it goes now) and before the tenant's last
    reserved create could go; when ``finish`` is beyond the budget the tenant cannot finish
    within it and must not send another create."""

    wait: float
    finish: float


@dataclass(frozen=True)
class Verdict:
    """``admitted`` (its last create expected in ``wait`` s), or deferred (fits in ``wait`` s),
    or ``None`` wait: not decidable yet (unsent reserved creates may change the picture)."""

    admitted: bool
    wait: float | None


class CreateAdmission:
    """Thread-safe bookkeeping of reserved creates (in admission order) and the decisions."""

    def __init__(self, forecast: CreateForecast, budget: float) -> None:
        self._forecast = forecast
        self.budget = budget
        self._cond = threading.Condition()
        self._order: list[str] = []
        self._reserved: dict[str, list[ResourceKind]] = {}
        self._local = threading.local()
        self.changes = 0  # bumped whenever a reservation is claimed or released

    def _outstanding(self, upto: str | None = None) -> list[tuple[str, ResourceKind]]:
        """Reserved creates in admission order (up to and including ``upto``'s)."""
        listed: list[tuple[str, ResourceKind]] = []
        for slug in self._order:
            listed.extend((slug, kind) for kind in self._reserved.get(slug, []))
            if slug == upto:
                break
        return listed

    def _changed(self) -> None:
        self.changes += 1
        self._cond.notify_all()

    # -- the dispatcher's side -------------------------------------------------------------

    def consider(self, slug: str, kinds: list[ResourceKind]) -> Verdict:
        """Admit ``slug`` (reserving its creates behind everyone admitted before) if they fit
        the budget now."""
        with self._cond:
            outstanding = [kind for _slug, kind in self._outstanding()]
            waits = self._forecast([*outstanding, *kinds])
            latest = max(waits[len(outstanding) :], default=0.0)
            if latest <= self.budget:
                self._order.append(slug)
                self._reserved[slug] = list(kinds)
                return Verdict(True, latest)
            if outstanding:
                return Verdict(False, None)
            return Verdict(False, latest)

    def wait_for_change(self, seen: int, timeout: float) -> int:
        """Block until a reservation is claimed or released (or ``timeout``); the new count."""
        with self._cond:
            if self.changes == seen:
                self._cond.wait(timeout)
            return self.changes

    # -- the workers' side -----------------------------------------------------------------

    def bind(self, slug: str | None) -> None:
        """The tenant this worker thread works on; ``None`` when it is done (its creates not
        sent are no longer reserved)."""
        previous = getattr(self._local, "slug", None)
        self._local.slug = slug
        if slug is None and previous is not None:
            with self._cond:
                if self._reserved.pop(previous, None) is not None:
                    self._order.remove(previous)
                    self._changed()

    def claim(self, kind: ResourceKind, *, force: bool = False) -> Claim:
        """How long this thread's tenant should still hold its create of ``kind`` back so that
        tenants admitted earlier get the budget first (0: it may go, and the reservation is
        then claimed: the limiter counts it from here on), and when its last reserved create
        could go. ``force`` claims it regardless."""
        slug = getattr(self._local, "slug", None)
        with self._cond:
            reserved = self._reserved.get(slug) if slug is not None else None
            if not reserved or kind not in reserved:
                # Not planned (a create the plan did not foresee): the limiter decides.
                return Claim(0.0, 0.0)
            ahead = self._outstanding(upto=slug)
            position = next(i for i, item in enumerate(ahead) if item == (slug, kind))
            if force:
                wait = finish = 0.0
            else:
                waits = self._forecast([k for _s, k in ahead])
                wait, finish = waits[position], waits[-1]  # ``ahead`` ends with this tenant's
            if wait <= 0 and finish <= self.budget:
                reserved.remove(kind)
                self._changed()
            return Claim(wait, finish)

    def sent(self) -> None:
        """A create was answered (or failed): the limiter's picture may have changed."""
        with self._cond:
            self._changed()


class TenantDoesNotFit(RetryLater):
    """An admitted tenant's remaining creates no longer fit the budget (what Render's answers
    said after admission); raised before its next create goes out."""

    def __init__(self, finish: float) -> None:
        self.finish = finish
        at = datetime.now(UTC) + timedelta(seconds=max(finish, 1.0))
        super().__init__(
            "Render's create limit, as its answers now tell, leaves no room for all of this "
            "tenant's creates within the wait budget",
            retry_at=at,
            hint="rerun the same apply then; tenants already done are left as they are",
        )


class CreateTracker:
    """The applier's view of Render: every call passes through, except that a create is held
    back until the tenants admitted before have had their share of the budget (so a later
    tenant's first create does not take the slot an earlier tenant's second create needs), and
    its answer wakes whoever waits on the admission."""

    def __init__(
        self,
        inner: RenderGateway,
        admission: CreateAdmission,
        clock: Callable[[], float],
    ) -> None:
        self.inner = inner
        self.admission = admission
        self._clock = clock

    def create(
        self, kind: ResourceKind, body: dict[str, Any], env: list[dict[str, Any]]
    ) -> RemoteResource:
        deadline = self._clock() + self.admission.budget
        seen = self.admission.changes
        while True:
            claim = self.admission.claim(kind)
            if claim.finish > self.admission.budget:
                # Render's answers since admission (another process spent most of the hour)
                # say the tenant's remaining creates no longer fit: not one more of them goes
                # out, so the tenant can be rolled back rather than left half-built.
                raise TenantDoesNotFit(claim.finish)
            if claim.wait <= 0:
                break
            if self._clock() + claim.wait > deadline:
                # Its turn lies beyond the wait budget: the limiter decides at once (it sends
                # nothing Render would refuse, and says when to retry).
                self.admission.claim(kind, force=True)
                break
            # Re-checked on every answer: what Render says may move this create earlier.
            seen = self.admission.wait_for_change(seen, timeout=min(claim.wait, 0.25))
        try:
            return self.inner.create(kind, body, env)
        finally:
            self.admission.sent()

    @property
    def in_flight_seconds(self) -> float:
        return self.inner.in_flight_seconds

    def owner_id(self) -> str:
        return self.inner.owner_id()

    def world(self, *, resolve: bool = True) -> World:
        return self.inner.world(resolve=resolve)

    def find_by_name(self, kind: ResourceKind, name: str) -> list[RemoteResource]:
        return self.inner.find_by_name(kind, name)

    def list_named(
        self, kind: ResourceKind, names: Collection[str] | None
    ) -> list[RemoteResource]:
        return self.inner.list_named(kind, names)

    def get(self, kind: ResourceKind, render_id: str) -> RemoteResource | None:
        return self.inner.get(kind, render_id)

    def reads_in_batches(self, kind: ResourceKind) -> bool:
        return self.inner.reads_in_batches(kind)

    def read_many(
        self, kind: ResourceKind, wanted: dict[str, str]
    ) -> dict[str, RemoteResource | None]:
        return self.inner.read_many(kind, wanted)

    def deploy_status(self, service_id: str, deploy_id: str) -> str | None:
        return self.inner.deploy_status(service_id, deploy_id)

    def delete(self, kind: ResourceKind, render_id: str) -> bool:
        return self.inner.delete(kind, render_id)

    def suspend(self, kind: ResourceKind, render_id: str) -> None:
        self.inner.suspend(kind, render_id)

    def resume(self, kind: ResourceKind, render_id: str) -> None:
        self.inner.resume(kind, render_id)

    def connection_info(self, kind: ResourceKind, render_id: str) -> dict[str, str]:
        return self.inner.connection_info(kind, render_id)

    def list_env_vars(self, service_id: str) -> dict[str, str]:
        return self.inner.list_env_vars(service_id)

    def set_env_var(self, service_id: str, key: str, value: str) -> None:
        self.inner.set_env_var(service_id, key, value)

    def delete_env_var(self, service_id: str, key: str) -> bool:
        return self.inner.delete_env_var(service_id, key)

    def list_deploys(self, service_id: str, limit: int) -> list[DeployInfo] | None:
        return self.inner.list_deploys(service_id, limit)

    def list_logs(
        self,
        resources: list[str],
        *,
        start: str | None,
        end: str | None,
        direction: str,
        limit: int,
    ) -> LogPage:
        return self.inner.list_logs(
            resources, start=start, end=end, direction=direction, limit=limit
        )

    def trigger_deploy(self, service_id: str, *, clear_cache: bool = False) -> str | None:
        return self.inner.trigger_deploy(service_id, clear_cache=clear_cache)

    def rollback_deploy(self, service_id: str, deploy_id: str) -> str:
        return self.inner.rollback_deploy(service_id, deploy_id)

    def update_service(self, service_id: str, body: dict[str, Any]) -> RemoteResource:
        return self.inner.update_service(service_id, body)

    def update_datastore(
        self, kind: ResourceKind, render_id: str, body: dict[str, Any]
    ) -> RemoteResource:
        return self.inner.update_datastore(kind, render_id, body)

    def find_environment(self, project_id: str, name: str) -> list[RemoteResource]:
        return self.inner.find_environment(project_id, name)

    def env_group_links(self, group_id: str) -> list[str] | None:
        return self.inner.env_group_links(group_id)

    def link_env_group(self, group_id: str, service_id: str) -> None:
        self.inner.link_env_group(group_id, service_id)

    def unlink_env_group(self, group_id: str, service_id: str) -> bool:
        return self.inner.unlink_env_group(group_id, service_id)

    def env_group_vars(self, group_id: str) -> dict[str, str] | None:
        return self.inner.env_group_vars(group_id)

    def set_env_group_var(self, group_id: str, key: str, value: str) -> None:
        self.inner.set_env_group_var(group_id, key, value)

    def delete_env_group_var(self, group_id: str, key: str) -> bool:
        return self.inner.delete_env_group_var(group_id, key)

    def update_environment(self, environment_id: str, body: dict[str, Any]) -> RemoteResource:
        return self.inner.update_environment(environment_id, body)

    def environment_resources(self, environment_id: str) -> list[str] | None:
        return self.inner.environment_resources(environment_id)

    def environment_project(self, environment_id: str) -> str | None:
        return self.inner.environment_project(environment_id)

    def add_to_environment(self, environment_id: str, resource_ids: list[str]) -> None:
        self.inner.add_to_environment(environment_id, resource_ids)

    def remove_from_environment(self, environment_id: str, resource_ids: list[str]) -> None:
        self.inner.remove_from_environment(environment_id, resource_ids)
