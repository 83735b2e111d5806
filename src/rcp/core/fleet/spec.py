"""The fleet file (docs/fleet.md): what each tenant of the fleet should be.

    tenants:
      - name: Acme Corporation
        slug: acme            # optional: derived from the name
        template: default     # optional: a name, or a path inside the fleet file's directory
        plugin_repo: https://github.com/acme/plugins   # optional
        env:                  # optional
          LOG_LEVEL: info     # every service of the tenant
          web: {WORKERS: "4"} # one service, by template key
        tier: canary          # optional: rollouts take tenants tier by tier

Everything is checked before anything is written or sent: every entry's name, slug, plugin
repo, template (loaded, validated and rendered for that tenant), env keys and service keys, and
duplicate slugs. All problems are collected; the error names the first and counts the rest.

Template paths resolve against the fleet file's directory and must stay inside it (symlinks
followed): a fleet file is reviewed as a pull request and planned in CI, so a path must not make
`rcp plan` read any file the CI job can read. Absolute paths (and ``~``) need the caller's
explicit ``allow_absolute_templates`` (``--allow-absolute-templates``), never the file's own say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcp.core.models import RenderedTemplate, ResourceKind
from rcp.errors import UsageError

if TYPE_CHECKING:
    from rcp.core.templates.revisions import TemplateRevision

ALL_SERVICES = "*"  # the env_overrides key the engine applies to every service
ENTRY_FIELDS = ("name", "slug", "template", "plugin_repo", "env", "tier")
# A tier names a group of tenants rollouts take together (`canary`, `free`, `enterprise-eu`).
TIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
# Render's env var names, as the template compiler accepts them.
ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class DesiredTenant:
    """One validated entry: the tenant as it should be."""

    name: str
    slug: str
    template_name: str  # what the record stores (the template's name, a file's stem)
    plugin_repo: str | None
    rendered: dict[str, Any]  # RenderedTemplate.to_dict() for this tenant
    # service key (or "*") → {ENV_KEY: value}; the shape of Tenant.env_overrides
    env_overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    tier: str | None = None  # the entry's `tier:`, stored on the record for rollouts
    # The template revision ``rendered`` comes from (its content is what a rollback re-applies).
    revision: TemplateRevision | None = None

    @property
    def template(self) -> RenderedTemplate:
        return RenderedTemplate.from_dict(self.rendered)


@dataclass(frozen=True)
class FleetFile:
    path: Path
    tenants: list[DesiredTenant]
    # SHA-256 of the file's text: a saved plan (`rcp plan --out`) is refused when it changed.
    sha256: str = ""

    def slugs(self) -> list[str]:
        return [t.slug for t in self.tenants]


def load_fleet(
    path: Path, config_dir: Path, *, allow_absolute_templates: bool = False
) -> FleetFile:
    """Read, parse and validate a fleet file. Raises UsageError (exit 2) naming the first problem
    (with a count of the others); performs no I/O beyond reading the file and its templates."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"fleet file not found: {path}") from None
    except UnicodeDecodeError:
        raise UsageError(f"fleet file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"cannot read fleet file {path}: {exc.strerror or exc}") from None
    return parse_fleet(text, path, config_dir, allow_absolute_templates=allow_absolute_templates)


def parse_fleet(
    text: str, path: Path, config_dir: Path, *, allow_absolute_templates: bool = False
) -> FleetFile:
    from rcp.core.templates import parse_template_text

    try:
        # The template parser is a strict YAML loader (duplicate keys are errors); reuse it.
        data = parse_template_text(text, path.name)
    except UsageError as exc:
        message = exc.message.replace(f"template {path.name!r}", f"fleet file {path}", 1)
        if "is empty" in message or "top level" in message:
            message = f"fleet file {path}: the top level must be a mapping with a tenants list"
        raise UsageError(message) from None
    checker = _FleetChecker(path, config_dir, allow_absolute_templates)
    tenants = checker.run(data)
    if checker.problems:
        from rcp.errors import problem_entry

        first = checker.problems[0]
        more = len(checker.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        entries = [problem_entry(text, str(path)) for text in checker.problems]
        # A tenant's invalid template: its own problems, each at its place in the template.
        entries.extend(checker.template_problems)
        raise UsageError(
            f"fleet file {path}: {first}{suffix}",
            hint="nothing was changed; fix the file and rerun",
            problems=entries,
        )
    import hashlib

    return FleetFile(
        path=path, tenants=tenants, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest()
    )


class _FleetChecker:
    def __init__(self, path: Path, config_dir: Path, allow_absolute_templates: bool) -> None:
        self.path = path
        self.config_dir = config_dir
        self.allow_absolute_templates = allow_absolute_templates
        self.problems: list[str] = []
        self.template_problems: list[dict[str, str | None]] = []
        self._reported_templates: set[str | None] = set()
        self._templates: dict[str, Any] = {}

    def run(self, data: dict[str, Any]) -> list[DesiredTenant]:
        unknown = sorted(str(k) for k in data if k != "tenants")
        if unknown:
            self.problems.append(f"unknown top-level field {unknown[0]!r} (expected only tenants)")
        entries = data.get("tenants")
        if entries is None:
            self.problems.append("tenants: required: a list of tenants")
            return []
        if not isinstance(entries, list):
            self.problems.append("tenants: must be a list of tenants")
            return []
        tenants: list[DesiredTenant] = []
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries):
            where = f"tenants[{index}]"
            tenant = self._entry(where, entry)
            if tenant is None:
                continue
            if tenant.slug in seen:
                self.problems.append(
                    f"{where}: duplicate slug {tenant.slug!r} (also tenants[{seen[tenant.slug]}])"
                )
                continue
            seen[tenant.slug] = index
            tenants.append(tenant)
        return tenants

    def _entry(self, where: str, entry: Any) -> DesiredTenant | None:
        from rcp.core import slugs, templates
        from rcp.core.templates.revisions import revision_of

        if not isinstance(entry, dict):
            self.problems.append(f"{where}: must be a mapping with at least a name")
            return None
        for key in entry:
            if key not in ENTRY_FIELDS:
                self.problems.append(
                    f"{where}.{key}: unknown field (use {', '.join(ENTRY_FIELDS)})"
                )
                return None
        name = entry.get("name")
        if not isinstance(name, str):
            self.problems.append(f"{where}.name: required: the tenant's display name (a string)")
            return None
        try:
            slugs.validate_name(name)
        except UsageError as exc:
            self.problems.append(f"{where}.name: {exc.message}")
            return None
        slug = entry.get("slug")
        try:
            if slug is None:
                slug = slugs.derive_slug(name)
            elif not isinstance(slug, str):
                raise UsageError(f"invalid slug {slug!r}: must be a string")
            else:
                slugs.validate_slug(slug)
        except UsageError as exc:
            text = exc.message.replace("pass --slug", "give a slug")
            self.problems.append(f"{where}.slug: {text}")
            return None
        plugin_repo = entry.get("plugin_repo")
        if plugin_repo is not None:
            if not isinstance(plugin_repo, str):
                self.problems.append(f"{where}.plugin_repo: must be a URL string")
                return None
            try:
                slugs.validate_url(plugin_repo, option="plugin_repo")
            except UsageError as exc:
                self.problems.append(f"{where}.plugin_repo: {exc.message}")
                return None
        tier = entry.get("tier")
        if tier is not None:
            if isinstance(tier, int) and not isinstance(tier, bool):
                tier = str(tier)
            if not isinstance(tier, str) or not TIER.fullmatch(tier):
                self.problems.append(
                    f"{where}.tier: must be 1-40 letters, digits, '-', '_' or '.' "
                    f"(got {tier!r})"
                )
                return None
        template_value = entry.get("template", templates.DEFAULT_TEMPLATE)
        if not isinstance(template_value, str) or not template_value:
            self.problems.append(f"{where}.template: must be a template name or path")
            return None
        try:
            loaded = self._template(template_value)
            rendered = templates.render_template(
                loaded, slug=slug, name=name, plugin_repo=plugin_repo
            )
        except UsageError as exc:
            self.problems.append(f"{where} ({slug}): {exc.message}")
            source = exc.problems[0]["file"] if exc.problems else None
            if exc.problems and source not in self._reported_templates:
                # Each invalid template's problems once, however many tenants use it.
                self._reported_templates.add(source)
                self.template_problems.extend(exc.problems)
            return None
        overrides = self._env(where, entry.get("env"), rendered)
        if overrides is None:
            return None
        return DesiredTenant(
            name=name,
            slug=slug,
            template_name=loaded.name,
            plugin_repo=plugin_repo,
            rendered=rendered.to_dict(),
            env_overrides=overrides,
            tier=tier,
            revision=revision_of(loaded),
        )

    def _template(self, value: str) -> Any:
        from rcp.core import templates

        reference = value
        if templates.is_template_path(value):
            reference = str(self._template_path(value))
        if reference not in self._templates:
            loaded = templates.load_template(reference, self.config_dir)
            templates.validate_template(loaded)
            self._templates[reference] = loaded
        return self._templates[reference]

    def _template_path(self, value: str) -> Path:
        """The file a fleet file's ``template:`` path names (see the module docstring)."""
        # Relative to the file, not the working directory, so CI can run from anywhere.
        base = self.path.parent.resolve()
        candidate = Path(value).expanduser()
        if candidate.is_absolute():
            if not self.allow_absolute_templates:
                raise UsageError(
                    f"template path {value!r} is absolute: template paths are relative to the "
                    f"fleet file's directory ({base}); pass --allow-absolute-templates to allow "
                    "absolute paths"
                )
            return candidate
        resolved = (base / candidate).resolve()
        if not resolved.is_relative_to(base):
            raise UsageError(
                f"template path {value!r} leads outside the fleet file's directory ({base}): "
                "keep templates beside the fleet file, or give an absolute path with "
                "--allow-absolute-templates"
            )
        return resolved

    def _env(
        self, where: str, raw: Any, rendered: RenderedTemplate
    ) -> dict[str, dict[str, str]] | None:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problems.append(
                f"{where}.env: must map KEY: value (every service) or service-key: {{KEY: value}}"
            )
            return None
        services = [s.key for s in rendered.resources if s.kind is ResourceKind.SERVICE]
        # A tenant's own environment group takes overrides like a service (its key).
        own_groups = [
            s.key for s in rendered.resources if s.kind is ResourceKind.ENV_GROUP and not s.shared
        ]
        overrides: dict[str, dict[str, str]] = {}
        for key, value in raw.items():
            if isinstance(value, dict):
                if key not in services and key not in own_groups:
                    known = ", ".join(services) or "none"
                    groups = f"; own groups: {', '.join(own_groups)}" if own_groups else ""
                    self.problems.append(
                        f"{where}.env.{key}: not a service of the tenant's template "
                        f"(services: {known}{groups})"
                    )
                    return None
                for env_key, env_value in value.items():
                    text = self._env_value(f"{where}.env.{key}.{env_key}", env_key, env_value)
                    if text is None:
                        return None
                    overrides.setdefault(str(key), {})[str(env_key)] = text
                continue
            text = self._env_value(f"{where}.env.{key}", key, value)
            if text is None:
                return None
            overrides.setdefault(ALL_SERVICES, {})[str(key)] = text
        if overrides and not services:
            self.problems.append(f"{where}.env: the tenant's template has no service to set it on")
            return None
        return overrides

    def _env_value(self, where: str, key: Any, value: Any) -> str | None:
        if not isinstance(key, str) or not ENV_KEY.fullmatch(key):
            self.problems.append(
                f"{where}: invalid env var name {key!r}: use letters, digits and underscores, "
                "not starting with a digit"
            )
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float | str):
            return str(value)
        self.problems.append(f"{where}: the value must be a string, number or boolean")
        return None
