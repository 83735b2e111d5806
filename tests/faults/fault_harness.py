"""The fault-suite harness: a served sandbox, the real CLI as a subprocess, world audits, and
the per-scenario counts the summary table prints.

Everything runs the way an operator's CI runner does: ``rcp sandbox serve`` on a free loopback
port, ``python -m rcp`` with ``RENDER_API_URL`` pointing at it and a ``RENDER_API_KEY`` (the
real HTTP client path, not ``--sandbox``), and the control-plane database on SQLite or
Postgres. Faults are installed through the sandbox's control API (``POST /__sandbox/faults``);
what Render "really" holds is read back from ``GET /__sandbox/state`` and compared with what
rcp recorded, which is how duplicates and orphans are counted.

Test-only knobs used (all parsed and documented in ``rcp.testhooks``): ``RCP_TEST_BACKOFF_BASE``,
``RCP_TEST_HTTP_TIMEOUT``, ``RCP_TEST_CONNECT_FAULTS`` (the Render client),
``RCP_TEST_LEASE_SECONDS`` (store leases), ``RCP_FAILPOINT`` (SIGKILL, raise or SIGSTOP at a
journal step or a readiness poll).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

API_KEY = "rnd_faultsuiteKEY0123456789"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Resource families of the sandbox world: (state key, kind label).
WORLD_FAMILIES = (("services", "service"), ("postgres", "postgres"), ("keyValue", "key_value"))

# Blueprint template with one resource of every kind rcp creates: a service, a Postgres and a
# Key Value; the service reads both connection strings, so they are created first.
FULL_TEMPLATE = """\
services:
  - type: web
    name: web
    runtime: node
    repo: https://github.com/render-examples/express-hello-world
    buildCommand: npm install
    startCommand: npm start
    plan: starter
    region: oregon
    envVars:
      - key: DATABASE_URL
        fromDatabase: {name: db, property: connectionString}
      - key: REDIS_URL
        fromService: {name: cache, type: keyvalue, property: connectionString}
  - type: keyvalue
    name: cache
    plan: starter
    region: oregon
    ipAllowList: []
databases:
  - name: db
    plan: basic-256mb
    postgresMajorVersion: "16"
    region: oregon
"""
FULL_KEYS = ("db", "cache", "web")


# ---------------------------------------------------------------------------------- summary


@dataclass
class ScenarioCounts:
    runs: int = 0
    duplicates: int = 0
    orphans: int = 0
    canary_hits: int = 0


_SUMMARY_LOCK = threading.Lock()
FAULT_SUMMARY: dict[tuple[str, str], ScenarioCounts] = {}


def record(
    scenario: str,
    engine: str,
    *,
    runs: int = 0,
    duplicates: int = 0,
    orphans: int = 0,
    canary_hits: int = 0,
) -> None:
    """Add to the counts the summary table prints (threads may call this concurrently)."""
    with _SUMMARY_LOCK:
        counts = FAULT_SUMMARY.setdefault((scenario, engine), ScenarioCounts())
        counts.runs += runs
        counts.duplicates += duplicates
        counts.orphans += orphans
        counts.canary_hits += canary_hits


def summary_lines() -> list[str]:
    header = f"{'scenario':<44} {'engine':<9} {'runs':>5} {'duplicates':>10} {'orphans':>8} {'canary hits':>11}"
    lines = [header, "-" * len(header)]
    total = ScenarioCounts()
    def order(item: tuple[tuple[str, str], ScenarioCounts]) -> tuple[int, str, str]:
        (scenario, engine), _ = item
        number = re.match(r"\d+", scenario)
        return (int(number.group()) if number else 99, scenario, engine)

    for (scenario, engine), counts in sorted(FAULT_SUMMARY.items(), key=order):
        lines.append(
            f"{scenario:<44} {engine:<9} {counts.runs:>5} {counts.duplicates:>10} "
            f"{counts.orphans:>8} {counts.canary_hits:>11}"
        )
        total.runs += counts.runs
        total.duplicates += counts.duplicates
        total.orphans += counts.orphans
        total.canary_hits += counts.canary_hits
    lines.append("-" * len(header))
    lines.append(
        f"{'total':<44} {'':<9} {total.runs:>5} {total.duplicates:>10} "
        f"{total.orphans:>8} {total.canary_hits:>11}"
    )
    return lines


# ---------------------------------------------------------------------------------- sandbox


class Sandbox:
    """``rcp sandbox serve`` on a free port, in its own data dir, with its control API."""

    def __init__(self, root: Path, *, deploy_seconds: float = 0.3, datastore_seconds: float = 0.3) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._log_path = root / "serve.log"
        env = dict(os.environ)
        env["RCP_DATA_DIR"] = str(root / "data")
        env["RCP_CONFIG_DIR"] = str(root / "config")
        with self._log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable, "-m", "rcp", "sandbox", "serve",
                    "--port", "0",
                    "--deploy-seconds", str(deploy_seconds),
                    "--datastore-seconds", str(datastore_seconds),
                    "--rate-limits", "off",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
            )
        self.url = self._wait_for_url()
        self.root_url = self.url.removesuffix("/v1")
        self._http = httpx.Client(base_url=self.root_url, timeout=10.0)

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = self._log_path.read_text(errors="replace")
            found = re.search(r"at (http://\S+/v1)", text)
            if found:
                return found.group(1)
            if self._process.poll() is not None:
                raise RuntimeError(f"rcp sandbox serve exited: {text}")
            time.sleep(0.05)
        raise RuntimeError("rcp sandbox serve did not announce its URL")

    def close(self) -> None:
        self._http.close()
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    # -- control API -----------------------------------------------------------------------

    def add_faults(self, *rules: dict[str, Any]) -> None:
        response = self._http.post("/__sandbox/faults", json=list(rules))
        assert response.status_code == 201, response.text

    def clear_faults(self) -> None:
        response = self._http.delete("/__sandbox/faults")
        assert response.status_code == 204, response.text

    def wait_until_fault_matched(self, times: int = 1, timeout: float = 60.0) -> None:
        """Block until the installed fault rules have seen ``times`` matching requests — i.e. a
        delayed request has reached the server and is being held there (the request log only
        shows it once the server has acted)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self._http.get("/__sandbox/faults")
            assert response.status_code == 200, response.text
            if sum(int(rule["matched"]) for rule in response.json()) >= times:
                return
            time.sleep(0.02)
        raise AssertionError(f"no request matched the fault rules within {timeout} s")

    def state(self) -> dict[str, Any]:
        response = self._http.get("/__sandbox/state")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def api(self, method: str, path: str) -> httpx.Response:
        """A call to the simulated Render API itself (e.g. an out-of-band delete)."""
        return self._http.request(
            method, f"/v1{path}", headers={"Authorization": f"Bearer {API_KEY}"}
        )

    # -- what the world holds --------------------------------------------------------------

    def resources(self, state: dict[str, Any] | None = None) -> list[tuple[str, str, str]]:
        """Every resource as (kind, render id, name)."""
        world = state if state is not None else self.state()
        found = []
        for family, kind in WORLD_FAMILIES:
            for item in world.get(family, []):
                found.append((kind, str(item["id"]), str(item["name"])))
        return found

    def requests(self, state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        world = state if state is not None else self.state()
        requests: list[dict[str, Any]] = world["requests"]
        return requests

    def last_seq(self) -> int:
        requests = self.requests()
        return int(requests[-1]["seq"]) if requests else 0


def mutations(requests: Iterable[dict[str, Any]], *, after_seq: int = 0) -> list[dict[str, Any]]:
    return [r for r in requests if r["method"] in MUTATING and int(r["seq"]) > after_seq]


def posts_to(requests: Iterable[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    """POSTs that reached ``path`` (``/services``…), whether or not the answer arrived."""
    return [r for r in requests if r["method"] == "POST" and r["path"].removeprefix("/v1") == path]


# ---------------------------------------------------------------------------------- the CLI


@dataclass
class Run:
    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.stdout)

    def describe(self) -> str:
        return (
            f"rcp {' '.join(self.args)} → exit {self.exit_code} in {self.seconds:.1f}s\n"
            f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )


@dataclass
class Rcp:
    """Runs ``python -m rcp`` against the sandbox with one control-plane database."""

    sandbox: Sandbox
    database_url: str
    engine: str
    home: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        for name in [n for n in env if n.startswith(("RCP_", "RENDER_"))]:
            del env[name]
        env.update(
            {
                "RCP_CONFIG_DIR": str(self.home / "config"),
                "RCP_DATA_DIR": str(self.home / "data"),
                "RCP_DATABASE_URL": self.database_url,
                "RCP_SANDBOX_DATABASE_URL": self.database_url,
                "RCP_ACTOR": "fault-suite",
                "RENDER_API_URL": self.sandbox.url,
                "RENDER_API_KEY": API_KEY,
                "RCP_TEST_BACKOFF_BASE": "0.02",
                "RCP_TEST_HTTP_TIMEOUT": "5",
                "NO_COLOR": "1",
                "COLUMNS": "200",
            }
        )
        env.update(self.extra_env)
        env.update(extra or {})
        return env

    def install_template(self, name: str = "full", text: str = FULL_TEMPLATE) -> str:
        templates = self.home / "config" / "templates"
        templates.mkdir(parents=True, exist_ok=True)
        (templates / f"{name}.yaml").write_text(text)
        return name

    def __call__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 180.0,
        input: str | None = None,
    ) -> Run:
        # `timeout` only guards against a hung child; it is no speed claim. Eight rcp processes
        # starting at once (scenario 8) on a loaded 2-core CI machine running the suite on
        # several workers can take over a minute, so the default is generous; tests that prove
        # promptness assert Run.seconds against the wait they must not have taken.
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "rcp", *args],
            capture_output=True,
            text=True,
            env=self.env(env),
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        return Run(tuple(args), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "rcp", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.env(env),
        )

    # -- what rcp recorded -----------------------------------------------------------------

    def store(self) -> Any:
        from rcp.store import open_store

        return open_store(self.database_url)

    def tenants(self) -> dict[str, Any]:
        """Every tenant record by slug (read in-process: faster than a subprocess)."""
        store = self.store()
        try:
            return {tenant.slug: tenant for tenant in store.list_tenants()}
        finally:
            store.close()


# ---------------------------------------------------------------------------------- audits


@dataclass
class WorldAudit:
    duplicates: int
    orphans: int
    details: list[str]

    @property
    def clean(self) -> bool:
        return self.duplicates == 0 and self.orphans == 0


def audit_world(sandbox: Sandbox, rcp: Rcp, slugs: Sequence[str]) -> WorldAudit:
    """Duplicates: extra Render resources sharing one tenant resource name. Orphans: Render
    resources of these tenants that no record points at, plus recorded ids Render lacks."""
    world = [r for r in sandbox.resources() if any(r[2].startswith(f"{s}-") for s in slugs)]
    tenants = rcp.tenants()
    recorded: dict[str, str] = {}
    for slug in slugs:
        tenant = tenants.get(slug)
        if tenant is None:
            continue
        for resource in tenant.resources:
            if resource.render_id:
                recorded[resource.render_id] = resource.name
    details: list[str] = []
    names = Counter(name for _, _, name in world)
    duplicates = sum(count - 1 for count in names.values() if count > 1)
    for name, count in names.items():
        if count > 1:
            details.append(f"{count} resources named {name}")
    world_ids = {render_id for _, render_id, _ in world}
    unrecorded = sorted(world_ids - set(recorded))
    missing = sorted(set(recorded) - world_ids)
    details.extend(f"orphan on Render: {i}" for i in unrecorded)
    details.extend(f"recorded but not on Render: {i}" for i in missing)
    return WorldAudit(duplicates, len(unrecorded) + len(missing), details)


def record_audit(scenario: str, rcp: Rcp, audit: WorldAudit, *, runs: int) -> None:
    record(scenario, rcp.engine, runs=runs, duplicates=audit.duplicates, orphans=audit.orphans)


def converged(
    scenario: str, sandbox: Sandbox, rcp: Rcp, slugs: Sequence[str], *, runs: int
) -> WorldAudit:
    """Audit, count for the summary, and assert the world matches the records exactly."""
    audit = audit_world(sandbox, rcp, slugs)
    record_audit(scenario, rcp, audit, runs=runs)
    assert audit.clean, "\n".join(audit.details)
    return audit


def drain(stream: Any, into: list[str]) -> threading.Thread:
    """Read a subprocess pipe line by line on a thread (so tests can wait for progress)."""

    def pump() -> None:
        for line in stream:
            into.append(line)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


def parallel(jobs: Sequence[Any], *, workers: int = 4) -> Iterator[Any]:
    """Run callables concurrently (each mostly waits on a subprocess), results in order."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(job) for job in jobs]
        for future in futures:
            yield future.result()


# ---------------------------------------------------------------------------------- engines


Body = Callable[[Sandbox, Rcp], None]


def available_engines() -> list[str]:
    return ["sqlite", "postgres"] if os.environ.get("RCP_TEST_DATABASE_URL") else ["sqlite"]


class EngineRunner:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self._cleanups: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def _database_url(self, engine: str) -> str:
        if engine == "sqlite":
            return f"sqlite:///{self.tmp_path / engine / 'rcp.db'}"
        import psycopg

        base = os.environ["RCP_TEST_DATABASE_URL"]
        name = f"rcp_f_{uuid.uuid4().hex[:12]}"
        admin = base.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        with self._lock:
            self._cleanups.append(drop)
        return base.rsplit("/", 1)[0] + "/" + name

    def __call__(
        self,
        body: Body,
        *,
        engines: list[str] | None = None,
        deploy_seconds: float = 0.3,
        datastore_seconds: float = 0.3,
    ) -> None:
        wanted = engines or available_engines()
        failures: list[str] = []

        def one(engine: str) -> None:
            try:
                root = self.tmp_path / engine
                sandbox = Sandbox(
                    root / "render", deploy_seconds=deploy_seconds, datastore_seconds=datastore_seconds
                )
                with self._lock:
                    self._cleanups.append(sandbox.close)
                rcp = Rcp(sandbox, self._database_url(engine), engine, root / "home")
                body(sandbox, rcp)
            except BaseException as exc:  # noqa: BLE001 - reported with the engine's name below
                detail = "".join(traceback.format_exception(exc))
                failures.append(f"[{engine}] {type(exc).__name__}: {exc}\n{detail}")

        threads = [threading.Thread(target=one, args=(engine,)) for engine in wanted]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if "postgres" not in wanted and engines is None:
            record("(postgres skipped: RCP_TEST_DATABASE_URL unset)", "postgres")
        if failures:
            pytest.fail("\n\n".join(failures), pytrace=False)

    def close(self) -> None:
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Exception:  # noqa: BLE001 - cleanup must not hide the test's outcome
                pass
