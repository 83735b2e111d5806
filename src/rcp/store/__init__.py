"""rcp.store: the control-plane database (tenants, resources, journal, leases, audit log).

``open_store(url)`` returns a ``SqlStore`` implementing ``rcp.core.ports.TenantStore``.
``mask_url`` is importable without pulling in SQLAlchemy; the rest loads on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rcp.store.urls import mask_url, normalise_url

if TYPE_CHECKING:
    from rcp.store.connect import open_store
    from rcp.store.repository import JournalEntry, LockInfo, SqlStore

__all__ = ["JournalEntry", "LockInfo", "SqlStore", "mask_url", "normalise_url", "open_store"]

_LAZY = {
    "open_store": "rcp.store.connect",
    "SqlStore": "rcp.store.repository",
    "LockInfo": "rcp.store.repository",
    "JournalEntry": "rcp.store.repository",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'rcp.store' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
