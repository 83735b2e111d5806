"""Values of template references: Blueprint ``fromDatabase`` / ``fromService`` properties read
from what Render reports about the referenced resource (docs/templates.md).

- Postgres (``fromDatabase``): ``connectionString`` is Render's internal connection string;
  ``host``, ``port``, ``user``, ``password`` and ``database`` are its parts. Render's internal
  Postgres URL carries no port (``postgresql://user:pass@dpg-…-a/name``): Postgres listens on
  its default port, 5432.
- Key Value (``fromService`` with ``type: keyvalue``): ``connectionString`` is the internal
  connection string (``redis://red-…:6379``); ``host``, ``port`` and ``hostport`` its address.
- Web and private services (``fromService`` with ``type: web|pserv``): ``host`` is the service's
  hostname on Render's private network (its slug), ``port`` the port it listens on there (the
  first port Render detected, ``serviceDetails.openPorts``), ``hostport`` both as ``host:port``.
  Never the public ``*.onrender.com`` URL.

Validation of which property a kind has is the template compiler's job; these functions raise
``ReferenceUnavailable`` when Render's answer lacks what a valid reference needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from rcp.core.models import ResourceKind

POSTGRES_DEFAULT_PORT = 5432
# Render's default PORT for web and private services (what Render reports before it has
# detected another port).
SERVICE_DEFAULT_PORT = 10000

# Keys of the address the gateway reports for a service (``RenderGateway.connection_info``).
SERVICE_HOST = "host"
SERVICE_PORT = "port"
# Render's connection-info key of the internal URL (Postgres and Key Value alike).
INTERNAL_CONNECTION_STRING = "internalConnectionString"


class ReferenceUnavailable(Exception):
    """Render's answer does not carry what the reference needs (the message says what)."""


def reference_value(kind: ResourceKind, info: Mapping[str, str], prop: str) -> str:
    """The value of ``prop`` of a resource of ``kind`` whose connection info (a datastore) or
    private-network address (a service) is ``info``."""
    if kind is ResourceKind.SERVICE:
        return _service_value(info, prop)
    url = info.get(INTERNAL_CONNECTION_STRING)
    if not url:
        raise ReferenceUnavailable("Render reported no internal connection string")
    if prop == "connectionString":
        return url
    parts = _url_parts(url)
    if kind is ResourceKind.POSTGRES and prop == "password" and "password" not in parts:
        # The URL normally carries it; Render's connection info also has it on its own.
        parts["password"] = info.get("password", "")
    if kind is ResourceKind.POSTGRES and "port" not in parts:
        parts["port"] = str(POSTGRES_DEFAULT_PORT)
    if "host" in parts and "port" in parts:
        parts["hostport"] = f"{parts['host']}:{parts['port']}"
    value = parts.get(prop)
    if not value:
        raise ReferenceUnavailable(f"Render's internal connection string has no {prop}")
    return value


def _service_value(address: Mapping[str, str], prop: str) -> str:
    host = address.get(SERVICE_HOST)
    if not host:
        raise ReferenceUnavailable("Render reported no private-network hostname for the service")
    port = address.get(SERVICE_PORT) or str(SERVICE_DEFAULT_PORT)
    values = {"host": host, "port": port, "hostport": f"{host}:{port}"}
    if prop not in values:
        raise ReferenceUnavailable(f"a service has no property {prop!r}")
    return values[prop]


def _url_parts(url: str) -> dict[str, str]:
    """host, port, user, password and database of a ``postgresql://`` or ``redis://`` URL."""
    parts = urlsplit(url)
    found: dict[str, str] = {}
    if parts.hostname:
        found["host"] = parts.hostname
    try:
        port = parts.port
    except ValueError:  # not a number: leave it out rather than guess
        port = None
    if port is not None:
        found["port"] = str(port)
    if parts.username:
        found["user"] = unquote(parts.username)
    if parts.password:
        found["password"] = unquote(parts.password)
    database = parts.path.lstrip("/")
    if database:
        found["database"] = unquote(database)
    return found
