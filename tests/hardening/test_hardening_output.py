"""Issue 11 item 3: user and Render text is shown, never interpreted.

Tenant names are data: rich markup (``[/x]``, ``[bold]``) and emoji codes in them are printed
as typed, and a name that looks like markup cannot break `tenant list`, `status --all` or
`audit` for everyone afterwards. Control characters from Render's error messages (or any other
text rcp did not write) reach the terminal escaped, and an error stays on one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Cli

MARKUP_NAMES = ["Broken [/x] name", "Foo [bold]Bar :smile: [link=http://x]y[/link]"]
# OSC title change + BEL, clear screen, an 8-bit CSI (C1), a bidi override, a line break.
HOSTILE = "bad \x1b]0;owned\x07 \x1b[2J\x9b31m x\u202ey\rz"
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e", "\r")


def test_markup_in_names_is_printed_as_typed(cli: Cli, sandbox_env: dict[str, str]) -> None:
    for name in MARKUP_NAMES:
        created = cli("tenant", "create", name)
        assert created.exit_code == 0, created.stderr
        assert "MarkupError" not in created.stderr
    listing = cli("tenant", "list")
    assert listing.exit_code == 0, listing.stderr
    status = cli("tenant", "status", "--all")
    assert status.exit_code == 0, status.stderr
    audit = cli("audit")
    assert audit.exit_code == 0, audit.stderr
    for name in MARKUP_NAMES:
        assert name in listing.stdout
        assert name in status.stdout
        assert name in audit.stdout  # the audited command line quotes the name
    assert "😄" not in listing.stdout  # :smile: is text, not an emoji code
    shown = cli("tenant", "show", "broken-x-name")
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout.startswith("broken-x-name  Broken [/x] name\nstatus:")
    # JSON is untouched: the name is data either way.
    data = cli("-o", "json", "tenant", "list").json()["data"]
    assert sorted(t["name"] for t in data) == sorted(MARKUP_NAMES)


def _fault_file(path: Path, message: str) -> Path:
    rules = [
        {
            "method": "POST",
            "path": "/postgres",
            "action": "status",
            "status": 400,
            "body": {"id": "invalid", "message": message},
        }
    ]
    path.write_text(json.dumps(rules))
    return path


def test_render_error_text_is_escaped_and_one_line(
    cli: Cli, sandbox_env: dict[str, str], isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RCP_SANDBOX_FAULTS", str(_fault_file(isolated_env / "f.json", HOSTILE)))
    failed = cli("tenant", "create", "acme")
    assert failed.exit_code not in (0, 1), failed.stderr
    for control in RAW_CONTROLS:
        assert control not in failed.stderr
        assert control not in failed.stdout
    errors = [line for line in failed.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1
    # (Render's whitespace, \r included, is already folded into single spaces.)
    assert "bad \\x1b]0;owned\\x07 \\x1b[2J\\x9b31m x\\u202ey z" in errors[0]


def test_stored_render_text_is_escaped_in_every_human_view(
    cli: Cli, sandbox_env: dict[str, str], isolated_env: Path
) -> None:
    """A record whose last error holds control characters (Render's text, restored from a
    backup) is shown escaped by `show` and `status --all`, and kept intact in JSON."""
    assert cli("tenant", "create", "acme").exit_code == 0
    exported = cli("-o", "json", "backup", "export")
    assert exported.exit_code == 0, exported.stderr
    document = exported.json()["data"]
    document["tenants"][0]["status"] = "ERROR"
    document["tenants"][0]["last_error"] = f"Render rejected POST /services (400): {HOSTILE}"
    path = isolated_env / "backup.json"
    path.write_text(json.dumps(document))
    restored = cli("backup", "import", str(path), "--overwrite")
    assert restored.exit_code == 0, restored.stderr
    recorded = cli("-o", "json", "tenant", "show", "acme")
    assert recorded.json()["data"]["last_error"].endswith(HOSTILE)  # data is kept as it was
    assert "\x1b" not in recorded.stdout  # JSON writes it as \\u001b
    for args in (["tenant", "show", "acme"], ["tenant", "status", "--all"], ["tenant", "list"]):
        human = cli(*args)
        assert human.exit_code == 0, human.stderr
        for control in RAW_CONTROLS:
            assert control not in human.stdout + human.stderr, (args, control)
    shown = cli("tenant", "show", "acme").stdout
    (line,) = [line for line in shown.splitlines() if "Render rejected" in line]
    assert line.startswith("last error:")
    assert "Render rejected POST /services (400): bad \\x1b]0;owned\\x07" in line
    assert "\\u202ey\\rz" in shown


def test_usage_error_quoting_an_argument_stays_one_line(cli: Cli) -> None:
    result = cli("tenant", "list", "--status", "X\x1b[2J\nY")
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr
    assert result.stderr.splitlines()[0].startswith("Error: ")
    assert "\\x1b[2J\\nY" in result.stderr.splitlines()[0]


def test_escape_control_covers_c0_c1_and_bidi_but_keeps_text() -> None:
    from rcp.output.text import escape_control

    assert escape_control("Café [b] \\ ok") == "Café [b] \\ ok"
    assert escape_control("a\x00b\x1bc\x7fd\x85e\u2028f\u2066") == (
        "a\\x00b\\x1bc\\x7fd\\x85e\\u2028f\\u2066"
    )
    assert escape_control("one\ntwo\tthree\r") == "one\\ntwo\\tthree\\r"
    assert escape_control("one\ntwo\tthree\r", multiline=True) == "one\ntwo\tthree\\r"
