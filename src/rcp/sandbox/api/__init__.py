"""Render's side of the API: routing, request validation, behaviour and response shapes.

Everything here runs inside one SQLite write transaction (see ``rcp.sandbox.store``) and never
sleeps: asynchronous progress (deploys, datastores) is derived from stored timestamps and the
injected clock each time a resource is read. Shapes follow Render's OpenAPI spec and the
real responses recorded from Render's API, including Render's explicit ``null``s
(``ipAllowList`` of datastores without an allow list, a deploy's ``commit``/``finishedAt``).

Modules, one per section of the API:

- ``plumbing``: errors, request/result, the world context, body/query parsing, storage
- ``pagination``: cursors and pages
- ``enums``: the spec's enumerations and constants
- ``owners``: workspaces and the user
- ``services``: services (a create starts the first deploy)
- ``env``: env vars and secret files
- ``deploys``: deploys and their lifecycle
- ``datastores``: Postgres and Key Value
- ``logs``: log lines derived from what happened to each resource (``GET /logs``)
- ``routing``: the route table and ``dispatch``
- ``state``: the control API's dump of the world
"""

from __future__ import annotations

from rcp.sandbox.api.plumbing import ApiError, ApiRequest, ApiResult, WorldContext
from rcp.sandbox.api.routing import dispatch
from rcp.sandbox.api.state import dump_world

__all__ = ["ApiError", "ApiRequest", "ApiResult", "WorldContext", "dispatch", "dump_world"]
