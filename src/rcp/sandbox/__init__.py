"""The embedded Render API simulator (docs/sandbox.md). This module is its face: the rest of rcp
(``rcp.context``, ``rcp.cli.sandbox``) imports these names from here, never the submodules.

- ``SandboxTransport(state_path, settings)``: httpx transport for in-process use.
- ``serve(host, port, state_path, settings)``: the same world over HTTP.
- ``SandboxSettings``: clock and behaviour knobs (``SandboxSettings.from_env``, ``parse_scale``).
- ``SandboxStore(state_path)``: the world's state file (``wipe()`` resets it).
- ``FaultRuleError``: a malformed fault rule (see ``rcp.sandbox.faults``).

Independent of the rest of rcp on purpose: it implements Render's side from the spec and
the recordings, so it can catch the client's mistakes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rcp.sandbox.settings import SandboxSettings, SandboxSettingsError, parse_scale

if TYPE_CHECKING:
    from rcp.sandbox.app import SandboxApp
    from rcp.sandbox.faults import FaultRuleError
    from rcp.sandbox.server import serve
    from rcp.sandbox.store import SandboxStore
    from rcp.sandbox.transport import SandboxTransport

__all__ = [
    "FaultRuleError",
    "SandboxApp",
    "SandboxSettings",
    "SandboxSettingsError",
    "SandboxStore",
    "SandboxTransport",
    "parse_scale",
    "serve",
]

# Loaded on first access: httpx only when the transport is wanted, the HTTP server only when
# serving.
_LAZY = {
    "SandboxTransport": "rcp.sandbox.transport",
    "SandboxApp": "rcp.sandbox.app",
    "SandboxStore": "rcp.sandbox.store",
    "FaultRuleError": "rcp.sandbox.faults",
    "serve": "rcp.sandbox.server",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'rcp.sandbox' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
