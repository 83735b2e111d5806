"""Rendering a template for one tenant: names, placeholders, spellings, order, env specs."""

from __future__ import annotations

import pytest
from template_samples import make_template

from rcp.core.models import EnvVarSpec, RenderedTemplate
from rcp.core.templates import Template, builtin_default, render_template
from rcp.errors import UsageError

PLUGIN = "https://github.com/acme/plugin"


def render_rich(rich_template: Template, **overrides: str | None) -> RenderedTemplate:
    arguments: dict[str, str | None] = {
        "slug": "acme-corp",
        "name": 'Acme: "Corp"',
        "plugin_repo": PLUGIN,
    }
    arguments.update(overrides)
    return render_template(rich_template, **arguments)  # type: ignore[arg-type]


def test_default_template_content() -> None:
    rendered = render_template(
        builtin_default(), slug="acme-corp", name="Acme Corporation", plugin_repo=None
    )
    assert rendered.name == "default"
    db, web = rendered.resources
    assert (db.key, db.render_type, db.name, db.plan) == (
        "db",
        "postgres",
        "acme-corp-db",
        "basic_256mb",
    )
    assert db.body == {
        "name": "acme-corp-db",
        "plan": "basic_256mb",
        "version": "16",
        "region": "oregon",
    }
    assert (web.key, web.render_type, web.name, web.plan) == (
        "web",
        "web_service",
        "acme-corp-web",
        "starter",
    )
    assert web.body == {
        "type": "web_service",
        "name": "acme-corp-web",
        "repo": "https://github.com/render-examples/express-hello-world",
        "serviceDetails": {
            "runtime": "node",
            "plan": "starter",
            "region": "oregon",
            "numInstances": 1,
            "envSpecificDetails": {"buildCommand": "npm install", "startCommand": "npm start"},
        },
    }
    assert web.env == [EnvVarSpec(key="DATABASE_URL", from_resource=("db", "connectionString"))]
    assert web.depends_on == ["db"]
    assert db.depends_on == []


def test_bodies_never_carry_owner_or_env_vars(rich_template: Template) -> None:
    for resource in render_rich(rich_template).resources:
        assert "ownerId" not in resource.body
        assert "envVars" not in resource.body


def test_creation_order_puts_datastores_and_dependencies_first(rich_template: Template) -> None:
    keys = [r.key for r in render_rich(rich_template).resources]
    # db and cache are datastores; web reads api, so api precedes web; jobs and nightly keep
    # their template order.
    assert keys == ["db", "cache", "api", "web", "jobs", "nightly"]


def test_order_follows_references_between_services() -> None:
    template = make_template(
        """
        services:
          - {type: web, name: front, runtime: node, repo: 'https://github.com/a/b', buildCommand: a, startCommand: b,
             envVars: [{key: API, fromService: {name: back, type: pserv, property: hostport}}]}
          - {type: worker, name: jobs, runtime: node, repo: 'https://github.com/a/b', buildCommand: a, startCommand: b}
          - {type: pserv, name: back, runtime: node, repo: 'https://github.com/a/b', buildCommand: a, startCommand: b,
             envVars: [{key: TOKEN, generateValue: true}]}
        """
    )
    rendered = render_template(template, slug="t", name="T", plugin_repo=None)
    assert [r.key for r in rendered.resources] == ["back", "front", "jobs"]
    assert rendered.resource("front").depends_on == ["back"]


def test_placeholders_are_substituted(rich_template: Template) -> None:
    rendered = render_rich(rich_template)
    web = rendered.resource("web")
    assert web.body["repo"] == PLUGIN
    values = {env.key: env.value for env in web.env}
    assert values["TENANT_SLUG"] == "acme-corp"
    assert values["TENANT_NAME"] == 'Acme: "Corp"'  # substituted after parsing: YAML-safe
    assert values["PORT"] == "8080"
    cache = rendered.resource("cache")
    assert cache.body["ipAllowList"][0] == {
        "cidrBlock": "203.0.113.4/32",
        "description": 'Acme: "Corp" office',
    }


def test_placeholders_tolerate_whitespace(template_from: object) -> None:
    template = make_template(
        """
        services:
          - type: worker
            name: w
            runtime: node
            repo: "{{tenant.plugin_repo}}"
            buildCommand: "echo {{   tenant.slug   }}"
            startCommand: "run --tenant={{ tenant.slug}} --name='{{tenant.name }}'"
        """
    )
    rendered = render_template(template, slug="zeta", name="Zeta Inc", plugin_repo=PLUGIN)
    spec = rendered.resource("w")
    assert spec.body["repo"] == PLUGIN
    assert spec.body["serviceDetails"]["envSpecificDetails"] == {
        "buildCommand": "echo zeta",
        "startCommand": "run --tenant=zeta --name='Zeta Inc'",
    }


def test_plugin_repo_placeholder_without_plugin_repo(rich_template: Template) -> None:
    with pytest.raises(UsageError) as raised:
        render_rich(rich_template, plugin_repo=None)
    assert raised.value.exit_code == 2
    assert raised.value.message == (
        "template 'rich' uses {{ tenant.plugin_repo }} (services[0].repo) but no plugin repo was given"
    )
    assert raised.value.hint == "pass --plugin-repo URL"


def test_plugin_repo_is_optional_when_unused() -> None:
    rendered = render_template(builtin_default(), slug="a", name="A", plugin_repo=None)
    assert len(rendered.resources) == 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"slug": "Acme"}, "invalid slug 'Acme'"),
        ({"name": "  "}, "invalid name"),
        ({"plugin_repo": "ftp://x/y"}, "invalid --plugin-repo 'ftp://x/y'"),
    ],
)
def test_tenant_values_are_validated(
    rich_template: Template, arguments: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        render_rich(rich_template, **arguments)


def test_api_spellings(rich_template: Template) -> None:
    rendered = render_rich(rich_template)
    types = {r.key: r.render_type for r in rendered.resources}
    assert types == {
        "db": "postgres",
        "cache": "key_value",
        "api": "private_service",
        "web": "web_service",
        "jobs": "background_worker",
        "nightly": "cron_job",
    }
    assert rendered.resource("web").plan == "pro_plus"
    assert rendered.resource("db").plan == "basic_1gb"
    cache = rendered.resource("cache")
    assert cache.body == {
        "name": "acme-corp-cache",
        "plan": "starter",
        "region": "oregon",
        "maxmemoryPolicy": "allkeys_lru",
        "ipAllowList": [
            {"cidrBlock": "203.0.113.4/32", "description": 'Acme: "Corp" office'},
            {"cidrBlock": "10.0.0.0/8", "description": ""},
        ],
    }
    web = rendered.resource("web")
    assert web.body["autoDeploy"] == "no"
    assert web.body["branch"] == "main"
    assert web.body["rootDir"] == "app"
    assert web.body["serviceDetails"] == {
        "runtime": "python",
        "plan": "pro_plus",
        "region": "frankfurt",
        "numInstances": 2,
        "envSpecificDetails": {
            "buildCommand": "pip install -r requirements.txt",
            "startCommand": "gunicorn app:app",
        },
        "healthCheckPath": "/healthz",
        "preDeployCommand": "python manage.py migrate",
    }


def test_postgres_body(rich_template: Template) -> None:
    assert render_rich(rich_template).resource("db").body == {
        "name": "acme-corp-db",
        "plan": "basic_1gb",
        "version": "17",
        "region": "frankfurt",
        "databaseName": "app_db",
        "databaseUser": "app_user",
        "diskSizeGB": 15,
        "ipAllowList": [],
    }


def test_docker_and_cron_bodies(rich_template: Template) -> None:
    rendered = render_rich(rich_template)
    api = rendered.resource("api")
    assert api.body["serviceDetails"] == {
        "runtime": "docker",
        "plan": "standard",
        "region": "oregon",
        "numInstances": 1,
        "envSpecificDetails": {"dockerfilePath": "./Dockerfile"},
    }
    nightly = rendered.resource("nightly")
    assert nightly.body["serviceDetails"] == {
        "runtime": "ruby",
        "plan": "starter",
        "region": "oregon",
        "schedule": "0 3 * * *",
        "envSpecificDetails": {
            "buildCommand": "bundle install",
            "startCommand": "bundle exec rake nightly",
        },
    }


def test_env_var_specs_of_every_kind(rich_template: Template) -> None:
    rendered = render_rich(rich_template)
    web = rendered.resource("web")
    assert web.env == [
        EnvVarSpec(key="TENANT_SLUG", value="acme-corp"),
        EnvVarSpec(key="TENANT_NAME", value='Acme: "Corp"'),
        EnvVarSpec(key="PORT", value="8080"),
        EnvVarSpec(key="SECRET_KEY", generate=True),
        EnvVarSpec(key="DATABASE_URL", from_resource=("db", "connectionString")),
        EnvVarSpec(key="REDIS_URL", from_resource=("cache", "connectionString")),
        EnvVarSpec(key="API_HOSTPORT", from_resource=("api", "hostport")),
        EnvVarSpec(key="SHARED_TOKEN", from_env_var=("api", "API_TOKEN")),
    ]
    assert web.depends_on == ["db", "cache", "api"]
    assert rendered.resource("jobs").env == [
        EnvVarSpec(key="QUEUE_URL", from_resource=("cache", "hostport"))
    ]
    assert rendered.resource("jobs").depends_on == ["cache"]


def test_rendering_is_deterministic_and_round_trips(rich_template: Template) -> None:
    first = render_rich(rich_template)
    second = render_rich(rich_template)
    assert first.to_dict() == second.to_dict()
    assert RenderedTemplate.from_dict(first.to_dict()) == first


def test_rendering_for_one_tenant_does_not_leak_into_another(rich_template: Template) -> None:
    acme = render_rich(rich_template, slug="acme")
    zeta = render_rich(rich_template, slug="zeta")
    assert {r.name for r in acme.resources}.isdisjoint({r.name for r in zeta.resources})
    assert all(r.name.startswith("acme-") for r in acme.resources)
    # The parsed template itself is never modified by rendering.
    assert rich_template.data["services"][0]["repo"] == "{{ tenant.plugin_repo }}"


def test_version_alias_and_numeric_version() -> None:
    template = make_template(
        "databases:\n  - {name: db, plan: pro-4gb, version: 15, highAvailability: {enabled: true}}"
    )
    body = render_template(template, slug="a", name="A", plugin_repo=None).resource("db").body
    assert body["version"] == "15"
    assert body["enableHighAvailability"] is True
    assert body["plan"] == "pro_4gb"


def test_render_raises_for_invalid_template() -> None:
    template = make_template("services: []", name="empty")
    with pytest.raises(UsageError, match="^template 'empty': the template defines no resources"):
        render_template(template, slug="a", name="A", plugin_repo=None)
