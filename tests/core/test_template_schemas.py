"""Rendered bodies are valid Render create requests (OpenAPI spec), and the templates rcp ships
or documents are valid Render Blueprints (Blueprint JSON schema)."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.validators import extend
from openapi_schema_validator import OAS30Validator

from rcp.core.models import RenderedTemplate, ResourceSpec
from rcp.core.templates import Template, builtin_default, render_template

# Render's spec is ambiguous: `serviceDetails` is a oneOf whose static-site branch accepts any
# object, and `envSpecificDetails` a oneOf whose docker branch does too, so a strict oneOf
# passes or fails by accident. Validate the oneOf as anyOf, then check the branch that applies
# to the resource type explicitly, including that no property is unknown to it.
LenientOneOfValidator = extend(
    OAS30Validator, validators={"oneOf": OAS30Validator.VALIDATORS["anyOf"]}
)

SERVICE_DETAILS_SCHEMA = {
    "web_service": "webServiceDetailsPOST",
    "private_service": "privateServiceDetailsPOST",
    "background_worker": "backgroundWorkerDetailsPOST",
    "cron_job": "cronJobDetailsPOST",
}
DATASTORE_SCHEMA = {"postgres": "postgresPOSTInput", "key_value": "keyValuePOSTInput"}


def assert_matches(spec: dict[str, Any], schema_name: str, instance: dict[str, Any]) -> None:
    validator = LenientOneOfValidator(
        {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    )
    errors = [
        f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(instance)
    ]
    assert errors == [], f"{schema_name}: {errors}"
    declared = set(spec["components"]["schemas"][schema_name]["properties"])
    assert set(instance) <= declared, f"{schema_name}: unknown {sorted(set(instance) - declared)}"


def env_vars_as_sent(resource: ResourceSpec) -> list[dict[str, Any]]:
    """The envVars the engine adds: references are resolved to plain values by then."""
    sent: list[dict[str, Any]] = []
    for env in resource.env:
        if env.generate:
            sent.append({"key": env.key, "generateValue": True})
        else:
            sent.append({"key": env.key, "value": env.value or "resolved-at-provisioning"})
    return sent


def assert_valid_create_requests(spec: dict[str, Any], rendered: RenderedTemplate) -> None:
    for resource in rendered.resources:
        if resource.render_type in DATASTORE_SCHEMA:
            assert_matches(
                spec,
                DATASTORE_SCHEMA[resource.render_type],
                {**resource.body, "ownerId": "tea-0123456789abcdefghij"},
            )
            continue
        request = {
            **resource.body,
            "ownerId": "tea-0123456789abcdefghij",
            "envVars": env_vars_as_sent(resource),
        }
        assert_matches(spec, "servicePOST", request)
        details = resource.body["serviceDetails"]
        assert_matches(spec, SERVICE_DETAILS_SCHEMA[resource.render_type], details)
        build = details.get("envSpecificDetails")
        if build is None:
            continue
        cron = resource.render_type == "cron_job"
        if "buildCommand" in build:
            build_schema = "nativeEnvironmentDetails" if cron else "nativeEnvironmentDetailsPOST"
        else:
            build_schema = "dockerDetails" if cron else "dockerDetailsPOST"
        assert_matches(spec, build_schema, build)


def test_default_template_renders_valid_create_requests(openapi_spec: dict[str, Any]) -> None:
    rendered = render_template(
        builtin_default(), slug="acme-corp", name="Acme Corporation", plugin_repo=None
    )
    assert [r.render_type for r in rendered.resources] == ["postgres", "web_service"]
    assert_valid_create_requests(openapi_spec, rendered)


def test_rich_template_renders_valid_create_requests(
    openapi_spec: dict[str, Any], rich_template: Template
) -> None:
    rendered = render_template(
        rich_template, slug="acme", name="Acme", plugin_repo="https://github.com/acme/plugin"
    )
    assert {r.render_type for r in rendered.resources} == {
        "postgres",
        "key_value",
        "web_service",
        "private_service",
        "background_worker",
        "cron_job",
    }
    assert_valid_create_requests(openapi_spec, rendered)


def test_docker_cron_job_renders_a_valid_create_request(
    openapi_spec: dict[str, Any], template_from: Any
) -> None:
    template = template_from(
        """
        services:
          - type: cron
            name: report
            runtime: docker
            repo: https://github.com/example/report
            dockerCommand: ./report
            dockerContext: .
            dockerfilePath: ./Dockerfile
            schedule: "*/15 * * * *"
        """
    )
    assert_valid_create_requests(
        openapi_spec, render_template(template, slug="acme", name="Acme", plugin_repo=None)
    )


def test_the_lenient_check_still_catches_a_bad_body(openapi_spec: dict[str, Any]) -> None:
    rendered = render_template(builtin_default(), slug="acme", name="Acme", plugin_repo=None)
    web = rendered.resource("web")
    web.body["serviceDetails"]["plan"] = "basic_256mb"
    with pytest.raises(AssertionError, match="is not one of"):
        assert_valid_create_requests(openapi_spec, rendered)
    web.body["serviceDetails"]["plan"] = "starter"
    web.body["serviceDetails"]["schedule"] = "0 3 * * *"
    with pytest.raises(AssertionError, match="unknown"):
        assert_valid_create_requests(openapi_spec, rendered)


@pytest.mark.parametrize("template_name", ["default", "rich"])
def test_shipped_templates_are_valid_blueprints(
    blueprint_schema: dict[str, Any], rich_template: Template, template_name: str
) -> None:
    template = builtin_default() if template_name == "default" else rich_template
    errors = [
        error.message for error in Draft202012Validator(blueprint_schema).iter_errors(template.data)
    ]
    assert errors == []
