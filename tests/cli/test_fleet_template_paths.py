"""Fleet-file ``template:`` paths stay inside the fleet file's directory (issue 11 item 9).

A fleet file is reviewed as a pull request and planned in CI: a path must not make `rcp plan`
read an arbitrary file the job can read. Absolute paths need ``--allow-absolute-templates``,
given on the command line (the workflow's say), never by the fleet file itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Cli

TEMPLATE = """\
services:
  - type: web
    name: web
    runtime: node
    repo: https://github.com/render-examples/express-hello-world
    buildCommand: npm install
    startCommand: npm start
    plan: starter
"""


def fleet(folder: Path, template: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fleet.yaml"
    path.write_text(f"tenants:\n  - name: Acme\n    template: {json.dumps(template)}\n")
    return path


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """repo/fleet.yaml with repo/templates/app.yaml inside and outside/app.yaml beside repo."""
    repo = tmp_path / "repo"
    (repo / "templates").mkdir(parents=True)
    (repo / "templates" / "app.yaml").write_text(TEMPLATE)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "app.yaml").write_text(TEMPLATE)
    return tmp_path


def plan(cli: Cli, path: Path, *extra: str) -> tuple[int, dict[str, object], str]:
    result = cli("-o", "json", "plan", str(path), *extra)
    return result.exit_code, result.json(), result.stderr


def test_a_relative_path_inside_the_directory_is_planned(cli: Cli, layout: Path) -> None:
    code, document, _ = plan(cli, fleet(layout / "repo", "templates/app.yaml"))
    assert code == 0
    assert document["data"]["changes"][0]["slug"] == "acme"  # type: ignore[index]
    # `./` and a detour that comes back inside are the same file.
    code, _, _ = plan(cli, fleet(layout / "repo", "./templates/../templates/app.yaml"))
    assert code == 0


@pytest.mark.parametrize("template", ["../outside/app.yaml", "templates/../../outside/app.yaml"])
def test_a_relative_path_leaving_the_directory_is_exit_2(
    cli: Cli, layout: Path, template: str
) -> None:
    path = fleet(layout / "repo", template)
    code, document, stderr = plan(cli, path)
    assert code == 2
    error = document["error"]
    assert error["code"] == "usage_error"  # type: ignore[index]
    assert "leads outside the fleet file's directory" in error["message"]  # type: ignore[index]
    assert template in error["message"]  # type: ignore[index]
    assert stderr.startswith("Error: fleet file ")
    # The flag admits absolute paths only: a relative escape stays refused.
    code, _, _ = plan(cli, path, "--allow-absolute-templates")
    assert code == 2


def test_a_symlink_out_of_the_directory_is_exit_2(cli: Cli, layout: Path) -> None:
    (layout / "repo" / "linked.yaml").symlink_to(layout / "outside" / "app.yaml")
    code, document, _ = plan(cli, fleet(layout / "repo", "linked.yaml"))
    assert code == 2
    assert "leads outside" in document["error"]["message"]  # type: ignore[index]


def test_an_absolute_path_needs_the_flag(cli: Cli, layout: Path) -> None:
    absolute = str(layout / "outside" / "app.yaml")
    path = fleet(layout / "repo", absolute)
    code, document, _ = plan(cli, path)
    assert code == 2
    message = document["error"]["message"]  # type: ignore[index]
    assert "is absolute" in message and "--allow-absolute-templates" in message
    code, document, _ = plan(cli, path, "--allow-absolute-templates")
    assert code == 0, document
    assert document["data"]["summary"]["create"] == 1  # type: ignore[index]


def test_home_relative_path_counts_as_absolute(
    cli: Cli, layout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(layout / "outside"))
    path = fleet(layout / "repo", "~/app.yaml")
    code, document, _ = plan(cli, path)
    assert code == 2
    assert "is absolute" in document["error"]["message"]  # type: ignore[index]
    code, _, _ = plan(cli, path, "--allow-absolute-templates")
    assert code == 0


def test_apply_applies_the_same_rule_before_any_write(cli: Cli, layout: Path) -> None:
    path = fleet(layout / "repo", str(layout / "outside" / "app.yaml"))
    result = cli("-o", "json", "apply", str(path), env={"RCP_SANDBOX": "1"})
    assert result.exit_code == 2
    assert "--allow-absolute-templates" in result.json()["error"]["message"]
    assert cli("-o", "json", "tenant", "list", env={"RCP_SANDBOX": "1"}).json() == {"data": []}
    assert cli("-o", "json", "audit", env={"RCP_SANDBOX": "1"}).json() == {"data": []}
