"""Round trips through SqlStore on SQLite and (when configured) Postgres."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from store_helpers import FakeClock, HolderFactory

from rcp.core.models import AuditEntry, Resource, Tenant, TenantStatus
from rcp.core.ports import TenantStore
from rcp.errors import ConflictError, StoreError, TenantNotFound
from rcp.store.repository import SqlStore

RENDERED = {
    "name": "default",
    "resources": [
        {
            "key": "db",
            "render_type": "postgres",
            "name": "acme-db",
            "body": {"plan": "basic_256mb"},
        },
        {
            "key": "web",
            "render_type": "web_service",
            "name": "acme-web",
            "body": {"region": "oregon"},
        },
    ],
}


def new_tenant(slug: str = "acme", **overrides: object) -> Tenant:
    fields: dict[str, object] = {
        "name": "Acme Corporation – Ünïcode",
        "slug": slug,
        "status": TenantStatus.PROVISIONING,
        "template": "default",
        "rendered_template": RENDERED,
        "custom_plugin_repo": "https://github.com/acme/plugins",
        "env_overrides": {"web": {"FEATURE_X": "on", "SECRET": "s3cr3t"}},
        "resources": [
            Resource(key="db", type="postgres", name=f"{slug}-db"),
            Resource(key="web", type="web_service", name=f"{slug}-web"),
        ],
    }
    fields.update(overrides)
    return Tenant(**fields)  # type: ignore[arg-type]


def test_sql_store_satisfies_the_tenant_store_protocol(store: SqlStore) -> None:
    port: TenantStore = store  # mypy checks the structure; this checks it at run time too
    for name in TenantStore.__dict__:
        if not name.startswith("_"):
            assert callable(getattr(port, name)), name


def test_insert_then_get_round_trips_every_field(
    store: SqlStore, clock: FakeClock, make_holder: HolderFactory
) -> None:
    lease = store.acquire_lock("acme", make_holder())
    inserted = store.insert_tenant(new_tenant(), lease=lease)

    assert inserted.id is not None
    assert inserted.created_at == clock.now()
    assert inserted.updated_at == clock.now()
    loaded = store.get_tenant("acme")
    assert loaded is not None
    assert loaded == inserted
    assert loaded.name == "Acme Corporation – Ünïcode"
    assert loaded.rendered_template == RENDERED
    assert loaded.env_overrides == {"web": {"FEATURE_X": "on", "SECRET": "s3cr3t"}}
    assert loaded.custom_plugin_repo == "https://github.com/acme/plugins"
    assert [r.key for r in loaded.resources] == ["db", "web"]  # creation order kept
    assert loaded.created_at is not None and loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert store.get_tenant("nope") is None


def test_to_json_derives_render_service_ids_from_resources(
    store: SqlStore, make_holder: HolderFactory
) -> None:
    lease = store.acquire_lock("acme", make_holder())
    store.insert_tenant(new_tenant(), lease=lease)
    store.save_resource(
        "acme",
        Resource(
            key="web",
            type="web_service",
            name="acme-web",
            render_id="srv-abc",
            state="live",
            url="https://acme-web.onrender.com",
            deploy_id="dep-1",
        ),
        lease=lease,
    )
    document = store.get_tenant("acme").to_json()  # type: ignore[union-attr]
    assert document["render_service_ids"] == {"web": "srv-abc"}
    assert document["created_at"].endswith("Z")
    web = next(r for r in document["resources"] if r["key"] == "web")
    assert web == {
        "key": "web",
        "type": "web_service",
        "render_id": "srv-abc",
        "name": "acme-web",
        "state": "live",
        "url": "https://acme-web.onrender.com",
        "last_error": None,
    }


def test_insert_of_an_existing_slug_is_a_conflict(
    store: SqlStore, make_holder: HolderFactory
) -> None:
    lease = store.acquire_lock("acme", make_holder())
    store.insert_tenant(new_tenant(), lease=lease)
    with pytest.raises(ConflictError) as caught:
        store.insert_tenant(new_tenant(name="Other"), lease=lease)
    assert caught.value.exit_code == 4
    assert "acme" in caught.value.message
    assert store.get_tenant("acme").name == "Acme Corporation – Ünïcode"  # type: ignore[union-attr]


def test_update_tenant_changes_only_what_is_given(
    store: SqlStore, clock: FakeClock, make_holder: HolderFactory
) -> None:
    lease = store.acquire_lock("acme", make_holder())
    created = store.insert_tenant(new_tenant(), lease=lease)
    clock.advance(60)

    store.update_tenant(
        "acme", lease=lease, status=TenantStatus.ERROR, last_error="web: build failed"
    )
    after_error = store.get_tenant("acme")
    assert after_error is not None
    assert after_error.status is TenantStatus.ERROR
    assert after_error.last_error == "web: build failed"
    assert after_error.env_overrides == created.env_overrides
    assert after_error.created_at == created.created_at
    assert after_error.updated_at == created.created_at + timedelta(seconds=60)  # type: ignore[operator]

    store.update_tenant(
        "acme",
        lease=lease,
        status=TenantStatus.ACTIVE,
        clear_error=True,
        env_overrides={"web": {"A": "1"}},
        rendered_template={"name": "default", "resources": []},
    )
    active = store.get_tenant("acme")
    assert active is not None
    assert active.status is TenantStatus.ACTIVE
    assert active.last_error is None
    assert active.env_overrides == {"web": {"A": "1"}}
    assert active.rendered_template == {"name": "default", "resources": []}


def test_update_of_a_missing_tenant_is_not_found(
    store: SqlStore, make_holder: HolderFactory
) -> None:
    lease = store.acquire_lock("ghost", make_holder())
    with pytest.raises(TenantNotFound):
        store.update_tenant("ghost", lease=lease, status=TenantStatus.ACTIVE)
    with pytest.raises(TenantNotFound):
        store.save_resource(
            "ghost", Resource(key="web", type="web_service", name="ghost-web"), lease=lease
        )
    with pytest.raises(TenantNotFound):
        store.delete_tenant("ghost", lease=lease)


def test_save_resource_inserts_then_updates_all_fields(
    store: SqlStore, make_holder: HolderFactory
) -> None:
    lease = store.acquire_lock("acme", make_holder())
    store.insert_tenant(new_tenant(resources=[]), lease=lease)

    store.save_resource("acme", Resource(key="kv", type="key_value", name="acme-kv"), lease=lease)
    store.save_resource(
        "acme",
        Resource(
            key="kv",
            type="key_value",
            name="acme-kv",
            render_id="red-1",
            state="available",
            url=None,
            deploy_id=None,
        ),
        lease=lease,
    )
    tenant = store.get_tenant("acme")
    assert tenant is not None
    assert tenant.resources == [
        Resource(key="kv", type="key_value", name="acme-kv", render_id="red-1", state="available")
    ]

    store.remove_resource("acme", "kv", lease=lease)
    store.remove_resource("acme", "not-there", lease=lease)  # removing nothing is fine
    assert store.get_tenant("acme").resources == []  # type: ignore[union-attr]


def test_list_tenants_sorted_by_slug_and_filtered_by_status(
    store: SqlStore, make_holder: HolderFactory
) -> None:
    for slug, status in [
        ("zeta", TenantStatus.ACTIVE),
        ("alpha", TenantStatus.ERROR),
        ("mid", TenantStatus.ACTIVE),
    ]:
        lease = store.acquire_lock(slug, make_holder())
        store.insert_tenant(new_tenant(slug, status=status), lease=lease)
        store.release_lock(lease)

    assert [t.slug for t in store.list_tenants()] == ["alpha", "mid", "zeta"]
    assert [t.slug for t in store.list_tenants(TenantStatus.ACTIVE)] == ["mid", "zeta"]
    assert store.list_tenants(TenantStatus.SUSPENDED) == []
    assert all(len(t.resources) == 2 for t in store.list_tenants())


def test_delete_tenant_removes_tenant_and_resources_but_keeps_journal(
    store: SqlStore, make_holder: HolderFactory
) -> None:
    lease = store.acquire_lock("acme", make_holder())
    store.insert_tenant(new_tenant(), lease=lease)
    store.journal(
        "acme", lease=lease, step="delete", resource_key="web", status="done", render_id="srv-1"
    )
    store.delete_tenant("acme", lease=lease)

    assert store.get_tenant("acme") is None
    assert [(e.step, e.status) for e in store.list_journal("acme")] == [("delete", "done")]

    # The slug is free again: a new record gets fresh resources, none left over.
    store.insert_tenant(new_tenant(resources=[]), lease=lease)
    assert store.get_tenant("acme").resources == []  # type: ignore[union-attr]


def test_journal_rows_are_appended_in_order_with_generation(
    store: SqlStore, clock: FakeClock, make_holder: HolderFactory
) -> None:
    lease = store.acquire_lock("acme", make_holder())
    store.journal(
        "acme",
        lease=lease,
        step="create",
        resource_key="db",
        status="pending",
        render_name="acme-db",
    )
    clock.advance(1)
    store.journal(
        "acme",
        lease=lease,
        step="create",
        resource_key="db",
        status="done",
        render_name="acme-db",
        render_id="dpg-1-a",
        detail="created",
    )
    entries = store.list_journal("acme")
    assert [(e.status, e.render_id) for e in entries] == [("pending", None), ("done", "dpg-1-a")]
    assert {e.generation for e in entries} == {lease.generation}
    assert entries[1].at == clock.now()
    assert entries[1].detail == "created"
    assert store.list_journal("other") == []


def test_audit_log_filters_and_returns_newest_first(store: SqlStore, clock: FakeClock) -> None:
    base = clock.now()
    for minutes, tenant, outcome in [
        (0, "acme", "ok"),
        (10, "beta", "conflict"),
        (20, "acme", "ok"),
        (30, None, "ok"),
    ]:
        store.append_audit(
            AuditEntry(
                actor="alice",
                command=f"rcp x {minutes}",
                tenant=tenant,
                outcome=outcome,
                exit_code=0 if outcome == "ok" else 4,
                duration_ms=minutes * 100,
                at=base + timedelta(minutes=minutes),
            )
        )

    everything = store.list_audit()
    assert [e.command for e in everything] == ["rcp x 30", "rcp x 20", "rcp x 10", "rcp x 0"]
    assert all(e.id is not None for e in everything)
    assert everything[2].outcome == "conflict" and everything[2].exit_code == 4
    assert everything[0].at == base + timedelta(minutes=30)
    assert everything[0].at.tzinfo is UTC or everything[0].at.utcoffset() == timedelta(0)

    assert [e.command for e in store.list_audit(tenant="acme")] == ["rcp x 20", "rcp x 0"]
    assert [e.command for e in store.list_audit(since=base + timedelta(minutes=10))] == [
        "rcp x 30",
        "rcp x 20",
        "rcp x 10",
    ]
    assert [e.command for e in store.list_audit(limit=2)] == ["rcp x 30", "rcp x 20"]
    assert everything[0].to_json()["at"].endswith("Z")


def test_audit_survives_tenant_deletion(store: SqlStore, make_holder: HolderFactory) -> None:
    lease = store.acquire_lock("acme", make_holder())
    store.insert_tenant(new_tenant(), lease=lease)
    store.append_audit(
        AuditEntry(
            actor="a",
            command="rcp tenant create acme",
            tenant="acme",
            outcome="ok",
            exit_code=0,
            duration_ms=5,
        )
    )
    store.delete_tenant("acme", lease=lease)
    assert [e.tenant for e in store.list_audit(tenant="acme")] == ["acme"]


def test_unmigrated_database_gives_a_store_error_with_upgrade_hint(db_url: str) -> None:
    from rcp.store import open_store

    bare = open_store(db_url, auto_upgrade=False)
    try:
        with pytest.raises(StoreError) as caught:
            bare.get_tenant("acme")
        assert "rcp db upgrade" in (caught.value.hint or "")
    finally:
        bare.close()


def _sqlite_busy() -> Exception:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    return OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))


def test_sqlite_busy_is_retried_then_reported_as_temporary(
    tmp_path: object, clock: FakeClock
) -> None:
    from rcp.errors import RetryLater
    from rcp.store import open_store

    store = open_store(f"sqlite:///{tmp_path}/rcp.db", sleep=clock.sleep)
    try:
        attempts: list[int] = []

        def busy_twice(_session: object) -> str:
            attempts.append(1)
            if len(attempts) <= 2:
                raise _sqlite_busy()
            return "done"

        assert store._transaction(busy_twice) == "done"
        assert len(clock.slept) == 2

        def always_busy(_session: object) -> None:
            raise _sqlite_busy()

        with pytest.raises(RetryLater) as caught:
            store._transaction(always_busy)
        assert caught.value.exit_code == 75
        assert "database is locked" not in caught.value.message
    finally:
        store.close()


def test_default_clock_stamps_current_utc_time(db_url: str, make_holder: HolderFactory) -> None:
    """Without an injected clock (Postgres: the server's clock) timestamps are now, in UTC."""
    from datetime import datetime

    from rcp.store import open_store

    real = open_store(db_url)
    try:
        before = datetime.now(UTC)
        lease = real.acquire_lock("acme", make_holder())
        tenant = real.insert_tenant(new_tenant(), lease=lease)
        after = datetime.now(UTC)
        slack = timedelta(seconds=5)  # server and test clocks are the same machine here
        assert tenant.created_at is not None
        assert before - slack <= tenant.created_at <= after + slack
        assert before - slack <= lease.acquired_at <= after + slack
        assert lease.acquired_at.utcoffset() == timedelta(0)
    finally:
        real.close()


# --------------------------------------------------------------------- many tenants (issue 12)


def _many(count: int) -> list[Tenant]:
    """``count`` tenants t00000…, every third ACTIVE with Render ids, the others PROVISIONING."""
    tenants = []
    for index in range(count):
        slug = f"t{index:05d}"
        active = index % 3 == 0
        tenants.append(
            new_tenant(
                slug,
                status=TenantStatus.ACTIVE if active else TenantStatus.PROVISIONING,
                resources=[
                    Resource(
                        key="db",
                        type="postgres",
                        name=f"{slug}-db",
                        render_id=f"dpg-{index:05d}" if active else None,
                    ),
                    Resource(key="web", type="web_service", name=f"{slug}-web"),
                ],
            )
        )
    return tenants


def test_many_tenants_are_read_a_page_at_a_time_with_their_own_resources(
    store: SqlStore,
) -> None:
    from rcp.store import repository
    from rcp.store.transfer import bulk_insert_tenants

    count = repository.PAGE_SIZE * 2 + 7  # three pages, the last one partial
    assert bulk_insert_tenants(store, _many(count), batch=400) == count

    listed = list(store.iter_tenants())
    assert [t.slug for t in listed] == [f"t{i:05d}" for i in range(count)]
    for tenant in listed:
        assert [r.name for r in tenant.resources] == [f"{tenant.slug}-db", f"{tenant.slug}-web"]
    active = list(store.iter_tenants(TenantStatus.ACTIVE, snapshot=False))
    assert [t.slug for t in active] == [f"t{i:05d}" for i in range(0, count, 3)]
    assert all(t.resources[0].render_id == f"dpg-{t.slug[1:]}" for t in active)
    assert store.list_tenants(TenantStatus.ACTIVE) == active
    assert store.list_slugs() == [t.slug for t in listed]

    wanted = [f"t{i:05d}" for i in range(0, count, 2)] + ["absent"]
    found = store.get_tenants(wanted)
    assert sorted(found) == sorted(wanted[:-1])
    assert found["t00002"] == listed[2]


def test_owners_of_render_names_and_ids_are_looked_up_by_value(
    store: SqlStore, make_holder: HolderFactory
) -> None:
    from rcp.store.transfer import bulk_insert_tenants

    bulk_insert_tenants(store, _many(30))
    assert store.render_name_owners({"t00004-web", "t00007-db", "free-web"}) == [
        ("t00004-web", "t00004"),
        ("t00007-db", "t00007"),
    ]
    assert store.render_id_owners({"dpg-00003", "dpg-00004", "srv-x"}) == [
        ("dpg-00003", "t00003", "db")
    ]
    assert store.render_name_owners(set()) == []


def test_the_resource_name_and_render_id_columns_are_indexed(store: SqlStore) -> None:
    from sqlalchemy import inspect

    with store.engine.connect() as connection:
        indexes = {
            tuple(index["column_names"])
            for index in inspect(connection).get_indexes("tenant_resources")
        }
    assert {("name",), ("render_id",)} <= indexes


def test_bulk_inserted_ids_do_not_collide_with_later_inserts(
    store: SqlStore, make_holder: HolderFactory
) -> None:
    from rcp.store.transfer import bulk_insert_tenants

    bulk_insert_tenants(store, _many(5))
    lease = store.acquire_lock("zeta", make_holder())
    inserted = store.insert_tenant(new_tenant("zeta"), lease=lease)
    assert inserted.id == 6
