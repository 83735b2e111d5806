"""Every sandbox answer of the implemented endpoints validates against Render's spec.

The spec is used with the few reality adjustments documented in
``sandbox_support.reality_adjusted_spec``; the last test proves those adjustments are needed for,
and sufficient for, Render's own recorded answers.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx
from sandbox_support import (
    IMPLEMENTED_OPERATIONS,
    OperationMatcher,
    ResponseValidator,
    Sandbox,
    interactions_of,
)


class Recorder:
    """Sends requests through the sandbox and remembers (method, template, status, body)."""

    def __init__(self, sandbox: Sandbox, matcher: OperationMatcher) -> None:
        self.sandbox = sandbox
        self.matcher = matcher
        self.seen: list[tuple[str, str, int, Any]] = []

    def call(self, method: str, path: str, *, expect: int, **kwargs: Any) -> Any:
        response: httpx.Response = self.sandbox.client.request(method, path, **kwargs)
        assert response.status_code == expect, (method, path, response.status_code, response.text)
        template = self.matcher.template(urlsplit(path).path)
        assert template is not None, path
        body = response.json() if response.content else None
        self.seen.append((method, template, response.status_code, body))
        return body


def exercise_every_endpoint(sandbox: Sandbox, recorder: Recorder) -> None:
    call = recorder.call
    owner = call("GET", "/owners", expect=200)[0]["owner"]
    call("GET", f"/owners/{owner['id']}", expect=200)
    call("GET", "/users", expect=200)

    bodies = {
        "web": sandbox.service_body("schema-web", envVars=[{"key": "A", "value": "1"}]),
        "image": sandbox.service_body(
            "schema-image",
            repo=None,
            image={"ownerId": owner["id"], "imagePath": "nginx"},
            serviceDetails={"runtime": "image", "disk": {"name": "d", "mountPath": "/data"}},
        ),
        "worker": sandbox.service_body("schema-worker", type="background_worker"),
        "private": sandbox.service_body("schema-private", type="private_service"),
        "cron": sandbox.service_body(
            "schema-cron",
            type="cron_job",
            serviceDetails={
                "runtime": "python",
                "schedule": "0 * * * *",
                "envSpecificDetails": {"buildCommand": "pip install .", "startCommand": "job"},
            },
        ),
        "static": {
            "type": "static_site",
            "name": "schema-static",
            "ownerId": owner["id"],
            "repo": "https://github.com/render-examples/sveltekit-static",
            "serviceDetails": {"buildCommand": "npm run build", "publishPath": "build"},
        },
    }
    services = {
        key: call("POST", "/services", expect=201, json=body)["service"]
        for key, body in bodies.items()
    }
    web = services["web"]["id"]
    call("GET", "/services", expect=200, params={"limit": 2})
    call("GET", "/services", expect=200, params={"type": "web_service,cron_job"})
    for service in services.values():
        call("GET", f"/services/{service['id']}", expect=200)
    call(
        "PATCH",
        f"/services/{web}",
        expect=200,
        json={
            "name": "schema-web-2",
            "serviceDetails": {"plan": "standard", "preDeployCommand": "migrate"},
        },
    )
    call("POST", f"/services/{web}/suspend", expect=202)
    call("POST", f"/services/{web}/resume", expect=202)
    autoscaling = {
        "enabled": True,
        "min": 1,
        "max": 3,
        "criteria": {
            "cpu": {"enabled": True, "percentage": 60},
            "memory": {"enabled": False, "percentage": 70},
        },
    }
    call("PUT", f"/services/{web}/autoscaling", expect=200, json=autoscaling)
    call("GET", f"/services/{web}", expect=200)
    call("DELETE", f"/services/{web}/autoscaling", expect=204)
    call("POST", f"/services/{web}/scale", expect=202, json={"numInstances": 2})
    disk = call(
        "POST",
        "/disks",
        expect=201,
        json={"serviceId": web, "name": "data", "mountPath": "/data", "sizeGB": 1},
    )
    call("GET", f"/disks/{disk['id']}", expect=200)
    call("PATCH", f"/disks/{disk['id']}", expect=200, json={"sizeGB": 2})
    call("DELETE", f"/disks/{disk['id']}", expect=204)
    overrides = f"/notification-settings/overrides/services/{web}"
    call("PATCH", overrides, expect=200, json={"notificationsToSend": "failure"})
    call("GET", overrides, expect=200)

    call("GET", f"/services/{web}/env-vars", expect=200)
    call(
        "PUT",
        f"/services/{web}/env-vars",
        expect=200,
        json=[{"key": "A", "value": "2"}, {"key": "S", "generateValue": True}],
    )
    call("GET", f"/services/{web}/env-vars/A", expect=200)
    call("PUT", f"/services/{web}/env-vars/B", expect=200, json={"value": "3"})
    call("DELETE", f"/services/{web}/env-vars/B", expect=204)
    call("PUT", f"/services/{web}/secret-files", expect=200, json=[{"name": "f", "content": "c"}])
    call("GET", f"/services/{web}/secret-files", expect=200)
    call("GET", f"/services/{web}/secret-files/f", expect=200)
    call("PUT", f"/services/{web}/secret-files/g", expect=201, json={"content": "x"})
    call("DELETE", f"/services/{web}/secret-files/g", expect=204)

    deploy = call("POST", f"/services/{web}/deploys", expect=201, json={})
    call("POST", f"/services/{services['private']['id']}/deploys", expect=202, json={})
    call("GET", f"/services/{web}/deploys", expect=200)
    call("GET", f"/services/{web}/deploys/{deploy['id']}", expect=200)
    sandbox.clock.advance(10)  # finished deploys (live, deactivated) have their own shape
    call("GET", f"/services/{web}/deploys", expect=200)
    call("GET", f"/services/{services['image']['id']}/deploys", expect=200)
    call("POST", f"/services/{web}/rollback", expect=201, json={"deployId": deploy["id"]})

    postgres = call(
        "POST",
        "/postgres",
        expect=201,
        json={
            "name": "schema-db",
            "ownerId": owner["id"],
            "plan": "pro_4gb",
            "version": "16",
            "ipAllowList": [{"cidrBlock": "10.0.0.0/8", "description": "office"}],
            "readReplicas": [{"name": "replica"}],
        },
    )
    call(
        "POST",
        "/postgres",
        expect=201,
        json={
            "name": "schema-db-2",
            "ownerId": owner["id"],
            "plan": "basic_256mb",
            "version": "15",
        },
    )
    call("GET", "/postgres", expect=200)
    call("GET", f"/postgres/{postgres['id']}", expect=200)
    call(
        "PATCH",
        f"/postgres/{postgres['id']}",
        expect=200,
        json={"plan": "pro_8gb", "parameterOverrides": {"work_mem": "4MB"}},
    )
    call("GET", f"/postgres/{postgres['id']}/connection-info", expect=200)
    call("POST", f"/postgres/{postgres['id']}/suspend", expect=202)
    call("GET", f"/postgres/{postgres['id']}", expect=200)
    call("POST", f"/postgres/{postgres['id']}/resume", expect=202)

    key_value = call(
        "POST",
        "/key-value",
        expect=201,
        json={"name": "schema-kv", "ownerId": owner["id"], "plan": "starter"},
    )
    call("GET", "/key-value", expect=200)
    call("GET", f"/key-value/{key_value['id']}", expect=200)
    call(
        "PATCH", f"/key-value/{key_value['id']}", expect=200, json={"maxmemoryPolicy": "noeviction"}
    )
    call("GET", f"/key-value/{key_value['id']}/connection-info", expect=200)
    call("POST", f"/key-value/{key_value['id']}/suspend", expect=202)
    call("POST", f"/key-value/{key_value['id']}/resume", expect=202)

    exercise_isolation(sandbox, call, owner["id"], key_value["id"])
    sandbox.clock.advance(60)  # the deploys and datastores above have run: their lines exist
    call(
        "GET",
        "/logs",
        expect=200,
        params={"ownerId": owner["id"], "resource": f"{web},{postgres['id']}", "limit": 5},
    )

    call("DELETE", f"/key-value/{key_value['id']}", expect=204)
    call("DELETE", f"/postgres/{postgres['id']}", expect=204)
    for service in services.values():
        call("DELETE", f"/services/{service['id']}", expect=204)


def exercise_isolation(sandbox: Sandbox, call: Any, owner_id: str, key_value_id: str) -> None:
    """Projects, environments and env groups (issue 14)."""
    project = call(
        "POST",
        "/projects",
        expect=201,
        json={"name": "schema-project", "ownerId": owner_id, "environments": [{"name": "prod"}]},
    )
    call("GET", "/projects", expect=200)
    call("GET", f"/projects/{project['id']}", expect=200)
    call("PATCH", f"/projects/{project['id']}", expect=200, json={"name": "renamed"})
    environment = call(
        "POST",
        "/environments",
        expect=201,
        json={
            "name": "staging",
            "projectId": project["id"],
            "ipAllowList": [{"cidrBlock": "10.0.0.0/8", "description": "office"}],
        },
    )
    call("GET", "/environments", expect=200, params={"projectId": project["id"]})
    call("GET", f"/environments/{environment['id']}", expect=200)
    call(
        "PATCH",
        f"/environments/{environment['id']}",
        expect=200,
        json={"protectedStatus": "protected"},
    )
    # 201 as recorded (the spec says 200).
    call(
        "POST",
        f"/environments/{environment['id']}/resources",
        expect=201,
        json={"resourceIds": [key_value_id]},
    )
    call(
        "DELETE",
        f"/environments/{environment['id']}/resources",
        expect=204,
        params={"resourceIds": key_value_id},
    )
    call("DELETE", f"/environments/{environment['id']}", expect=204)
    service = sandbox.create_service("schema-linked")
    group = call(
        "POST",
        "/env-groups",
        expect=201,
        json={
            "name": "schema-group",
            "ownerId": owner_id,
            "envVars": [{"key": "A", "value": "1"}],
            "secretFiles": [{"name": "f", "content": "c"}],
        },
    )
    call("GET", "/env-groups", expect=200)
    call("GET", f"/env-groups/{group['id']}", expect=200)
    call("PATCH", f"/env-groups/{group['id']}", expect=200, json={"name": "schema-group-2"})
    call("POST", f"/env-groups/{group['id']}/services/{service['service']['id']}", expect=200)
    call("DELETE", f"/env-groups/{group['id']}/services/{service['service']['id']}", expect=204)
    call("PUT", f"/env-groups/{group['id']}/env-vars/B", expect=200, json={"value": "2"})
    call("GET", f"/env-groups/{group['id']}/env-vars/B", expect=200)
    call("DELETE", f"/env-groups/{group['id']}/env-vars/B", expect=204)
    call("PUT", f"/env-groups/{group['id']}/secret-files/g", expect=200, json={"content": "x"})
    call("GET", f"/env-groups/{group['id']}/secret-files/g", expect=200)
    call("DELETE", f"/env-groups/{group['id']}/secret-files/g", expect=204)
    call("DELETE", f"/env-groups/{group['id']}", expect=204)
    call("DELETE", f"/services/{service['service']['id']}", expect=204)
    call("DELETE", f"/projects/{project['id']}", expect=204)


def test_every_implemented_endpoint_answers_per_spec(
    sandbox: Sandbox, operation_matcher: OperationMatcher, response_validator: ResponseValidator
) -> None:
    recorder = Recorder(sandbox, operation_matcher)
    exercise_every_endpoint(sandbox, recorder)
    exercised = {(method, template) for method, template, _, _ in recorder.seen}
    assert exercised == set(IMPLEMENTED_OPERATIONS)
    validated = 0
    for method, template, status, body in recorder.seen:
        if body is None:
            # Only the spec's empty answers (204, 202) may come without a body.
            assert response_validator.schema_pointer(method, template, status) is None
            continue
        response_validator.validate(method, template, status, body)
        validated += 1
    assert validated >= 40


def test_service_details_match_their_type_schema(
    sandbox: Sandbox, operation_matcher: OperationMatcher, spec: dict[str, Any]
) -> None:
    """With ``anyOf``, a web service's details would pass as a worker's; check the exact type."""
    from openapi_schema_validator import OAS30Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    recorder = Recorder(sandbox, operation_matcher)
    exercise_every_endpoint(sandbox, recorder)
    registry = Registry().with_resource(
        "urn:render-spec", Resource.from_contents(spec, default_specification=DRAFT4)
    )
    schema_of_type = {
        "web_service": "webServiceDetails",
        "private_service": "privateServiceDetails",
        "background_worker": "backgroundWorkerDetails",
        "cron_job": "cronJobDetails",
        "static_site": "staticSiteDetails",
    }
    checked = set()
    for method, template, _, body in recorder.seen:
        if (method, template) != ("POST", "/services"):
            continue
        service = body["service"]
        schema = {"$ref": f"urn:render-spec#/components/schemas/{schema_of_type[service['type']]}"}
        validator = OAS30Validator(schema, registry=registry)
        errors = [error.message for error in validator.iter_errors(service["serviceDetails"])]
        assert not errors, (service["type"], errors)
        checked.add(service["type"])
    assert checked == set(schema_of_type)


def test_error_bodies_match_the_error_schema(sandbox: Sandbox, spec: dict[str, Any]) -> None:
    from openapi_schema_validator import OAS30Validator

    error_schema = spec["components"]["schemas"]["error"]
    answers = [
        sandbox.client.get("/services/srv-doesnotexist"),
        sandbox.client.post("/services", json={"type": "web_service"}),
        sandbox.client.get("/services", params={"limit": 0}),
    ]
    for answer in answers:
        assert answer.status_code in (400, 404)
        body = answer.json()
        OAS30Validator(error_schema).validate(body)
        assert isinstance(body["message"], str) and body["message"]


def test_recorded_responses_validate_against_adjusted_spec(
    raw_spec: dict[str, Any],
    spec: dict[str, Any],
    operation_matcher: OperationMatcher,
    response_validator: ResponseValidator,
    recordings_dir: Any,
) -> None:
    """Render's real answers pass the adjusted spec; several fail the spec as published
    (which is why each adjustment exists)."""
    raw_validator = ResponseValidator(raw_spec)
    validated = failing_raw = 0
    for cassette in sorted(recordings_dir.rglob("*_cassette.yaml")):
        for interaction in interactions_of(cassette):
            request, response = interaction["request"], interaction["response"]
            template = operation_matcher.template(urlsplit(request["url"]).path.removeprefix("/v1"))
            if (request["method"], template) not in IMPLEMENTED_OPERATIONS:
                continue
            if not response["body"].strip() or response["code"] >= 300:
                continue
            body = json.loads(response["body"])
            assert template is not None
            errors = [
                error
                for error in response_validator.errors(
                    request["method"], template, response["code"], body
                )
                # Recorded in 2024, before Render added this (now required) field.
                if "'diskAutoscalingEnabled' is a required property" not in error
            ]
            assert not errors, (cassette.name, interaction["id"], errors[:3])
            validated += 1
            if str(response["code"]) not in raw_spec["paths"][template][request["method"].lower()][
                "responses"
            ] or raw_validator.errors(request["method"], template, response["code"], body):
                failing_raw += 1
    assert validated >= 1000
    assert failing_raw > 0
