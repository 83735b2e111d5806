"""``rcp serve``: the tenant HTTP API and a read-only fleet dashboard over the same core as the CLI.

Needs the optional extra ``[serve]`` (FastAPI, uvicorn, Jinja2). This package's ``__init__`` is
stdlib only, so the CLI can tell whether the extra is installed without importing it.
"""

from __future__ import annotations

import importlib.util

# The distributions of the extra and the module each one provides.
SERVE_MODULES = {"fastapi": "fastapi", "uvicorn": "uvicorn", "jinja2": "jinja2"}
# The distribution is render-control-plane (the command and package are rcp).
INSTALL_COMMAND = "pip install 'render-control-plane[serve]'"


def missing_dependencies() -> list[str]:
    """The packages of the ``[serve]`` extra that cannot be imported here."""
    return [
        package
        for package, module in SERVE_MODULES.items()
        if importlib.util.find_spec(module) is None
    ]
