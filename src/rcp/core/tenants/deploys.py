"""`rcp tenant deploys`: the deploy history of a tenant's services, as Render keeps it.

Read-only (no lock, not audited): one ``GET /services/{id}/deploys`` page per service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rcp.core.models import DeployInfo, Resource, ResourceKind, Tenant, iso_z
from rcp.core.ports import RenderGateway
from rcp.core.provisioning import DEPLOY_FAILURE_PHASE
from rcp.core.tenants.records import creation_order
from rcp.errors import UsageError

DEFAULT_LIMIT = 10
# Render's page size bound (the spec's ``limit``: 1–100): one request per service.
MAX_LIMIT = 100


@dataclass(frozen=True)
class ServiceDeploy:
    """One deploy of one of the tenant's services."""

    service: str  # the service's key in the tenant's template
    service_id: str
    deploy: DeployInfo

    @property
    def failed_phase(self) -> str | None:
        """``build``, ``pre-deploy`` or ``update`` for a deploy that failed, else None."""
        return DEPLOY_FAILURE_PHASE.get(self.deploy.status or "")

    def to_json(self) -> dict[str, Any]:
        """One item of ``rcp -o json tenant deploys`` (docs/json.md)."""
        deploy = self.deploy
        commit = (
            {"id": deploy.commit_id, "message": deploy.commit_message}
            if deploy.commit_id or deploy.commit_message
            else None
        )
        image = (
            {"ref": deploy.image_ref, "sha": deploy.image_sha}
            if deploy.image_ref or deploy.image_sha
            else None
        )
        return {
            "service": self.service,
            "service_id": self.service_id,
            "id": deploy.id,
            "status": deploy.status,
            "failed_phase": self.failed_phase,
            "trigger": deploy.trigger,
            "commit": commit,
            "image": image,
            "created_at": iso_z(deploy.created_at),
            "started_at": iso_z(deploy.started_at),
            "finished_at": iso_z(deploy.finished_at),
        }


@dataclass
class DeployHistory:
    slug: str
    deploys: list[ServiceDeploy] = field(default_factory=list)
    # Services on record that Render no longer has: "web (srv-…)".
    missing: list[str] = field(default_factory=list)


def check_limit(limit: int, option: str = "--limit") -> int:
    """1–100 (UsageError, exit 2, otherwise)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"invalid {option} value {limit}: use 1 to {MAX_LIMIT}")
    return limit


def deploy_targets(tenant: Tenant, service: str | None) -> list[Resource]:
    """The tenant's services on Render (or the one named; UsageError, exit 2, for a key that
    is not a service of the tenant)."""
    services = [r for r in creation_order(tenant) if r.kind is ResourceKind.SERVICE]
    if service is not None:
        named = [r for r in services if r.key == service]
        if not named:
            known = ", ".join(r.key for r in services) or "none"
            raise UsageError(
                f"tenant {tenant.slug} has no service {service!r} (services: {known})",
                hint="datastores have no deploys; omit --service for every service",
            )
        services = named
    return [r for r in services if r.render_id]


def deploy_history(
    gateway: RenderGateway, tenant: Tenant, *, service: str | None, limit: int
) -> DeployHistory:
    """The latest ``limit`` deploys of each target service, newest first across services
    (a record of another world is refused, exit 6)."""
    from rcp.core.tenants.worlds import require_world

    check_limit(limit)
    require_world(gateway, tenant)
    history = DeployHistory(tenant.slug)
    for resource in deploy_targets(tenant, service):
        assert resource.render_id is not None
        found = gateway.list_deploys(resource.render_id, limit)
        if found is None:
            history.missing.append(f"{resource.key} ({resource.render_id})")
            continue
        history.deploys.extend(ServiceDeploy(resource.key, resource.render_id, d) for d in found)
    history.deploys.sort(key=_newest_first)
    return history


_EPOCH = datetime.min.replace(tzinfo=UTC)


def _newest_first(item: ServiceDeploy) -> tuple[float, ...]:
    moment = item.deploy.created_at or item.deploy.started_at or _EPOCH
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (-moment.timestamp(),)
