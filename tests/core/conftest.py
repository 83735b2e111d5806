"""Fixtures for the template, slug and duration tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from template_samples import RICH_TEMPLATE, make_template

from rcp.core.templates import Template


@pytest.fixture
def template_from() -> Callable[..., Template]:
    return make_template


@pytest.fixture
def rich_template() -> Template:
    return make_template(RICH_TEMPLATE, "rich")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    (path / "templates").mkdir(parents=True)
    return path


def _shared_dir() -> Path:
    shared = (Path(__file__).resolve().parents[2] / ".." / "shared").resolve()
    if not shared.is_dir():
        pytest.skip(f"../shared not present: Render reference files unavailable ({shared})")
    return shared


@pytest.fixture(scope="session")
def openapi_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(
        (_shared_dir() / "render-api" / "render-openapi.json").read_text(encoding="utf-8")
    )
    return spec


@pytest.fixture(scope="session")
def blueprint_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (_shared_dir() / "render-api" / "render-schema.json").read_text(encoding="utf-8-sig")
    )
    return schema
