"""Issue 13 item 6: `--log-format json` makes every stderr line a JSON record; tables wrap
identifiers instead of cutting them; `tenant show` prints the full record; a fleet-wide repair
audits each tenant it repaired."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

from tenant_ops_helpers import Sandbox, create_tenant, ids

from tests.conftest import Cli


def json_records(stderr: str) -> list[dict[str, Any]]:
    """Every line of ``stderr`` parsed as JSON (fails on any line that is not)."""
    records = []
    for line in stderr.splitlines():
        assert line.strip(), "empty stderr line"
        record = json.loads(line)
        assert {"ts", "level", "logger", "message"} <= set(record), line
        records.append(record)
    return records


def test_log_format_json_turns_progress_warnings_errors_and_hints_into_records(
    cli: Cli, sandbox: Sandbox, tmp_path: Path
) -> None:
    created = cli("--log-format", "json", "tenant", "create", "Acme")
    assert created.exit_code == 0, created.stderr
    progress = [r for r in json_records(created.stderr) if r.get("event") == "progress"]
    assert progress and progress[-1]["tenant"] == "acme" and progress[-1]["state"] == "ACTIVE"
    assert any(r.get("resource") == "web" and r["message"].startswith("acme: web:") for r in progress)

    missing = cli("tenant", "show", "ghost", "--log-format", "json")
    assert missing.exit_code == 3
    (error,) = json_records(missing.stderr)
    assert (error["level"], error["event"], error["code"], error["exit_code"]) == (
        "error", "error", "tenant_not_found", 3
    )
    assert error["hint"]  # the hint travels in the error's record, not on a plain line

    # A usage error caught before any command runs (click's), and the JSON envelope still on stdout.
    usage = cli("-o", "json", "--log-format", "json", "tenant", "create", "--bogus")
    assert usage.exit_code == 2
    (record,) = json_records(usage.stderr)
    assert record["code"] == "usage_error" and "--bogus" in record["message"]
    assert usage.json()["error"]["code"] == "usage_error"

    # Info and warning lines (apply's schedule, a template warning) are records too.
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("tenants:\n  - name: Acme\n  - name: Beta\n")
    applied = cli("--log-format", "json", "apply", str(fleet))
    assert applied.exit_code == 0, applied.stderr
    events = {r.get("event") for r in json_records(applied.stderr)}
    assert {"info", "progress"} <= events
    template = tmp_path / "cheap.yaml"
    template.write_text(
        "services:\n  - type: web\n    name: web\n    runtime: node\n"
        "    repo: https://github.com/render-examples/express-hello-world\n"
        "    buildCommand: npm ci\n    startCommand: npm start\n    plan: custom\n"
    )
    validated = cli("--log-format", "json", "template", "validate", str(template))
    assert validated.exit_code == 0, validated.stderr
    warnings = [r for r in json_records(validated.stderr) if r["level"] == "warning"]
    assert warnings and warnings[0]["event"] == "warning"

    # The same text without the flag: plain lines.
    plain = cli("tenant", "show", "ghost")
    assert plain.stderr.startswith("Error: tenant ghost not found\nHint: ")


def test_a_bad_fleet_file_is_one_error_record_with_every_problem(
    cli: Cli, sandbox: Sandbox, tmp_path: Path
) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("tenants:\n  - name: ''\n  - name: Acme\n    slug: 9bad\n")
    result = cli("--log-format", "json", "plan", str(fleet))
    assert result.exit_code == 2
    (record,) = json_records(result.stderr)
    assert [p["location"] for p in record["problems"]] == ["tenants[0].name", "tenants[1].slug"]


def run_on_terminal(args: list[str], columns: int) -> str:
    """``rcp ARGS`` with stdout on a pseudo-terminal ``columns`` wide (rich sizes tables to the
    terminal only there); the text it showed, without ANSI styles."""
    import re

    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1", "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rcp", *args],
        stdout=follower,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    text = b"".join(chunks).decode()
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "")


def column_text(shown: str, header: str) -> str:
    """The cells of the column whose header starts with ``header``, read top to bottom and
    glued together (a folded cell continues on the next lines of its column)."""
    import re

    lines = shown.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("KEY"))
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", lines[at])]
    titles = [m.group() for m in re.finditer(r"\S+(?: \S+)*", lines[at])]
    index = next(i for i, title in enumerate(titles) if title.startswith(header))
    begin = starts[index]
    end = starts[index + 1] if index + 1 < len(starts) else None
    return "".join(line[begin:end].strip() for line in lines[at + 1 :])


def test_tables_on_a_narrow_terminal_wrap_ids_and_urls_instead_of_cutting_them(
    cli: Cli, sandbox: Sandbox
) -> None:
    tenant = create_tenant(cli, "acme")
    web = next(r for r in tenant["resources"] if r["key"] == "web")
    status = run_on_terminal(["tenant", "status", "acme"], columns=60)
    assert "…" not in status, status
    assert max(len(line) for line in status.splitlines()) <= 60
    for render_id in ids(tenant).values():
        assert render_id in column_text(status, "RENDER ID"), (render_id, status)
    assert web["url"] in column_text(status, "URL"), status
    # `tenant show` gives each value a line of its own: whole, at a width that fits them.
    shown = run_on_terminal(["tenant", "show", "acme"], columns=60)
    assert "…" not in shown and max(len(line) for line in shown.splitlines()) <= 60
    for value in (*ids(tenant).values(), web["url"]):
        assert value in shown, (value, shown)

def test_tenant_show_prints_the_full_record(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme", "--plugin-repo", "https://github.com/acme/plugin")
    assert cli("-q", "tenant", "env", "set", "acme", "LOG_LEVEL=debug", "--no-deploy").exit_code == 0
    shown = cli("tenant", "show", "acme")
    assert shown.exit_code == 0, shown.stderr
    text = shown.stdout
    for expected in (
        "template:", "default",
        "plugin repo:", "https://github.com/acme/plugin",
        "env overrides:", "LOG_LEVEL=***",
        "web (web_service)", "db (postgres)", "plan:", "region:", "last error:",
        "starter", "basic_256mb", "oregon",
        *ids(tenant).values(),
    ):
        assert expected in text, (expected, text)
    assert "debug" not in text  # values masked
    status = cli("tenant", "status", "acme").stdout
    assert status != text and "plugin repo:" not in status
    data = cli("-o", "json", "tenant", "show", "acme").json()["data"]
    web = next(r for r in data["resources"] if r["key"] == "web")
    assert (web["plan"], web["region"]) == ("starter", "oregon")
    # The built-in template's revision, recorded when the tenant reached ACTIVE.
    revision = data["template_revision"]
    assert len(revision["hash"]) == 64 and revision["label"] is None
    assert revision["since"].endswith("Z")
    assert f"revision {revision['hash'][:12]}" in text
    assert data["env_overrides"] == [{"service": "*", "key": "LOG_LEVEL", "value": "***"}]


def test_a_fleet_wide_repair_writes_one_audit_entry_per_repaired_tenant(
    cli: Cli, sandbox: Sandbox
) -> None:
    create_tenant(cli, "acme")
    globex = create_tenant(cli, "globex")
    initech = create_tenant(cli, "initech")
    sandbox.suspend("postgres", ids(globex)["db"])
    sandbox.suspend("services", ids(initech)["web"])
    repaired = cli("-o", "json", "tenant", "check", "--all", "--repair")
    assert repaired.exit_code == 0, repaired.stderr
    for slug in ("globex", "initech"):
        entries = cli("-o", "json", "audit", "--tenant", slug).json()["data"]
        repairs = [e for e in entries if "check" in e["command"] and "--repair" in e["command"]]
        assert len(repairs) == 1, entries
        assert (repairs[0]["outcome"], repairs[0]["exit_code"]) == ("ok", 0)
    # Healthy tenants were not repaired: nothing to audit for them.
    acme = cli("-o", "json", "audit", "--tenant", "acme").json()["data"]
    assert not [e for e in acme if "--repair" in e["command"]]
