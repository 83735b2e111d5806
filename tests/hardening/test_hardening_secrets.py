"""Issue 11 item 4: no secret at any verbosity.

Every rcp command runs at ``-vvv`` with ``RCP_DEBUG=1`` (SQLAlchemy, httpx and httpcore all
logging at their most detailed level rcp allows) against a Postgres database whose URL carries
a password, with an API key and env override values that are canaries; none of them may appear
in stdout or stderr. The test fails when a command exists that it does not run, so a new
command is covered from the day it lands.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from hardening_helpers import Served

from tests.conftest import Cli, CliResult

API_KEY = "rnd_CanaryApiKey7f3a9c1e5b2d4f6a8c0e"
DB_PASSWORD = "Canary-Db-Pw-5150x"
ENV_VALUES = {
    "set": "canary-env-value-from-argv-91",
    "stdin": "canary-env-value-from-stdin-92",
    "fleet": "canary-env-value-from-fleet-93",
}
CANARIES = [API_KEY, DB_PASSWORD, *ENV_VALUES.values()]
GROUPED_TEMPLATE = f"""\
envVarGroups:
  - name: canary-shared
    shared: true
    envVars:
      - key: GROUP_SECRET
        value: {ENV_VALUES["fleet"]}
services:
  - type: web
    name: web
    runtime: node
    repo: https://github.com/render-examples/express-hello-world
    buildCommand: npm install
    startCommand: npm start
    plan: starter
    envVars:
      - fromGroup: canary-shared
"""


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user = parts.username or "postgres"
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _leaf_commands() -> set[tuple[str, ...]]:
    import typer

    from rcp.cli import app

    found: set[tuple[str, ...]] = set()

    def walk(command: object, path: tuple[str, ...]) -> None:
        children = getattr(command, "commands", None)
        if children:
            for name, child in children.items():
                walk(child, (*path, name))
        else:
            found.add(path)

    walk(typer.main.get_command(app), ())
    return found


class Runner:
    """Runs commands at -vvv, checks each output for canaries, records which commands ran."""

    def __init__(self, cli: Cli, env: dict[str, str]) -> None:
        self.cli = cli
        self.env = env
        self.leaves = _leaf_commands()
        self.ran: set[tuple[str, ...]] = set()
        self.outputs: list[tuple[list[str], str]] = []

    def note(self, args: list[str]) -> None:
        words = tuple(arg for arg in args if not arg.startswith("-"))
        for length in range(len(words), 0, -1):
            if words[:length] in self.leaves:
                self.ran.add(words[:length])
                return

    def check(self, args: list[str], result: CliResult) -> None:
        self.outputs.append((args, result.stdout + result.stderr))
        for canary in CANARIES:
            where = (result.stdout + result.stderr).find(canary)
            context = (result.stdout + result.stderr)[max(where - 200, 0) : where + 60]
            assert where == -1, f"`rcp {' '.join(args)}` printed a secret: …{context}…"

    def __call__(self, *args: str, input: str | None = None, ok: bool = True) -> CliResult:
        full = ["-vvv", *args]
        result = self.cli(*full, input=input, env=self.env)
        self.note(list(args))
        self.check(full, result)
        if ok:
            assert result.exit_code == 0, (args, result.stderr[-3000:])
        return result


@pytest.mark.slow
@pytest.mark.postgres
def test_every_command_at_vvv_prints_no_secret(
    cli: Cli, served_sandbox: Served, fresh_postgres_url: str, isolated_env: Path
) -> None:
    env = {
        "RCP_DATABASE_URL": _with_password(fresh_postgres_url, DB_PASSWORD),
        "RCP_SANDBOX_DATABASE_URL": _with_password(fresh_postgres_url, DB_PASSWORD),
        "RENDER_API_KEY": API_KEY,
        "RCP_DEBUG": "1",
        "RCP_SANDBOX_DEPLOY_SECONDS": "0.2",
        "RCP_SANDBOX_DATASTORE_SECONDS": "0.3",
    }
    run = Runner(cli, env)
    fleet = isolated_env / "fleet.yaml"
    fleet.write_text(
        "tenants:\n"
        "  - name: Fleet Co\n"
        "    slug: fleet-co\n"
        f"    env:\n      FLEET_SECRET: {ENV_VALUES['fleet']}\n"
    )
    backup = isolated_env / "backup.json"

    run("auth", "login", "--with-token", input=API_KEY + "\n")
    run("auth", "status")
    run("completion", "bash")
    run("template", "list")
    run("template", "show", "default")
    run("template", "validate", "default")
    run("tenant", "create", "Canary Co", "--slug", "canary")
    run("tenant", "env", "set", "canary", f"LOG_LEVEL={ENV_VALUES['set']}")
    run("--log-format", "json", "tenant", "env", "set", "canary", "--stdin", "TOKEN",
        "--no-deploy", input=ENV_VALUES["stdin"] + "\n")  # fmt: skip
    run("tenant", "env", "list", "canary")
    run("-o", "json", "tenant", "env", "list", "canary")
    run("tenant", "status", "canary", "--live")
    run("tenant", "status", "--all")
    run("tenant", "list")
    shown = run("-o", "json", "tenant", "show", "canary")
    web_id = next(r["render_id"] for r in shown.json()["data"]["resources"] if r["key"] == "web")
    run("tenant", "show", "canary")
    run("tenant", "check", "canary")
    run("tenant", "check", "--all", "--repair")
    run("tenant", "suspend", "canary")
    run("tenant", "resume", "canary")
    run("tenant", "adopt", "canary", "--resource", f"web={web_id}")
    run("tenant", "redeploy", "canary", "--service", "web")
    run("tenant", "deploys", "canary")
    run("tenant", "logs", "canary", "--limit", "5")
    run("plan", str(fleet))
    run("apply", str(fleet), "--yes")
    run("-o", "json", "plan", str(fleet))
    saved = isolated_env / "fleet.plan"
    assert run("plan", str(fleet), "--out", str(saved), ok=False).exit_code in (0, 2)
    run("apply", str(saved), "--yes")
    run("cost", "--all")
    run("audit")
    run("backup", "export", str(backup))
    run("-o", "json", "backup", "export")  # without --include-secrets: values omitted
    run("backup", "import", str(backup), "--dry-run", "--overwrite")
    run("backup", "import", str(backup), "--overwrite")
    run("db", "status")
    run("db", "upgrade")
    run("db", "copy", "--to", f"sqlite:///{isolated_env / 'copy.db'}")
    run("health")
    # Shared environment groups (a template with one) and rollouts over the fleet's tenants.
    templates = isolated_env / "config" / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    (templates / "grouped.yaml").write_text(GROUPED_TEMPLATE)
    run("tenant", "create", "Group Co", "--slug", "grp", "--template", "grouped")
    run("group", "list")
    run("group", "show", "canary-shared")
    run("group", "env", "set", "canary-shared", f"SHARED_SECRET={ENV_VALUES['set']}", "--no-deploy")
    run("group", "env", "list", "canary-shared")
    run("-o", "json", "group", "env", "list", "canary-shared")
    run("group", "env", "unset", "canary-shared", "SHARED_SECRET", "--no-deploy")
    run("template", "history", "default")
    for words in (
        ("rollout", "start", "default", "--waves", "1,100%"),
        ("rollout", "status", "default"),
        ("rollout", "pause", "default"),
        ("rollout", "resume", "default"),
        ("rollout", "abort", "default"),
        ("rollout", "rollback", "default"),
    ):
        assert run(*words, ok=False).exit_code in (0, 3, 4, 5), words  # never an internal error
    run("tenant", "delete", "grp", "--yes")
    run("tenant", "env", "unset", "canary", "LOG_LEVEL", "--no-deploy")
    run("tenant", "delete", "canary", "--yes")
    run("tenant", "delete", "fleet-co", "--yes")
    run("serve", "token", "create", "canary-bot", "--scope", "write")
    run("serve", "token", "list")
    run("serve", "token", "revoke", "canary-bot")
    run("auth", "logout")
    run("sandbox", "reset")
    # Failures print too: an unknown tenant, a value typed where KEY=VALUE belongs.
    assert run("tenant", "show", "nobody", ok=False).exit_code == 3
    assert run("tenant", "env", "set", "canary", ENV_VALUES["set"], ok=False).exit_code == 2

    _serve_briefly(run, env, ["sandbox", "serve", "--port", "0"], "serving Render API simulator at")
    _serve_briefly(run, env, ["serve", "--port", "0"], "rcp serve: listening on")
    missing = sorted(" ".join(leaf) for leaf in run.leaves - run.ran)
    assert not missing, f"commands this test does not run yet (add them): {missing}"
    # The logs were really on: SQL statements, HTTP requests and rcp's own records.
    everything = "\n".join(output for _, output in run.outputs)
    assert "sqlalchemy.engine" in everything and "SELECT" in everything
    assert "HTTP Request:" in everything
    assert "[SQL parameters hidden" in everything  # not the values


def _serve_briefly(run: Runner, env: dict[str, str], command: list[str], ready: str) -> None:
    """A server runs until interrupted: start it, wait for it to listen, stop it."""
    args = ["-vvv", *command]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rcp", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stderr is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until it says it is listening
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if ready in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        err = "".join(lines) + err
    finally:
        if proc.poll() is None:
            proc.kill()
    run.note(command)
    run.check(args, CliResult(proc.returncode, out, err))
    assert ready in err, err[-3000:]
    assert proc.returncode in (0, 130), err[-3000:]


def test_sql_parameters_are_hidden_from_logs_and_errors(
    cli: Cli, isolated_env: Path, sandbox_env: dict[str, str]
) -> None:
    """SQLite too (no password there): env override values never reach the SQL log."""
    assert cli("tenant", "create", "acme").exit_code == 0
    result = cli("-vvv", "tenant", "env", "set", "acme", f"K={ENV_VALUES['set']}", "--no-deploy")
    assert result.exit_code == 0, result.stderr
    assert "sqlalchemy.engine" in result.stderr  # statements are logged at -vvv …
    assert ENV_VALUES["set"] not in result.stdout + result.stderr  # … their values are not
    listed = cli("-vvv", "-o", "json", "tenant", "env", "list", "acme")
    assert ENV_VALUES["set"] not in listed.stdout + listed.stderr  # nor result rows
    assert json.loads(listed.stdout)["data"][0]["value"] == "***"
