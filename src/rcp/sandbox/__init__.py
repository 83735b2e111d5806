"""The embedded Render API simulator (docs/sandbox.md).

- ``SandboxTransport(state_path, settings)``: httpx transport for in-process use.
- ``rcp.sandbox.server.serve(host, port, state_path, settings)``: the same world over HTTP.
- ``SandboxSettings``: clock and behaviour knobs (``SandboxSettings.from_env``).
- Fault rules: see ``rcp.sandbox.faults``.

Independent of the rest of rcp on purpose: it implements Render's side from the spec and
the recordings, so it can catch the client's mistakes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rcp.sandbox.settings import SandboxSettings, SandboxSettingsError

if TYPE_CHECKING:
    from rcp.sandbox.app import SandboxApp
    from rcp.sandbox.transport import SandboxTransport

__all__ = ["SandboxApp", "SandboxSettings", "SandboxSettingsError", "SandboxTransport"]


def __getattr__(name: str) -> Any:
    # httpx is only loaded when the transport is actually wanted.
    if name == "SandboxTransport":
        from rcp.sandbox.transport import SandboxTransport

        return SandboxTransport
    if name == "SandboxApp":
        from rcp.sandbox.app import SandboxApp

        return SandboxApp
    raise AttributeError(name)
