"""Issue 11 item 3: `backup import` applies the rules `tenant create` and `tenant adopt` apply.

A backup is untrusted input (hand-edited, from another machine): a name, key, URL or Render id
that create/adopt would refuse is refused here too (exit 2, naming where), and nothing is
written.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli

SANDBOX = {
    "RCP_SANDBOX": "1",
    "RCP_SANDBOX_DEPLOY_SECONDS": "0.2",
    "RCP_SANDBOX_DATASTORE_SECONDS": "0.3",
}

Document = dict[str, Any]


@pytest.fixture
def exported(cli: Cli) -> Document:
    """A real export of one sandbox tenant (web service + Postgres), with an env override."""
    created = cli("tenant", "create", "Acme", env=SANDBOX)
    assert created.exit_code == 0, created.stderr
    env_set = cli("tenant", "env", "set", "acme", "LOG_LEVEL=debug", "--no-deploy", env=SANDBOX)
    assert env_set.exit_code == 0, env_set.stderr
    result = cli("-o", "json", "backup", "export", "--include-secrets", env=SANDBOX)
    assert result.exit_code == 0, result.stderr
    document: Document = result.json()["data"]
    return document


def _web(document: Document) -> dict[str, Any]:
    return next(r for r in document["tenants"][0]["resources"] if r["key"] == "web")


def _set_name(value: str) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        document["tenants"][0]["name"] = value

    return mutate


def _set_web(field: str, value: Any) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        _web(document)[field] = value

    return mutate


def _web_id_is_a_postgres_id(document: Document) -> None:
    _web(document)["render_id"] = "dpg-d0abcdefghijklmnopqr-a"


def _second_tenant_with_the_same_ids(document: Document) -> None:
    twin = copy.deepcopy(document["tenants"][0])
    twin["slug"], twin["name"] = "acme-twin", "Acme Twin"
    document["tenants"].append(twin)


def _plugin_repo_with_token(document: Document) -> None:
    document["tenants"][0]["custom_plugin_repo"] = "https://ghp_secret@github.com/acme/plugin"


def _bad_env_key(document: Document) -> None:
    document["tenants"][0]["env_overrides"][0]["key"] = "BAD KEY"


def _journal_render_id(document: Document) -> None:
    document["tenants"][0]["journal"][0]["render_id"] = "srv-$(reboot)"


CASES: list[tuple[str, Callable[[Document], None], str]] = [
    ("escape sequence in name", _set_name("Acme\x1b]0;owned\x07"), "tenants[0].name"),
    ("newline in name", _set_name("Acme\nFAKE LINE"), "tenants[0].name"),
    ("blank name", _set_name("   "), "tenants[0].name"),
    ("overlong name", _set_name("x" * 256), "tenants[0].name"),
    ("resource key", _set_web("key", "Web!"), "resources[1].key"),
    ("resource name with controls", _set_web("name", "acme-web\x1b[2J"), "resources[1].name"),
    ("render id path", _set_web("render_id", "srv-../../owners"), "resources[1].render_id"),
    ("render id shape", _set_web("render_id", "srv-ABC DEF"), "resources[1].render_id"),
    ("render id kind", _web_id_is_a_postgres_id, "resources[1].render_id"),
    ("render id twice", _second_tenant_with_the_same_ids, "tenants[1].resources[0].render_id"),
    ("plugin repo credentials", _plugin_repo_with_token, "tenants[0].custom_plugin_repo"),
    ("env override key", _bad_env_key, "env_overrides[0].key"),
    ("journal render id", _journal_render_id, "journal[0].render_id"),
    # A type no tenant record holds, and a tenant type (issue 14) that a service id cannot be.
    ("unknown type", _set_web("type", "workflow"), "resources[1].type"),
    ("env group type on a service id", _set_web("type", "env_group"), "resources[1].render_id"),
]


@pytest.mark.parametrize(("case", "mutate", "where"), CASES, ids=[c[0] for c in CASES])
def test_import_refuses_what_create_and_adopt_refuse(
    cli: Cli,
    exported: Document,
    isolated_env: Path,
    case: str,
    mutate: Callable[[Document], None],
    where: str,
) -> None:
    document = copy.deepcopy(exported)
    mutate(document)
    path = isolated_env / "backup.json"
    path.write_text(json.dumps(document))
    # Into the (separate) real-world database: import never calls Render.
    result = cli("-o", "json", "backup", "import", str(path))
    assert result.exit_code == 2, (case, result.stderr)
    error = result.json()["error"]
    assert error["code"] == "usage_error"
    assert error["message"].startswith("invalid backup: document.")
    assert where in error["message"], error["message"]
    assert "ghp_secret" not in result.stdout + result.stderr
    assert "\x1b" not in result.stderr and len(result.stderr.splitlines()) == 2  # error + hint
    listing = cli("-o", "json", "tenant", "list")
    assert listing.json()["data"] == []  # nothing was written


def test_the_unchanged_export_still_imports(cli: Cli, exported: Document, isolated_env: Path) -> None:
    path = isolated_env / "backup.json"
    path.write_text(json.dumps(exported))
    result = cli("-o", "json", "backup", "import", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.json()["data"]["tenants_created"] == ["acme"]
