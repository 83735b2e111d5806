"""Finding and parsing templates: names, paths, the built-in default, YAML errors, listing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rcp.core.templates import (
    BUILTIN_SOURCE,
    TemplateInfo,
    builtin_default,
    list_templates,
    load_template,
)
from rcp.errors import UsageError

WORKER = """\
services:
  - type: worker
    name: jobs
    runtime: node
    repo: https://github.com/example/jobs
    buildCommand: npm ci
    startCommand: node worker.js
    plan: standard
"""


def test_builtin_default_is_package_data() -> None:
    template = builtin_default()
    assert template.name == "default"
    assert template.source == BUILTIN_SOURCE
    assert template.builtin
    assert "express-hello-world" in template.text
    assert [s["name"] for s in template.data["services"]] == ["web"]


def test_default_resolves_to_builtin_without_a_file(config_dir: Path) -> None:
    assert load_template("default", config_dir) == builtin_default()


def test_name_resolves_in_templates_folder(config_dir: Path) -> None:
    (config_dir / "templates" / "jobs.yaml").write_text(WORKER)
    (config_dir / "templates" / "other.yml").write_text(WORKER)
    template = load_template("jobs", config_dir)
    assert template.name == "jobs"
    assert template.source == str((config_dir / "templates" / "jobs.yaml").resolve())
    assert template.text == WORKER
    assert load_template("other", config_dir).source.endswith("other.yml")


def test_file_named_default_overrides_builtin(config_dir: Path) -> None:
    (config_dir / "templates" / "default.yaml").write_text(WORKER)
    template = load_template("default", config_dir)
    assert not template.builtin
    assert template.data["services"][0]["name"] == "jobs"


def test_path_is_loaded_relative_to_cwd(
    tmp_path: Path, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mine.yaml").write_text(WORKER)
    monkeypatch.chdir(tmp_path)
    template = load_template("mine.yaml", config_dir)
    assert template.name == "mine"
    assert template.source == str((tmp_path / "mine.yaml").resolve())
    assert load_template(f".{os.sep}mine.yaml", config_dir) == template


def test_unknown_name_lists_available(config_dir: Path) -> None:
    (config_dir / "templates" / "jobs.yaml").write_text(WORKER)
    with pytest.raises(UsageError) as raised:
        load_template("nope", config_dir)
    assert raised.value.exit_code == 2
    assert raised.value.message == "unknown template 'nope' (available: default, jobs)"
    assert raised.value.hint == f"put it in {config_dir / 'templates' / 'nope.yaml'} or pass a path"


def test_missing_path(config_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="^template file not found: "):
        load_template(str(tmp_path / "missing.yaml"), config_dir)


def test_ambiguous_name(config_dir: Path) -> None:
    (config_dir / "templates" / "jobs.yaml").write_text(WORKER)
    (config_dir / "templates" / "jobs.yml").write_text(WORKER)
    with pytest.raises(
        UsageError, match="^template 'jobs' is ambiguous: both .*jobs.yaml and .*jobs.yml exist"
    ):
        load_template("jobs", config_dir)


def test_invalid_name(config_dir: Path) -> None:
    with pytest.raises(UsageError, match="^invalid template name '..'"):
        load_template("..", config_dir)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "services:\n  - type: web\n   name: web\n",
            "template 'broken': invalid YAML at line 3, column 4: expected <block end>, but found '<block mapping start>'",
        ),
        (
            "services: [\n",
            "template 'broken': invalid YAML at line 2, column 1: expected the node content, but found '<stream end>'",
        ),
        (
            "services: []\nservices: []\n",
            "template 'broken': invalid YAML at line 2, column 1: duplicate key 'services'",
        ),
        ("", "template 'broken' is empty: define services and/or databases"),
        ("# only a comment\n", "template 'broken' is empty: define services and/or databases"),
        (
            "- web\n- db\n",
            "template 'broken': the top level must be a mapping with services and/or databases",
        ),
    ],
)
def test_malformed_yaml(config_dir: Path, text: str, message: str) -> None:
    (config_dir / "templates" / "broken.yaml").write_text(text)
    with pytest.raises(UsageError) as raised:
        load_template("broken", config_dir)
    assert raised.value.message == message


def test_yaml_tags_are_not_executed(config_dir: Path) -> None:
    (config_dir / "templates" / "evil.yaml").write_text(
        "services: !!python/object/apply:os.system ['true']\n"
    )
    with pytest.raises(UsageError, match="^template 'evil': invalid YAML at line 1"):
        load_template("evil", config_dir)


def test_non_utf8_file(config_dir: Path) -> None:
    (config_dir / "templates" / "latin.yaml").write_bytes(b"services: []\n# caf\xe9\n")
    with pytest.raises(UsageError, match="is not UTF-8 text"):
        load_template("latin", config_dir)


def test_list_templates(config_dir: Path) -> None:
    (config_dir / "templates" / "jobs.yaml").write_text(WORKER)
    (config_dir / "templates" / "bad.yml").write_text("services: []\n")
    (config_dir / "templates" / "notes.txt").write_text("ignored")
    infos = list_templates(config_dir)
    assert [info.name for info in infos] == ["bad", "default", "jobs"]
    bad, default, jobs = infos
    assert bad == TemplateInfo(
        "bad",
        str((config_dir / "templates" / "bad.yml").resolve()),
        [],
        "template 'bad': the template defines no resources: add services or databases",
    )
    assert default == TemplateInfo("default", BUILTIN_SOURCE, ["db", "web"])
    assert jobs.resources == ["jobs"]
    assert jobs.to_json() == {
        "name": "jobs",
        "source": str((config_dir / "templates" / "jobs.yaml").resolve()),
        "resources": ["jobs"],
        "valid": True,
        "error": None,
    }


def test_list_without_templates_folder(tmp_path: Path) -> None:
    assert list_templates(tmp_path / "nowhere") == [
        TemplateInfo("default", BUILTIN_SOURCE, ["db", "web"])
    ]
