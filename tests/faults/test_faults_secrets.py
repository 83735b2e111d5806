"""Scenario 11: canary secrets never reach stdout, stderr, logs, the audit log or error messages
(with -vv, on HTTP errors whose bodies echo the request, on unexpected exceptions); the
credentials file is 0600 and a group/world-readable one is refused."""

from __future__ import annotations

import json
import os
import stat

import pytest
from fault_harness import EngineRunner, Rcp, Run, Sandbox, converged, record

pytestmark = pytest.mark.slow  # real subprocesses against a served sandbox


SCENARIO = "11 secrets (canaries)"
CANARY_KEY = "rnd_CANARYKEYf3e9a1c07b"
CANARY_DB_PASSWORD = "CANARYPWd2b5e8"
CANARY_ENV_VALUE = "CANARYENV91c4aa"


def _with_password(url: str, password: str) -> str:
    """``postgresql://user@host/db`` → ``postgresql://user:password@host/db`` (trust auth on the
    test server ignores it; what matters is that rcp holds it and must never show it)."""
    scheme, rest = url.split("://", 1)
    credentials, _, location = rest.rpartition("@")
    user = credentials.split(":", 1)[0] if credentials else "postgres"
    return f"{scheme}://{user}:{password}@{location}"


def _echo_body(*secrets: str) -> dict[str, str]:
    """What a misbehaving server answers: parts of the request (headers, body) echoed back."""
    return {"message": "echo of the request: " + "; ".join(secrets)}


def _hits(text: str, canaries: list[str]) -> int:
    return sum(text.count(canary) for canary in canaries)


def scenario_canaries_never_leak(sandbox: Sandbox, rcp: Rcp) -> None:
    canaries = [CANARY_KEY, CANARY_ENV_VALUE]
    env = {"RENDER_API_KEY": CANARY_KEY}
    if rcp.engine == "postgres":
        rcp.database_url = _with_password(rcp.database_url, CANARY_DB_PASSWORD)
        canaries.append(CANARY_DB_PASSWORD)
    # The key travels in every request's headers; the env value only in env-var requests. (The
    # database password never goes to Render; an echo of it stands for any error text that
    # might quote the database URL.)
    echo = _echo_body(f"Authorization: Bearer {CANARY_KEY}", f"database={rcp.database_url}")
    echo_env = _echo_body(f"Authorization: Bearer {CANARY_KEY}", f'{{"value": "{CANARY_ENV_VALUE}"}}')
    runs: list[Run] = []

    def run(*args: str, expect: int, extra: dict[str, str] | None = None) -> Run:
        result = rcp("-vv", *args, env={**env, **(extra or {})})
        runs.append(result)
        assert result.exit_code == expect, result.describe()
        return result

    # HTTP errors whose bodies echo the request: retried (GET, PUT, DELETE), reconciled (POST),
    # fatal (422 / 400).
    sandbox.add_faults(
        {"method": "GET", "path": "/owners", "nth": [1], "action": "status", "status": 503, "body": echo},
        {"method": "POST", "path": "/services", "nth": [1], "action": "status", "status": 502, "body": echo},
        {"method": "POST", "path": "/services", "nth": [3], "action": "status", "status": 422, "body": echo},
        {"method": "PUT", "path": "/services/*/env-vars/*", "nth": [1], "action": "status", "status": 500,
         "body": echo_env},
        {"method": "PUT", "path": "/services/*/env-vars/*", "nth": [3], "action": "status", "status": 400,
         "body": echo_env},
        {"method": "DELETE", "path": "/services/*", "nth": [1], "action": "status", "status": 500, "body": echo},
    )
    run("tenant", "create", "canary", expect=0)
    run("tenant", "env", "set", "canary", f"SECRET_TOKEN={CANARY_ENV_VALUE}", "--no-deploy", expect=0)
    refused = run("-o", "json", "tenant", "env", "set", "canary", f"OTHER_TOKEN={CANARY_ENV_VALUE}",
                  "--no-deploy", expect=5)
    assert "echo of the request" in refused.stdout  # the echo was shown, with the value masked
    listed = run("-o", "json", "tenant", "env", "list", "canary", expect=0)
    assert [e["value"] for e in listed.json()["data"] if e["key"] == "SECRET_TOKEN"] == ["***"]
    run("-o", "json", "tenant", "show", "canary", expect=0)
    run("--log-format", "json", "tenant", "status", "canary", "--live", expect=0)
    rejected = run("-o", "json", "tenant", "create", "rejected", expect=5)  # the 422 echo, after the record
    assert rejected.json()["error"]["code"] == "render_rejected"
    assert "echo of the request" in rejected.stdout
    # Refused after its record was written: ERROR, with the refusal (secrets masked) on record.
    shown = run("-o", "json", "tenant", "show", "rejected", expect=0).json()["data"]
    assert shown["status"] == "ERROR" and "echo of the request" in shown["last_error"]
    assert "***" in shown["last_error"]
    # An unexpected exception, in a command working on the tenant, whose text carries every
    # secret that process knows.
    crashed = run(
        "-o", "json", "tenant", "delete", "canary", "--yes", expect=1,
        extra={
            "RCP_FAILPOINT": "delete:web:before=raise",
            "RCP_FAILPOINT_MESSAGE": f"{CANARY_KEY} {rcp.database_url} {CANARY_ENV_VALUE}",
        },
    )
    assert crashed.json()["error"]["code"] == "internal_error"
    assert "injected failure" in crashed.stdout
    assert "Traceback" not in crashed.stderr
    run("-o", "json", "audit", expect=0)
    run("tenant", "delete", "canary", "--yes", expect=0)
    run("tenant", "delete", "rejected", "--yes", expect=0)

    hits = sum(_hits(r.stdout + r.stderr, canaries) for r in runs)
    store = rcp.store()
    try:
        audit_text = json.dumps([entry.command for entry in store.list_audit()])
        journal_text = json.dumps([str(vars(entry)) for entry in store.list_journal("canary")])
    finally:
        store.close()
    hits += _hits(audit_text + journal_text, canaries)
    # Log files: rcp logs to stderr only; anything it wrote in its own dirs is checked too.
    for path in (rcp.home / "data").rglob("*"):
        if path.is_file() and path.suffix in (".log", ".txt", ".json"):
            hits += _hits(path.read_text(errors="replace"), canaries)
    record(SCENARIO, rcp.engine, runs=len(runs), canary_hits=hits)
    assert hits == 0, "\n\n".join(r.describe() for r in runs if _hits(r.stdout + r.stderr, canaries))
    converged(SCENARIO, sandbox, rcp, ["canary", "rejected"], runs=0)


def scenario_credentials_file_is_private_and_a_readable_one_is_refused(sandbox: Sandbox, rcp: Rcp) -> None:
    """Not about the database: SQLite only."""
    login = rcp("-vv", "auth", "login", "--with-token", input=CANARY_KEY + "\n")
    assert login.exit_code == 0, login.describe()
    credentials = rcp.home / "config" / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(credentials.parent.stat().st_mode) & 0o077 == 0
    # The stored key is used when RENDER_API_KEY is unset.
    without_env = {"RENDER_API_KEY": ""}
    status = rcp("-vv", "-o", "json", "auth", "status", env=without_env)
    assert status.exit_code == 0, status.describe()

    os.chmod(credentials, 0o644)
    refused = rcp("-vv", "-o", "json", "tenant", "create", "perm", env=without_env)
    assert refused.exit_code == 6, refused.describe()
    message = refused.json()["error"]["message"] + (refused.json()["error"].get("hint") or "")
    assert "credentials.json" in message and ("600" in message or "chmod" in message), message
    assert "perm" not in rcp.tenants()
    runs = [login, status, refused]
    hits = sum(_hits(r.stdout + r.stderr, [CANARY_KEY]) for r in runs)
    record(SCENARIO + " / credentials file", rcp.engine, runs=len(runs), canary_hits=hits)
    assert hits == 0, "\n\n".join(r.describe() for r in runs)


def test_canaries_never_leak(on_engines: EngineRunner) -> None:
    on_engines(scenario_canaries_never_leak)


def test_credentials_file_is_private_and_a_readable_one_is_refused(on_engines: EngineRunner) -> None:
    on_engines(scenario_credentials_file_is_private_and_a_readable_one_is_refused, engines=["sqlite"])
