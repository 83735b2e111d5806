"""The live-server harness: ``rcp serve`` (uvicorn) in a subprocess on a free port, tokens
made with the real CLI, and the Render side read back from the sandbox world.

The server runs with ``--sandbox``: its Render calls go to the embedded simulator, whose world
is a SQLite file in the data dir, so a restarted server (and the test) see the same world.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ISOLATED_VARIABLES, Cli, CliResult

READY = re.compile(r"rcp serve: listening on (http://\S+)")


class ServerProcess:
    """One ``rcp serve`` process. ``stop`` = SIGTERM (clean), ``kill`` = SIGKILL."""

    def __init__(self, env: dict[str, str], *, args: tuple[str, ...] = (), timeout: float = 30) -> None:
        self.env = env
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rcp", "serve", "--port", "0", "--no-access-log", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._ready = threading.Event()
        self.url = ""
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout):
            self.kill()
            raise AssertionError(f"rcp serve did not start:\n{self.log()}")
        if not self.url:
            self.kill()
            raise AssertionError(f"rcp serve exited early:\n{self.log()}")
        self._wait_healthy(timeout)

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            found = READY.search(line)
            if found and not self.url:
                self.url = found.group(1)
                self._ready.set()
        self._ready.set()

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/health/", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"rcp serve never answered /api/health/:\n{self.log()}")

    def log(self) -> str:
        return "".join(self.lines[-200:])

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)


def server_env(database_url: str, _base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The subprocess environment: the test's isolated dirs (already in os.environ, or given
    in ``extra``), the in-process sandbox with a fast clock, and a quick sweep."""
    env = dict(os.environ if _base is None else _base)
    env.update(
        {
            "RCP_DATABASE_URL": database_url,
            "RCP_SANDBOX_DATABASE_URL": database_url,
            "RCP_SANDBOX": "1",
            "RCP_SANDBOX_DEPLOY_SECONDS": "0.3",
            "RCP_SANDBOX_DATASTORE_SECONDS": "0.3",
            "RCP_SERVE_SWEEP_SECONDS": "1",
        }
    )
    env.update(extra)
    return env


def world(data_dir: Path) -> dict[str, Any]:
    """What the simulated Render holds now (``GET /__sandbox/state`` of the in-process world)."""
    from rcp.sandbox import SandboxSettings, SandboxTransport

    transport = SandboxTransport(data_dir / "sandbox" / "render.db", SandboxSettings.from_env({}))
    with httpx.Client(transport=transport, base_url="http://sandbox.rcp") as client:
        response = client.get("/__sandbox/state")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


def resource_names(state: dict[str, Any]) -> Counter[str]:
    """How many resources the world holds under each name (a count above 1 is a duplicate)."""
    names: Counter[str] = Counter()
    for family in ("services", "postgres", "keyValue"):
        for item in state.get(family, []):
            names[item.get("name") or item.get("service", {}).get("name", "")] += 1
    return names


def wait_for(predicate: Any, *, timeout: float = 30, interval: float = 0.1, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or predicate}: last {last!r}")


class Live:
    """One server per backend shared by a module's tests (a server start costs seconds), with
    the CLI on the same database and sandbox world. Tests use slugs and tokens of their own."""

    def __init__(self, root: Path, db_url: str) -> None:
        self.root = root
        self.db_url = db_url
        self.data_dir = root / "data"
        self.env = {
            "RCP_CONFIG_DIR": str(root / "config"),
            "RCP_DATA_DIR": str(self.data_dir),
            "RCP_ACTOR": "tester",
            "NO_COLOR": "1",
        }
        base = {k: v for k, v in os.environ.items() if k not in ISOLATED_VARIABLES}
        self.server = ServerProcess(
            server_env(db_url, **self.env, _base=base),
            args=("--cors-origin", "https://app.example.com"),
        )
        self._cli = Cli(
            env={
                **self.env,
                "RCP_DATABASE_URL": db_url,
                "RCP_SANDBOX_DATABASE_URL": db_url,
                "RCP_SANDBOX": "1",
                "RCP_SANDBOX_DEPLOY_SECONDS": "0.3",
                "RCP_SANDBOX_DATASTORE_SECONDS": "0.3",
            }
        )

    def cli(self, *args: str) -> CliResult:
        return self._cli(*args)

    def token(self, name: str, scope: str = "write") -> str:
        result = self.cli("-o", "json", "serve", "token", "create", name, "--scope", scope)
        assert result.exit_code == 0, result.stderr
        token: str = result.json()["data"]["token"]
        return token
