"""Helpers shared by the hardening tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Served:
    url: str
    app: Any

    def fail(self, rules: list[dict[str, Any]]) -> None:
        from rcp.sandbox.faults import parse_rules

        self.app.add_faults(parse_rules(rules))
