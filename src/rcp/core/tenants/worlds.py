"""One world per record: a tenant record is acted on only from the Render API base and
workspace it was created against (docs/sandbox.md, "Sandbox and real records never mix").

A record's world is stored with it (``Tenant.render_api_url``, ``Tenant.render_owner_id``). A
record older than those fields has no world ("unknown"): any world may act on it, and the
first mutating command records its own (``Operation.proceed``).
"""

from __future__ import annotations

from collections.abc import Iterable

from rcp.core.models import Tenant, World
from rcp.core.ports import RenderGateway
from rcp.errors import WorldMismatch


def check_world(tenant: Tenant, world: World) -> None:
    """WorldMismatch (exit 6) naming both worlds when ``tenant`` belongs to another one."""
    recorded = tenant.world
    if not recorded.differs_from(world):
        return
    raise WorldMismatch(
        f"tenant {tenant.slug} belongs to another world: it was recorded against "
        f"{recorded.describe()}, this run uses {world.describe()}",
        hint="run it with the settings it was created with (RENDER_API_URL, RENDER_OWNER_ID, "
        "--sandbox); the sandbox keeps records of its own",
    )


def require_world(gateway: RenderGateway, tenant: Tenant) -> World:
    """This run's world, checked against ``tenant``'s before anything reaches Render: first
    what is known without a call (the API base, a configured workspace), then the workspace
    ``GET /owners`` confirms (which also checks the API key). Returns the resolved world."""
    check_world(tenant, gateway.world(resolve=False))
    world = gateway.world()
    check_world(tenant, world)
    return world


def require_same_world(gateway: RenderGateway, tenants: Iterable[Tenant]) -> World:
    """``require_world`` for many records at once (``rcp apply``: every tenant it will touch,
    before the first write): the first of another world is refused. The API key and workspace
    are checked even when there are no records."""
    recorded = list(tenants)
    configured = gateway.world(resolve=False)
    for tenant in recorded:
        check_world(tenant, configured)
    world = gateway.world()
    for tenant in recorded:
        check_world(tenant, world)
    return world
