"""`rcp backup export|import`: one versioned document; records only; exact round trips."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from admin_helpers import create_tenant, seed_tenant, set_env_overrides

from tests.conftest import Cli

SECRET = "s3cr3t-value-never-printed"


def add_audit(url: str, command: str, tenant: str | None) -> None:
    from rcp.core.models import AuditEntry
    from rcp.store import open_store

    store = open_store(url)
    try:
        store.append_audit(
            AuditEntry(
                actor="alice@laptop",
                command=command,
                tenant=tenant,
                outcome="ok",
                exit_code=0,
                duration_ms=1234,
                at=datetime(2026, 11, 20, 9, 30, 15, 123456, tzinfo=UTC),
            )
        )
    finally:
        store.close()


def export(cli: Cli, path: Path, *args: str) -> dict[str, Any]:
    result = cli("-o", "json", "backup", "export", str(path), *args)
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def without_export_time(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "exported_at"}


def seed_fleet(url: str, config_dir: Path) -> None:
    seed_tenant(
        url,
        "Acme Corporation",
        config_dir=config_dir,
        env_overrides={"web": {"API_TOKEN": SECRET, "MODE": "fast"}},
    )
    seed_tenant(url, "Café Ünïcode Ltd", config_dir=config_dir)
    # A fleet tier and a recorded template revision: carried by the backup like the rest.
    from sqlalchemy import text

    from rcp.store import open_store

    store = open_store(url)
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE tenants SET tier = 'canary', revision_hash = :hash,"
                " revision_label = 'v7', revision_at = updated_at WHERE slug = 'acme-corporation'"
            ),
            {"hash": "ab" * 32},
        )
    store.close()
    add_audit(url, "rcp tenant create 'Acme Corporation'", "acme-corporation")
    add_audit(url, "rcp db upgrade", None)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("sqlite", "sqlite"),
        ("sqlite", "postgres"),
        ("postgres", "sqlite"),
        ("postgres", "postgres"),
    ],
)
def test_round_trip_reproduces_the_state(
    cli: Cli,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_database: Callable[[str], str],
    source: str,
    target: str,
) -> None:
    source_url = make_database(source)
    monkeypatch.setenv("RCP_DATABASE_URL", source_url)
    # The sandbox keeps its own records unless told where (RCP_SANDBOX_DATABASE_URL).
    monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", source_url)
    seed_fleet(source_url, isolated_env / "config")
    first = export(cli, isolated_env / "first.json", "--include-secrets")
    assert first["format"] == "rcp-backup" and first["version"] == 1
    assert first["secrets_included"] is True
    assert [t["slug"] for t in first["tenants"]] == ["acme-corporation", "cafe-unicode-ltd"]
    acme = first["tenants"][0]
    assert {"service": "web", "key": "API_TOKEN", "value": SECRET} in acme["env_overrides"]
    assert [r["key"] for r in acme["resources"]] == ["db", "web"]
    assert acme["rendered_template"]["name"] == "default"
    assert acme["tier"] == "canary"
    assert acme["template_revision"]["hash"] == "ab" * 32
    assert acme["template_revision"]["label"] == "v7"
    assert first["tenants"][1]["tier"] is None
    assert acme["journal"][0]["step"] == "create"
    assert first["audit"][0]["at"] == "2026-11-20T09:30:15.123456Z"

    database_url = make_database(target)
    monkeypatch.setenv("RCP_DATABASE_URL", database_url)
    # The sandbox keeps its own records unless told where (RCP_SANDBOX_DATABASE_URL).
    monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", database_url)
    imported = cli("-o", "json", "backup", "import", str(isolated_env / "first.json"))
    assert imported.exit_code == 0, imported.stderr
    assert imported.json()["data"] == {
        "dry_run": False,
        "secrets_included": True,
        "tenants_created": ["acme-corporation", "cafe-unicode-ltd"],
        "tenants_overwritten": [],
        "journal_entries": 2,
        "audit_entries_added": 2,
        "audit_entries_skipped": 0,
        "env_values_missing": [],
    }
    second = export(cli, isolated_env / "second.json", "--include-secrets")
    # The import is itself audited: the only addition.
    assert second["audit"][-1]["command"].startswith("rcp -o json backup import")
    second["audit"] = second["audit"][:-1]
    assert without_export_time(second) == without_export_time(first)

    shown = cli("-o", "json", "tenant", "show", "acme-corporation")
    assert shown.exit_code == 0
    assert shown.json()["data"]["env_overrides"] == [
        {"service": "web", "key": "API_TOKEN", "value": "***"},
        {"service": "web", "key": "MODE", "value": "***"},
    ]


@pytest.mark.usefixtures("sandbox_env")
def test_backup_of_provisioned_tenants_never_shows_secrets_unless_asked(
    cli: Cli, database_url: str, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = create_tenant(cli, "acme")
    set_env_overrides(database_url, "acme", {"web": {"API_TOKEN": SECRET}})

    human = cli("backup", "export")  # stdout: the document is the result
    assert human.exit_code == 0, human.stderr
    document = json.loads(human.stdout)
    assert SECRET not in human.stdout + human.stderr
    assert document["secrets_included"] is False
    (backup,) = document["tenants"]
    assert backup["env_overrides"] == [{"service": "web", "key": "API_TOKEN"}]
    assert {r["render_id"] for r in backup["resources"]} == set(
        tenant["render_service_ids"].values()
    )
    assert {r["state"] for r in backup["resources"]} == {"live", "available"}
    assert [(j["status"], j["resource_key"]) for j in backup["journal"]][:2] == [
        ("pending", "db"),
        ("done", "db"),
    ]

    enveloped = cli("-o", "json", "backup", "export")
    assert enveloped.exit_code == 0
    assert without_export_time(enveloped.json()["data"]) == without_export_time(document)
    envelope_file = isolated_env / "envelope.json"
    envelope_file.write_text(enveloped.stdout)

    revealed = cli("backup", "export", "--include-secrets")
    assert SECRET in revealed.stdout  # explicitly asked for

    # Restore into a new database, with no Render at all: records only.
    monkeypatch.delenv("RCP_SANDBOX")
    monkeypatch.setenv("RCP_DATABASE_URL", f"sqlite:///{isolated_env / 'restored.db'}")
    # The sandbox keeps its own records unless told where (RCP_SANDBOX_DATABASE_URL).
    monkeypatch.setenv("RCP_SANDBOX_DATABASE_URL", f"sqlite:///{isolated_env / 'restored.db'}")
    restored = cli("-o", "json", "backup", "import", str(envelope_file))
    assert restored.exit_code == 0, restored.stderr
    assert restored.json()["data"]["env_values_missing"] == [
        {"slug": "acme", "service": "web", "key": "API_TOKEN"}
    ]
    assert "API_TOKEN has no value in the backup" in restored.stderr
    assert SECRET not in restored.stdout + restored.stderr
    shown = cli("-o", "json", "tenant", "show", "acme")
    assert shown.json()["data"]["render_service_ids"] == tenant["render_service_ids"]
    assert shown.json()["data"]["status"] == "ACTIVE"
    assert shown.json()["data"]["env_overrides"] == []


def test_existing_tenants_are_refused_unless_overwrite(
    cli: Cli, database_url: str, isolated_env: Path
) -> None:
    from rcp.store import open_store

    seed_fleet(database_url, isolated_env / "config")
    backup = isolated_env / "backup.json"
    export(cli, backup)  # without secrets
    audit_before = cli("-o", "json", "audit").json()["data"]

    for extra in ((), ("--dry-run",)):
        refused = cli("-o", "json", "backup", "import", str(backup), *extra)
        assert refused.exit_code == 4
        error = refused.json()["error"]
        assert error["code"] == "tenant_exists"
        assert "acme-corporation" in error["message"] and "--overwrite" in error["hint"]
    assert cli("-o", "json", "audit").json()["data"] == audit_before

    # Change the record after the backup: an overwrite restores the backup's version, keeping
    # the env values the secret-less backup does not carry.
    set_env_overrides(
        database_url, "acme-corporation", {"web": {"API_TOKEN": "newer", "MODE": "x"}}
    )
    dry = cli("-o", "json", "backup", "import", str(backup), "--overwrite", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert dry.json()["data"]["dry_run"] is True
    assert dry.json()["data"]["tenants_overwritten"] == ["acme-corporation", "cafe-unicode-ltd"]
    assert dry.json()["data"]["audit_entries_added"] == 0
    assert dry.json()["data"]["audit_entries_skipped"] == 2
    assert cli("-o", "json", "audit").json()["data"] == audit_before  # dry runs are not audited

    done = cli("-o", "json", "backup", "import", str(backup), "--overwrite")
    assert done.exit_code == 0, done.stderr
    assert done.json()["data"]["env_values_missing"] == []
    store = open_store(database_url)
    try:
        tenant = store.get_tenant("acme-corporation")
    finally:
        store.close()
    assert tenant is not None
    assert tenant.env_overrides == {"web": {"API_TOKEN": "newer", "MODE": "x"}}
    audit_after = cli("-o", "json", "audit").json()["data"]
    assert len(audit_after) == len(audit_before) + 1
    assert audit_after[0]["command"].endswith("--overwrite")
    assert audit_after[0]["outcome"] == "ok"


def test_a_locked_tenant_is_not_overwritten(cli: Cli, sqlite_url: str, isolated_env: Path) -> None:
    from rcp.core.models import LockHolder
    from rcp.store import open_store

    seed_fleet(sqlite_url, isolated_env / "config")
    backup = isolated_env / "backup.json"
    export(cli, backup)
    store = open_store(sqlite_url)
    try:
        lease = store.acquire_lock(
            "cafe-unicode-ltd",
            LockHolder(actor="bob", host="ci-7", pid=4242, command="rcp tenant delete x"),
        )
        result = cli("-o", "json", "backup", "import", str(backup), "--overwrite")
        assert result.exit_code == 4
        assert result.json()["error"]["code"] == "tenant_locked"
        assert "bob" in result.json()["error"]["message"]
        # The lock taken on the other tenant first was given back.
        assert store.get_lock("acme-corporation") is not None
        assert not store.get_lock("acme-corporation").held  # type: ignore[union-attr]
        store.release_lock(lease)
    finally:
        store.close()


def test_export_file_is_private(cli: Cli, sqlite_url: str, isolated_env: Path) -> None:
    seed_fleet(sqlite_url, isolated_env / "config")
    path = isolated_env / "backup.json"
    path.write_text("old")
    os.chmod(path, 0o644)
    result = cli("-o", "json", "backup", "export", str(path), "--include-secrets")
    assert result.exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert result.json()["data"]["path"] == str(path)
    assert result.json()["data"]["tenants"] == 2
    assert SECRET not in result.stdout + result.stderr
    assert SECRET in path.read_text()
    assert cli("backup", "export", str(isolated_env)).exit_code == 2


def test_import_from_stdin(cli: Cli, sqlite_url: str, isolated_env: Path) -> None:
    seed_fleet(sqlite_url, isolated_env / "config")
    text = cli("backup", "export", "--include-secrets").stdout
    result = cli("-o", "json", "backup", "import", "-", "--overwrite", input=text)
    assert result.exit_code == 0, result.stderr
    assert result.json()["data"]["tenants_overwritten"] == ["acme-corporation", "cafe-unicode-ltd"]


def _document() -> dict[str, Any]:
    return {
        "format": "rcp-backup",
        "version": 1,
        "exported_at": "2026-11-26T10:00:00Z",
        "tenants": [
            {
                "name": "Acme",
                "slug": "acme",
                "status": "ACTIVE",
                "template": "default",
                "custom_plugin_repo": None,
                "rendered_template": {"name": "default", "resources": []},
                "created_at": "2026-11-26T10:00:00Z",
                "updated_at": "2026-11-26T10:00:00Z",
                "last_error": None,
                "resources": [],
                "env_overrides": [],
                "journal": [],
            }
        ],
        "audit": [],
    }


def _broken(change: Callable[[dict[str, Any]], None]) -> str:
    document = _document()
    change(document)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        (json.dumps({"format": "tar"}), "not an rcp backup"),
        (_broken(lambda d: d.update(version=2)), "newer than this rcp reads"),
        (_broken(lambda d: d["tenants"][0].pop("slug")), "document.tenants[0].slug: missing"),
        (_broken(lambda d: d["tenants"][0].update(slug="Bad Slug")), "tenants[0].slug"),
        (_broken(lambda d: d["tenants"][0].update(status="GONE")), "unknown status"),
        (_broken(lambda d: d["tenants"].append(d["tenants"][0])), "appears twice"),
        (_broken(lambda d: d["tenants"][0].update(created_at="yesterday")), "not a timestamp"),
        (_broken(lambda d: d.update(audit=[{"at": "2026-11-26T10:00:00Z"}])), "audit[0].actor"),
        (_broken(lambda d: d["tenants"][0].update(tier="no tier")), "tenants[0].tier: not a tier"),
        (
            _broken(lambda d: d["tenants"][0].update(template_revision={"hash": "xyz"})),
            "tenants[0].template_revision.hash: expected 64 hex digits",
        ),
    ],
)
def test_bad_documents_are_rejected_before_any_write(
    cli: Cli, sqlite_url: str, isolated_env: Path, content: str, message: str
) -> None:
    path = isolated_env / "bad.json"
    path.write_text(content)
    result = cli("-o", "json", "backup", "import", str(path))
    assert result.exit_code == 2, result.stderr
    assert message in result.json()["error"]["message"]
    assert cli("-o", "json", "tenant", "list").json()["data"] == []
    assert cli("-o", "json", "audit").json()["data"] == []


def test_missing_file_is_a_usage_error(cli: Cli, sqlite_url: str, isolated_env: Path) -> None:
    result = cli("-o", "json", "backup", "import", str(isolated_env / "nope.json"))
    assert result.exit_code == 2
    assert "cannot read" in result.json()["error"]["message"]


def test_a_valid_minimal_document_imports(cli: Cli, sqlite_url: str, isolated_env: Path) -> None:
    path = isolated_env / "minimal.json"
    path.write_text(json.dumps(_document()))
    result = cli("-o", "json", "backup", "import", str(path))
    assert result.exit_code == 0, result.stderr
    listed = cli("-o", "json", "tenant", "list").json()["data"]
    assert [(t["slug"], t["created_at"]) for t in listed] == [("acme", "2026-11-26T10:00:00Z")]
