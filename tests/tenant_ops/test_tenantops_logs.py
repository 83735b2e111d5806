"""`rcp tenant logs` (issue 13 item 2) through Render's logs API, against the sandbox's log
lines: JSON and human output, --service, --limit (across pages), --since, resources in two
regions, Render's text shown escaped, --follow (a bounded run ended by a signal), bad input."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tenant_ops_helpers import Sandbox, create_tenant, ids

from tests.conftest import Cli

LINE_KEYS = {
    "id",
    "timestamp",
    "resource",
    "resource_id",
    "type",
    "level",
    "instance",
    "message",
    "labels",
}
HUMAN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  (web|db )  (.*)$")


def log_json(cli: Cli, *args: str) -> list[dict[str, Any]]:
    result = cli("-o", "json", "tenant", "logs", *args)
    assert result.exit_code == 0, result.stderr
    data: list[dict[str, Any]] = result.json()["data"]
    return data


def log_requests(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [r for r in sandbox.requests() if r["path"].removeprefix("/v1") == "/logs"]


def test_json_and_human_lines_oldest_first(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    lines = log_json(cli, "acme")
    assert lines and all(set(line) == LINE_KEYS for line in lines)
    stamps = [line["timestamp"] for line in lines]
    assert stamps == sorted(stamps)
    by_key = {line["resource"]: line["resource_id"] for line in lines}
    assert by_key == {"db": ids(tenant)["db"], "web": ids(tenant)["web"]}
    web = [line["message"] for line in lines if line["resource"] == "web"]
    assert web[0] == "==> Cloning from https://github.com/render-examples/express-hello-world"
    assert web[-2:] == ["==> Your service is live 🎉", "acme-web started"]
    started = next(line for line in lines if line["message"] == "acme-web started")
    assert (started["type"], started["level"]) == ("app", "info")
    assert started["instance"].startswith(ids(tenant)["web"])
    assert started["labels"]["resource"] == ids(tenant)["web"]
    assert "LOG:  database system is ready to accept connections" in [
        line["message"] for line in lines if line["resource"] == "db"
    ]
    # One request: both resources are in one region (the default template's oregon).
    (request,) = log_requests(sandbox)
    assert "direction=backward" in request["query"] and "limit=100" in request["query"]

    human = cli("tenant", "logs", "acme")
    assert human.exit_code == 0, human.stderr
    shown = human.stdout.splitlines()
    assert len(shown) == len(lines)
    for text, line in zip(shown, lines, strict=True):
        match = HUMAN.match(text)
        assert match is not None, text
        assert match.group(1).strip() == line["resource"]
        assert match.group(2) == line["message"]


def test_service_limit_and_pages(cli: Cli, sandbox: Sandbox) -> None:
    web = ids(create_tenant(cli, "acme"))["web"]
    for _ in range(14):  # 8 lines each: more than one page of Render's 100
        sandbox.call("POST", f"/services/{web}/deploys", {}, expect=201)
    every = log_json(cli, "acme", "--service", "web", "--limit", "10000")
    assert len(every) == 15 * 8 and {line["resource"] for line in every} == {"web"}
    assert len({line["id"] for line in every}) == len(every)
    before = len(log_requests(sandbox))
    newest = log_json(cli, "acme", "--service", "web", "--limit", "110")
    assert newest == every[-110:]
    assert len(log_requests(sandbox)) - before == 2  # 100, then the 10 before them
    assert log_json(cli, "acme", "--limit", "3") == log_json(cli, "acme")[-3:]
    db = log_json(cli, "acme", "--service", "db")
    assert {line["resource"] for line in db} == {"db"}


def test_since_takes_a_duration_or_a_moment(cli: Cli, sandbox: Sandbox) -> None:
    create_tenant(cli, "acme")
    everything = log_json(cli, "acme")
    assert log_json(cli, "acme", "--since", "2h") == everything
    assert log_json(cli, "acme", "--since", "1d2h") == everything
    assert log_json(cli, "acme", "--since", "2020-01-01") == everything
    time.sleep(1.1)
    assert log_json(cli, "acme", "--since", "1s") == []
    empty = cli("tenant", "logs", "acme", "--since", "1s")
    assert empty.exit_code == 0 and empty.stdout == ""
    assert "acme: no log lines since" in empty.stderr
    query = log_requests(sandbox)[-1]["query"]
    assert "startTime=" in query and "ownerId=tea-" in query


FAILING = {"method": "POST", "path": "/services", "action": "fail_deploy"}


def test_a_failed_build_shows_in_the_logs(cli: Cli, sandbox: Sandbox) -> None:
    sandbox.add_fault(FAILING)
    assert cli("-q", "tenant", "create", "acme").exit_code == 5
    lines = log_json(cli, "acme", "--service", "web")
    assert (lines[-1]["message"], lines[-1]["level"]) == ("==> Build failed 😞", "error")


TWO_REGIONS = """\
services:
  - type: web
    name: web
    runtime: node
    repo: https://github.com/render-examples/express-hello-world
    buildCommand: npm install
    startCommand: npm start
    plan: starter
    region: frankfurt
databases:
  - name: db
    plan: basic-256mb
    region: oregon
"""


def test_resources_in_two_regions_are_asked_for_separately(
    cli: Cli, sandbox: Sandbox, isolated_env: Path
) -> None:
    templates = isolated_env / "config" / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    (templates / "regions.yaml").write_text(TWO_REGIONS)
    create_tenant(cli, "acme", "--template", "regions")
    lines = log_json(cli, "acme")
    assert {line["resource"] for line in lines} == {"web", "db"}
    assert [line["timestamp"] for line in lines] == sorted(line["timestamp"] for line in lines)
    assert len(log_requests(sandbox)) == 2  # Render takes one region per request


ESCAPE_START = "node app.js \x1b]0;owned\x07\x1b[2J\nFORGED LINE \u202e"


def test_render_text_is_shown_escaped(cli: Cli, sandbox: Sandbox) -> None:
    body = {
        "type": "web_service",
        "name": "legacy-web",
        "ownerId": sandbox.owner_id(),
        "repo": "https://github.com/render-examples/express-hello-world",
        "serviceDetails": {
            "runtime": "node",
            "plan": "starter",
            "region": "oregon",
            "envSpecificDetails": {"buildCommand": "npm ci", "startCommand": ESCAPE_START},
        },
    }
    web = sandbox.call("POST", "/services", body, expect=201)["service"]["id"]
    assert cli("-q", "tenant", "adopt", "legacy", "--resource", f"web={web}").exit_code == 0
    raw = log_json(cli, "legacy")
    assert f"==> Running '{ESCAPE_START}'" in [line["message"] for line in raw]  # JSON: as is
    human = cli("tenant", "logs", "legacy")
    assert human.exit_code == 0
    assert "\x1b" not in human.stdout and "\x07" not in human.stdout
    assert "\u202e" not in human.stdout
    assert not any(line.startswith("FORGED") for line in human.stdout.splitlines())
    assert "node app.js \\x1b]0;owned\\x07\\x1b[2J\\nFORGED LINE \\u202e'" in human.stdout


# ---------------------------------------------------------------------------------- --follow


def follow(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rcp", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ),
    )


def wait_until(predicate: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.parametrize(("output", "sig"), [("json", signal.SIGINT), ("human", signal.SIGTERM)])
def test_follow_prints_new_lines_until_a_signal(
    cli: Cli, sandbox: Sandbox, output: str, sig: signal.Signals
) -> None:
    """A bounded run: lines already there, then a deploy's lines as they happen; the signal
    ends it with a complete document and the exit code of the signal."""
    web = ids(create_tenant(cli, "acme"))["web"]
    before = len(log_json(cli, "acme", "--service", "web"))
    process = follow(["-o", output, "tenant", "logs", "acme", "--service", "web", "--follow"])
    try:
        wait_until(lambda: len(log_requests(sandbox)) >= 2, "the first lines to be read")
        deploy = sandbox.call("POST", f"/services/{web}/deploys", {}, expect=201)["id"]
        # The next poll (every 2.5 s) reads the new deploy's lines.
        requests_then = len(log_requests(sandbox))
        wait_until(lambda: len(log_requests(sandbox)) >= requests_then + 2, "two more polls")
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + sig, stderr
    assert "stopped following the logs" in stderr
    if output == "json":
        lines = json.loads(stdout)["data"]
        messages = [line["message"] for line in lines]
        ids_seen = [line["id"] for line in lines]
    else:
        messages = [HUMAN.match(text).group(2) for text in stdout.splitlines()]  # type: ignore[union-attr]
        ids_seen = messages
    assert len(messages) == before + 8, stdout
    assert messages[-2:] == ["==> Your service is live 🎉", "acme-web started"]
    assert output == "human" or len(set(ids_seen)) == len(ids_seen)
    assert deploy.startswith("dep-")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["acme", "--since", "soon"], 2, "invalid --since value 'soon'"),
        (["acme", "--since", "2999-01-01"], 2, "invalid --since value: it is in the future"),
        (["acme", "--limit", "0"], 2, "invalid --limit value 0: use 1 to 10000"),
        (["acme", "--limit", "10001"], 2, "invalid --limit value 10001"),
        (["acme", "--limit", "lots"], 2, "--limit"),
        (
            ["acme", "--service", "cache"],
            2,
            "tenant acme has no resource 'cache' (resources: db, web)",
        ),
        (["acme", "--service", "-x"], 2, ""),
        (["ACME"], 2, "invalid slug"),
        (["ghost"], 3, "tenant ghost not found"),
    ],
)
def test_bad_input_exits_before_render_is_asked(
    cli: Cli, sandbox: Sandbox, args: list[str], code: int, message: str
) -> None:
    create_tenant(cli, "acme")
    before = len(log_requests(sandbox))
    result = cli("-o", "json", "tenant", "logs", *args)
    assert result.exit_code == code, result.stderr
    assert message in result.stderr
    assert result.json()["error"]["code"] in ("usage_error", "tenant_not_found")
    assert len(log_requests(sandbox)) == before
