"""Scenario 12: property tests.

- slug → Render name: deterministic, injective across tenants for a template's keys, within
  Render's limits; a colliding tenant is refused before anything is written;
- ``Retry-After`` / ``Ratelimit-Reset`` parsing never raises, is never negative, always capped;
- a stateful test of random create / delete / resume / kill / lost-response sequences keeps
  "sandbox resources == recorded resources" (in-process: the engine, the real client and the
  sandbox behind an httpx transport, the real SQLite store — a "kill" is a BaseException
  raised at a journal step by the failpoint, after which the process's lease is abandoned the
  way a dead process abandons it).
"""

from __future__ import annotations

import itertools
import re
import socket
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fault_harness import FULL_TEMPLATE, record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from rcp.core import slugs
from rcp.errors import ConflictError, UsageError

SLUG = st.from_regex(r"[a-z][a-z0-9]{0,9}(-[a-z0-9]{1,8}){0,3}", fullmatch=True).filter(
    lambda s: len(s) <= slugs.SLUG_MAX_LENGTH
)
# Keys of the shipped template and of the suite's full template: no hyphens, so the names of
# two different tenants can never meet.
TEMPLATE_KEYS = ("web", "db", "cache")
RENDER_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


# ------------------------------------------------------------------------- names and slugs


@given(st.lists(SLUG, min_size=2, max_size=6, unique=True))
def test_render_names_are_deterministic_injective_and_within_limits(tenant_slugs: list[str]) -> None:
    owners: dict[str, tuple[str, str]] = {}
    for slug, key in itertools.product(tenant_slugs, TEMPLATE_KEYS):
        name = slugs.render_name(slug, key)
        assert name == slugs.render_name(slug, key)
        assert RENDER_NAME.fullmatch(name)
        assert len(name) <= slugs.RENDER_NAME_MAX_LENGTH
        assert owners.setdefault(name, (slug, key)) == (slug, key), f"{name} claimed twice"
    record("12 property: slug → Render name", "-", runs=1)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_slug_derivation_is_valid_or_rejected(name: str) -> None:
    try:
        slug = slugs.derive_slug(name)
    except UsageError:
        return
    assert slug == slugs.derive_slug(name)
    assert slugs.validate_slug(slug) == slug
    assert len(slugs.render_name(slug, "web")) <= slugs.RENDER_NAME_MAX_LENGTH


# ------------------------------------------------------------------------- wait headers

HEADER_TEXT = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-10**12, max_value=10**13).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")),
    st.sampled_from(["", " ", "nan", "inf", "-inf", "1e309", "Wed, 21 Oct 2015 07:28:00 GMT", "0x10"]),
)


@given(st.dictionaries(st.sampled_from(["Retry-After", "retry-after", "Ratelimit-Reset", "RateLimit-Reset"]),
                       HEADER_TEXT, max_size=3),
       st.booleans(), st.floats(min_value=0, max_value=10**6))
def test_wait_headers_never_raise_never_negative_always_capped(
    headers: dict[str, str], use_reset: bool, cap: float
) -> None:
    from rcp.render.waits import parse_ratelimit_reset, parse_wait_headers

    wait = parse_wait_headers(headers, use_ratelimit_reset=use_reset, cap=cap)
    assert wait is None or 0.0 <= wait <= cap
    reset = parse_ratelimit_reset(headers)
    assert reset is None or reset >= 0.0
    record("12 property: Retry-After / Ratelimit-Reset", "-", runs=1)


# ------------------------------------------------------------------------- colliding names


def test_a_tenant_whose_names_another_tenant_uses_is_refused(tmp_path: Path) -> None:
    """``acme`` with key ``b-web`` and ``acme-b`` with key ``web`` both mean ``acme-b-web``."""
    world = _World(tmp_path)
    try:
        world.install_template("hyphen", "services:\n" + _web("b-web"))
        world.install_template("plain", "services:\n" + _web("web"))
        world.create("acme", template="hyphen")
        with pytest.raises(ConflictError, match="acme-b-web"):
            world.create("acme-b", template="plain")
        assert world.store.get_tenant("acme-b") is None
    finally:
        world.close()


def _web(key: str) -> str:
    return (
        f"  - type: web\n    name: {key}\n    runtime: node\n"
        "    repo: https://github.com/render-examples/express-hello-world\n"
        "    buildCommand: npm install\n    startCommand: npm start\n    plan: starter\n"
    )


# ------------------------------------------------------------------------- stateful


class SimulatedKill(BaseException):
    """What SIGKILL at a failpoint is, in-process: nothing after it runs (no except/finally
    of the engine catches a BaseException it does not know)."""


class _World:
    """The engine, the real client and store, and the sandbox, in one process."""

    def __init__(self, root: Path) -> None:
        from rcp.render.client import RenderClient
        from rcp.render.gateway import Gateway
        from rcp.render.ratelimit import RateLimiter, RateLimits
        from rcp.sandbox import SandboxSettings, SandboxTransport
        from rcp.store import open_store

        root.mkdir(parents=True, exist_ok=True)
        self.config_dir = root / "config"
        (self.config_dir / "templates").mkdir(parents=True, exist_ok=True)
        self.transport = SandboxTransport(
            root / "render.db",
            SandboxSettings(deploy_seconds=0, datastore_seconds=0, rate_limits="off"),
            sleep=lambda _s: None,
        )
        self.client = RenderClient(
            "rnd_property",
            base_url="http://sandbox.rcp/v1",
            transport=self.transport,
            sleep=lambda _s: None,
            limiter=RateLimiter(RateLimits().scaled(1000), sleep=lambda _s: None),
            backoff_base=0.001,
        )
        self.gateway = Gateway(self.client)
        self.store = open_store(f"sqlite:///{root / 'rcp.db'}")
        self._pids = itertools.count(4_194_400)  # above Linux's pid_max: "dead" holders
        self.install_template("full", FULL_TEMPLATE)

    def close(self) -> None:
        self.client.close()
        self.store.close()

    def install_template(self, name: str, text: str) -> None:
        (self.config_dir / "templates" / f"{name}.yaml").write_text(text)

    def _holder(self) -> Any:
        from rcp.core.models import LockHolder

        # Every call is a new "process"; a killed one is dead, so its lease is taken over at once.
        return LockHolder(actor="property", host=socket.gethostname(), pid=next(self._pids), command="rcp")

    @staticmethod
    def _failpoint(kill_at: str | None) -> Any:
        def failpoint(step: str) -> None:
            if step == kill_at:
                raise SimulatedKill(step)

        return failpoint

    def _operator(self, kill_at: str | None) -> Any:
        from rcp.core.tenants import Operator

        return Operator(
            store=self.store,
            gateway=self.gateway,
            progress=_QuietProgress(),
            holder=self._holder(),
            failpoint=self._failpoint(kill_at),
            # In-process, nothing is ever left in flight: no waiting for late creates.
            unknown_outcome_settle=0.0,
            in_flight_window=0.0,
        )

    def create(self, slug: str, *, template: str = "full", kill_at: str | None = None) -> Any:
        from rcp.core.provisioning import Waiting
        from rcp.core.tenants import create_tenant, plan_create

        plan = plan_create(
            name=slug, slug=slug, template=template, plugin_repo=None, config_dir=self.config_dir
        )
        return create_tenant(
            self._operator(kill_at),
            plan,
            waiting=Waiting(timeout=30, poll_initial=0.01, poll_max=0.05),
            if_exists="resume",
        )

    def delete(self, slug: str, *, kill_at: str | None = None) -> Any:
        from rcp.core.tenants import delete_tenant

        return delete_tenant(self._operator(kill_at), slug)

    # -- the two sides ---------------------------------------------------------------------

    def render_side(self) -> list[tuple[str, str]]:
        """(name, id) of every resource the sandbox holds."""
        state = self.transport.app.dump()
        return [
            (str(item["name"]), str(item["id"]))
            for family in ("services", "postgres", "keyValue")
            for item in state[family]
        ]

    def lose_next_response(self, path: str) -> None:
        from rcp.sandbox.faults import parse_rule

        self.transport.app.add_faults([parse_rule({"method": "POST", "path": path, "nth": [1], "action": "drop_after"})])


class _QuietProgress:
    def event(self, tenant: str, resource: str | None, message: str, state: str | None = None) -> None:
        return None


TENANTS = ("alpha", "beta")
KEYS = ("db", "cache", "web")
CREATE_STEPS = [None] + [f"create:{k}:{s}" for k in KEYS for s in ("before", "after", "committed")]
DELETE_STEPS = [None] + [f"delete:{k}:{s}" for k in KEYS for s in ("before", "after", "committed")]


class ProvisioningMachine(RuleBasedStateMachine):
    """Random create / delete / resume / kill / lost-response sequences over two tenants."""

    steps_total = 0  # create/delete/resume runs over all examples, for the summary table

    def __init__(self) -> None:
        super().__init__()
        self.world: _World | None = None

    @initialize()
    def start(self) -> None:
        root = Path(_MACHINE_ROOT[0]) / f"run{next(_RUNS)}"
        self.world = _World(root)

    def teardown(self) -> None:
        if self.world is not None:
            self.world.close()

    @property
    def w(self) -> _World:
        assert self.world is not None
        return self.world

    @rule(slug=st.sampled_from(TENANTS), kill_at=st.sampled_from(CREATE_STEPS))
    def create(self, slug: str, kill_at: str | None) -> None:
        ProvisioningMachine.steps_total += 1
        try:
            self.w.create(slug, kill_at=kill_at)
        except SimulatedKill:
            return
        except ConflictError as exc:  # being deleted: finishing the delete is the way out
            assert exc.code == "tenant_deleting", exc
            return
        self._assert_exact(slug)

    @rule(slug=st.sampled_from(TENANTS), kill_at=st.sampled_from(DELETE_STEPS))
    def delete(self, slug: str, kill_at: str | None) -> None:
        from rcp.errors import TenantNotFound

        ProvisioningMachine.steps_total += 1
        try:
            self.w.delete(slug, kill_at=kill_at)
        except (SimulatedKill, TenantNotFound):
            return
        assert self.w.store.get_tenant(slug) is None
        assert [n for n, _ in self.w.render_side() if n.startswith(f"{slug}-")] == []

    @rule(path=st.sampled_from(["/services", "/postgres", "/key-value"]))
    def lose_a_response(self, path: str) -> None:
        self.w.lose_next_response(path)

    @precondition(lambda self: self.world is not None)
    @rule(slug=st.sampled_from(TENANTS))
    def resume(self, slug: str) -> None:
        """What an operator does after any failure: rerun until it converges."""
        tenant = self.w.store.get_tenant(slug)
        if tenant is None:
            return
        ProvisioningMachine.steps_total += 1
        if tenant.status == "DELETING":
            self.w.delete(slug)
            assert [n for n, _ in self.w.render_side() if n.startswith(f"{slug}-")] == []
        else:
            self.w.create(slug)
            self._assert_exact(slug)

    def _assert_exact(self, slug: str) -> None:
        tenant = self.w.store.get_tenant(slug)
        assert tenant is not None and tenant.status == "ACTIVE"
        recorded = sorted((r.name, r.render_id or "") for r in tenant.resources)
        remote = sorted((n, i) for n, i in self.w.render_side() if n.startswith(f"{slug}-"))
        assert recorded == remote

    @invariant()
    def no_duplicates_and_nothing_unaccounted(self) -> None:
        if self.world is None:
            return
        remote = self.w.render_side()
        names = Counter(name for name, _ in remote)
        duplicates = sum(count - 1 for count in names.values() if count > 1)
        recorded: set[str] = set()
        pending: set[str] = set()
        deleting: set[str] = set()
        for tenant in self.w.store.list_tenants():
            for resource in tenant.resources:
                if resource.render_id:
                    recorded.add(resource.render_id)
                    if tenant.status == "DELETING":
                        deleting.add(resource.render_id)
                else:
                    pending.add(resource.name)
        remote_ids = {i for _, i in remote}
        # Unrecorded on Render: only a create whose outcome is still unknown (adopted by name on
        # resume). Recorded but gone: only inside a delete that was cut short.
        orphans = [i for n, i in remote if i not in recorded and n not in pending]
        missing = [i for i in recorded - remote_ids if i not in deleting]
        record("12 stateful create/delete/resume/kill", "sqlite", duplicates=duplicates,
               orphans=len(orphans) + len(missing))
        assert duplicates == 0, names
        assert not orphans and not missing, (orphans, missing)


_MACHINE_ROOT: list[str] = []
_RUNS = itertools.count()


def test_stateful_random_sequences_keep_render_equal_to_records(tmp_path: Path) -> None:
    _MACHINE_ROOT[:] = [str(tmp_path)]
    ProvisioningMachine.steps_total = 0
    ProvisioningMachine.TestCase.settings = settings(
        max_examples=40,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    ProvisioningMachine.TestCase().runTest()
    record("12 stateful create/delete/resume/kill", "sqlite", runs=ProvisioningMachine.steps_total)
