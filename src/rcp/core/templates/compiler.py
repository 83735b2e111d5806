"""Check a parsed template and turn it into Render create requests for one tenant.

One pass does both: every field is checked while its API form is built, and every problem is
collected with its path (``services[0].plan: …``) so ``rcp template validate`` can list them all.
The caller raises when the list is not empty, so a half-built body never escapes.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rcp.core import slugs
from rcp.core.models import EnvVarSpec, ResourceSpec
from rcp.core.templates import vocabulary as vocab
from rcp.errors import UsageError

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
# Conventional environment variable names; Render rejects names with spaces or "=".
_ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# An unquoted Postgres identifier (63 bytes at most).
_POSTGRES_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_CRON_FIELD = re.compile(r"[0-9A-Za-z*/,?#-]+")

_ADVICE: dict[str, str] = {
    "sync": "set per-tenant secrets with 'rcp tenant env set'",
    "projects": "put a tenant's resources in a Render environment with the isolation block",
}

# Creation order before references are applied: environment groups first (created and filled
# at once, so the services that link them see their variables), then datastores (they take
# longest), then services.
_GROUP_ENV_GROUP, _GROUP_DATABASE, _GROUP_KEY_VALUE, _GROUP_SERVICE = 0, 1, 2, 3


@dataclass(frozen=True)
class TenantValues:
    """What the ``{{ tenant.* }}`` placeholders stand for."""

    slug: str
    name: str
    plugin_repo: str | None


# Used to validate and preview a template without a tenant. The slug has a hyphen so that a
# field that cannot hold one (a Postgres databaseName from {{ tenant.slug }}) fails validation.
SAMPLE_TENANT = TenantValues(
    slug="sample-tenant", name="Sample Tenant", plugin_repo="https://github.com/example/plugin"
)


@dataclass
class _Declared:
    """A resource as the first pass saw it, so references can be checked in any order."""

    key: str
    path: str
    blueprint_type: str  # web | pserv | worker | cron | keyvalue | database | group
    rank: tuple[int, int]
    env_keys: set[str] = field(default_factory=set)


@dataclass
class CompileResult:
    resources: list[ResourceSpec]  # creation order
    problems: list[str]
    warnings: list[str]
    # Paths that use {{ tenant.plugin_repo }} when the tenant has none.
    plugin_repo_paths: list[str]
    # Resource key → where the resource is in the template (``services[1]``), for messages.
    paths: dict[str, str] = field(default_factory=dict)
    # The isolation block as the engine needs it (``RenderedTemplate.isolation``), else None.
    isolation: dict[str, Any] | None = None


def compile_template(data: Mapping[str, Any], tenant: TenantValues) -> CompileResult:
    compiler = _Compiler(data, tenant)
    resources = compiler.run()
    return CompileResult(
        resources,
        compiler.problems,
        compiler.warnings,
        compiler.plugin_repo_paths,
        {key: declared.path for key, declared in compiler.declared.items()},
        compiler.isolation,
    )


def _with_body(target: dict[str, Any], **values: Any) -> dict[str, Any]:
    """Add the values that are set (absent optional fields stay absent in the request)."""
    for name, value in values.items():
        if value is not None:
            target[name] = value
    return target


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe_type(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class _Compiler:
    def __init__(self, data: Mapping[str, Any], tenant: TenantValues) -> None:
        self.data = data
        self.tenant = tenant
        self.problems: list[str] = []
        # Not problems: things an operator should know before creating tenants from the template.
        self.warnings: list[str] = []
        self.plugin_repo_paths: list[str] = []
        self.declared: dict[str, _Declared] = {}
        self.key_by_path: dict[str, str] = {}
        self.isolation: dict[str, Any] | None = None

    # ----- driver --------------------------------------------------------------------------

    def run(self) -> list[ResourceSpec]:
        self._check_top_level()
        services = self._top_level_list("services")
        databases = self._top_level_list("databases")
        groups = self._top_level_list("envVarGroups")
        self._scan_placeholders(self.data, "")
        self._declare_groups(groups)
        self._declare(services, databases)
        specs: list[ResourceSpec] = []
        for index, item in enumerate(groups):
            spec = self._env_group(f"envVarGroups[{index}]", item)
            if spec is not None:
                specs.append(spec)
        for index, item in enumerate(services):
            spec = self._service(f"services[{index}]", item)
            if spec is not None:
                specs.append(spec)
        for index, item in enumerate(databases):
            spec = self._database(f"databases[{index}]", item)
            if spec is not None:
                specs.append(spec)
        if not services and not databases and not self.problems:
            self._problem("", "the template defines no resources: add services or databases")
        # The project and environment come first: every other create names the environment.
        return self._isolation_specs() + self._creation_order(specs)

    def _problem(self, path: str, text: str) -> None:
        self.problems.append(f"{path}: {text}" if path else text)

    # ----- top level and declarations ------------------------------------------------------

    def _check_top_level(self) -> None:
        self._check_fields(
            "",
            self.data,
            vocab.TOP_LEVEL_FIELDS,
            blueprint_only=vocab.TOP_LEVEL_BLUEPRINT_ONLY,
        )
        if "version" in self.data:
            self._check_version_label(self.data["version"])

    def _check_version_label(self, value: Any) -> None:
        """``version:`` labels a revision of the template (docs/templates.md): text or a whole
        number, at most 64 printable characters. Blueprint's own ``version: "1"`` is one."""
        if isinstance(value, bool) or not isinstance(value, int | str):
            self._problem(
                "version",
                f"must be a text label such as \"2024-12-03\" or \"v7\" (got {_describe_type(value)};"
                " quote it)",
            )
            return
        text = str(value).strip()
        if not text or len(text) > 64 or not text.isprintable():
            self._problem("version", "must be 1-64 printable characters")
        elif "{{" in text:
            self._problem("version", "is the same for every tenant: it cannot use placeholders")

    def _top_level_list(self, name: str) -> list[Any]:
        value = self.data.get(name)
        if value is None:  # absent, or `databases:` with nothing under it
            return []
        if not isinstance(value, list):
            self._problem(name, f"must be a list (got {_describe_type(value)})")
            return []
        return value

    def _scan_placeholders(self, node: Any, path: str) -> None:
        """Report every ``{{ … }}`` that is not one of the known placeholders, wherever it is."""
        if isinstance(node, str):
            for match in _PLACEHOLDER.finditer(node):
                if match.group(1).strip() not in vocab.PLACEHOLDERS:
                    known = ", ".join(vocab.PLACEHOLDERS)
                    self._problem(path, f"unknown placeholder {match.group(0)!r} (known: {known})")
        elif isinstance(node, dict):
            for name, value in node.items():
                self._scan_placeholders(value, f"{path}.{name}" if path else str(name))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                self._scan_placeholders(value, f"{path}[{index}]")

    def _declare(self, services: list[Any], databases: list[Any]) -> None:
        for index, item in enumerate(services):
            path = f"services[{index}]"
            if not isinstance(item, dict):
                self._problem(
                    path, f"must be a mapping with type and name (got {_describe_type(item)})"
                )
                continue
            kind = item.get("type")
            if kind in vocab.KEY_VALUE_BLUEPRINT_TYPES:
                self._register(path, item, "keyvalue", (_GROUP_KEY_VALUE, index))
            elif isinstance(kind, str) and kind in vocab.SERVICE_RENDER_TYPES:
                self._register(path, item, str(kind), (_GROUP_SERVICE, index))
            else:
                # The type problem is reported with the service; still check the key.
                self._key(path, item)
        for index, item in enumerate(databases):
            path = f"databases[{index}]"
            if not isinstance(item, dict):
                self._problem(path, f"must be a mapping with a name (got {_describe_type(item)})")
                continue
            self._register(path, item, "database", (_GROUP_DATABASE, index))

    def _declare_groups(self, groups: list[Any]) -> None:
        for index, item in enumerate(groups):
            path = f"envVarGroups[{index}]"
            if not isinstance(item, dict):
                self._problem(
                    path, f"must be a mapping with name and envVars (got {_describe_type(item)})"
                )
                continue
            key = self._key(path, item, "required: the group's name, which fromGroup refers to")
            if key is None:
                continue
            self.declared[key] = _Declared(key, path, "group", (_GROUP_ENV_GROUP, index))
            self.key_by_path[path] = key

    def _register(
        self, path: str, item: dict[str, Any], blueprint_type: str, rank: tuple[int, int]
    ) -> None:
        key = self._key(path, item)
        if key is None:
            return
        declared = _Declared(key, path, blueprint_type, rank)
        env_vars = item.get("envVars")
        if isinstance(env_vars, list):
            declared.env_keys = {
                entry["key"]
                for entry in env_vars
                if isinstance(entry, dict) and isinstance(entry.get("key"), str)
            }
        self.declared[key] = declared
        self.key_by_path[path] = key

    def _key(
        self,
        path: str,
        item: dict[str, Any],
        required: str = "required: the per-tenant resource key, e.g. web or db",
    ) -> str | None:
        key_path = f"{path}.name"
        if "name" not in item:
            self._problem(key_path, required)
            return None
        key = item["name"]
        if not isinstance(key, str):
            self._problem(key_path, f"must be a string (got {_describe_type(key)})")
            return None
        try:
            slugs.validate_template_key(key)
        except UsageError as exc:
            self._problem(key_path, exc.message)
            return None
        if key in self.declared:
            self._problem(
                key_path, f"duplicate key {key!r} (already used by {self.declared[key].path})"
            )
            return None
        if self.data.get("isolation") is not None and key in (
            vocab.PROJECT_KEY,
            vocab.ENVIRONMENT_KEY,
        ):
            self._problem(key_path, f"key {key!r} is reserved by the isolation block")
            return None
        return key

    # ----- isolation (a Render environment per tenant) ---------------------------------------

    def _isolation_specs(self) -> list[ResourceSpec]:
        """The tenant's project (when it has its own) and environment, from the ``isolation``
        block: ``project: {name: X}`` (a project shared by the fleet, created when missing,
        never deleted with a tenant) or ``project: {perTenant: true}`` (``<slug>-project``),
        and the environment's settings (spec ``environmentPOSTInput``)."""
        block = self.data.get("isolation")
        if block is None:
            return []
        path = "isolation"
        if not isinstance(block, dict):
            self._problem(path, f"must be a mapping with project (got {_describe_type(block)})")
            return []
        self._check_fields(path, block, vocab.ISOLATION_FIELDS)
        environment_body = self._environment_settings(f"{path}.environment", block)
        project = block.get("project")
        project_path = f"{path}.project"
        if not isinstance(project, dict):
            self._problem(
                project_path,
                "required: a mapping, {name: <shared project>} or {perTenant: true}"
                if project is None
                else f"must be a mapping (got {_describe_type(project)})",
            )
            return []
        self._check_fields(project_path, project, vocab.ISOLATION_PROJECT_FIELDS)
        per_tenant = self._boolean(project_path, project, "perTenant")
        shared_name = self._text(project_path, project, "name")
        if per_tenant and "name" in project:
            self._problem(
                f"{project_path}.name",
                "a per-tenant project is named <slug>-project: drop name or perTenant",
            )
            return []
        if not per_tenant and shared_name is None:
            if "name" not in project:
                self._problem(
                    project_path, "required: name (a shared project) or perTenant: true"
                )
            return []
        environment_name = slugs.render_name(self.tenant.slug, vocab.ENVIRONMENT_KEY)
        environment_body["name"] = environment_name
        specs: list[ResourceSpec] = []
        if per_tenant:
            project_name = slugs.render_name(self.tenant.slug, vocab.PROJECT_KEY)
            # Render creates a project with its environments (``projectPOSTInput``); the
            # environment's own step then finds it there by name.
            specs.append(
                ResourceSpec(
                    key=vocab.PROJECT_KEY,
                    render_type="project",
                    name=project_name,
                    body={"name": project_name, "environments": [dict(environment_body)]},
                )
            )
        else:
            assert shared_name is not None
            project_name = shared_name.strip()
        specs.append(
            ResourceSpec(
                key=vocab.ENVIRONMENT_KEY,
                render_type="environment",
                name=environment_name,
                body=environment_body,
                depends_on=[vocab.PROJECT_KEY] if per_tenant else [],
            )
        )
        self.isolation = {"project": project_name, "shared_project": not per_tenant}
        return specs

    def _environment_settings(self, path: str, block: Mapping[str, Any]) -> dict[str, Any]:
        settings = block.get("environment")
        if settings is None:
            return {}
        if not isinstance(settings, dict):
            self._problem(path, f"must be a mapping (got {_describe_type(settings)})")
            return {}
        self._check_fields(path, settings, vocab.ISOLATION_ENVIRONMENT_FIELDS)
        return _with_body(
            {},
            protectedStatus=self._choice(
                path, settings, "protectedStatus", vocab.PROTECTED_STATUSES
            ),
            networkIsolationEnabled=self._boolean(path, settings, "networkIsolationEnabled"),
            ipAllowList=self._ip_allow_list(path, settings),
        )

    # ----- generic field checks ------------------------------------------------------------

    def _check_fields(
        self,
        path: str,
        item: Mapping[Any, Any],
        allowed: Iterable[str],
        *,
        blueprint_only: Iterable[str] = (),
        other_type_fields: Iterable[str] = (),
        label: str = "",
    ) -> None:
        allowed = frozenset(allowed)
        blueprint_only = frozenset(blueprint_only)
        other_type_fields = frozenset(other_type_fields)
        for name in item:
            if not isinstance(name, str):
                self._problem(path, f"field names must be strings (got {name!r})")
                continue
            if name in allowed:
                continue
            field_path = f"{path}.{name}" if path else name
            if name in blueprint_only:
                advice = _ADVICE.get(name)
                self._problem(
                    field_path, "not supported by rcp templates" + (f"; {advice}" if advice else "")
                )
            elif name in other_type_fields:
                self._problem(field_path, f"not used by {label}")
            else:
                close = difflib.get_close_matches(name, sorted(allowed), n=1)
                self._problem(
                    field_path, "unknown field" + (f" (did you mean {close[0]}?)" if close else "")
                )

    def _substitute(self, path: str, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name == "tenant.slug":
                return self.tenant.slug
            if name == "tenant.name":
                return self.tenant.name
            if name == "tenant.plugin_repo":
                if self.tenant.plugin_repo is None:
                    self.plugin_repo_paths.append(path)
                    # Keep checking the rest of the field with a stand-in URL.
                    return SAMPLE_TENANT.plugin_repo or ""
                return self.tenant.plugin_repo
            return match.group(0)  # unknown: already reported by _scan_placeholders

        return _PLACEHOLDER.sub(replace, text)

    def _text(
        self,
        path: str,
        item: Mapping[str, Any],
        name: str,
        *,
        required: str | None = None,
        allow_empty: bool = False,
    ) -> str | None:
        """A string field with placeholders substituted. ``required`` is the message when absent."""
        field_path = f"{path}.{name}"
        if name not in item:
            if required is not None:
                self._problem(field_path, required)
            return None
        value = item[name]
        if not isinstance(value, str):
            self._problem(field_path, f"must be a string (got {_describe_type(value)})")
            return None
        text = self._substitute(field_path, value)
        if not allow_empty and not text.strip():
            self._problem(field_path, "must not be empty")
            return None
        return text

    def _choice(
        self,
        path: str,
        item: Mapping[str, Any],
        name: str,
        choices: tuple[str, ...],
        *,
        default: str | None = None,
        required: str | None = None,
        unsupported: Mapping[str, str] | None = None,
    ) -> str | None:
        field_path = f"{path}.{name}"
        if name not in item:
            if required is not None:
                self._problem(field_path, required)
            return default
        value = item[name]
        if isinstance(value, str) and value in choices:
            return value
        if isinstance(value, str) and unsupported and value in unsupported:
            self._problem(field_path, unsupported[value])
        else:
            self._problem(field_path, f"unknown value {value!r}: use one of {', '.join(choices)}")
        return None

    def _integer(
        self,
        path: str,
        item: Mapping[str, Any],
        name: str,
        *,
        minimum: int,
        default: int | None = None,
    ) -> int | None:
        field_path = f"{path}.{name}"
        if name not in item:
            return default
        value = item[name]
        if not _is_integer(value):
            self._problem(field_path, f"must be a whole number (got {_describe_type(value)})")
            return None
        if value < minimum:
            self._problem(field_path, f"must be at least {minimum} (got {value})")
            return None
        return int(value)

    def _boolean(self, path: str, item: Mapping[str, Any], name: str) -> bool | None:
        if name not in item:
            return None
        value = item[name]
        if not isinstance(value, bool):
            self._problem(f"{path}.{name}", f"must be true or false (got {_describe_type(value)})")
            return None
        return value

    def _plan(
        self,
        path: str,
        item: Mapping[str, Any],
        allowed: tuple[str, ...],
        *,
        default: str | None,
        what: str,
        render_type: str,
        choices_text: str | None = None,
    ) -> str | None:
        """The plan in API spelling. A plan outside ``allowed`` is a problem: Render's spec does
        not accept it for this kind, or Render refuses it anyway (free services, legacy Postgres
        plans). An accepted free datastore plan adds a warning."""
        field_path = f"{path}.plan"
        example = vocab.blueprint_plan_spelling(allowed[0])
        if "plan" not in item:
            if default is None:
                self._problem(field_path, f"required: Render's API needs a plan, e.g. {example}")
            return default
        value = item["plan"]
        if not isinstance(value, str):
            self._problem(field_path, f"must be a string (got {_describe_type(value)})")
            return None
        plan = vocab.normalize_plan(value)
        if plan in allowed:
            if plan == vocab.FREE_PLAN and render_type in vocab.FREE_PLAN_WARNINGS:
                self.warnings.append(f"{field_path}: {vocab.FREE_PLAN_WARNINGS[render_type]}")
            return plan
        if plan == vocab.FREE_PLAN:
            # Render refuses free services created through its API ("an anti-abuse measure").
            self._problem(
                field_path,
                f"free plans cannot be created through Render's API; use a paid plan such as {example}",
            )
        elif render_type == vocab.POSTGRES_RENDER_TYPE and plan in vocab.LEGACY_POSTGRES_PLANS:
            self._problem(
                field_path,
                f"legacy Postgres plan {value!r}: Render no longer creates databases on it; "
                f"use a current plan such as {example}",
            )
        else:
            listed = choices_text or ", ".join(vocab.blueprint_plan_spelling(p) for p in allowed)
            self._problem(field_path, f"unknown plan {value!r} for {what}: use one of {listed}")
        return None

    def _ip_allow_list(
        self, path: str, item: Mapping[str, Any], *, required: str | None = None
    ) -> list[dict[str, str]] | None:
        """Blueprint ``[{source, description?}]`` → API ``[{cidrBlock, description}]``."""
        field_path = f"{path}.ipAllowList"
        if "ipAllowList" not in item:
            if required is not None:
                self._problem(field_path, required)
            return None
        entries = item["ipAllowList"]
        if not isinstance(entries, list):
            self._problem(field_path, f"must be a list (got {_describe_type(entries)})")
            return None
        blocks: list[dict[str, str]] = []
        for index, entry in enumerate(entries):
            entry_path = f"{field_path}[{index}]"
            if not isinstance(entry, dict):
                self._problem(
                    entry_path, "must be a mapping with source and an optional description"
                )
                continue
            self._check_fields(entry_path, entry, ("source", "description"))
            source = self._text(
                entry_path, entry, "source", required="required: an IP address or CIDR block"
            )
            description = self._text(entry_path, entry, "description", allow_empty=True)
            if source is None:
                continue
            try:
                network = ipaddress.ip_network(source.strip(), strict=False)
            except ValueError:
                self._problem(
                    f"{entry_path}.source", f"not an IP address or CIDR block: {source!r}"
                )
                continue
            # The API requires a description; Blueprint makes it optional.
            blocks.append({"cidrBlock": str(network), "description": description or ""})
        return blocks

    # ----- services ------------------------------------------------------------------------

    def _service(self, path: str, item: Any) -> ResourceSpec | None:
        if not isinstance(item, dict):
            return None  # reported by _declare
        if "type" not in item:
            self._problem(f"{path}.type", "required: web, pserv, worker, cron or keyvalue")
            return None
        kind = item["type"]
        if kind in vocab.KEY_VALUE_BLUEPRINT_TYPES:
            return self._key_value(path, item)
        if kind == "static":
            self._problem(f"{path}.type", vocab.UNSUPPORTED_RUNTIMES["static"])
            return None
        if not isinstance(kind, str) or kind not in vocab.SERVICE_RENDER_TYPES:
            where = (
                " (Postgres goes under databases)"
                if kind in ("postgres", "postgresql", "database", "dpg")
                else ""
            )
            self._problem(
                f"{path}.type",
                f"unknown service type {kind!r}: use web, pserv, worker, cron or keyvalue{where}",
            )
            return None
        self._check_fields(
            path,
            item,
            vocab.SERVICE_FIELDS[kind],
            blueprint_only=vocab.BLUEPRINT_ONLY_FIELDS["service"],
            other_type_fields=vocab.ALL_SERVICE_FIELDS | vocab.KEY_VALUE_FIELDS,
            label=f"{kind} services",
        )
        key = self.key_by_path.get(path)
        runtime = self._choice(
            path,
            item,
            "runtime",
            vocab.SUPPORTED_RUNTIMES,
            required=f"required: one of {', '.join(vocab.SUPPORTED_RUNTIMES)}",
            unsupported=vocab.UNSUPPORTED_RUNTIMES,
        )
        repo = self._repo(path, item)
        branch = self._text(path, item, "branch")
        root_dir = self._text(path, item, "rootDir", allow_empty=True)
        plan = self._plan(
            path,
            item,
            vocab.WEB_SERVICE_PLANS if kind == "web" else vocab.PAID_SERVICE_PLANS,
            default=vocab.DEFAULT_SERVICE_PLAN,
            what=f"a {kind} service",
            render_type=vocab.SERVICE_RENDER_TYPES[kind],
        )
        region = self._choice(path, item, "region", vocab.REGIONS, default=vocab.DEFAULT_REGION)
        auto_deploy = self._boolean(path, item, "autoDeploy")
        build = self._build_details(path, item, runtime, cron=kind == "cron")
        env, depends_on, groups = self._env_vars(path, item, key)

        details: dict[str, Any] = {"runtime": runtime, "plan": plan, "region": region}
        if kind == "cron":
            _with_body(details, schedule=self._schedule(path, item), envSpecificDetails=build)
        else:
            _with_body(
                details,
                numInstances=self._integer(path, item, "numInstances", minimum=1, default=1),
                envSpecificDetails=build,
            )
            if kind == "web":
                _with_body(details, healthCheckPath=self._health_check_path(path, item))
            _with_body(details, preDeployCommand=self._text(path, item, "preDeployCommand"))
        if key is None:
            return None
        name = slugs.render_name(self.tenant.slug, key)
        body = _with_body(
            {"type": vocab.SERVICE_RENDER_TYPES[kind], "name": name},
            repo=repo,
            branch=branch,
            autoDeploy=None if auto_deploy is None else ("yes" if auto_deploy else "no"),
            rootDir=root_dir,
        )
        body["serviceDetails"] = details
        return ResourceSpec(
            key=key,
            render_type=vocab.SERVICE_RENDER_TYPES[kind],
            name=name,
            body=body,
            plan=plan,
            env=env,
            depends_on=depends_on,
            groups=groups,
        )

    def _repo(self, path: str, item: Mapping[str, Any]) -> str | None:
        repo = self._text(
            path,
            item,
            "repo",
            required="required: the https URL of the repository to deploy (or {{ tenant.plugin_repo }})",
        )
        if repo is None:
            return None
        problem = slugs.url_problem(repo)
        if problem is not None:
            shown = "" if problem == slugs.CREDENTIALS_IN_URL else f" {repo!r}"
            self._problem(f"{path}.repo", f"invalid repository URL{shown}: {problem}")
            return None
        return repo

    def _build_details(
        self, path: str, item: Mapping[str, Any], runtime: str | None, *, cron: bool
    ) -> dict[str, str] | None:
        """``envSpecificDetails``: build/start commands, or the Docker settings."""
        if runtime is None:
            return None
        if runtime == vocab.DOCKER_RUNTIME:
            for name in vocab.NATIVE_ONLY_FIELDS:
                if name in item:
                    self._problem(
                        f"{path}.{name}", "not used with runtime docker (use dockerCommand)"
                    )
            # Cron jobs need all three Docker fields in the API; other services have defaults.
            docker = {
                name: self._text(
                    path, item, name, required="required for a docker cron job" if cron else None
                )
                for name in vocab.DOCKER_ONLY_FIELDS
            }
            return {name: value for name, value in docker.items() if value is not None} or None
        for name in vocab.DOCKER_ONLY_FIELDS:
            if name in item:
                self._problem(f"{path}.{name}", "only used with runtime docker")
        build_command = self._text(
            path, item, "buildCommand", required=f"required for runtime {runtime}"
        )
        start_command = self._text(
            path, item, "startCommand", required=f"required for runtime {runtime}"
        )
        if build_command is None or start_command is None:
            return None
        return {"buildCommand": build_command, "startCommand": start_command}

    def _schedule(self, path: str, item: Mapping[str, Any]) -> str | None:
        schedule = self._text(
            path, item, "schedule", required='required: a cron expression such as "0 3 * * *"'
        )
        if schedule is None:
            return None
        fields = schedule.split()
        if len(fields) != 5 or not all(_CRON_FIELD.fullmatch(part) for part in fields):
            self._problem(
                f"{path}.schedule",
                f"not a cron expression {schedule!r}: use five fields (minute hour day month weekday)",
            )
            return None
        return schedule

    def _health_check_path(self, path: str, item: Mapping[str, Any]) -> str | None:
        health_check_path = self._text(path, item, "healthCheckPath")
        if health_check_path is not None and not health_check_path.startswith("/"):
            self._problem(
                f"{path}.healthCheckPath", f"must start with / (got {health_check_path!r})"
            )
            return None
        return health_check_path

    # ----- env vars ------------------------------------------------------------------------

    def _env_vars(
        self, path: str, item: Mapping[str, Any], owner: str | None
    ) -> tuple[list[EnvVarSpec], list[str], list[str]]:
        """The service's variables, the resources they read from, and the groups it links."""
        if "envVars" not in item:
            return [], [], []
        entries = item["envVars"]
        list_path = f"{path}.envVars"
        if not isinstance(entries, list):
            self._problem(list_path, f"must be a list (got {_describe_type(entries)})")
            return [], [], []
        specs: list[EnvVarSpec] = []
        depends_on: list[str] = []
        groups: dict[str, int] = {}
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries):
            entry_path = f"{list_path}[{index}]"
            if not isinstance(entry, dict):
                self._problem(
                    entry_path,
                    "must be a mapping with key and one of value, generateValue, fromDatabase, "
                    "fromService, or a fromGroup",
                )
                continue
            if vocab.FROM_GROUP in entry:
                group = self._from_group(entry_path, entry, groups)
                if group is not None:
                    groups[group] = index
                    if group not in depends_on:
                        depends_on.append(group)
                continue
            self._check_fields(
                entry_path,
                entry,
                ("key", *vocab.ENV_VAR_SOURCES),
                blueprint_only=vocab.BLUEPRINT_ONLY_FIELDS["envVar"],
            )
            env_key = self._env_var_name(entry_path, entry)
            if env_key is not None:
                if env_key in seen:
                    self._problem(
                        f"{entry_path}.key",
                        f"duplicate env var {env_key!r} (also envVars[{seen[env_key]}])",
                    )
                else:
                    seen[env_key] = index
            sources = [source for source in vocab.ENV_VAR_SOURCES if source in entry]
            if len(sources) != 1:
                if len(sources) > 1:
                    self._problem(
                        entry_path,
                        f"give exactly one of value, generateValue, fromDatabase, fromService (found {', '.join(sources)})",
                    )
                elif not any(name in entry for name in vocab.BLUEPRINT_ONLY_FIELDS["envVar"]):
                    self._problem(
                        entry_path, "needs one of value, generateValue, fromDatabase, fromService"
                    )
                continue
            spec = self._env_var_source(entry_path, entry, sources[0], env_key or "", owner)
            if spec is None:
                continue
            specs.append(spec)
            reference = spec.from_resource or spec.from_env_var
            if reference is not None and reference[0] not in depends_on:
                depends_on.append(reference[0])
        return specs, depends_on, list(groups)

    def _from_group(
        self, path: str, entry: Mapping[str, Any], linked: Mapping[str, int]
    ) -> str | None:
        """``- fromGroup: NAME``: links the group NAME of ``envVarGroups`` (Blueprint
        ``envVarFromGroup``: nothing else in the entry)."""
        for name in entry:
            if name != vocab.FROM_GROUP:
                self._problem(
                    f"{path}.{name}", "not allowed beside fromGroup (it links a whole group)"
                )
        value = entry[vocab.FROM_GROUP]
        field_path = f"{path}.{vocab.FROM_GROUP}"
        if not isinstance(value, str):
            self._problem(field_path, f"must be a group name (got {_describe_type(value)})")
            return None
        target = self.declared.get(value)
        if target is None or target.blueprint_type != "group":
            known = ", ".join(k for k, d in self.declared.items() if d.blueprint_type == "group")
            self._problem(
                field_path,
                f"references unknown environment group {value!r}"
                + (
                    f" (envVarGroups has: {known})" if known else " (declare it under envVarGroups)"
                ),
            )
            return None
        if value in linked:
            self._problem(
                field_path, f"group {value!r} is already linked (envVars[{linked[value]}])"
            )
            return None
        return value

    # ----- environment groups --------------------------------------------------------------

    def _env_group(self, path: str, item: Any) -> ResourceSpec | None:
        if not isinstance(item, dict):
            return None  # reported by _declare_groups
        self._check_fields(path, item, vocab.ENV_GROUP_FIELDS)
        key = self.key_by_path.get(path)
        shared = self._boolean(path, item, "shared") or False
        env = self._group_vars(path, item)
        if key is None:
            return None
        # A group shared by the fleet is one Render group for every tenant: named as given.
        name = key if shared else slugs.render_name(self.tenant.slug, key)
        return ResourceSpec(
            key=key,
            render_type=vocab.ENV_GROUP_RENDER_TYPE,
            name=name,
            body={"name": name},
            env=env,
            shared=shared,
        )

    def _group_vars(self, path: str, item: Mapping[str, Any]) -> list[EnvVarSpec]:
        list_path = f"{path}.envVars"
        if "envVars" not in item:
            self._problem(list_path, "required: the group's variables (a list, [] for none)")
            return []
        entries = item["envVars"]
        if entries is None:
            return []
        if not isinstance(entries, list):
            self._problem(list_path, f"must be a list (got {_describe_type(entries)})")
            return []
        specs: list[EnvVarSpec] = []
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries):
            entry_path = f"{list_path}[{index}]"
            if not isinstance(entry, dict):
                self._problem(entry_path, "must be a mapping with key and value or generateValue")
                continue
            self._check_fields(
                entry_path,
                entry,
                ("key", *vocab.ENV_GROUP_VAR_SOURCES),
                blueprint_only=vocab.BLUEPRINT_ONLY_FIELDS["envVar"],
                other_type_fields=("fromDatabase", "fromService", vocab.FROM_GROUP),
                label="environment group variables (plain values only)",
            )
            env_key = self._env_var_name(entry_path, entry)
            if env_key is not None:
                if env_key in seen:
                    self._problem(
                        f"{entry_path}.key",
                        f"duplicate env var {env_key!r} (also envVars[{seen[env_key]}])",
                    )
                    continue
                seen[env_key] = index
            sources = [source for source in vocab.ENV_GROUP_VAR_SOURCES if source in entry]
            if len(sources) != 1:
                if len(sources) > 1:
                    self._problem(entry_path, "give exactly one of value, generateValue")
                elif not any(
                    name in entry
                    for name in (
                        *vocab.BLUEPRINT_ONLY_FIELDS["envVar"],
                        "fromDatabase",
                        "fromService",
                        vocab.FROM_GROUP,
                    )
                ):
                    self._problem(entry_path, "needs one of value, generateValue")
                continue
            spec = self._env_var_source(entry_path, entry, sources[0], env_key or "", None)
            if spec is not None and env_key is not None:
                specs.append(spec)
        return specs

    def _env_var_name(self, path: str, entry: Mapping[str, Any]) -> str | None:
        if "key" not in entry:
            self._problem(f"{path}.key", "required: the variable's name")
            return None
        env_key = entry["key"]
        if not isinstance(env_key, str) or not _ENV_VAR_NAME.fullmatch(env_key):
            self._problem(
                f"{path}.key",
                f"invalid env var name {env_key!r}: use letters, digits and underscores, not starting with a digit",
            )
            return None
        return env_key

    def _env_var_source(
        self, path: str, entry: Mapping[str, Any], source: str, env_key: str, owner: str | None
    ) -> EnvVarSpec | None:
        value = entry[source]
        source_path = f"{path}.{source}"
        if source == "value":
            if isinstance(value, str):
                return EnvVarSpec(key=env_key, value=self._substitute(source_path, value))
            if isinstance(value, int | float) and not isinstance(value, bool):
                return EnvVarSpec(key=env_key, value=str(value))
            self._problem(
                source_path, f"must be a string or number (got {_describe_type(value)}); quote it"
            )
            return None
        if source == "generateValue":
            if value is not True:
                self._problem(source_path, "must be true (Render then generates a random value)")
                return None
            return EnvVarSpec(key=env_key, generate=True)
        if not isinstance(value, dict):
            self._problem(source_path, f"must be a mapping (got {_describe_type(value)})")
            return None
        if source == "fromDatabase":
            reference = self._from_database(source_path, value)
            return None if reference is None else EnvVarSpec(key=env_key, from_resource=reference)
        return self._from_service(source_path, value, env_key, owner)

    def _reference_target(
        self, path: str, reference: Mapping[str, Any], what: str
    ) -> _Declared | None:
        if "name" not in reference:
            self._problem(f"{path}.name", f"required: the key of the {what} in this template")
            return None
        name = reference["name"]
        target = self.declared.get(name) if isinstance(name, str) else None
        if target is None:
            candidates = ", ".join(
                key
                for key, declared in self.declared.items()
                if (declared.blueprint_type == "database") == (what == "database")
            )
            self._problem(
                f"{path}.name",
                f"references unknown {what} {name!r}"
                + (f" (this template has: {candidates})" if candidates else ""),
            )
        return target

    def _from_database(self, path: str, reference: Mapping[str, Any]) -> tuple[str, str] | None:
        self._check_fields(path, reference, ("name", "property"))
        target = self._reference_target(path, reference, "database")
        prop = self._reference_property(
            path, reference, vocab.DATABASE_PROPERTIES, "a database", required=True
        )
        if target is None or prop is None:
            return None
        if target.blueprint_type == "group":
            self._problem(f"{path}.name", f"{target.key!r} is an environment group; use fromGroup")
            return None
        if target.blueprint_type != "database":
            self._problem(
                f"{path}.name",
                f"{target.key!r} is not a database; use fromService with type {target.blueprint_type}",
            )
            return None
        return (target.key, prop)

    def _reference_property(
        self,
        path: str,
        reference: Mapping[str, Any],
        allowed: tuple[str, ...],
        what: str,
        *,
        required: bool = False,
    ) -> str | None:
        """The ``property`` of a reference, one of those ``what`` has (Blueprint semantics)."""
        field_path = f"{path}.property"
        if "property" not in reference:
            if required:
                self._problem(field_path, f"required: one of {', '.join(allowed)}")
            return None
        prop = reference["property"]
        if isinstance(prop, str) and prop in allowed:
            return prop
        shown = repr(prop) if isinstance(prop, str) else _describe_type(prop)
        self._problem(field_path, f"{what} has no property {shown}: use {', '.join(allowed)}")
        return None

    def _from_service(
        self, path: str, reference: Mapping[str, Any], env_key: str, owner: str | None
    ) -> EnvVarSpec | None:
        self._check_fields(path, reference, ("name", "type", "property", "envVarKey"))
        kind = self._choice(
            path,
            reference,
            "type",
            vocab.BLUEPRINT_REFERENCE_TYPES,
            required="required: the referenced service's type (web, pserv, worker, cron, keyvalue)",
        )
        target = self._reference_target(path, reference, "service")
        has_property, has_env_key = "property" in reference, "envVarKey" in reference
        if has_property == has_env_key:
            self._problem(path, "give exactly one of property and envVarKey")
            return None
        if target is None or kind is None:
            return None
        if target.blueprint_type == "database":
            self._problem(f"{path}.name", f"{target.key!r} is a database; use fromDatabase")
            return None
        if target.blueprint_type == "group":
            self._problem(f"{path}.name", f"{target.key!r} is an environment group; use fromGroup")
            return None
        expected = "keyvalue" if kind == "redis" else kind
        if expected != target.blueprint_type:
            self._problem(
                f"{path}.type", f"{target.key!r} is a {target.blueprint_type} service, not {kind}"
            )
            return None
        if target.key == owner:
            self._problem(f"{path}.name", "a service cannot reference itself")
            return None
        if has_property:
            if target.blueprint_type == "keyvalue":
                allowed, what = vocab.KEY_VALUE_PROPERTIES, "a Key Value instance"
            elif target.blueprint_type in vocab.SERVICE_TYPES_WITH_ADDRESS:
                allowed, what = vocab.SERVICE_PROPERTIES, f"a {target.blueprint_type} service"
            else:
                self._problem(
                    f"{path}.property",
                    f"a {target.blueprint_type} service has no host or port; read its env vars with envVarKey",
                )
                return None
            prop = self._reference_property(path, reference, allowed, what)
            return (
                None if prop is None else EnvVarSpec(key=env_key, from_resource=(target.key, prop))
            )
        if target.blueprint_type == "keyvalue":
            self._problem(f"{path}.envVarKey", "Key Value instances have no env vars; use property")
            return None
        wanted = self._text(path, reference, "envVarKey")
        if wanted is None:
            return None
        if wanted not in target.env_keys:
            self._problem(
                f"{path}.envVarKey", f"service {target.key!r} defines no env var {wanted!r}"
            )
            return None
        return EnvVarSpec(key=env_key, from_env_var=(target.key, wanted))

    # ----- datastores ----------------------------------------------------------------------

    def _key_value(self, path: str, item: dict[str, Any]) -> ResourceSpec | None:
        self._check_fields(
            path,
            item,
            vocab.KEY_VALUE_FIELDS,
            blueprint_only=vocab.BLUEPRINT_ONLY_FIELDS["keyvalue"],
            other_type_fields=vocab.ALL_SERVICE_FIELDS,
            label="Key Value instances",
        )
        key = self.key_by_path.get(path)
        plan = self._plan(
            path,
            item,
            vocab.KEY_VALUE_PLANS,
            default=None,
            what="Key Value",
            render_type=vocab.KEY_VALUE_RENDER_TYPE,
        )
        region = self._choice(path, item, "region", vocab.REGIONS, default=vocab.DEFAULT_REGION)
        policy = self._maxmemory_policy(path, item)
        allow_list = self._ip_allow_list(
            path,
            item,
            required="required (as in Blueprints): the CIDR blocks that may connect from outside Render, or [] for none",
        )
        if key is None:
            return None
        name = slugs.render_name(self.tenant.slug, key)
        body = _with_body(
            {"name": name}, plan=plan, region=region, maxmemoryPolicy=policy, ipAllowList=allow_list
        )
        return ResourceSpec(
            key=key, render_type=vocab.KEY_VALUE_RENDER_TYPE, name=name, body=body, plan=plan
        )

    def _maxmemory_policy(self, path: str, item: Mapping[str, Any]) -> str | None:
        if "maxmemoryPolicy" not in item:
            return None
        value = item["maxmemoryPolicy"]
        policy = vocab.normalize_maxmemory_policy(value) if isinstance(value, str) else None
        if policy not in vocab.MAXMEMORY_POLICIES:
            choices = ", ".join(p.replace("_", "-") for p in vocab.MAXMEMORY_POLICIES)
            self._problem(
                f"{path}.maxmemoryPolicy", f"unknown value {value!r}: use one of {choices}"
            )
            return None
        return policy

    def _database(self, path: str, item: Any) -> ResourceSpec | None:
        if not isinstance(item, dict):
            return None  # reported by _declare
        self._check_fields(
            path,
            item,
            vocab.DATABASE_FIELDS,
            blueprint_only=vocab.BLUEPRINT_ONLY_FIELDS["database"],
        )
        key = self.key_by_path.get(path)
        plan = self._plan(
            path,
            item,
            vocab.POSTGRES_PLANS,
            default=None,
            what="Postgres",
            render_type=vocab.POSTGRES_RENDER_TYPE,
            choices_text="basic-256mb, basic-1gb, basic-4gb, pro-4gb … pro-512gb, "
            "accelerated-16gb … accelerated-1024gb, free, custom",
        )
        version = self._postgres_version(path, item)
        region = self._choice(path, item, "region", vocab.REGIONS, default=vocab.DEFAULT_REGION)
        database_name = self._postgres_identifier(path, item, "databaseName")
        database_user = self._postgres_identifier(path, item, "user")
        disk_size = self._integer(path, item, "diskSizeGB", minimum=1)
        if disk_size is not None and disk_size != 1 and disk_size % 5:
            self._problem(f"{path}.diskSizeGB", f"must be 1 or a multiple of 5 (got {disk_size})")
        high_availability = self._high_availability(path, item, plan)
        disk_autoscaling = self._boolean(path, item, "storageAutoscalingEnabled")
        allow_list = self._ip_allow_list(path, item)
        if key is None:
            return None
        name = slugs.render_name(self.tenant.slug, key)
        body = _with_body(
            {"name": name},
            plan=plan,
            version=version,
            region=region,
            databaseName=database_name,
            databaseUser=database_user,
            diskSizeGB=disk_size,
            enableHighAvailability=high_availability,
            enableDiskAutoscaling=disk_autoscaling,
            ipAllowList=allow_list,
        )
        return ResourceSpec(
            key=key, render_type=vocab.POSTGRES_RENDER_TYPE, name=name, body=body, plan=plan
        )

    def _postgres_version(self, path: str, item: Mapping[str, Any]) -> str | None:
        present = [name for name in ("postgresMajorVersion", "version") if name in item]
        if len(present) == 2:
            self._problem(
                f"{path}.version", "give either postgresMajorVersion or version, not both"
            )
            return None
        if not present:
            return vocab.DEFAULT_POSTGRES_VERSION
        value = item[present[0]]
        # YAML reads an unquoted 16 as a number; the API wants the string "16".
        version = str(value) if isinstance(value, str) or _is_integer(value) else None
        if version not in vocab.POSTGRES_VERSIONS:
            self._problem(
                f"{path}.{present[0]}",
                f"unsupported Postgres version {value!r}: use one of {vocab.POSTGRES_VERSIONS[0]}-{vocab.POSTGRES_VERSIONS[-1]}",
            )
            return None
        return version

    def _postgres_identifier(self, path: str, item: Mapping[str, Any], name: str) -> str | None:
        value = self._text(path, item, name)
        if value is not None and not _POSTGRES_IDENTIFIER.fullmatch(value):
            raw = item[name]
            origin = f" (from {raw!r})" if raw != value else ""
            self._problem(
                f"{path}.{name}",
                f"invalid Postgres name {value!r}{origin}: use up to 63 letters, digits and "
                "underscores, not starting with a digit",
            )
            return None
        return value

    def _high_availability(
        self, path: str, item: Mapping[str, Any], plan: str | None
    ) -> bool | None:
        if "highAvailability" not in item:
            return None
        value = item["highAvailability"]
        field_path = f"{path}.highAvailability"
        if not isinstance(value, dict):
            self._problem(
                field_path, f"must be a mapping with enabled (got {_describe_type(value)})"
            )
            return None
        self._check_fields(field_path, value, ("enabled",))
        if "enabled" not in value:
            self._problem(f"{field_path}.enabled", "required: true or false")
            return None
        enabled = self._boolean(field_path, value, "enabled")
        if enabled and plan is not None and not plan.startswith(vocab.POSTGRES_HA_PLAN_PREFIXES):
            self._problem(
                f"{field_path}.enabled",
                f"high availability needs a pro or accelerated plan (not {vocab.blueprint_plan_spelling(plan)})",
            )
            return None
        return enabled

    # ----- order ---------------------------------------------------------------------------

    def _creation_order(self, specs: list[ResourceSpec]) -> list[ResourceSpec]:
        """Databases, then Key Value, then services, each in template order, except that a
        resource's dependencies are pulled in just before it (a stable depth-first topological
        sort). A cycle is reported as a problem."""
        by_key = {spec.key: spec for spec in specs}
        ordered: list[ResourceSpec] = []
        placed: set[str] = set()
        in_progress: list[str] = []  # the current chain of dependants, to name a cycle

        def rank(key: str) -> tuple[int, int]:
            return self.declared[key].rank

        def place(key: str) -> bool:
            if key in placed:
                return True
            if key in in_progress:
                cycle = [*in_progress[in_progress.index(key) :], key]
                first = self.declared[cycle[0]]
                self._problem(f"{first.path}.envVars", f"dependency cycle: {' -> '.join(cycle)}")
                return False
            in_progress.append(key)
            spec = by_key[key]
            for dependency in sorted((d for d in spec.depends_on if d in by_key), key=rank):
                if not place(dependency):
                    return False
            in_progress.pop()
            placed.add(key)
            ordered.append(spec)
            return True

        for key in sorted(by_key, key=rank):
            if not place(key):
                # Keep going without order: the problem makes the caller raise anyway.
                return specs
        return ordered
