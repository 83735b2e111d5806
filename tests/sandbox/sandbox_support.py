"""Helpers for the sandbox tests (a module with a unique name, so test modules can import it;
the fixtures built on it are in conftest.py)."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from rcp.sandbox import SandboxSettings, SandboxTransport

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SPEC_PATH = SHARED / "render-api" / "render-openapi.json"
RECORDINGS = SHARED / "render-api" / "recordings"
BASE_URL = "http://sandbox.rcp/v1"
START = 1_780_000_000.0  # an arbitrary fixed instant, so tests never depend on the wall clock


class FakeClock:
    """Injected as the sandbox's clock and sleep: sleeping advances time instantly."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class Sandbox:
    state_path: Path
    clock: FakeClock
    transport: SandboxTransport
    client: httpx.Client
    settings: SandboxSettings
    _owner_id: str | None = field(default=None)

    @property
    def owner_id(self) -> str:
        if self._owner_id is None:
            self._owner_id = self.client.get("/owners").json()[0]["owner"]["id"]
        return self._owner_id

    def service_body(self, name: str, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "web_service",
            "name": name,
            "ownerId": self.owner_id,
            "repo": "https://github.com/render-examples/express-hello-world",
            "serviceDetails": {
                "runtime": "node",
                "plan": "starter",
                "region": "oregon",
                "envSpecificDetails": {"buildCommand": "npm install", "startCommand": "npm start"},
            },
        }
        body.update(overrides)
        return body

    def create_service(self, name: str, **overrides: Any) -> dict[str, Any]:
        response = self.client.post("/services", json=self.service_body(name, **overrides))
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def create_postgres(self, name: str, **overrides: Any) -> dict[str, Any]:
        body = {"name": name, "ownerId": self.owner_id, "plan": "basic_256mb", "version": "16"}
        body.update(overrides)
        response = self.client.post("/postgres", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def create_key_value(self, name: str, **overrides: Any) -> dict[str, Any]:
        body = {"name": name, "ownerId": self.owner_id, "plan": "starter"}
        body.update(overrides)
        response = self.client.post("/key-value", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def state(self) -> dict[str, Any]:
        dumped: dict[str, Any] = self.client.get("/__sandbox/state").json()
        return dumped


MakeSandbox = Callable[..., Sandbox]


# --- the spec -------------------------------------------------------------------------------


def require_shared(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"../shared not present: {path}")


def _nullable(schema: dict[str, Any]) -> None:
    schema["nullable"] = True


def reality_adjusted_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with the few places where Render's real answers (the recordings) differ.

    Each change is needed for Render's own recorded responses to validate
    (test_recorded_responses_validate_against_adjusted_spec proves it), and the sandbox
    reproduces those real answers:
    - ``oneOf`` → ``anyOf``: the alternatives overlap (a web service's ``serviceDetails``
      also satisfies the private-service and worker schemas), so strict ``oneOf`` rejects
      every real service.
    - Postgres / Key Value ``ipAllowList`` is ``null`` when empty.
    - a deploy's ``commit`` and ``finishedAt`` are explicit ``null``s while not applicable.
    - ``postgresDetail`` never carries the ``project`` the spec lists as required.
    - an environment's ``serviceIds``/``databasesIds``/``redisIds``/``envGroupIds`` are
      ``null`` when empty; ``networkIsolationEnabled`` is missing from the January 2025
      recordings (added to Render later); ``POST /environments/{id}/resources`` answers 201
      with the environment (the spec says 200).
    """
    adjusted = copy.deepcopy(spec)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "oneOf" in node:
                node["anyOf"] = node.pop("oneOf")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(adjusted)
    schemas = adjusted["components"]["schemas"]
    for name in ("postgres", "postgresDetail", "keyValue", "keyValueDetail"):
        _nullable(schemas[name]["properties"]["ipAllowList"])
    _nullable(schemas["deploy"]["properties"]["commit"])
    _nullable(schemas["deploy"]["properties"]["finishedAt"])
    schemas["postgresDetail"]["required"].remove("project")
    for name in ("serviceIds", "databasesIds", "redisIds", "envGroupIds"):
        _nullable(schemas["environment"]["properties"][name])
    schemas["environment"]["required"].remove("networkIsolationEnabled")
    resources = adjusted["paths"]["/environments/{environmentId}/resources"]["post"]
    resources["responses"]["201"] = resources["responses"]["200"]
    return adjusted


class ResponseValidator:
    """Validates a body against the spec's response schema of one operation."""

    def __init__(self, spec: dict[str, Any]) -> None:
        from openapi_schema_validator import OAS30Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        self.spec = spec
        self._validators: dict[str, Any] = {}
        self._validator_class = OAS30Validator
        self._registry = Registry().with_resource(
            "urn:render-spec", Resource.from_contents(spec, default_specification=DRAFT4)
        )

    def schema_pointer(self, method: str, path_template: str, status: int) -> str | None:
        operation = self.spec["paths"][path_template][method.lower()]
        response = operation["responses"][str(status)]
        if "$ref" in response:
            if status >= 400:
                return None  # shared error responses: the generic error schema
            # A shared success response (``GET /logs``: Logs200Response): its own schema.
            name = response["$ref"].rsplit("/", 1)[-1]
            if "content" not in self.spec["components"]["responses"][name]:
                return None
            return (
                f"urn:render-spec#/components/responses/{name}/content/application~1json/schema"
            )
        if "content" not in response:
            return None
        escaped = path_template.replace("~", "~0").replace("/", "~1")
        return (
            f"urn:render-spec#/paths/{escaped}/{method.lower()}/responses/{status}"
            "/content/application~1json/schema"
        )

    def errors(self, method: str, path_template: str, status: int, body: Any) -> list[str]:
        pointer = self.schema_pointer(method, path_template, status)
        assert pointer is not None, f"{method} {path_template} {status} has no body schema"
        validator = self._validators.get(pointer)
        if validator is None:
            validator = self._validator_class({"$ref": pointer}, registry=self._registry)
            self._validators[pointer] = validator
        found = sorted(validator.iter_errors(body), key=lambda error: list(error.path))
        return [f"{list(error.path)}: {error.message}" for error in found]

    def validate(self, method: str, path_template: str, status: int, body: Any) -> None:
        errors = self.errors(method, path_template, status, body)
        assert not errors, "\n".join(errors[:5])


IMPLEMENTED_OPERATIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/owners"),
        ("GET", "/owners/{ownerId}"),
        ("GET", "/users"),
        ("GET", "/services"),
        ("POST", "/services"),
        ("GET", "/services/{serviceId}"),
        ("PATCH", "/services/{serviceId}"),
        ("DELETE", "/services/{serviceId}"),
        ("POST", "/services/{serviceId}/suspend"),
        ("POST", "/services/{serviceId}/resume"),
        ("PUT", "/services/{serviceId}/autoscaling"),
        ("DELETE", "/services/{serviceId}/autoscaling"),
        ("POST", "/services/{serviceId}/scale"),
        ("POST", "/services/{serviceId}/rollback"),
        ("POST", "/disks"),
        ("GET", "/disks/{diskId}"),
        ("PATCH", "/disks/{diskId}"),
        ("DELETE", "/disks/{diskId}"),
        ("GET", "/notification-settings/overrides/services/{serviceId}"),
        ("PATCH", "/notification-settings/overrides/services/{serviceId}"),
        ("GET", "/services/{serviceId}/env-vars"),
        ("PUT", "/services/{serviceId}/env-vars"),
        ("GET", "/services/{serviceId}/env-vars/{envVarKey}"),
        ("PUT", "/services/{serviceId}/env-vars/{envVarKey}"),
        ("DELETE", "/services/{serviceId}/env-vars/{envVarKey}"),
        ("GET", "/services/{serviceId}/secret-files"),
        ("PUT", "/services/{serviceId}/secret-files"),
        ("GET", "/services/{serviceId}/secret-files/{secretFileName}"),
        ("PUT", "/services/{serviceId}/secret-files/{secretFileName}"),
        ("DELETE", "/services/{serviceId}/secret-files/{secretFileName}"),
        ("GET", "/services/{serviceId}/deploys"),
        ("POST", "/services/{serviceId}/deploys"),
        ("GET", "/services/{serviceId}/deploys/{deployId}"),
        ("GET", "/postgres"),
        ("POST", "/postgres"),
        ("GET", "/postgres/{postgresId}"),
        ("PATCH", "/postgres/{postgresId}"),
        ("DELETE", "/postgres/{postgresId}"),
        ("GET", "/postgres/{postgresId}/connection-info"),
        ("POST", "/postgres/{postgresId}/suspend"),
        ("POST", "/postgres/{postgresId}/resume"),
        ("GET", "/key-value"),
        ("POST", "/key-value"),
        ("GET", "/key-value/{keyValueId}"),
        ("PATCH", "/key-value/{keyValueId}"),
        ("DELETE", "/key-value/{keyValueId}"),
        ("GET", "/key-value/{keyValueId}/connection-info"),
        ("POST", "/key-value/{keyValueId}/suspend"),
        ("POST", "/key-value/{keyValueId}/resume"),
        ("GET", "/projects"),
        ("POST", "/projects"),
        ("GET", "/projects/{projectId}"),
        ("PATCH", "/projects/{projectId}"),
        ("DELETE", "/projects/{projectId}"),
        ("GET", "/environments"),
        ("POST", "/environments"),
        ("GET", "/environments/{environmentId}"),
        ("PATCH", "/environments/{environmentId}"),
        ("DELETE", "/environments/{environmentId}"),
        ("POST", "/environments/{environmentId}/resources"),
        ("DELETE", "/environments/{environmentId}/resources"),
        ("GET", "/env-groups"),
        ("POST", "/env-groups"),
        ("GET", "/env-groups/{envGroupId}"),
        ("PATCH", "/env-groups/{envGroupId}"),
        ("DELETE", "/env-groups/{envGroupId}"),
        ("POST", "/env-groups/{envGroupId}/services/{serviceId}"),
        ("DELETE", "/env-groups/{envGroupId}/services/{serviceId}"),
        ("GET", "/env-groups/{envGroupId}/env-vars/{envVarKey}"),
        ("PUT", "/env-groups/{envGroupId}/env-vars/{envVarKey}"),
        ("DELETE", "/env-groups/{envGroupId}/env-vars/{envVarKey}"),
        ("GET", "/env-groups/{envGroupId}/secret-files/{secretFileName}"),
        ("PUT", "/env-groups/{envGroupId}/secret-files/{secretFileName}"),
        ("DELETE", "/env-groups/{envGroupId}/secret-files/{secretFileName}"),
        ("GET", "/logs"),
    }
)


class OperationMatcher:
    """Maps a concrete API path (``/services/srv-…/env-vars``) to the spec's path template."""

    def __init__(self, spec: dict[str, Any]) -> None:
        import re

        self._patterns = []
        for template in spec["paths"]:
            regex = re.sub(
                r"\{[^}]+\}", "[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
            )
            # Literal segments win over parameters (/services/{id}/env-vars vs /services/{id}/{x}).
            literal_weight = -template.count("{")
            self._patterns.append((literal_weight, re.compile(f"^{regex}$"), template))
        self._patterns.sort(key=lambda item: item[0], reverse=True)

    def template(self, path: str) -> str | None:
        for _, pattern, template in self._patterns:
            if pattern.match(path):
                return str(template)
        return None


@functools.cache
def interactions_of(cassette: Path) -> list[dict[str, Any]]:
    """A cassette's recorded interactions, parsed once per session (with the C loader: the
    pure-Python YAML parser would dominate these tests' time)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(cassette.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - safe loader
    interactions: list[dict[str, Any]] = data["interactions"]
    return interactions
