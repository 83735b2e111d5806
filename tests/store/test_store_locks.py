"""Tenant leases: busy, expiry, dead-holder takeover, fencing, waiting, racing, keep-alive."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from store_helpers import FakeClock, HolderFactory, race_for_lock, run_together

from rcp.core.models import Resource, Tenant, TenantStatus
from rcp.errors import LockBusy, LockLost
from rcp.store import open_store
from rcp.store.repository import SqlStore


def minimal_tenant(slug: str = "acme") -> Tenant:
    return Tenant(
        name="Acme",
        slug=slug,
        status=TenantStatus.PROVISIONING,
        template="default",
        rendered_template={"name": "default", "resources": []},
    )


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_busy_lock_names_actor_host_pid_and_since(
    store: SqlStore, clock: FakeClock, make_holder: HolderFactory
) -> None:
    store.acquire_lock("acme", make_holder("alice", host="ci-1", pid=4242))
    clock.advance(5)
    with pytest.raises(LockBusy) as caught:
        store.acquire_lock("acme", make_holder("bob", host="ci-2"))
    error = caught.value
    assert error.exit_code == 4
    assert error.code == "tenant_locked"
    assert error.message == (
        "tenant acme is locked by alice@ci-1 (pid 4242) since 2026-11-26T14:00:00Z; "
        "retry later or pass --lock-timeout"
    )
    assert "rcp tenant create acme (by alice)" in (error.hint or "")


def test_actor_that_already_names_the_host_is_not_repeated(
    store: SqlStore, make_holder: HolderFactory
) -> None:
    store.acquire_lock("acme", make_holder("alice@ci-1", host="ci-1", pid=4242))
    with pytest.raises(LockBusy, match=r"locked by alice@ci-1 \(pid 4242\)"):
        store.acquire_lock("acme", make_holder("bob"))


def test_expired_lease_is_taken_over_with_next_generation(
    store: SqlStore, clock: FakeClock, make_holder: HolderFactory
) -> None:
    first = store.acquire_lock("acme", make_holder("alice", host="elsewhere", pid=4242))
    clock.advance(29)
    with pytest.raises(LockBusy):
        store.acquire_lock("acme", make_holder("bob"))
    clock.advance(2)  # 31 s since the last heartbeat
    second = store.acquire_lock("acme", make_holder("bob"))
    assert second.generation == first.generation + 1
    assert second.holder.actor == "bob"
    lock = store.get_lock("acme")
    assert lock is not None and lock.actor == "bob" and lock.generation == second.generation


def test_renewal_keeps_the_lease_alive(
    store: SqlStore, clock: FakeClock, make_holder: HolderFactory
) -> None:
    lease = store.acquire_lock("acme", make_holder("alice", host="elsewhere"))
    for _ in range(5):
        clock.advance(20)
        store.renew_lock(lease)
    with pytest.raises(LockBusy):
        store.acquire_lock("acme", make_holder("bob"))


def test_dead_holder_on_this_host_is_taken_over_at_once(
    store: SqlStore, make_holder: HolderFactory
) -> None:
    this_host = socket.gethostname()
    first = store.acquire_lock("acme", make_holder("alice", host=this_host, pid=dead_pid()))
    second = store.acquire_lock("acme", make_holder("bob"))
    assert second.generation == first.generation + 1


def test_dead_looking_pid_on_another_host_is_not_taken_over(
    store: SqlStore, make_holder: HolderFactory
) -> None:
    # The pid says nothing about a process on another machine: only expiry frees it.
    store.acquire_lock("acme", make_holder("alice", host="other-host", pid=dead_pid()))
    with pytest.raises(LockBusy):
        store.acquire_lock("acme", make_holder("bob"))


def test_live_holder_on_this_host_is_busy(store: SqlStore, make_holder: HolderFactory) -> None:
    store.acquire_lock("acme", make_holder("alice", host=socket.gethostname(), pid=os.getpid()))
    with pytest.raises(LockBusy):
        store.acquire_lock("acme", make_holder("bob"))


def test_stale_lease_cannot_write_anything(
    store: SqlStore, clock: FakeClock, make_holder: HolderFactory
) -> None:
    stale = store.acquire_lock("acme", make_holder("alice", host="elsewhere"))
    store.insert_tenant(minimal_tenant(), lease=stale)
    clock.advance(31)
    current = store.acquire_lock("acme", make_holder("bob"))
    before = store.get_tenant("acme")

    fenced_writes: list[Any] = [
        lambda: store.update_tenant("acme", lease=stale, status=TenantStatus.ERROR, last_error="x"),
        lambda: store.save_resource(
            "acme", Resource(key="web", type="web_service", name="acme-web"), lease=stale
        ),
        lambda: store.remove_resource("acme", "web", lease=stale),
        lambda: store.journal(
            "acme", lease=stale, step="create", resource_key="web", status="pending"
        ),
        lambda: store.delete_tenant("acme", lease=stale),
        lambda: store.insert_tenant(minimal_tenant(), lease=stale),
        lambda: store.renew_lock(stale),
        lambda: store.check_lock(stale),
    ]
    for write in fenced_writes:
        with pytest.raises(LockLost) as caught:
            write()
        assert "it is now held by bob@ci-1" in caught.value.message

    assert store.get_tenant("acme") == before
    assert store.list_journal("acme") == []
    store.check_lock(current)  # the new holder is unaffected
    store.release_lock(stale)  # releasing a lost lease is a no-op …
    lock = store.get_lock("acme")
    assert lock is not None and lock.held and lock.actor == "bob"  # … and frees nothing


def test_generations_keep_increasing_across_release(
    store: SqlStore, make_holder: HolderFactory
) -> None:
    first = store.acquire_lock("acme", make_holder("alice"))
    store.release_lock(first)
    lock = store.get_lock("acme")
    assert lock is not None and not lock.held

    with pytest.raises(LockLost, match="released"):
        store.check_lock(first)
    second = store.acquire_lock("acme", make_holder("bob"))
    assert second.generation == first.generation + 1
    with pytest.raises(LockLost):
        store.journal("acme", lease=first, step="create", resource_key=None, status="pending")
    store.journal("acme", lease=second, step="create", resource_key=None, status="pending")
    assert [e.generation for e in store.list_journal("acme")] == [second.generation]


def test_lease_for_another_slug_is_refused(store: SqlStore, make_holder: HolderFactory) -> None:
    lease = store.acquire_lock("acme", make_holder())
    with pytest.raises(ValueError):
        store.insert_tenant(minimal_tenant("other"), lease=lease)


def test_waiting_acquire_gets_the_lock_once_released(
    store: SqlStore, clock: FakeClock, make_holder: HolderFactory
) -> None:
    held = store.acquire_lock("acme", make_holder("alice"))

    def release_on_third_poll() -> None:
        if len(clock.slept) == 3:
            store.release_lock(held)

    clock.on_sleep.append(release_on_third_poll)
    lease = store.acquire_lock("acme", make_holder("bob"), wait_seconds=10)
    assert lease.holder.actor == "bob"
    assert lease.generation == held.generation + 1
    assert len(clock.slept) == 3
    assert sum(clock.slept) <= 10


def test_waiting_acquire_gives_up_after_the_timeout(
    store: SqlStore, clock: FakeClock, make_holder: HolderFactory
) -> None:
    store.acquire_lock("acme", make_holder("alice", host="elsewhere", pid=4242))
    with pytest.raises(LockBusy, match="still locked after waiting 2s"):
        store.acquire_lock("acme", make_holder("bob"), wait_seconds=2)
    assert sum(clock.slept) == pytest.approx(2)


def test_keep_alive_renews_in_the_background_and_stops_on_exit(
    db_url: str, make_holder: HolderFactory
) -> None:
    fast = open_store(db_url, heartbeat_seconds=0.02)
    try:
        lease = fast.acquire_lock("acme", make_holder())
        first_beat = fast.get_lock("acme").heartbeat_at  # type: ignore[union-attr]
        with fast.keep_alive(lease):
            deadline = time.monotonic() + 5
            while fast.get_lock("acme").heartbeat_at == first_beat:  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "no heartbeat within 5 s"
                time.sleep(0.01)
        assert not [t for t in threading.enumerate() if t.name == "rcp-lease-acme"]
    finally:
        fast.close()


def test_keep_alive_stops_renewing_a_lost_lease(
    db_url: str, clock: FakeClock, make_holder: HolderFactory
) -> None:
    fast = open_store(db_url, heartbeat_seconds=0.02, clock=clock.now)
    try:
        lease = fast.acquire_lock("acme", make_holder("alice", host="elsewhere"))
        with fast.keep_alive(lease):
            clock.advance(31)
            # Taken over (the keep-alive's renewals at the frozen clock cannot stop that once
            # 31 s passed since its last write); the thread must notice and end.
            deadline = time.monotonic() + 5
            while True:
                try:
                    fast.acquire_lock("acme", make_holder("bob"))
                    break
                except LockBusy:
                    assert time.monotonic() < deadline
                    clock.advance(31)
            while any(t.name == "rcp-lease-acme" for t in threading.enumerate()):
                assert time.monotonic() < deadline, "keep-alive thread still running"
                time.sleep(0.01)
        lock = fast.get_lock("acme")
        assert lock is not None and lock.actor == "bob"
    finally:
        fast.close()


def test_eight_processes_racing_for_one_lock_exactly_one_wins(db_url: str) -> None:
    open_store(db_url).close()  # migrated up front: this test is about the lock only
    outcomes = run_together(race_for_lock, db_url)

    assert [o for o in outcomes if o[0] == "error"] == []
    winners = [o for o in outcomes if o[0] == "won"]
    assert len(winners) == 1, outcomes
    assert winners[0][2] == 1
    assert sum(1 for o in outcomes if o[0] == "busy") == 7


def test_threads_racing_for_an_expired_lock_exactly_one_takes_over(
    store: SqlStore, clock: FakeClock, make_holder: HolderFactory
) -> None:
    first = store.acquire_lock("acme", make_holder("old", host="elsewhere"))
    clock.advance(60)
    start = threading.Barrier(8)
    outcomes: list[tuple[str, int]] = []
    guard = threading.Lock()

    def contend(index: int) -> None:
        start.wait(timeout=30)
        try:
            lease = store.acquire_lock("acme", make_holder(f"t{index}"))
            result = ("won", lease.generation)
        except LockBusy:
            result = ("busy", 0)
        with guard:
            outcomes.append(result)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == [("busy", 0)] * 7 + [("won", first.generation + 1)]
    assert store.get_lock("acme").generation == first.generation + 1  # type: ignore[union-attr]


def test_lock_times_are_utc(store: SqlStore, clock: FakeClock, make_holder: HolderFactory) -> None:
    lease = store.acquire_lock("acme", make_holder())
    assert lease.acquired_at == clock.now()
    lock = store.get_lock("acme")
    assert lock is not None and lock.heartbeat_at == clock.now()
    assert lock.heartbeat_at.utcoffset() == timedelta(0)
