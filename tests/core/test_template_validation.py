"""Template validation: each kind of problem, with its exact one-line message and path."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from template_samples import RICH_TEMPLATE, make_template

from rcp.core.templates import (
    Template,
    builtin_default,
    render_template,
    template_problems,
    validate_template,
)
from rcp.errors import UsageError

# A minimal valid web service to build cases on.
WEB = "{type: web, name: web, runtime: node, repo: 'https://github.com/a/b', buildCommand: a, startCommand: b"


def problems(text: str) -> list[str]:
    return template_problems(make_template(text))


def test_shipped_and_sample_templates_are_valid() -> None:
    assert template_problems(builtin_default()) == []
    assert template_problems(make_template(RICH_TEMPLATE)) == []
    validate_template(builtin_default())


CASES: list[tuple[str, str, list[str]]] = [
    (
        "free plan on a service",
        f"services:\n  - {WEB}, plan: free}}",
        [
            "services[0].plan: free plans cannot be created through Render's API; "
            "use a paid plan such as starter"
        ],
    ),
    (
        "free plan on a worker",
        "services:\n  - {type: worker, name: jobs, runtime: node, repo: 'https://github.com/a/b', "
        "buildCommand: a, startCommand: b, plan: free}",
        [
            "services[0].plan: free plans cannot be created through Render's API; "
            "use a paid plan such as starter"
        ],
    ),
    (
        "legacy Postgres plan",
        "databases:\n  - {name: db, plan: starter}",
        [
            "databases[0].plan: legacy Postgres plan 'starter': Render no longer creates "
            "databases on it; use a current plan such as basic-256mb"
        ],
    ),
    (
        "plan of another resource type",
        f"services:\n  - {WEB}, plan: basic-256mb}}",
        [
            "services[0].plan: unknown plan 'basic-256mb' for a web service: use one of starter, "
            "starter plus, standard, standard plus, pro, pro plus, pro max, pro ultra, custom, "
            "starter legacy, standard legacy, standard plus legacy, pro legacy, pro plus legacy"
        ],
    ),
    (
        "a plan only web services have",
        "services:\n  - {type: pserv, name: api, runtime: node, repo: 'https://github.com/a/b', "
        "buildCommand: a, startCommand: b, plan: starter plus}",
        [
            "services[0].plan: unknown plan 'starter plus' for a pserv service: use one of "
            "starter, standard, pro, pro plus, pro max, pro ultra"
        ],
    ),
    (
        "datastores need an explicit plan",
        "databases:\n  - {name: db}\nservices:\n  - {type: keyvalue, name: kv, ipAllowList: []}",
        [
            "services[0].plan: required: Render's API needs a plan, e.g. starter",
            "databases[0].plan: required: Render's API needs a plan, e.g. basic-256mb",
        ],
    ),
    (
        "unknown field with a suggestion",
        f"services:\n  - {WEB}, startCmd: c}}",
        ["services[0].startCmd: unknown field (did you mean startCommand?)"],
    ),
    (
        "Blueprint field rcp does not support",
        f"services:\n  - {WEB}, disk: {{name: d, mountPath: /d}}}}",
        ["services[0].disk: not supported by rcp templates"],
    ),
    (
        "field of another service type",
        f"services:\n  - {WEB}, schedule: '0 3 * * *'}}",
        ["services[0].schedule: not used by web services"],
    ),
    (
        "unknown top-level field",
        f"servics: []\nservices:\n  - {WEB}}}",
        ["servics: unknown field (did you mean services?)"],
    ),
    (
        "unknown placeholder",
        f"services:\n  - {WEB}, envVars: [{{key: A, value: 'x-{{{{ tenant.id }}}}'}}]}}",
        [
            "services[0].envVars[0].value: unknown placeholder '{{ tenant.id }}' "
            "(known: tenant.slug, tenant.name, tenant.plugin_repo)"
        ],
    ),
    (
        "reference to an unknown database",
        f"services:\n  - {WEB}, envVars: [{{key: A, fromDatabase: {{name: nope, property: host}}}}]}}",
        ["services[0].envVars[0].fromDatabase.name: references unknown database 'nope'"],
    ),
    (
        "reference to an unknown service lists the known ones",
        f"services:\n  - {WEB}, envVars: [{{key: A, fromService: {{name: api, type: pserv, property: host}}}}]}}",
        [
            "services[0].envVars[0].fromService.name: references unknown service 'api' (this template has: web)"
        ],
    ),
    (
        "fromService type must match",
        "services:\n"
        f"  - {WEB}, envVars: [{{key: A, fromService: {{name: kv, type: web, property: host}}}}]}}\n"
        "  - {type: keyvalue, name: kv, plan: starter, ipAllowList: []}",
        ["services[0].envVars[0].fromService.type: 'kv' is a keyvalue service, not web"],
    ),
    (
        "fromDatabase pointing at a service",
        "services:\n"
        f"  - {WEB}, envVars: [{{key: A, fromDatabase: {{name: kv, property: host}}}}]}}\n"
        "  - {type: keyvalue, name: kv, plan: starter, ipAllowList: []}",
        [
            "services[0].envVars[0].fromDatabase.name: 'kv' is not a database; use fromService with type keyvalue"
        ],
    ),
    (
        "worker has no address",
        "services:\n"
        f"  - {WEB}, envVars: [{{key: A, fromService: {{name: jobs, type: worker, property: host}}}}]}}\n"
        "  - {type: worker, name: jobs, runtime: node, repo: 'https://github.com/a/b', buildCommand: a, startCommand: b}",
        [
            "services[0].envVars[0].fromService.property: a worker service has no host or port; "
            "read its env vars with envVarKey"
        ],
    ),
    (
        "envVarKey must exist on the referenced service",
        "services:\n"
        f"  - {WEB}, envVars: [{{key: A, fromService: {{name: jobs, type: worker, envVarKey: TOKEN}}}}]}}\n"
        "  - {type: worker, name: jobs, runtime: node, repo: 'https://github.com/a/b', buildCommand: a, startCommand: b}",
        ["services[0].envVars[0].fromService.envVarKey: service 'jobs' defines no env var 'TOKEN'"],
    ),
    (
        "property and envVarKey together",
        "services:\n"
        f"  - {WEB}, envVars: [{{key: A, fromService: {{name: api, type: pserv, property: host, envVarKey: B}}}}]}}\n"
        "  - {type: pserv, name: api, runtime: node, repo: 'https://github.com/a/b', buildCommand: a, startCommand: b}",
        ["services[0].envVars[0].fromService: give exactly one of property and envVarKey"],
    ),
    (
        "self reference",
        f"services:\n  - {WEB}, envVars: [{{key: A, fromService: {{name: web, type: web, property: host}}}}]}}",
        ["services[0].envVars[0].fromService.name: a service cannot reference itself"],
    ),
    (
        "dependency cycle",
        "services:\n"
        f"  - {WEB}, envVars: [{{key: A, fromService: {{name: api, type: pserv, envVarKey: B}}}}]}}\n"
        "  - {type: pserv, name: api, runtime: node, repo: 'https://github.com/a/b', buildCommand: a, "
        "startCommand: b, envVars: [{key: B, fromService: {name: web, type: web, property: host}}]}",
        ["services[0].envVars: dependency cycle: web -> api -> web"],
    ),
    (
        "duplicate resource keys",
        f"services:\n  - {WEB}}}\ndatabases:\n  - {{name: web, plan: basic-256mb}}",
        ["databases[0].name: duplicate key 'web' (already used by services[0])"],
    ),
    (
        "invalid resource key",
        "databases:\n  - {name: Main_DB, plan: basic-256mb}",
        [
            "databases[0].name: invalid key 'Main_DB': use 1-20 characters of a-z, 0-9 and single "
            "hyphens, starting with a letter, not ending with a hyphen"
        ],
    ),
    (
        "duplicate env vars",
        f"services:\n  - {WEB}, envVars: [{{key: A, value: x}}, {{key: A, generateValue: true}}]}}",
        ["services[0].envVars[1].key: duplicate env var 'A' (also envVars[0])"],
    ),
    (
        "env var with two sources",
        f"services:\n  - {WEB}, envVars: [{{key: A, value: x, generateValue: true}}]}}",
        [
            "services[0].envVars[0]: give exactly one of value, generateValue, fromDatabase, "
            "fromService (found value, generateValue)"
        ],
    ),
    (
        "env var without a source",
        f"services:\n  - {WEB}, envVars: [{{key: A}}]}}",
        ["services[0].envVars[0]: needs one of value, generateValue, fromDatabase, fromService"],
    ),
    (
        "sync: false has no meaning for a CLI",
        f"services:\n  - {WEB}, envVars: [{{key: A, sync: false}}]}}",
        [
            "services[0].envVars[0].sync: not supported by rcp templates; "
            "set per-tenant secrets with 'rcp tenant env set'"
        ],
    ),
    (
        "boolean env value",
        f"services:\n  - {WEB}, envVars: [{{key: A, value: yes}}]}}",
        ["services[0].envVars[0].value: must be a string or number (got a boolean); quote it"],
    ),
    (
        "generateValue false",
        f"services:\n  - {WEB}, envVars: [{{key: A, generateValue: false}}]}}",
        [
            "services[0].envVars[0].generateValue: must be true (Render then generates a random value)"
        ],
    ),
    (
        "static sites",
        "services:\n  - {type: web, name: site, runtime: static}",
        [
            "services[0].runtime: static sites are not supported by rcp templates",
            "services[0].repo: required: the https URL of the repository to deploy (or {{ tenant.plugin_repo }})",
        ],
    ),
    (
        "Postgres under services",
        "services:\n  - {type: postgres, name: pg}",
        [
            "services[0].type: unknown service type 'postgres': use web, pserv, worker, cron or "
            "keyvalue (Postgres goes under databases)"
        ],
    ),
    (
        "native runtime needs build and start commands",
        "services:\n  - {type: worker, name: w, runtime: go, repo: 'https://github.com/a/b'}",
        [
            "services[0].buildCommand: required for runtime go",
            "services[0].startCommand: required for runtime go",
        ],
    ),
    (
        "docker fields with a native runtime and vice versa",
        f"services:\n  - {WEB}, dockerCommand: x}}\n"
        "  - {type: pserv, name: api, runtime: docker, repo: 'https://github.com/a/b', startCommand: s}",
        [
            "services[0].dockerCommand: only used with runtime docker",
            "services[1].startCommand: not used with runtime docker (use dockerCommand)",
        ],
    ),
    (
        "cron schedule",
        "services:\n  - {type: cron, name: c, runtime: node, repo: 'https://github.com/a/b', "
        "buildCommand: a, startCommand: b, schedule: daily}",
        [
            "services[0].schedule: not a cron expression 'daily': use five fields (minute hour day month weekday)"
        ],
    ),
    (
        "scalar checks",
        f"services:\n  - {WEB}, region: mars, numInstances: 0, autoDeploy: 'yes', healthCheckPath: health}}",
        [
            "services[0].region: unknown value 'mars': use one of oregon, ohio, frankfurt, singapore, virginia",
            "services[0].autoDeploy: must be true or false (got a string)",
            "services[0].numInstances: must be at least 1 (got 0)",
            "services[0].healthCheckPath: must start with / (got 'health')",
        ],
    ),
    (
        "repository URL",
        "services:\n  - {type: web, name: web, runtime: node, repo: 'git@github.com:a/b', buildCommand: a, startCommand: b}",
        [
            "services[0].repo: invalid repository URL 'git@github.com:a/b': use an http:// or https:// URL"
        ],
    ),
    (
        "Postgres details",
        "databases:\n"
        "  - {name: db, plan: basic-256mb, postgresMajorVersion: '10', diskSizeGB: 7, "
        "databaseName: '{{ tenant.slug }}', highAvailability: {enabled: true}}\n"
        "  - {name: db2, plan: pro-4gb, version: 16, postgresMajorVersion: '16'}",
        [
            "databases[0].postgresMajorVersion: unsupported Postgres version '10': use one of 11-18",
            "databases[0].databaseName: invalid Postgres name 'sample-tenant' (from '{{ tenant.slug }}'): "
            "use up to 63 letters, digits and underscores, not starting with a digit",
            "databases[0].diskSizeGB: must be 1 or a multiple of 5 (got 7)",
            "databases[0].highAvailability.enabled: high availability needs a pro or accelerated plan (not basic-256mb)",
            "databases[1].version: give either postgresMajorVersion or version, not both",
        ],
    ),
    (
        "Key Value details",
        "services:\n  - {type: redis, name: kv, plan: starter, maxmemoryPolicy: lru, ipAllowList: [{source: nope}]}\n"
        "  - {type: keyvalue, name: kv2, plan: starter}",
        [
            "services[0].maxmemoryPolicy: unknown value 'lru': use one of noeviction, allkeys-lfu, "
            "allkeys-lru, allkeys-random, volatile-lfu, volatile-lru, volatile-random, volatile-ttl",
            "services[0].ipAllowList[0].source: not an IP address or CIDR block: 'nope'",
            "services[1].ipAllowList: required (as in Blueprints): the CIDR blocks that may connect "
            "from outside Render, or [] for none",
        ],
    ),
    (
        "environment groups",
        "envVarGroups:\n"
        "  - {name: config, envVars: [{key: A, fromDatabase: {name: db, property: host}}, {key: A, value: 1}]}\n"
        "  - {name: web, envVars: []}\n"
        "  - {envVars: []}\n"
        "  - {name: flags, shared: maybe, sync: false}\n"
        f"services:\n  - {WEB}}}",
        [
            "envVarGroups[2].name: required: the group's name, which fromGroup refers to",
            "services[0].name: duplicate key 'web' (already used by envVarGroups[1])",
            "envVarGroups[0].envVars[0].fromDatabase: not used by environment group variables "
            "(plain values only)",
            "envVarGroups[0].envVars[1].key: duplicate env var 'A' (also envVars[0])",
            "envVarGroups[3].sync: unknown field",
            "envVarGroups[3].shared: must be true or false (got a string)",
            "envVarGroups[3].envVars: required: the group's variables (a list, [] for none)",
        ],
    ),
    (
        "fromGroup references",
        "envVarGroups: [{name: config, envVars: [{key: A, value: b}]}]\n"
        f"services:\n  - {WEB}, envVars: [{{fromGroup: nope}}, {{fromGroup: config, key: X}}, "
        "{fromGroup: config}, {fromGroup: 3}, {key: B, fromService: {name: config, type: web, property: host}}]}",
        [
            "services[0].envVars[0].fromGroup: references unknown environment group 'nope' "
            "(envVarGroups has: config)",
            "services[0].envVars[1].key: not allowed beside fromGroup (it links a whole group)",
            "services[0].envVars[2].fromGroup: group 'config' is already linked (envVars[1])",
            "services[0].envVars[3].fromGroup: must be a group name (got a number)",
            "services[0].envVars[4].fromService.name: 'config' is an environment group; use fromGroup",
        ],
    ),
    (
        "no resources",
        "services: []",
        ["the template defines no resources: add services or databases"],
    ),
    (
        "services is not a list",
        "services: {web: {}}",
        ["services: must be a list (got a mapping)"],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_problem_messages(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


def test_validate_raises_usage_error_with_first_problem_and_count() -> None:
    template = make_template(f"services:\n  - {WEB}, plan: free, region: mars}}", name="broken")
    with pytest.raises(UsageError) as raised:
        validate_template(template)
    error = raised.value
    assert error.exit_code == 2
    assert error.message == (
        "template 'broken': services[0].plan: free plans cannot be created through Render's API; "
        "use a paid plan such as starter (and 1 more problem)"
    )
    assert error.hint == "run 'rcp template validate /templates/broken.yaml' to check it"
    assert error.problems is not None and len(error.problems) == 2
    assert "\n" not in error.message


def test_single_problem_has_no_hint() -> None:
    with pytest.raises(UsageError) as raised:
        validate_template(make_template("services: []", name="empty"))
    assert (
        raised.value.message
        == "template 'empty': the template defines no resources: add services or databases"
    )
    assert raised.value.hint is None


@pytest.mark.parametrize(
    ("spelling", "api"),
    [
        ("pro plus", "pro_plus"),
        ("pro-plus", "pro_plus"),
        ("pro_plus", "pro_plus"),
        ("Pro Max", "pro_max"),
    ],
)
def test_plan_spellings_are_accepted(spelling: str, api: str) -> None:
    from rcp.core.templates import preview_template

    rendered = preview_template(make_template(f"services:\n  - {WEB}, plan: {spelling}}}"))
    assert rendered.resources[0].plan == api
    assert rendered.resources[0].body["serviceDetails"]["plan"] == api


# Any YAML-shaped value: the validator must answer with problems, never crash.
yaml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "web",
            "pserv",
            "worker",
            "cron",
            "keyvalue",
            "redis",
            "node",
            "docker",
            "db",
            "starter",
            "free",
            "{{ tenant.slug }}",
            "{{ nope }}",
            "https://github.com/a/b",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "name",
                    "runtime",
                    "repo",
                    "plan",
                    "envVars",
                    "key",
                    "value",
                    "fromDatabase",
                    "fromService",
                    "property",
                    "envVarKey",
                    "ipAllowList",
                    "source",
                    "schedule",
                    "buildCommand",
                    "startCommand",
                    "version",
                    "other",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # no per-example deadline: CI hosts are shared
@given(services=yaml_values, databases=yaml_values)
def test_arbitrary_structures_give_problems_not_crashes(
    services: object, databases: object
) -> None:
    template = Template("fuzz", "/fuzz.yaml", "", {"services": services, "databases": databases})
    found = template_problems(template)
    assert all(isinstance(problem, str) and "\n" not in problem for problem in found)
    if not found:
        render_template(template, slug="acme", name="Acme", plugin_repo="https://github.com/a/b")
