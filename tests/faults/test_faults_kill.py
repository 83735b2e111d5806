"""Scenarios 6 and 7: SIGKILL at every journal step boundary, and SIGINT / SIGTERM mid-create."""

from __future__ import annotations

import functools
import signal
import subprocess
import time
from collections.abc import Callable

import pytest
from fault_harness import (
    FULL_KEYS,
    EngineRunner,
    Rcp,
    Run,
    Sandbox,
    converged,
    drain,
    mutations,
    parallel,
    posts_to,
    record,
)

pytestmark = pytest.mark.slow  # real subprocesses against a served sandbox


STEPS = ("before", "after", "committed")


# Resources are ready almost at once: these scenarios are about the journal, not the wait.
FAST = {"deploy_seconds": 0.05, "datastore_seconds": 0.05}


# ------------------------------------------------------------------------------ scenario 6


SCENARIO_6 = "6 SIGKILL at every step boundary"


def scenario_sigkill_at_every_step_boundary(sandbox: Sandbox, rcp: Rcp) -> None:
    """For every kill point one tenant, in four phases; within a phase the tenants run side by
    side. Phases 2 and 4 hold only "second reruns", so *no* mutating request may reach the
    server while they run — which proves it for each kill point at once."""
    # Every kind of resource: the full template's Postgres, Key Value and web service.
    points = [(key, step) for key in FULL_KEYS for step in STEPS]
    rcp.install_template()

    def slug_of(key: str, step: str) -> str:
        return f"kill-{key}-{step}"

    def phase(job: Callable[[str, str], None]) -> None:
        errors: list[str] = []

        def guarded(key: str, step: str) -> None:
            try:
                job(key, step)
            except AssertionError as exc:
                errors.append(f"{key}:{step}: {exc}")

        list(parallel([functools.partial(guarded, k, s) for k, s in points], workers=3))
        assert not errors, "\n\n".join(errors)

    def kill_create_then_rerun(key: str, step: str) -> None:
        slug = slug_of(key, step)
        killed = rcp("tenant", "create", slug, "--template", "full",
                     env={"RCP_FAILPOINT": f"create:{key}:{step}"})
        assert killed.exit_code == -signal.SIGKILL, killed.describe()
        rerun = rcp("-o", "json", "tenant", "create", slug, "--template", "full")
        assert rerun.exit_code == 0, f"after create:{key}:{step}\n{rerun.describe()}"
        assert rerun.json()["data"]["status"] == "ACTIVE"
        converged(SCENARIO_6, sandbox, rcp, [slug], runs=2)

    def create_again(key: str, step: str) -> None:
        again = rcp("-o", "json", "tenant", "create", slug_of(key, step), "--template", "full")
        assert again.exit_code == 0, again.describe()
        record(SCENARIO_6, rcp.engine, runs=1)

    def kill_delete_then_rerun(key: str, step: str) -> None:
        slug = slug_of(key, step)
        killed = rcp("tenant", "delete", slug, "--yes", env={"RCP_FAILPOINT": f"delete:{key}:{step}"})
        assert killed.exit_code == -signal.SIGKILL, killed.describe()
        rerun = rcp("-o", "json", "tenant", "delete", slug, "--yes")
        assert rerun.exit_code == 0, f"after delete:{key}:{step}\n{rerun.describe()}"
        assert slug not in rcp.tenants()
        converged(SCENARIO_6, sandbox, rcp, [slug], runs=2)

    def delete_again(key: str, step: str) -> None:
        again = rcp("-o", "json", "tenant", "delete", slug_of(key, step), "--yes", "--missing-ok")
        assert again.exit_code == 0, again.describe()
        assert again.json()["data"]["deleted"] is False
        record(SCENARIO_6, rcp.engine, runs=1)

    phase(kill_create_then_rerun)
    before = sandbox.last_seq()
    phase(create_again)
    assert mutations(sandbox.requests(), after_seq=before) == []
    converged(SCENARIO_6, sandbox, rcp, [slug_of(k, s) for k, s in points], runs=0)

    phase(kill_delete_then_rerun)
    before = sandbox.last_seq()
    phase(delete_again)
    assert sandbox.last_seq() == before  # nothing left to do: not a single Render call
    converged(SCENARIO_6, sandbox, rcp, [slug_of(k, s) for k, s in points], runs=0)


# ------------------------------------------------------------------------------ scenario 7


def _start_create_and_wait_for_inflight(
    sandbox: Sandbox, rcp: Rcp, slug: str, delay: float
) -> tuple[subprocess.Popen[str], list[str]]:
    """Start a create whose Key Value POST (2nd of 3) the server holds for ``delay`` seconds;
    return once that POST has reached the server (it is the call in flight)."""
    rcp.install_template()
    sandbox.add_faults({"method": "POST", "path": "/key-value", "action": "delay", "seconds": delay})
    process = rcp.popen("-o", "json", "tenant", "create", slug, "--template", "full")
    lines: list[str] = []
    drain(process.stderr, lines)
    try:
        sandbox.wait_until_fault_matched()
    except AssertionError:
        process.kill()
        raise AssertionError("".join(lines)) from None
    return process, lines


def scenario_signal_mid_create_stops_cleanly(
    sandbox: Sandbox, rcp: Rcp, signal_number: int, exit_code: int
) -> None:
    scenario = "7 SIGINT/SIGTERM mid-create"
    slug = f"sig{exit_code}"
    process, lines = _start_create_and_wait_for_inflight(sandbox, rcp, slug, delay=1.5)
    signalled = time.monotonic()
    process.send_signal(signal_number)
    assert process.stdout is not None
    stdout = process.stdout.read()
    code = process.wait(timeout=60)
    elapsed = time.monotonic() - signalled
    assert code == exit_code, "".join(lines) + stdout
    # The call in flight (held ≤ 1.5 s) finished, then a clean stop: bounded, not tight (a
    # loaded CI host takes seconds to commit and exit; what matters is that nothing more is
    # sent, checked below, and that it does not wait out the create).
    assert elapsed < 1.5 + 25, elapsed
    assert '"code": "interrupted"' in stdout
    requests = sandbox.requests()
    assert posts_to(requests, "/services") == []  # no new Render mutation after the signal
    assert len(posts_to(requests, "/key-value")) == 1
    tenant = rcp.tenants()[slug]
    recorded = {r.key: r.render_id for r in tenant.resources}
    assert recorded["cache"] is not None, "the call in flight was committed"
    assert recorded["web"] is None
    store = rcp.store()
    try:
        lock = store.get_lock(slug)
    finally:
        store.close()
    assert lock is not None and not lock.held, lock
    converged(scenario, sandbox, rcp, [slug], runs=1)

    sandbox.clear_faults()
    before = sandbox.last_seq()
    rerun = rcp("-o", "json", "tenant", "create", slug, "--template", "full")
    assert rerun.exit_code == 0, rerun.describe()
    assert [r["path"] for r in mutations(sandbox.requests(), after_seq=before)] == ["/v1/services"]
    converged(scenario, sandbox, rcp, [slug], runs=1)


def scenario_second_sigint_exits_at_once(sandbox: Sandbox, rcp: Rcp) -> None:
    scenario = "7 SIGINT/SIGTERM mid-create"
    process, lines = _start_create_and_wait_for_inflight(sandbox, rcp, "twice", delay=4.0)
    held_since = time.monotonic()
    process.send_signal(signal.SIGINT)
    time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    code = process.wait(timeout=60)
    assert code == 130, "".join(lines)
    # Gone while the server still holds the call (4 s): it did not wait for it.
    assert time.monotonic() - held_since < 3.0
    assert posts_to(sandbox.requests(), "/services") == []

    sandbox.clear_faults()
    rerun: Run = rcp("-o", "json", "tenant", "create", "twice", "--template", "full")
    assert rerun.exit_code == 0, rerun.describe()
    # The abandoned Key Value POST was acted on by the server: adopted, not created again.
    assert len(posts_to(sandbox.requests(), "/key-value")) == 1
    converged(scenario, sandbox, rcp, ["twice"], runs=2)


def test_sigkill_at_every_step_boundary(on_engines: EngineRunner) -> None:
    on_engines(scenario_sigkill_at_every_step_boundary, **FAST)


@pytest.mark.parametrize(("signal_number", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_create_stops_cleanly(
    on_engines: EngineRunner, signal_number: int, exit_code: int
) -> None:
    on_engines(functools.partial(scenario_signal_mid_create_stops_cleanly,
                                 signal_number=signal_number, exit_code=exit_code))


def test_second_sigint_exits_at_once(on_engines: EngineRunner) -> None:
    on_engines(scenario_second_sigint_exits_at_once)
