"""The control API's view of the whole world (``GET /__sandbox/state``)."""

from __future__ import annotations

import json
from typing import Any

from rcp.sandbox.api.datastores import render_datastore
from rcp.sandbox.api.deploys import service_deploys
from rcp.sandbox.api.env import load_items
from rcp.sandbox.api.isolation import render_environment, render_group, render_project
from rcp.sandbox.api.plumbing import WorldContext, iso, load_resources, public


def dump_world(ctx: WorldContext) -> dict[str, Any]:
    """Everything the world holds, as Render would show it now (plus secrets and log)."""
    services = [public(service) for _, service in load_resources(ctx, "service")]
    env_vars: dict[str, list[dict[str, str]]] = {}
    secret_files: dict[str, list[dict[str, str]]] = {}
    deploys: dict[str, list[dict[str, Any]]] = {}
    for service in services:
        env_vars[service["id"]] = [
            {"key": key, "value": value} for _, key, value in load_items(ctx, service["id"], "env")
        ]
        secret_files[service["id"]] = [
            {"name": name, "content": value}
            for _, name, value in load_items(ctx, service["id"], "secret")
        ]
        deploys[service["id"]] = [
            deploy for _, deploy in reversed(service_deploys(ctx, service["id"]))
        ]
    faults = [
        {
            "id": int(row["seq"]),
            "source": row["source_key"].split(":", 1)[0],
            "rule": json.loads(row["rule"]),
            "matched": int(row["matched"]),
            "fired": int(row["fired"]),
        }
        for row in ctx.connection.execute("SELECT * FROM faults ORDER BY seq")
    ]
    requests = [
        {
            "seq": int(row["seq"]),
            "at": iso(row["at"]),
            "method": row["method"],
            "path": row["path"],
            "query": row["query"],
            "status": row["status"],
            "fault": row["fault"],
            "name": row["name"],
            "requestId": row["request_id"],
        }
        for row in ctx.connection.execute("SELECT * FROM requests ORDER BY seq")
    ]
    return {
        "now": iso(ctx.now),
        "settings": {
            "deploySeconds": ctx.settings.deploy_seconds,
            "datastoreSeconds": ctx.settings.datastore_seconds,
            "latencyMs": ctx.settings.latency_ms,
            "rateLimits": ctx.settings.rate_limits,
            "rateWindowScale": ctx.settings.rate_window_scale,
            "profile": ctx.settings.profile,
            "timeScale": ctx.settings.time_scale,
            "owners": ctx.settings.owners,
            "deployOverlap": ctx.settings.deploy_overlap,
            "createLimit": ctx.settings.create_limit,
            "createCounters": ctx.settings.create_counters,
        },
        "owner": public(ctx.owner),
        "owners": [public(owner) for owner in ctx.owners],
        "user": ctx.user,
        "services": services,
        "envVars": env_vars,
        "secretFiles": secret_files,
        "deploys": deploys,
        "postgres": [
            {
                **render_datastore(ctx, record),
                "password": record["_password"],
                # When it is (or was last) ready: benchmarks measure detection delays with it.
                "readyAt": iso(record["_ready_at"]),
            }
            for _, record in load_resources(ctx, "postgres")
        ],
        "keyValue": [
            {
                **render_datastore(ctx, record),
                "password": record["_password"],
                # When it is (or was last) ready: benchmarks measure detection delays with it.
                "readyAt": iso(record["_ready_at"]),
            }
            for _, record in load_resources(ctx, "key_value")
        ],
        "projects": [render_project(ctx, p) for _, p in load_resources(ctx, "project")],
        "environments": [render_environment(ctx, e) for _, e in load_resources(ctx, "environment")],
        "envGroups": [render_group(ctx, g) for _, g in load_resources(ctx, "env_group")],
        # The variables each deploy started with (a service's own and its linked groups').
        "deployEnv": {
            row["id"]: json.loads(row["data"]).get("_env", {})
            for row in ctx.connection.execute("SELECT id, data FROM deploys ORDER BY seq")
        },
        "faults": faults,
        "requests": requests,
    }
