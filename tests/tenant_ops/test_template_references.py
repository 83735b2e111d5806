"""Template references with Render's semantics, end to end on the sandbox (issue 10 item 1).

One tenant whose services read every Blueprint property there is (``fromDatabase``: all six;
``fromService``: Key Value's four, a private and a web service's host/port/hostport, and
``envVarKey`` from a private service and a worker) is created with ``rcp tenant create``; each
variable Render received is compared with what the sandbox itself answers about the referenced
resource (connection info, service JSON). Then the kind/property checks: ``template validate``
and ``tenant create`` refuse a property the kind does not have, exit 2, one line, nothing
written and nothing sent to Render.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tenant_ops_helpers import Sandbox, create_tenant, ids, store_of

from tests.conftest import Cli

BUILD = """\
    runtime: node
    repo: https://github.com/render-examples/express-hello-world
    buildCommand: npm install
    startCommand: npm start"""

REFERENCES_TEMPLATE = f"""\
services:
  - type: web
    name: web
{BUILD}
    envVars:
      - {{key: DB_URL, fromDatabase: {{name: db, property: connectionString}}}}
      - {{key: DB_HOST, fromDatabase: {{name: db, property: host}}}}
      - {{key: DB_PORT, fromDatabase: {{name: db, property: port}}}}
      - {{key: DB_USER, fromDatabase: {{name: db, property: user}}}}
      - {{key: DB_PASSWORD, fromDatabase: {{name: db, property: password}}}}
      - {{key: DB_NAME, fromDatabase: {{name: db, property: database}}}}
      - {{key: KV_URL, fromService: {{name: cache, type: keyvalue, property: connectionString}}}}
      - {{key: KV_HOST, fromService: {{name: cache, type: keyvalue, property: host}}}}
      - {{key: KV_PORT, fromService: {{name: cache, type: keyvalue, property: port}}}}
      - {{key: KV_HOSTPORT, fromService: {{name: cache, type: keyvalue, property: hostport}}}}
      - {{key: API_HOST, fromService: {{name: api, type: pserv, property: host}}}}
      - {{key: API_PORT, fromService: {{name: api, type: pserv, property: port}}}}
      - {{key: API_HOSTPORT, fromService: {{name: api, type: pserv, property: hostport}}}}
      - {{key: API_TOKEN, fromService: {{name: api, type: pserv, envVarKey: TOKEN}}}}
      - {{key: JOBS_QUEUE, fromService: {{name: jobs, type: worker, envVarKey: QUEUE}}}}
  - type: web
    name: edge
{BUILD}
    envVars:
      - {{key: WEB_HOST, fromService: {{name: web, type: web, property: host}}}}
      - {{key: WEB_PORT, fromService: {{name: web, type: web, property: port}}}}
      - {{key: WEB_HOSTPORT, fromService: {{name: web, type: web, property: hostport}}}}
  - type: pserv
    name: api
{BUILD}
    envVars:
      - {{key: TOKEN, generateValue: true}}
  - type: worker
    name: jobs
{BUILD}
    envVars:
      - {{key: QUEUE, value: "{{{{ tenant.slug }}}}-jobs"}}
  - type: keyvalue
    name: cache
    plan: starter
    ipAllowList: []
databases:
  - name: db
    plan: basic-256mb
    databaseName: shop
    user: shop_owner
"""


@pytest.fixture
def references_template(isolated_env: Path) -> str:
    templates = isolated_env / "config" / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    (templates / "refs.yaml").write_text(REFERENCES_TEMPLATE)
    return "refs"


def test_the_template_is_valid(cli: Cli, references_template: str) -> None:
    result = cli("-o", "json", "template", "validate", references_template)
    assert result.exit_code == 0, result.stderr
    order = [r["key"] for r in result.json()["data"]["resources"]]
    # Datastores first; the referenced services before the services that read them.
    assert order.index("api") < order.index("web") and order.index("jobs") < order.index("web")
    assert order.index("web") < order.index("edge")


@pytest.fixture
def created(cli: Cli, sandbox: Sandbox, references_template: str) -> dict[str, str]:
    tenant = create_tenant(cli, "Shop", "--slug", "shop", "--template", references_template)
    assert tenant["status"] == "ACTIVE"
    return ids(tenant)


def test_from_database_properties(sandbox: Sandbox, created: dict[str, str]) -> None:
    env = sandbox.env(created["web"])
    db = created["db"]
    info = sandbox.call("GET", f"/postgres/{db}/connection-info", expect=200)
    record = sandbox.get("postgres", db)
    internal = info["internalConnectionString"]
    # The sandbox answers as Render does: an internal URL without a port (and, like Render, a
    # random suffix on the database name).
    assert re.fullmatch(rf"postgresql://shop_owner:[^@]+@{db}/shop(_[a-z0-9]+)?", internal)
    assert env["DB_URL"] == internal
    assert env["DB_HOST"] == db
    assert env["DB_PORT"] == "5432"
    assert env["DB_USER"] == record["databaseUser"] == "shop_owner"
    assert env["DB_PASSWORD"] == info["password"]
    assert env["DB_NAME"] == record["databaseName"]
    assert (
        internal
        == f"postgresql://{env['DB_USER']}:{env['DB_PASSWORD']}@{env['DB_HOST']}/{env['DB_NAME']}"
    )


def test_key_value_properties(sandbox: Sandbox, created: dict[str, str]) -> None:
    env = sandbox.env(created["web"])
    kv = created["cache"]
    info = sandbox.call("GET", f"/key-value/{kv}/connection-info", expect=200)
    assert info["internalConnectionString"] == f"redis://{kv}:6379"
    assert env["KV_URL"] == info["internalConnectionString"]
    assert env["KV_HOST"] == kv
    assert env["KV_PORT"] == "6379"
    assert env["KV_HOSTPORT"] == f"{kv}:6379"


def test_private_and_web_service_addresses(sandbox: Sandbox, created: dict[str, str]) -> None:
    web_env, edge_env = sandbox.env(created["web"]), sandbox.env(created["edge"])
    api = sandbox.get("services", created["api"])
    web = sandbox.get("services", created["web"])
    # A private service: its slug on the private network, its open port; Render shows the two
    # together as its url.
    api_port = str(api["serviceDetails"]["openPorts"][0]["port"])
    assert web_env["API_HOST"] == api["slug"] == "shop-api"
    assert web_env["API_PORT"] == api_port == "10000"
    assert web_env["API_HOSTPORT"] == api["serviceDetails"]["url"] == "shop-api:10000"
    # A web service: the same private-network address, never its public onrender.com URL.
    assert web["serviceDetails"]["url"].startswith("https://")
    assert edge_env["WEB_HOST"] == web["slug"] == "shop-web"
    assert edge_env["WEB_PORT"] == str(web["serviceDetails"]["openPorts"][0]["port"]) == "10000"
    assert edge_env["WEB_HOSTPORT"] == "shop-web:10000"


def test_env_var_keys_of_other_services(sandbox: Sandbox, created: dict[str, str]) -> None:
    web_env = sandbox.env(created["web"])
    token = sandbox.env(created["api"])["TOKEN"]
    assert token and web_env["API_TOKEN"] == token  # the value Render generated for api
    assert sandbox.env(created["jobs"])["QUEUE"] == web_env["JOBS_QUEUE"] == "shop-jobs"


# ----- which property applies to which kind -------------------------------------------------

WRONG_PROPERTIES = [
    (
        "fromDatabase: {name: db, property: hostport}",
        "fromDatabase.property: a database has no property 'hostport': use connectionString, "
        "host, port, user, password, database",
    ),
    (
        "fromService: {name: cache, type: keyvalue, property: password}",
        "fromService.property: a Key Value instance has no property 'password': use host, port, "
        "hostport, connectionString",
    ),
    (
        "fromService: {name: api, type: pserv, property: connectionString}",
        "fromService.property: a pserv service has no property 'connectionString': use host, "
        "port, hostport",
    ),
    (
        "fromService: {name: jobs, type: worker, property: host}",
        "fromService.property: a worker service has no host or port; read its env vars with "
        "envVarKey",
    ),
    (
        "fromService: {name: cache, type: keyvalue, envVarKey: X}",
        "fromService.envVarKey: Key Value instances have no env vars; use property",
    ),
    (
        "fromService: {name: db, type: dpg, property: host}",
        "fromService.name: 'db' is a database; use fromDatabase",
    ),
]


def wrong_template(reference: str) -> str:
    return REFERENCES_TEMPLATE.replace(
        "      - {key: DB_URL, fromDatabase: {name: db, property: connectionString}}",
        f"      - {{key: DB_URL, {reference}}}",
    )


@pytest.mark.parametrize(
    ("reference", "problem"), WRONG_PROPERTIES, ids=[w[0] for w in WRONG_PROPERTIES]
)
def test_a_property_the_kind_does_not_have_is_refused_before_anything(
    cli: Cli, sandbox: Sandbox, isolated_env: Path, reference: str, problem: str
) -> None:
    path = isolated_env / "wrong.yaml"
    path.write_text(wrong_template(reference))
    expected = f"services[0].envVars[0].{problem}"

    validated = cli("-o", "json", "template", "validate", str(path))
    assert validated.exit_code == 2
    error = validated.json()["error"]
    assert error["code"] == "usage_error"
    assert error["message"] == f"template 'wrong': {expected}"

    created = cli("-o", "json", "tenant", "create", "Shop", "--template", str(path))
    assert created.exit_code == 2, created.stderr
    assert created.json()["error"]["message"] == f"template 'wrong': {expected}"
    human = cli("tenant", "create", "Shop", "--template", str(path))
    assert human.exit_code == 2
    assert human.stdout == ""
    assert human.stderr == f"Error: template 'wrong': {expected}\n"  # one line
    # Nothing written, nothing sent.
    for store in store_of():
        assert store.get_tenant("shop") is None
    assert sandbox.mutations() == []
