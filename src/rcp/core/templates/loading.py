"""Finding, reading and parsing template files. PyYAML is imported only when a template is
actually parsed, so ``rcp --help`` never loads it."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rcp.errors import UsageError
from rcp.yamlsafe import YamlTooComplex, load_bounded

BUILTIN_SOURCE = "built-in"
DEFAULT_TEMPLATE = "default"
TEMPLATE_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")
# A template *name* (not a path): what can sit before .yaml in the templates folder.
_TEMPLATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Template:
    """A template as read: ``source`` is the file's absolute path, or ``"built-in"``."""

    name: str
    source: str
    text: str
    data: dict[str, Any]

    @property
    def builtin(self) -> bool:
        return self.source == BUILTIN_SOURCE


def templates_dir(config_dir: Path) -> Path:
    return config_dir / "templates"


def is_template_path(name_or_path: str) -> bool:
    """A value with a path separator or a YAML suffix is a file path; anything else a name."""
    return (
        "/" in name_or_path
        or os.sep in name_or_path
        or name_or_path.lower().endswith(TEMPLATE_SUFFIXES)
    )


def available_template_names(config_dir: Path) -> list[str]:
    """Names of the templates in ``<config_dir>/templates`` plus the built-in ``default``."""
    names = {DEFAULT_TEMPLATE}
    folder = templates_dir(config_dir)
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.suffix.lower() in TEMPLATE_SUFFIXES and _TEMPLATE_NAME.fullmatch(entry.stem):
                names.add(entry.stem)
    return sorted(names)


def load_template(name_or_path: str, config_dir: Path) -> Template:
    """Read and parse a template by name (``<config_dir>/templates/NAME.yaml`` or ``.yml``, else
    the built-in ``default``) or by path. Raises UsageError (exit 2) for an unknown template,
    an unreadable file or malformed YAML. The content is checked by ``validate_template``."""
    if is_template_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise UsageError(f"template file not found: {name_or_path}")
        return _load_file(path.stem, path.resolve())
    name = name_or_path
    if not _TEMPLATE_NAME.fullmatch(name):
        raise UsageError(
            f"invalid template name {name!r}: use letters, digits, '.', '_' and '-', or give a path"
        )
    candidates = [templates_dir(config_dir) / f"{name}{suffix}" for suffix in TEMPLATE_SUFFIXES]
    found = [path for path in candidates if path.is_file()]
    if len(found) > 1:
        raise UsageError(
            f"template {name!r} is ambiguous: both {found[0]} and {found[1]} exist; remove one"
        )
    if found:
        return _load_file(name, found[0].resolve())
    if name == DEFAULT_TEMPLATE:
        return builtin_default()
    available = ", ".join(available_template_names(config_dir))
    raise UsageError(
        f"unknown template {name!r} (available: {available})",
        hint=f"put it in {templates_dir(config_dir) / (name + '.yaml')} or pass a path",
    )


def builtin_default() -> Template:
    """The built-in ``default`` template, shipped as package data."""
    text = (
        resources.files("rcp.core")
        .joinpath("builtin_templates", "default.yaml")
        .read_text(encoding="utf-8")
    )
    return Template(
        DEFAULT_TEMPLATE, BUILTIN_SOURCE, text, parse_template_text(text, DEFAULT_TEMPLATE)
    )


def _load_file(name: str, path: Path) -> Template:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"template {name!r}: {path} is not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"cannot read template {name!r} ({path}): {exc.strerror or exc}") from None
    return Template(name, str(path), text, parse_template_text(text, name))


def parse_template_text(text: str, name: str) -> dict[str, Any]:
    """YAML → the top-level mapping. Duplicate keys are an error (YAML would keep the last one
    silently). Raises UsageError naming the line for malformed YAML."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        loader.flatten_mapping(node)
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return loader.construct_mapping(node, deep=True)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    try:
        # Bounded: an alias bomb is refused before anything walks the expanded tree.
        data = load_bounded(text, StrictLoader)
    except YamlTooComplex as exc:
        raise UsageError(f"template {name!r}: refused: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "malformed YAML"
        raise UsageError(f"template {name!r}: invalid YAML{where}: {problem}") from None
    except yaml.YAMLError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else "malformed YAML"
        raise UsageError(f"template {name!r}: invalid YAML: {first_line}") from None
    if data is None:
        raise UsageError(f"template {name!r} is empty: define services and/or databases")
    if not isinstance(data, dict):
        raise UsageError(
            f"template {name!r}: the top level must be a mapping with services and/or databases"
        )
    return data
