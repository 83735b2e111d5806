"""What the audit log and lock holder keep of a command line."""

from __future__ import annotations

import pytest

from rcp.context import redact_argv


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["tenant", "env", "set", "acme", "API_TOKEN=s3cret", "MODE=a=b"],
            ["tenant", "env", "set", "acme", "API_TOKEN=***", "MODE=***"],
        ),
        (
            ["tenant", "check", "--all", "--notify", "https://hooks.example/T0/B1/xyz"],
            ["tenant", "check", "--all", "--notify", "***"],
        ),
        (
            ["tenant", "check", "acme", "--notify=https://hooks.example/T0/B1/xyz"],
            ["tenant", "check", "acme", "--notify=***"],
        ),
        (
            ["db", "copy", "--to", "postgresql://rcp:pw123@db.example/rcp"],
            ["db", "copy", "--to", "postgresql://rcp:***@db.example/rcp"],
        ),
        (["auth", "login", "--with-token"], ["auth", "login", "--with-token"]),
        (["tenant", "create", "acme", "--slug", "acme"], ["tenant", "create", "acme", "--slug", "acme"]),
    ],
)
def test_redact_argv(argv: list[str], expected: list[str]) -> None:
    assert redact_argv(argv) == expected
