"""Packaged Alembic migrations: upgrade from empty, models == migrations, concurrency, refusal."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from store_helpers import open_fresh_database, run_together

from rcp.errors import StoreError
from rcp.store import migrate, open_store
from rcp.store.tables import metadata


def test_head_constant_matches_the_migration_scripts() -> None:
    # HEAD_REVISION lets the at-head check skip importing Alembic; it must not drift.
    assert migrate.script_head() == migrate.HEAD_REVISION
    assert migrate.HEAD_REVISION in migrate.known_revisions()


def test_upgrade_from_empty_database(db_url: str) -> None:
    store = open_store(db_url, auto_upgrade=False)
    try:
        assert store.schema_status() == {
            "current": None,
            "head": migrate.HEAD_REVISION,
            "at_head": False,
        }
        assert store.upgrade() is True
        assert store.schema_status() == {
            "current": migrate.HEAD_REVISION,
            "head": migrate.HEAD_REVISION,
            "at_head": True,
        }
        assert store.upgrade() is False  # idempotent
        store.ping()
    finally:
        store.close()


def test_models_and_migrations_do_not_differ(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    store = open_store(db_url)
    try:
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
        assert differences == []
    finally:
        store.close()


def test_schema_newer_than_the_code_is_refused(db_url: str) -> None:
    open_store(db_url).close()
    store = open_store(db_url, auto_upgrade=False)
    try:
        with store.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
        assert store.schema_status() == {
            "current": "f00dfeed",
            "head": migrate.HEAD_REVISION,
            "at_head": False,
        }
        with pytest.raises(StoreError) as from_upgrade:
            store.upgrade()
    finally:
        store.close()
    with pytest.raises(StoreError) as from_open:
        open_store(db_url)
    for caught in (from_upgrade, from_open):
        assert caught.value.exit_code == 6
        assert "newer" in caught.value.message and "f00dfeed" in caught.value.message
        assert "upgrade rcp" in (caught.value.hint or "")


def test_eight_processes_migrating_a_fresh_database_at_once(db_url: str) -> None:
    outcomes = run_together(open_fresh_database, db_url)

    assert outcomes == [("ok", migrate.HEAD_REVISION)] * 8
    store = open_store(db_url, auto_upgrade=False)
    try:
        with store.engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [tuple(v) for v in versions] == [(migrate.HEAD_REVISION,)]
    finally:
        store.close()


def test_sqlite_is_configured_for_concurrent_use(tmp_path: Any) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'rcp.db'}")
    try:
        with store.engine.connect() as connection:
            pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("busy_timeout") >= 5000
            assert pragma("foreign_keys") == 1
    finally:
        store.close()


def test_sqlite_write_transactions_begin_immediate(tmp_path: Any) -> None:
    """A second writer waits at BEGIN instead of failing mid-transaction: the statement log shows
    every write transaction opens with BEGIN IMMEDIATE, while reads open a plain (deferred)
    BEGIN so a long listing never holds the write lock."""
    from sqlalchemy import event

    from rcp.core.models import AuditEntry

    store = open_store(f"sqlite:///{tmp_path / 'rcp.db'}")
    statements: list[str] = []
    event.listen(
        store.engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *args: statements.append(statement),
    )
    try:
        store.append_audit(
            AuditEntry(
                actor="tester",
                command="rcp tenant create acme",
                tenant="acme",
                outcome="ok",
                exit_code=0,
                duration_ms=1,
            )
        )
        assert statements[0] == "BEGIN IMMEDIATE"
        statements.clear()
        assert store.list_tenants() == []
        assert store.get_tenant("acme") is None
        begins = [s for s in statements if s.startswith("BEGIN")]
        assert begins == ["BEGIN", "BEGIN"]
    finally:
        store.close()


def test_upgrading_a_database_with_tenants_keeps_every_row(db_url: str) -> None:
    """Upgrades from the first revision with data in every table: nothing is lost. (On SQLite a
    batch migration copies a table and drops the old one; with foreign keys enforced, dropping
    ``tenants`` used to cascade and delete every tenant's resources.)"""
    from alembic import command

    store = open_store(db_url, auto_upgrade=False)
    try:
        with store.engine.begin() as connection:
            command.upgrade(migrate._alembic_config(connection), "0001")
            connection.execute(
                text(
                    "INSERT INTO tenants (id, name, slug, status, template, rendered_template,"
                    " env_overrides, created_at, updated_at) VALUES (1, 'Acme', 'acme', 'ACTIVE',"
                    " 'default', '{\"name\": \"default\", \"resources\": []}', '{}',"
                    " '2026-12-01 10:00:00', '2026-12-01 10:00:00')"
                )
            )
            for key in ("web", "db"):
                connection.execute(
                    text(
                        "INSERT INTO tenant_resources (tenant_id, key, type, name, render_id,"
                        " state) VALUES (1, :key, 'web_service', :name, :id, 'live')"
                    ),
                    {"key": key, "name": f"acme-{key}", "id": f"srv-{key}"},
                )
            connection.execute(
                text(
                    "INSERT INTO journal (tenant_slug, step, status, generation, at)"
                    " VALUES ('acme', 'create', 'done', 1, '2026-12-01 10:00:00')"
                )
            )
        assert store.upgrade() is True
        with store.engine.connect() as connection:
            counts = {
                table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                for table in ("tenants", "tenant_resources", "journal")
            }
        assert counts == {"tenants": 1, "tenant_resources": 2, "journal": 1}
        tenant = store.get_tenant("acme")
        assert tenant is not None
        assert sorted(r.key for r in tenant.resources) == ["db", "web"]
        # Foreign keys are enforced again on the connections rcp goes on using.
        if store.engine.dialect.name == "sqlite":
            with store.engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.close()
