"""`rcp health`: run every check, report each failure, never stop at the first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rcp.errors import RcpError

Check = tuple[str, Callable[[], str]]


def run_checks(checks: list[Check]) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    blocked_by: str | None = None
    for name, check in checks:
        if blocked_by is not None and name.startswith("render") and blocked_by.startswith("render"):
            results.append({"name": name, "ok": False, "detail": f"skipped: {blocked_by} failed"})
            continue
        try:
            detail = check()
            results.append({"name": name, "ok": True, "detail": detail})
        except RcpError as exc:
            results.append({"name": name, "ok": False, "detail": exc.message})
            if name.startswith("render"):
                blocked_by = name
        except Exception as exc:  # health reports, it does not crash
            results.append({"name": name, "ok": False, "detail": f"{type(exc).__name__}"})
    healthy = all(r["ok"] for r in results)
    return {"status": "healthy" if healthy else "unhealthy", "checks": results}
