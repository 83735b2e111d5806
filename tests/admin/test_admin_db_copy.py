"""`rcp db copy --to URL`: every row into another (migrated, empty) database, verified."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from admin_helpers import create_tenant, seed_tenant

from tests.conftest import Cli


def everything(cli: Cli) -> dict[str, Any]:
    """What a user can see of a database: tenants (full records), audit log (with ids)."""
    tenants = cli("-o", "json", "tenant", "list").json()["data"]
    shows = [cli("-o", "json", "tenant", "show", t["slug"]).json()["data"] for t in tenants]
    return {"tenants": shows, "audit": cli("-o", "json", "audit").json()["data"]}


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("sqlite", "sqlite"),
        ("sqlite", "postgres"),
        ("postgres", "sqlite"),
        ("postgres", "postgres"),
    ],
)
def test_copy_reproduces_every_row(
    cli: Cli,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_database: Callable[[str], str],
    source: str,
    target: str,
) -> None:
    source_url = make_database(source)
    target_url = make_database(target)
    monkeypatch.setenv("RCP_DATABASE_URL", source_url)
    # The sandbox keeps its own records unless told where (RCP_SANDBOX_DATABASE_URL).
    monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", source_url)
    config_dir = isolated_env / "config"
    seed_tenant(source_url, "acme", config_dir=config_dir, env_overrides={"web": {"K": "v"}})
    seed_tenant(source_url, "beta", config_dir=config_dir)
    _orphan_journal(source_url, "ghost")  # the history of a deleted tenant is copied too
    # Audit entries come from a real audited command.
    assert (
        cli("-o", "json", "backup", "import", "-", "--overwrite", input=_export(cli)).exit_code == 0
    )
    before = everything(cli)
    counts_before = _counts(source_url)

    result = cli("-o", "json", "db", "copy", "--to", target_url)
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["verified"] is True
    assert data["tables"] == counts_before
    assert data["tables"]["tenants"] == 2 and data["tables"]["journal"] == 3
    assert data["tables"]["tenant_locks"] == 3 and data["tables"]["audit_log"] == 1
    assert data["to"] == target_url and data["from"] == source_url  # no passwords here

    monkeypatch.setenv("RCP_DATABASE_URL", target_url)
    # The sandbox keeps its own records unless told where (RCP_SANDBOX_DATABASE_URL).
    monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", target_url)
    after = everything(cli)
    assert after == before  # same records, same audit ids
    # The copied sequences continue after the copied ids: new rows do not collide.
    seed_tenant(target_url, "gamma", config_dir=config_dir)
    assert (
        cli("-o", "json", "backup", "import", "-", "--overwrite", input=_export(cli)).exit_code == 0
    )
    audit = cli("-o", "json", "audit").json()["data"]
    assert audit[0]["id"] > max(entry["id"] for entry in before["audit"])

    # The copy itself is audited in the source.
    monkeypatch.setenv("RCP_DATABASE_URL", source_url)
    # The sandbox keeps its own records unless told where (RCP_SANDBOX_DATABASE_URL).
    monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", source_url)
    latest = cli("-o", "json", "audit", "--limit", "1").json()["data"][0]
    assert latest["command"].startswith("rcp -o json db copy --to")


def _orphan_journal(url: str, slug: str) -> None:
    import os

    from rcp.core.models import LockHolder
    from rcp.store import open_store

    store = open_store(url)
    try:
        lease = store.acquire_lock(slug, LockHolder("seed", "test", os.getpid(), "seed"))
        store.journal(slug, lease=lease, step="delete", resource_key="web", status="done")
        store.release_lock(lease)
    finally:
        store.close()


def _export(cli: Cli) -> str:
    result = cli("backup", "export", "--include-secrets")
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _counts(url: str) -> dict[str, int]:
    from rcp.store import open_store
    from rcp.store.transfer import row_counts

    store = open_store(url)
    try:
        return row_counts(store)
    finally:
        store.close()


@pytest.mark.usefixtures("sandbox_env")
def test_copy_of_provisioned_tenants_to_postgres(
    cli: Cli,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_database: Callable[[str], str],
) -> None:
    """The laptop-to-team path: a sandbox tenant created on SQLite, then moved to Postgres."""
    monkeypatch.setenv("RCP_DATABASE_URL", f"sqlite:///{isolated_env / 'laptop.db'}")
    # The sandbox keeps its own records unless told where (RCP_SANDBOX_DATABASE_URL).
    monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", f"sqlite:///{isolated_env / 'laptop.db'}")
    create_tenant(cli, "acme")
    before = everything(cli)
    target = make_database("postgres")
    result = cli("-o", "json", "db", "copy", "--to", target)
    assert result.exit_code == 0, result.stderr
    monkeypatch.setenv("RCP_DATABASE_URL", target)
    # The sandbox keeps its own records unless told where (RCP_SANDBOX_DATABASE_URL).
    monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", target)
    assert everything(cli) == before
    # The copied tenant is fully operable on the new database.
    status = cli("-o", "json", "tenant", "status", "acme", "--live")
    assert status.exit_code == 0, status.stderr
    assert status.json()["data"]["status"] == "ACTIVE"


def test_copy_refuses_a_non_empty_target(
    cli: Cli, sqlite_url: str, isolated_env: Path, make_database: Callable[[str], str]
) -> None:
    seed_tenant(sqlite_url, "acme", config_dir=isolated_env / "config")
    target = make_database("sqlite")
    seed_tenant(target, "other", config_dir=isolated_env / "config")
    result = cli("-o", "json", "db", "copy", "--to", target)
    assert result.exit_code == 4
    error = result.json()["error"]
    assert error["code"] == "target_not_empty"
    assert "tenants: 1" in error["message"]
    # An unmet precondition: not audited.
    assert cli("-o", "json", "audit").json()["data"] == []


def test_copy_to_itself_is_a_usage_error(cli: Cli, sqlite_url: str, isolated_env: Path) -> None:
    same_file_other_spelling = f"sqlite:///{isolated_env / 'data' / '..' / 'data' / 'rcp.db'}"
    result = cli("-o", "json", "db", "copy", "--to", same_file_other_spelling)
    assert result.exit_code == 2
    assert "is the database rcp is using" in result.json()["error"]["message"]


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("mysql://root:hunter2-secret@db/rcp", 2),  # not a database rcp supports: bad flag value
        ("postgresql://me:hunter2-secret@127.0.0.1:1/rcp", 6),  # unreachable
    ],
)
def test_bad_targets_never_show_the_password(
    cli: Cli, sqlite_url: str, url: str, code: int
) -> None:
    result = cli("-o", "json", "-v", "db", "copy", "--to", url)
    assert result.exit_code == code
    assert "hunter2-secret" not in result.stdout + result.stderr
    assert "***" in json.dumps(result.json())
