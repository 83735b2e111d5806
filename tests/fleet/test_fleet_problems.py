"""Every problem of a fleet file or template is reported (issue 13 item 4): each on its own
stderr line with its location, and as "problems" in the JSON error, for `template validate`,
`plan` and `apply`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fleet_helpers import sandbox_requests

from tests.conftest import Cli

BAD_TEMPLATE = """
services:
  - type: web
    name: web
    runtime: node
    plan: free
    bogus: 1
databases:
  - name: db
    plan: nope
"""

BAD_FLEET = """
tenants:
  - name: ''
  - name: Acme
    slug: 9bad
  - name: Beta
    template: bad.yaml
  - name: Gamma
    template: bad.yaml
  - name: Delta
    extra: 1
"""

TEMPLATE_PROBLEMS = [
    ("services[0].bogus", "unknown field"),
    ("services[0].repo", "required: the https URL"),
    ("services[0].plan", "free plans cannot be created"),
    ("services[0].buildCommand", "required for runtime node"),
    ("services[0].startCommand", "required for runtime node"),
    ("databases[0].plan", "unknown plan 'nope'"),
]


def test_template_validate_lists_every_problem_with_its_location(
    cli: Cli, fleet_env: dict[str, str], tmp_path: Path
) -> None:
    template = tmp_path / "bad.yaml"
    template.write_text(BAD_TEMPLATE)
    human = cli("template", "validate", str(template))
    assert human.exit_code == 2
    lines = human.stderr.splitlines()
    assert lines[0].startswith("Error: template 'bad': services[0].bogus: unknown field")
    for location, message in TEMPLATE_PROBLEMS:
        assert any(
            line.startswith(f"  {template}: {location}: {message}") for line in lines
        ), (location, human.stderr)
    result = cli("-o", "json", "template", "validate", str(template))
    assert result.exit_code == 2
    problems = result.json()["error"]["problems"]
    assert [(p["location"], p["file"]) for p in problems] == [
        (location, str(template)) for location, _ in TEMPLATE_PROBLEMS
    ]
    for problem, (_, message) in zip(problems, TEMPLATE_PROBLEMS, strict=True):
        assert problem["message"].startswith(message)


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_plan_and_apply_report_every_problem_of_the_fleet_file_and_its_templates(
    command: str,
    cli: Cli,
    fleet_env: dict[str, str],
    write_fleet: Callable[..., Path],
    isolated_env: Path,
) -> None:
    write_fleet(BAD_TEMPLATE, "bad.yaml")
    fleet = write_fleet(BAD_FLEET)
    template = str(fleet.parent / "bad.yaml")
    expected = [
        (str(fleet), "tenants[0].name", "invalid name"),
        (str(fleet), "tenants[1].slug", "invalid slug '9bad'"),
        (str(fleet), "tenants[2] (beta)", "template 'bad': services[0].bogus"),
        (str(fleet), "tenants[3] (gamma)", "template 'bad': services[0].bogus"),
        (str(fleet), "tenants[4].extra", "unknown field"),
        # The template's own problems once, though two tenants use it.
        *[(template, location, message) for location, message in TEMPLATE_PROBLEMS],
    ]
    result = cli("-o", "json", command, str(fleet))
    assert result.exit_code == 2
    error = result.json()["error"]
    assert "(and 4 more problems)" in error["message"]
    got = [(p["file"], p["location"], p["message"]) for p in error["problems"]]
    assert [(f, loc) for f, loc, _ in got] == [(f, loc) for f, loc, _ in expected]
    for (_, _, message), (_, _, start) in zip(got, expected, strict=True):
        assert message.startswith(start)
    human = cli(command, str(fleet))
    assert human.exit_code == 2
    for file, location, message in expected:
        assert f"  {file}: {location}: {message}" in human.stderr
    assert sandbox_requests(isolated_env / "data") == []
    assert cli("-o", "json", "tenant", "list").json()["data"] == []
