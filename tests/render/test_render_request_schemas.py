"""Every body the client sends for a create or update validates against the request schema of
its operation in Render's OpenAPI spec (shared/render-api/render-openapi.json).

The spec's ``serviceDetails`` and ``envSpecificDetails`` are ``oneOf`` unions whose branches have
no discriminator and no ``additionalProperties: false``, so a plain ``oneOf`` check is both too
strict (a worker body matches the web, private and worker branches at once) and too lax (any
nonsense matches the static-site branch alone). Render picks the branch from the service
``type`` and ``runtime``; the validator below does the same, replacing each union by the branch
the body's own type/runtime selects, and validates everything else as written.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS30Validator
from render_helpers import (
    Recorder,
    json_response,
    load_cassettes,
    make_client,
    render_shared_dir,
    service_json,
)

from rcp.core.models import ResourceKind
from rcp.render.gateway import Gateway

OWNER = "tea-d0000000000000000001"
SERVICE_ID = "srv-d0000000000000000002"
POSTGRES_ID = "dpg-d0000000000000000003-a"
KEY_VALUE_ID = "red-d0000000000000000004"

TYPE_PREFIX = {
    "web_service": "webService",
    "private_service": "privateService",
    "background_worker": "backgroundWorker",
    "cron_job": "cronJob",
    "static_site": "staticSite",
}


@cache
def _spec() -> dict[str, Any]:
    path = render_shared_dir() / "render-api" / "render-openapi.json"
    spec: dict[str, Any] = json.loads(path.read_text())
    return spec


@cache
def _discriminated_components(service_type: str | None, runtime: str | None) -> dict[str, Any]:
    components = copy.deepcopy(_spec()["components"])
    if service_type is None:
        return components
    schemas = components["schemas"]
    prefix = TYPE_PREFIX[service_type]
    schemas["servicePOST"]["properties"]["serviceDetails"] = {
        "$ref": f"#/components/schemas/{prefix}DetailsPOST"
    }
    schemas["servicePATCH"]["properties"]["serviceDetails"] = {
        "$ref": f"#/components/schemas/{prefix}DetailsPATCH"
    }
    docker = runtime in ("docker", "image")
    for union, docker_branch, native_branch in (
        ("envSpecificDetails", "dockerDetails", "nativeEnvironmentDetails"),
        ("envSpecificDetailsPOST", "dockerDetailsPOST", "nativeEnvironmentDetailsPOST"),
        ("envSpecificDetailsPATCH", "dockerDetailsPATCH", "nativeEnvironmentDetailsPATCH"),
    ):
        branch = docker_branch if docker else native_branch
        schemas[union] = {"$ref": f"#/components/schemas/{branch}"}
    return components


def request_schema_errors(
    path_template: str,
    method: str,
    body: Any,
    *,
    service_type: str | None = None,
    runtime: str | None = None,
) -> list[str]:
    """Validation errors of ``body`` against the operation's requestBody schema ([] = valid)."""
    operation = _spec()["paths"][path_template][method.lower()]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    document = {"allOf": [schema], "components": _discriminated_components(service_type, runtime)}
    validator = OAS30Validator(document)
    return [f"{list(err.absolute_path)}: {err.message}" for err in validator.iter_errors(body)]


# -- a Render stand-in answering with real-shaped bodies -----------------------------------


def _postgres_json(**extra: Any) -> dict[str, Any]:
    body = {
        "id": POSTGRES_ID,
        "name": "acme-db",
        "owner": {"id": OWNER, "name": "Acme", "email": "ops@example.com", "type": "team"},
        "plan": "basic_256mb",
        "region": "oregon",
        "status": "creating",
        "version": "16",
        "suspended": "not_suspended",
        "ipAllowList": None,
        "databaseName": "acme_db_x1y2",
        "databaseUser": "acme_db_user",
    }
    body.update(extra)
    return body


def _key_value_json(**extra: Any) -> dict[str, Any]:
    body = {
        "id": KEY_VALUE_ID,
        "name": "acme-cache",
        "owner": {"id": OWNER, "name": "Acme", "email": "ops@example.com", "type": "team"},
        "plan": "starter",
        "region": "oregon",
        "status": "unknown",
        "options": {"maxmemoryPolicy": "allkeys_lru"},
        "ipAllowList": [],
        "version": "8.1.4",
    }
    body.update(extra)
    return body


def fake_render(request: httpx.Request) -> httpx.Response:
    method, path = request.method, request.url.path.removeprefix("/v1")
    body = json.loads(request.content) if request.content else None
    if method == "GET" and path == "/owners":
        return json_response(
            200,
            []
            if request.url.params.get("cursor")
            else [{"cursor": "c1", "owner": {"id": OWNER, "name": "Acme", "type": "team"}}],
        )
    if method == "POST" and path == "/services":
        service = service_json(SERVICE_ID, body["name"], type=body["type"])
        return json_response(201, {"service": service, "deployId": "dep-d0000000000000000009"})
    if method == "PATCH" and path == f"/services/{SERVICE_ID}":
        return json_response(200, service_json(SERVICE_ID))
    if method == "GET" and path == f"/services/{SERVICE_ID}/deploys":
        return json_response(200, [])
    if method == "POST" and path == f"/services/{SERVICE_ID}/deploys":
        return json_response(201, {"id": "dep-d000000000000000000a", "status": "created"})
    if method == "PUT" and path == f"/services/{SERVICE_ID}/env-vars":
        return json_response(
            200,
            [
                {"cursor": f"c{i}", "envVar": {"key": v["key"], "value": "x"}}
                for i, v in enumerate(body)
            ],
        )
    if method == "PUT" and path.startswith(f"/services/{SERVICE_ID}/env-vars/"):
        return json_response(200, {"key": path.rsplit("/", 1)[1], "value": "v"})
    if path == "/postgres" or path == f"/postgres/{POSTGRES_ID}":
        return json_response(201 if method == "POST" else 200, _postgres_json())
    if path == "/key-value" or path == f"/key-value/{KEY_VALUE_ID}":
        return json_response(201 if method == "POST" else 200, _key_value_json())
    return json_response(404, {"message": f"not found: {path}"})


@pytest.fixture
def gateway() -> tuple[Gateway, Recorder]:
    client, recorder = make_client(fake_render)
    return Gateway(client), recorder


def _sent(recorder: Recorder, method: str, path: str) -> Any:
    """The JSON body of the last request with this method and path."""
    for request in reversed(recorder.requests):
        if request.method == method and request.url.path.removeprefix("/v1") == path:
            return json.loads(request.content)
    raise AssertionError(f"no {method} {path} was sent")


# -- service creates, one per type the templates allow ------------------------------------

NATIVE = {"buildCommand": "npm install", "startCommand": "npm start"}
SERVICE_BODIES: dict[str, dict[str, Any]] = {
    "web_service": {
        "type": "web_service",
        "name": "acme-web",
        "repo": "https://github.com/render-examples/express-hello-world",
        "branch": "main",
        "autoDeploy": "yes",
        "serviceDetails": {
            "runtime": "node",
            "plan": "starter",
            "region": "oregon",
            "numInstances": 1,
            "healthCheckPath": "/",
            "envSpecificDetails": NATIVE,
        },
    },
    "private_service": {
        "type": "private_service",
        "name": "acme-api",
        "repo": "https://github.com/render-examples/express-hello-world",
        "serviceDetails": {
            "runtime": "docker",
            "plan": "standard",
            "region": "frankfurt",
            "envSpecificDetails": {"dockerfilePath": "./Dockerfile", "dockerContext": "."},
        },
    },
    "background_worker": {
        "type": "background_worker",
        "name": "acme-worker",
        "repo": "https://github.com/render-examples/express-hello-world",
        "serviceDetails": {
            "runtime": "python",
            "plan": "starter",
            "region": "oregon",
            "envSpecificDetails": {
                "buildCommand": "pip install -r requirements.txt",
                "startCommand": "python worker.py",
            },
        },
    },
    "cron_job": {
        "type": "cron_job",
        "name": "acme-nightly",
        "repo": "https://github.com/render-examples/express-hello-world",
        "serviceDetails": {
            "runtime": "node",
            "plan": "starter",
            "region": "oregon",
            "schedule": "0 3 * * *",
            "envSpecificDetails": NATIVE,
        },
    },
}


@pytest.mark.parametrize("service_type", sorted(SERVICE_BODIES))
def test_service_create_body_matches_service_post(
    gateway: tuple[Gateway, Recorder], service_type: str
) -> None:
    gw, recorder = gateway
    template_body = SERVICE_BODIES[service_type]
    env = [
        {"key": "NODE_ENV", "value": "production"},
        {"key": "SECRET_KEY_BASE", "generateValue": True},
    ]
    created = gw.create(ResourceKind.SERVICE, template_body, env)
    assert created.render_id == SERVICE_ID and created.deploy_id == "dep-d0000000000000000009"

    sent = _sent(recorder, "POST", "/services")
    assert sent["ownerId"] == OWNER and sent["envVars"] == env
    runtime = template_body["serviceDetails"]["runtime"]
    assert (
        request_schema_errors("/services", "POST", sent, service_type=service_type, runtime=runtime)
        == []
    )


def test_postgres_create_body_matches_postgres_post(gateway: tuple[Gateway, Recorder]) -> None:
    gw, recorder = gateway
    body = {
        "name": "acme-db",
        "plan": "basic_256mb",
        "version": "16",
        "region": "oregon",
        "databaseName": "acme",
    }
    created = gw.create(ResourceKind.POSTGRES, body, [])
    assert created.type == "postgres" and created.state == "creating"
    sent = _sent(recorder, "POST", "/postgres")
    assert sent == {**body, "ownerId": OWNER}
    assert request_schema_errors("/postgres", "POST", sent) == []


def test_key_value_create_body_matches_key_value_post(gateway: tuple[Gateway, Recorder]) -> None:
    gw, recorder = gateway
    body = {
        "name": "acme-cache",
        "plan": "starter",
        "region": "oregon",
        "maxmemoryPolicy": "allkeys_lru",
        "ipAllowList": [],
    }
    created = gw.create(ResourceKind.KEY_VALUE, body, [])
    assert created.type == "key_value"
    sent = _sent(recorder, "POST", "/key-value")
    assert sent["ownerId"] == OWNER
    assert request_schema_errors("/key-value", "POST", sent) == []


# -- updates, env vars, deploys ----------------------------------------------------------


def test_env_var_bodies_match_their_operations(gateway: tuple[Gateway, Recorder]) -> None:
    gw, recorder = gateway
    gw.set_env_var(SERVICE_ID, "DATABASE_URL", "postgresql://u:p@h/db")
    sent_one = _sent(recorder, "PUT", f"/services/{SERVICE_ID}/env-vars/DATABASE_URL")
    assert sent_one == {"value": "postgresql://u:p@h/db"}
    assert (
        request_schema_errors("/services/{serviceId}/env-vars/{envVarKey}", "PUT", sent_one) == []
    )

    gw.client.put_env_var(SERVICE_ID, "SESSION_SECRET", generate=True)
    sent_generated = _sent(recorder, "PUT", f"/services/{SERVICE_ID}/env-vars/SESSION_SECRET")
    assert sent_generated == {"generateValue": True}
    assert (
        request_schema_errors("/services/{serviceId}/env-vars/{envVarKey}", "PUT", sent_generated)
        == []
    )

    replaced = gw.client.replace_env_vars(
        SERVICE_ID, [{"key": "A", "value": "1"}, {"key": "B", "generateValue": True}]
    )
    assert [var.key for var in replaced] == ["A", "B"]
    sent_all = _sent(recorder, "PUT", f"/services/{SERVICE_ID}/env-vars")
    assert request_schema_errors("/services/{serviceId}/env-vars", "PUT", sent_all) == []


def test_deploy_trigger_body_matches_create_deploy(gateway: tuple[Gateway, Recorder]) -> None:
    gw, recorder = gateway
    assert gw.trigger_deploy(SERVICE_ID) == "dep-d000000000000000000a"
    gw.client.trigger_deploy(SERVICE_ID, clear_cache=True)
    for request in recorder.requests:
        if request.method == "POST" and request.url.path.endswith("/deploys"):
            body = json.loads(request.content)
            assert request_schema_errors("/services/{serviceId}/deploys", "POST", body) == []


@pytest.mark.parametrize(
    ("service_type", "runtime", "patch"),
    [
        (
            "web_service",
            "node",
            {"serviceDetails": {"plan": "standard", "healthCheckPath": "/healthz"}},
        ),
        ("web_service", "node", {"name": "acme-web-2", "autoDeploy": "no", "branch": "release"}),
        (
            "background_worker",
            "python",
            {"serviceDetails": {"plan": "pro", "envSpecificDetails": NATIVE}},
        ),
        (
            "private_service",
            "docker",
            {"serviceDetails": {"envSpecificDetails": {"dockerCommand": "./run"}}},
        ),
        ("cron_job", "node", {"serviceDetails": {"schedule": "*/5 * * * *", "plan": "standard"}}),
    ],
)
def test_service_patch_body_matches_service_patch(
    gateway: tuple[Gateway, Recorder], service_type: str, runtime: str, patch: dict[str, Any]
) -> None:
    gw, recorder = gateway
    updated = gw.update_service(SERVICE_ID, patch)
    assert updated.render_id == SERVICE_ID and updated.state == "live"  # no deploys → live
    sent = _sent(recorder, "PATCH", f"/services/{SERVICE_ID}")
    assert sent == patch
    errors = request_schema_errors(
        "/services/{serviceId}", "PATCH", sent, service_type=service_type, runtime=runtime
    )
    assert errors == []


def test_datastore_patch_bodies_match_their_operations(gateway: tuple[Gateway, Recorder]) -> None:
    gw, recorder = gateway
    gw.update_datastore(ResourceKind.POSTGRES, POSTGRES_ID, {"plan": "basic_1gb", "diskSizeGB": 15})
    sent_pg = _sent(recorder, "PATCH", f"/postgres/{POSTGRES_ID}")
    assert request_schema_errors("/postgres/{postgresId}", "PATCH", sent_pg) == []

    gw.update_datastore(
        ResourceKind.KEY_VALUE, KEY_VALUE_ID, {"plan": "standard", "maxmemoryPolicy": "noeviction"}
    )
    sent_kv = _sent(recorder, "PATCH", f"/key-value/{KEY_VALUE_ID}")
    assert request_schema_errors("/key-value/{keyValueId}", "PATCH", sent_kv) == []


# -- the validator itself is trustworthy ---------------------------------------------------


def test_validator_rejects_bodies_render_would_reject() -> None:
    web = copy.deepcopy(SERVICE_BODIES["web_service"]) | {"ownerId": OWNER}
    assert (
        request_schema_errors("/services", "POST", web, service_type="web_service", runtime="node")
        == []
    )

    no_owner = {k: v for k, v in web.items() if k != "ownerId"}
    assert request_schema_errors(
        "/services", "POST", no_owner, service_type="web_service", runtime="node"
    )

    bad_runtime = copy.deepcopy(web)
    bad_runtime["serviceDetails"]["runtime"] = "nodejs"
    assert request_schema_errors(
        "/services", "POST", bad_runtime, service_type="web_service", runtime="nodejs"
    )

    cron_without_schedule = copy.deepcopy(SERVICE_BODIES["cron_job"]) | {"ownerId": OWNER}
    del cron_without_schedule["serviceDetails"]["schedule"]
    assert request_schema_errors(
        "/services", "POST", cron_without_schedule, service_type="cron_job", runtime="node"
    )

    assert request_schema_errors(
        "/postgres", "POST", {"name": "x", "ownerId": OWNER, "plan": "basic_256mb"}
    )
    assert request_schema_errors("/services/{serviceId}/env-vars/{envVarKey}", "PUT", {"value": 5})


def _go_nils_dropped(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _go_nils_dropped(v) for k, v in value.items() if v is not None}
        kept = {k: v for k, v in kept.items() if v is not _ALL_NIL}
        return _ALL_NIL if value and not kept else kept
    if isinstance(value, list):
        return [_go_nils_dropped(v) for v in value]
    return value


_ALL_NIL = object()


def test_validator_accepts_the_create_bodies_render_accepted_in_the_recordings() -> None:
    """Control: real POST /services bodies that Render answered 201 pass the same validator."""
    checked: list[str] = []
    for cassette, interactions in load_cassettes():
        for interaction in interactions:
            request, response = interaction["request"], interaction["response"]
            if request["method"] != "POST" or not request["url"].endswith("/v1/services"):
                continue
            if response["code"] != 201:
                continue
            body: Any = json.loads(request["body"])
            if body["type"] == "static_site" or "image" in body:
                continue  # not something rcp creates
            # Go's encoder sends nil slices as null (and a nil filter as all-null fields),
            # which Render reads as absent; rcp never sends nulls. Compare like with like.
            body = _go_nils_dropped(body)
            runtime = body.get("serviceDetails", {}).get("runtime")
            if runtime in ("docker", "image"):
                continue  # the provider sends empty registry credentials there (read-side shape)
            errors = request_schema_errors(
                "/services", "POST", body, service_type=body["type"], runtime=runtime
            )
            assert errors == [], f"{cassette}: {errors}"
            checked.append(body["type"])
    # 5 native-runtime creates in the recordings at the time of writing
    assert len(checked) >= 4 and "web_service" in checked, checked


def test_isolation_create_bodies_match_their_operations() -> None:
    """A template's isolation block (issue 14): the per-tenant project's create (with its
    environment), an environment's create in an existing project, and every other create
    carrying ``environmentId`` — as the engine sends them."""
    from rcp.core.templates import Template, parse_template_text, render_template

    text = """\
isolation:
  project: {perTenant: true}
  environment:
    protectedStatus: protected
    networkIsolationEnabled: true
    ipAllowList: [{source: 203.0.113.0/24, description: office}]
services:
  - {type: web, name: web, runtime: docker, plan: starter, repo: https://github.com/a/b}
  - {type: keyvalue, name: cache, plan: starter, ipAllowList: []}
databases:
  - {name: db, plan: basic-256mb}
"""
    template = Template("iso", "<test>", text, parse_template_text(text, "iso"))
    rendered = render_template(template, slug="acme", name="Acme", plugin_repo=None)
    bodies = {spec.key: spec for spec in rendered.resources}
    project = {**bodies["project"].body, "ownerId": OWNER}
    assert request_schema_errors("/projects", "POST", project) == []
    environment = {**bodies["environment"].body, "projectId": "prj-d0000000000000000005"}
    assert request_schema_errors("/environments", "POST", environment) == []
    in_environment = {"environmentId": "evm-d0000000000000000006", "ownerId": OWNER}
    web = {**bodies["web"].body, **in_environment, "envVars": []}
    assert request_schema_errors("/services", "POST", web, service_type="web_service",
                                 runtime="docker") == []  # fmt: skip
    assert request_schema_errors("/postgres", "POST", {**bodies["db"].body, **in_environment}) == []
    assert (
        request_schema_errors("/key-value", "POST", {**bodies["cache"].body, **in_environment})
        == []
    )
    # Render requires an environment's allow-list entries to carry a description.
    assert environment["ipAllowList"] == [
        {"cidrBlock": "203.0.113.0/24", "description": "office"}
    ]
