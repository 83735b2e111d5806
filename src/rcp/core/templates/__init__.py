"""Tenant templates (docs/templates.md): Render Blueprint syntax in, Render create requests out.

``load_template(name_or_path, config_dir)`` reads one (a name, a path, or the built-in
``default``); ``validate_template`` raises UsageError (exit 2) naming the first problem;
``render_template(template, slug=…, name=…, plugin_repo=…)`` gives the ``RenderedTemplate`` of
one tenant: ResourceSpecs in creation order, bodies in Render API spelling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcp.core import slugs
from rcp.core.models import RenderedTemplate
from rcp.core.templates.compiler import SAMPLE_TENANT, CompileResult, TenantValues, compile_template
from rcp.core.templates.loading import (
    BUILTIN_SOURCE,
    DEFAULT_TEMPLATE,
    Template,
    available_template_names,
    builtin_default,
    is_template_path,
    load_template,
    parse_template_text,
    templates_dir,
)
from rcp.errors import UsageError

if TYPE_CHECKING:
    from rcp.core.cost import PriceTable

__all__ = [
    "BUILTIN_SOURCE",
    "DEFAULT_TEMPLATE",
    "SAMPLE_TENANT",
    "Template",
    "TemplateInfo",
    "TenantValues",
    "available_template_names",
    "builtin_default",
    "describe_resources",
    "invalid_template_error",
    "is_template_path",
    "list_templates",
    "load_template",
    "parse_template_text",
    "preview_template",
    "render_template",
    "template_problems",
    "template_warnings",
    "templates_dir",
    "validate_template",
]


@dataclass(frozen=True)
class TemplateInfo:
    """One entry of ``rcp template list``. ``error`` is set (and ``resources`` empty) when the
    template cannot be loaded or is invalid."""

    name: str
    source: str
    resources: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "resources": list(self.resources),
            "valid": self.error is None,
            "error": self.error,
        }


def template_problems(template: Template) -> list[str]:
    """Every problem of the template, each ``"<path>: <what is wrong>"``; empty when valid.
    Checked by rendering for a sample tenant, so substituted values are checked too."""
    return compile_template(template.data, SAMPLE_TENANT).problems


def template_warnings(template: Template, prices: PriceTable) -> list[str]:
    """What an operator should know about a valid template, each ``"<path>: <what>"``: free
    datastore plans (Render's limits on them), and plans the price table does not price (Render
    accepts them; ``rcp cost`` reports them as unknown)."""
    result = compile_template(template.data, SAMPLE_TENANT)
    warnings = list(result.warnings)
    for spec in result.resources:
        if spec.plan is None or prices.knows_plan(spec.render_type, spec.plan):
            continue
        warnings.append(
            f"{result.paths.get(spec.key, spec.key)}.plan: the price table has no price for "
            f"{spec.render_type} plan {spec.plan!r}; 'rcp cost' reports it as unknown "
            "(add it to prices.toml in the config dir)"
        )
    return warnings


def validate_template(template: Template) -> None:
    """Raise UsageError (exit 2) naming the first problem when the template is invalid."""
    _raise_for_problems(template, template_problems(template))


def preview_template(template: Template) -> RenderedTemplate:
    """The template rendered for the sample tenant (``sample-tenant``): shows resources,
    creation order and request bodies without a real tenant. Raises UsageError if invalid."""
    return _rendered(template, compile_template(template.data, SAMPLE_TENANT))


def render_template(
    template: Template, *, slug: str, name: str, plugin_repo: str | None
) -> RenderedTemplate:
    """The template for one tenant: placeholders substituted, Render names ``<slug>-<key>``,
    resources in creation order, bodies in Render API spelling (no ownerId, no envVars).

    Raises UsageError (exit 2) for an invalid slug, name or plugin repo URL, an invalid
    template, or a template that uses ``{{ tenant.plugin_repo }}`` when none is given."""
    slugs.validate_slug(slug)
    slugs.validate_name(name)
    if plugin_repo is not None:
        slugs.validate_url(plugin_repo)
    from rcp.core.templates.revisions import revision_of

    result = compile_template(template.data, TenantValues(slug, name, plugin_repo))
    rendered = _rendered(template, result)
    rendered.revision = revision_of(template).ref()
    return rendered


def describe_resources(rendered: RenderedTemplate) -> list[dict[str, Any]]:
    """Per resource, in creation order: key, API type, Render name pattern, plan, dependencies."""
    return [
        {
            "key": spec.key,
            "type": spec.render_type,
            # A group shared by the fleet has one name for every tenant.
            "name_pattern": spec.name if spec.shared else slugs.render_name("<slug>", spec.key),
            "plan": spec.plan,
            "depends_on": list(spec.depends_on),
        }
        for spec in rendered.resources
    ]


def list_templates(config_dir: Path) -> list[TemplateInfo]:
    """Every template ``--template NAME`` can use, sorted by name, built-in ``default``
    included (unless a file in the templates folder overrides it)."""
    infos: list[TemplateInfo] = []
    for name in available_template_names(config_dir):
        try:
            template = load_template(name, config_dir)
            keys = [spec.key for spec in preview_template(template).resources]
        except UsageError as exc:
            source = _source_guess(name, config_dir)
            infos.append(TemplateInfo(name, source, [], exc.message))
            continue
        infos.append(TemplateInfo(name, template.source, keys))
    return infos


def _source_guess(name: str, config_dir: Path) -> str:
    for suffix in (".yaml", ".yml"):
        path = templates_dir(config_dir) / f"{name}{suffix}"
        if path.is_file():
            return str(path.resolve())
    return BUILTIN_SOURCE


def _rendered(template: Template, result: CompileResult) -> RenderedTemplate:
    _raise_for_problems(template, result.problems)
    if result.plugin_repo_paths:
        raise UsageError(
            f"template {template.name!r} uses {{{{ tenant.plugin_repo }}}} "
            f"({', '.join(result.plugin_repo_paths)}) but no plugin repo was given",
            hint="pass --plugin-repo URL",
        )
    return RenderedTemplate(
        name=template.name, resources=result.resources, isolation=result.isolation
    )


def _raise_for_problems(template: Template, problems: list[str]) -> None:
    if problems:
        raise invalid_template_error(template, problems)


def invalid_template_error(
    template: Template, problems: list[str], *, suggest_validate: bool = True
) -> UsageError:
    """The UsageError for an invalid template: the first problem and how many more on its line,
    and every problem with its location in ``problems`` (listed on stderr and in JSON).
    ``suggest_validate`` adds a hint to run ``rcp template validate``."""
    from rcp.errors import problem_entry

    more = len(problems) - 1
    message = f"template {template.name!r}: {problems[0]}"
    hint = None
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
        if suggest_validate:
            reference = template.name if template.builtin else template.source
            hint = f"run 'rcp template validate {reference}' to check it"
    source = template.name if template.builtin else str(template.source)
    return UsageError(
        message, hint=hint, problems=[problem_entry(text, source) for text in problems]
    )
