"""`rcp audit`: every mutating command, its actor, redacted command line, outcome and duration."""

from __future__ import annotations

import getpass
import json
import socket
from pathlib import Path

import pytest
from admin_helpers import create_tenant, seed_tenant

from tests.conftest import Cli

AUDIT_FIELDS = {"id", "at", "actor", "command", "tenant", "outcome", "exit_code", "duration_ms"}


def audit(cli: Cli, *args: str) -> list[dict[str, object]]:
    result = cli("-o", "json", "audit", *args)
    assert result.exit_code == 0, result.stderr
    entries: list[dict[str, object]] = result.json()["data"]
    return entries


@pytest.mark.usefixtures("sandbox_env")
def test_mutating_commands_are_audited(
    cli: Cli, database_url: str, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_tenant(cli, "acme")
    # A failure after the preconditions is audited with its outcome and exit code: here Render
    # refuses every service create.
    faults = isolated_env / "faults.json"
    faults.write_text(
        json.dumps([{"method": "POST", "path": "/services", "action": "status", "status": 400}])
    )
    failed = cli("-o", "json", "tenant", "create", "beta", env={"RCP_SANDBOX_FAULTS": str(faults)})
    assert failed.exit_code not in (0, 3)
    # A precondition failure (invalid slug) is not audited.
    assert cli("tenant", "delete", "Not A Slug", "--yes").exit_code == 2
    # Read-only commands are not audited.
    assert cli("tenant", "list").exit_code == 0
    monkeypatch.setenv("RCP_ACTOR", "deployer")
    assert cli("tenant", "delete", "acme", "--yes").exit_code == 0

    entries = audit(cli)
    assert all(set(entry) == AUDIT_FIELDS for entry in entries)
    assert [(e["tenant"], e["actor"]) for e in entries] == [
        ("acme", "deployer"),
        ("beta", "tester"),
        ("acme", "tester"),
    ]
    delete, create_failed, create_ok = entries
    assert delete["command"] == "rcp tenant delete acme --yes"
    assert (delete["outcome"], delete["exit_code"]) == ("ok", 0)
    assert create_ok["command"] == "rcp -o json tenant create acme"
    assert create_failed["outcome"] != "ok"
    assert create_failed["exit_code"] == failed.exit_code
    for entry in entries:
        assert isinstance(entry["duration_ms"], int) and entry["duration_ms"] >= 0
        assert isinstance(entry["at"], str) and entry["at"].endswith("Z")
    ids = [entry["id"] for entry in entries]
    assert ids == sorted(ids, reverse=True)  # newest first

    assert [e["tenant"] for e in audit(cli, "--tenant", "beta")] == ["beta"]
    assert audit(cli, "--tenant", "nobody") == []
    assert [e["id"] for e in audit(cli, "--limit", "1")] == [ids[0]]
    assert len(audit(cli, "--since", "7d")) == 3
    assert len(audit(cli, "--since", "1h30m")) == 3
    assert audit(cli, "--since", "2999-01-01") == []
    assert len(audit(cli, "--since", "2000-01-01T00:00:00Z")) == 3

    human = cli("audit")
    assert human.exit_code == 0
    assert "deployer" in human.stdout and "ACTOR" in human.stdout


def test_actor_falls_back_to_ci_user_then_user_at_host(
    cli: Cli, sqlite_url: str, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_tenant(sqlite_url, "acme", config_dir=isolated_env / "config")
    backup = isolated_env / "backup.json"
    assert cli("backup", "export", str(backup)).exit_code == 0
    monkeypatch.delenv("RCP_ACTOR")
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    assert cli("backup", "import", str(backup), "--overwrite").exit_code == 0
    monkeypatch.delenv("GITHUB_ACTOR")
    assert cli("backup", "import", str(backup), "--overwrite").exit_code == 0
    actors = [entry["actor"] for entry in audit(cli)]
    assert actors == [f"{getpass.getuser()}@{socket.gethostname()}", "octocat"]


def test_secrets_are_redacted_in_the_audited_command(
    cli: Cli, sqlite_url: str, isolated_env: Path
) -> None:
    target = "postgresql://someone:hunter2-secret@127.0.0.1:1/nothing"
    # Unreachable: reaching the target is a precondition (exit 6, not audited); the password
    # appears nowhere.
    result = cli("db", "copy", "--to", target)
    assert result.exit_code == 6
    assert "hunter2-secret" not in result.stdout + result.stderr
    copy_target = f"sqlite:///{isolated_env / 'copy.db'}"
    assert cli("db", "copy", "--to", copy_target).exit_code == 0
    entries = audit(cli)
    assert [e["command"] for e in entries] == [f"rcp db copy --to {copy_target}"]
    assert all("hunter2-secret" not in json.dumps(e) for e in entries)


def test_redact_argv_hides_passwords_and_env_values() -> None:
    from rcp.context import redact_argv

    assert redact_argv(["db", "copy", "--to", "postgresql://u:hunter2@db.example/rcp"]) == [
        "db",
        "copy",
        "--to",
        "postgresql://u:***@db.example/rcp",
    ]
    assert redact_argv(["tenant", "env", "set", "acme", "TOKEN=abc123"]) == [
        "tenant",
        "env",
        "set",
        "acme",
        "TOKEN=***",
    ]


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (("--since", "yesterday"), "--since"),
        (("--limit", "0"), "--limit"),
        (("--tenant", "Bad Slug"), "slug"),
    ],
)
def test_bad_filters_are_usage_errors(
    cli: Cli, sqlite_url: str, args: tuple[str, ...], flag: str
) -> None:
    result = cli("-o", "json", "audit", *args)
    assert result.exit_code == 2
    assert flag in result.stderr
