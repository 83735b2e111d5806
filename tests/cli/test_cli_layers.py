"""The command layer's rules (DESIGN: cli/ is thin): commands reach adapters only through
``rcp.context``, the simulator only through its face, and print only through ``rcp.output``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[2] / "src" / "rcp" / "cli"

# Adapters and libraries a command never imports itself (rcp.context wires them).
FORBIDDEN = ("rcp.store", "rcp.render", "rcp.testhooks", "rcp.webhooks", "httpx", "sqlalchemy",
             "sqlmodel", "tenacity", "alembic", "rich")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_commands_import_no_adapter_and_no_renderer_library(path: Path) -> None:
    imported = _imports(path)
    wrong = [
        name for name in imported
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN)
    ]
    # The simulator's face only: rcp.sandbox, never its submodules.
    wrong += [name for name in imported if name.startswith("rcp.sandbox.")]
    assert not wrong, f"{path.name} imports {wrong}"
