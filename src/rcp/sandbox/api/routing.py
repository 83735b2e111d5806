"""The route table: (method, path pattern) → handler, and ``dispatch``."""

from __future__ import annotations

import re
from collections.abc import Callable

from rcp.sandbox.api import (
    datastores,
    deploys,
    disks,
    env,
    isolation,
    logs,
    notifications,
    owners,
    scaling,
    services,
)
from rcp.sandbox.api.plumbing import ApiError, ApiRequest, ApiResult, WorldContext

Handler = Callable[..., ApiResult]
_SEG = r"([^/]+)"

_ROUTE_SPECS: list[tuple[str, str, Handler]] = [
    ("GET", "/owners", owners.list_owners),
    ("GET", f"/owners/{_SEG}", owners.retrieve_owner),
    ("GET", "/users", owners.get_user),
    ("GET", "/services", services.list_services),
    ("POST", "/services", services.create_service),
    ("GET", f"/services/{_SEG}", services.retrieve_service),
    ("PATCH", f"/services/{_SEG}", services.update_service),
    ("DELETE", f"/services/{_SEG}", services.delete_service),
    ("POST", f"/services/{_SEG}/suspend", services.suspend_service),
    ("POST", f"/services/{_SEG}/resume", services.resume_service),
    ("PUT", f"/services/{_SEG}/autoscaling", scaling.put_autoscaling),
    ("DELETE", f"/services/{_SEG}/autoscaling", scaling.delete_autoscaling),
    ("POST", f"/services/{_SEG}/scale", scaling.scale),
    ("POST", "/disks", disks.create_disk),
    ("GET", f"/disks/{_SEG}", disks.retrieve_disk),
    ("PATCH", f"/disks/{_SEG}", disks.update_disk),
    ("DELETE", f"/disks/{_SEG}", disks.delete_disk),
    ("GET", f"/notification-settings/overrides/services/{_SEG}", notifications.retrieve_override),
    ("PATCH", f"/notification-settings/overrides/services/{_SEG}", notifications.update_override),
    ("GET", f"/services/{_SEG}/env-vars", env.list_env_vars),
    ("PUT", f"/services/{_SEG}/env-vars", env.replace_env_vars),
    ("GET", f"/services/{_SEG}/env-vars/{_SEG}", env.retrieve_env_var),
    ("PUT", f"/services/{_SEG}/env-vars/{_SEG}", env.update_env_var),
    ("DELETE", f"/services/{_SEG}/env-vars/{_SEG}", env.delete_env_var),
    ("GET", f"/services/{_SEG}/secret-files", env.list_secret_files),
    ("PUT", f"/services/{_SEG}/secret-files", env.replace_secret_files),
    ("GET", f"/services/{_SEG}/secret-files/{_SEG}", env.retrieve_secret_file),
    ("PUT", f"/services/{_SEG}/secret-files/{_SEG}", env.update_secret_file),
    ("DELETE", f"/services/{_SEG}/secret-files/{_SEG}", env.delete_secret_file),
    ("GET", f"/services/{_SEG}/deploys", deploys.list_deploys),
    ("POST", f"/services/{_SEG}/deploys", deploys.trigger_deploy),
    ("GET", f"/services/{_SEG}/deploys/{_SEG}", deploys.retrieve_deploy),
    ("POST", f"/services/{_SEG}/rollback", deploys.rollback_deploy),
    ("GET", "/postgres", datastores.list_postgres),
    ("POST", "/postgres", datastores.create_postgres),
    ("GET", f"/postgres/{_SEG}", datastores.retrieve_postgres),
    ("PATCH", f"/postgres/{_SEG}", datastores.update_postgres),
    ("DELETE", f"/postgres/{_SEG}", datastores.delete_postgres),
    ("GET", f"/postgres/{_SEG}/connection-info", datastores.postgres_connection_info),
    ("POST", f"/postgres/{_SEG}/suspend", datastores.suspend_postgres),
    ("POST", f"/postgres/{_SEG}/resume", datastores.resume_postgres),
    ("GET", "/key-value", datastores.list_key_value),
    ("POST", "/key-value", datastores.create_key_value),
    ("GET", f"/key-value/{_SEG}", datastores.retrieve_key_value),
    ("PATCH", f"/key-value/{_SEG}", datastores.update_key_value),
    ("DELETE", f"/key-value/{_SEG}", datastores.delete_key_value),
    ("GET", f"/key-value/{_SEG}/connection-info", datastores.key_value_connection_info),
    ("POST", f"/key-value/{_SEG}/suspend", datastores.suspend_key_value),
    ("POST", f"/key-value/{_SEG}/resume", datastores.resume_key_value),
    ("GET", "/projects", isolation.list_projects),
    ("POST", "/projects", isolation.create_project),
    ("GET", f"/projects/{_SEG}", isolation.retrieve_project),
    ("PATCH", f"/projects/{_SEG}", isolation.update_project),
    ("DELETE", f"/projects/{_SEG}", isolation.delete_project),
    ("GET", "/environments", isolation.list_environments),
    ("POST", "/environments", isolation.create_environment),
    ("GET", f"/environments/{_SEG}", isolation.retrieve_environment),
    ("PATCH", f"/environments/{_SEG}", isolation.update_environment),
    ("DELETE", f"/environments/{_SEG}", isolation.delete_environment),
    ("POST", f"/environments/{_SEG}/resources", isolation.add_resources),
    ("DELETE", f"/environments/{_SEG}/resources", isolation.remove_resources),
    ("GET", "/env-groups", isolation.list_env_groups),
    ("POST", "/env-groups", isolation.create_env_group),
    ("GET", f"/env-groups/{_SEG}", isolation.retrieve_env_group),
    ("PATCH", f"/env-groups/{_SEG}", isolation.update_env_group),
    ("DELETE", f"/env-groups/{_SEG}", isolation.delete_env_group),
    ("POST", f"/env-groups/{_SEG}/services/{_SEG}", isolation.link_service),
    ("DELETE", f"/env-groups/{_SEG}/services/{_SEG}", isolation.unlink_service),
    ("GET", f"/env-groups/{_SEG}/env-vars/{_SEG}", isolation.retrieve_group_env_var),
    ("PUT", f"/env-groups/{_SEG}/env-vars/{_SEG}", isolation.update_group_env_var),
    ("DELETE", f"/env-groups/{_SEG}/env-vars/{_SEG}", isolation.delete_group_env_var),
    ("GET", f"/env-groups/{_SEG}/secret-files/{_SEG}", isolation.retrieve_group_secret_file),
    ("PUT", f"/env-groups/{_SEG}/secret-files/{_SEG}", isolation.update_group_secret_file),
    ("DELETE", f"/env-groups/{_SEG}/secret-files/{_SEG}", isolation.delete_group_secret_file),
    ("GET", "/logs", logs.list_logs),
]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, re.compile(f"^{pattern}$"), handler) for method, pattern, handler in _ROUTE_SPECS
]


def find_route(method: str, path: str) -> tuple[Handler, tuple[str, ...]] | None:
    from urllib.parse import unquote

    for route_method, pattern, handler in ROUTES:
        if route_method != method:
            continue
        match = pattern.match(path)
        if match:
            return handler, tuple(unquote(group) for group in match.groups())
    return None


def path_exists(path: str) -> bool:
    return any(pattern.match(path) for _, pattern, _ in ROUTES)


def dispatch(ctx: WorldContext, request: ApiRequest) -> ApiResult:
    found = find_route(request.method, request.path)
    if found is None:
        if path_exists(request.path):
            raise ApiError(405, f"method {request.method} not allowed on {request.path}")
        raise ApiError(404, "not found")
    handler, params = found
    return handler(ctx, request, *params)
