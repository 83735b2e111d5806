"""rcp.store: the control-plane database (tenants, resources, journal, leases, audit log).

``open_store(url)`` returns a ``SqlStore`` implementing ``rcp.core.ports.TenantStore``.
Importing the package loads nothing: each name loads its module (and SQLAlchemy) on first
access. URL parsing and masking, which need no SQLAlchemy, live in ``rcp.urls``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rcp.store.connect import open_store
    from rcp.store.repository import LockInfo, SqlStore

__all__ = ["LockInfo", "SqlStore", "open_store"]

_LAZY = {
    "open_store": "rcp.store.connect",
    "SqlStore": "rcp.store.repository",
    "LockInfo": "rcp.store.repository",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'rcp.store' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
