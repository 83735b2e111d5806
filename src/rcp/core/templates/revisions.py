"""Template revisions: which configuration of a template a tenant runs (docs/templates.md).

A revision is identified by a content hash of the template *as rendered*, made tenant-neutral:
the template is compiled (defaults filled in, plans in API spelling, resources in creation
order) for a sentinel tenant whose slug, name and plugin repo are then put back as the
``{{ tenant.* }}`` placeholders. The hash is the SHA-256 of that neutral rendering plus the
template's ``version:`` label, serialised as canonical JSON (sorted keys, no whitespace). So
whitespace, comments, key order, quoting and YAML style never change a revision; the name of
the template file does not either; any change to what a tenant gets (or to the label) does.

The neutral rendering is the revision's ``content``: substituting one tenant's values into it
(``instantiate``) gives exactly the rendered template that tenant gets from that revision, which
is how a rollback re-applies a previous revision's configuration.

Tenants recorded before revisions existed only have their own rendered template; ``of_rendered``
puts their values back as placeholders (the slug only where it stands alone, as in
``acme-web``), which gives the same revision as the template whenever the tenant's values do not
also occur as literal text of the template.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rcp.core.templates.compiler import TenantValues, compile_template

if TYPE_CHECKING:
    from rcp.core.templates.loading import Template

SLUG_PLACEHOLDER = "{{ tenant.slug }}"
NAME_PLACEHOLDER = "{{ tenant.name }}"
PLUGIN_REPO_PLACEHOLDER = "{{ tenant.plugin_repo }}"
# Values no real template text contains, valid wherever a tenant's own values are (the slug has
# no hyphen, so a Postgres databaseName made from it stays valid).
_SENTINEL = TenantValues(
    slug="rcpsentinelslugzq",
    name="Rcp Sentinel Name Zq",
    plugin_repo="https://rcp-sentinel.invalid/plugin-repo-zq",
)
_PLACEHOLDERS = re.compile(
    "|".join(re.escape(p) for p in (SLUG_PLACEHOLDER, NAME_PLACEHOLDER, PLUGIN_REPO_PLACEHOLDER))
)
SHORT_LENGTH = 12  # the hash prefix people read (`tenant list`, `template history`)
LABEL_MAX = 64


@dataclass(frozen=True)
class TemplateRevision:
    """One revision of one template: ``hash`` (64 hex), the ``version:`` label, and the
    tenant-neutral rendering (``{"resources": [...], …}`` as ``RenderedTemplate.to_dict()``
    without name and revision, placeholders for tenant values)."""

    template: str
    hash: str
    label: str | None
    content: dict[str, Any]

    @property
    def short(self) -> str:
        return self.hash[:SHORT_LENGTH]

    def ref(self) -> dict[str, Any]:
        """What a rendered template carries about its revision."""
        return {"hash": self.hash, "label": self.label}


def short_hash(value: str | None) -> str | None:
    return value[:SHORT_LENGTH] if value else None


def template_label(data: dict[str, Any]) -> str | None:
    """The template's ``version:`` as a label (validated by the compiler: text or an integer)."""
    value = data.get("version")
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | str):
        text = str(value).strip()
        return text or None
    return None


_cache: dict[tuple[str, str], TemplateRevision] = {}


def revision_of(template: Template) -> TemplateRevision:
    """The template's current revision (computed once per template text and name)."""
    key = (template.name, template.text)
    found = _cache.get(key)
    if found is not None:
        return found
    from rcp.core.models import RenderedTemplate

    result = compile_template(template.data, _SENTINEL)
    rendered = RenderedTemplate(
        name=template.name, resources=result.resources, isolation=result.isolation
    ).to_dict()
    content = _neutral(_content_of(rendered), _SENTINEL, slug_anywhere=True)
    revision = _revision(template.name, template_label(template.data), content)
    if len(_cache) > 64:  # one process renders a handful of templates; never let it grow
        _cache.clear()
    _cache[key] = revision
    return revision


def of_rendered(
    template: str,
    rendered: dict[str, Any],
    *,
    slug: str,
    name: str,
    plugin_repo: str | None,
) -> TemplateRevision:
    """The revision a tenant's stored rendered template corresponds to (for records made before
    revisions were recorded). Its label is the one the rendered template carries, if any."""
    carried = rendered.get("revision")
    label = carried.get("label") if isinstance(carried, dict) else None
    content = _neutral(
        _content_of(rendered),
        TenantValues(slug=slug, name=name, plugin_repo=plugin_repo),
        slug_anywhere=False,
    )
    return _revision(template, label, content)


def instantiate(
    revision: TemplateRevision, *, slug: str, name: str, plugin_repo: str | None
) -> dict[str, Any]:
    """The rendered template (``RenderedTemplate.to_dict()`` shape, with its revision) one
    tenant gets from ``revision``: its values put in place of the placeholders."""
    text = json.dumps(revision.content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    values = {
        PLUGIN_REPO_PLACEHOLDER: _json_inner(plugin_repo or ""),
        NAME_PLACEHOLDER: _json_inner(name),
        SLUG_PLACEHOLDER: _json_inner(slug),
    }
    # One pass: a value that happens to contain a placeholder's text stays as it is.
    text = _PLACEHOLDERS.sub(lambda match: values[match.group(0)], text)
    data = json.loads(text)
    return {"name": revision.template, **data, "revision": revision.ref()}


def _content_of(rendered: dict[str, Any]) -> dict[str, Any]:
    """What a rendering gives a tenant: everything but the template's name (a file's name is
    not configuration) and the revision it carries."""
    return {
        key: value
        for key, value in rendered.items()
        if key not in ("name", "revision") and value is not None
    }


def _revision(template: str, label: str | None, content: dict[str, Any]) -> TemplateRevision:
    identity = {"label": label, **content}
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return TemplateRevision(template=template, hash=digest, label=label, content=content)


def _json_inner(value: str) -> str:
    """``value`` as it appears inside a JSON string (escaped, without the quotes)."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


# Fields of a rendered resource that hold template keys, types or plans, never tenant values: a
# slug that equals a resource key (tenant ``web``, key ``web``) must stay a key there.
_STRUCTURAL_FIELDS = frozenset(
    {"key", "depends_on", "from_resource", "from_env_var", "render_type", "plan", "type"}
)


def _neutral(data: dict[str, Any], values: TenantValues, *, slug_anywhere: bool) -> dict[str, Any]:
    """``data`` with the tenant's values put back as placeholders in every string value (not
    in mapping keys or structural fields): the plugin repo, then the name, then the slug (a
    name often contains the slug; never the other way round). Each goes to a private-use marker
    first, so a later value can never match inside a placeholder."""
    swaps: list[tuple[re.Pattern[str], str, str]] = []

    def add(value: str | None, placeholder: str, *, standalone: bool) -> None:
        if not value:
            return
        marker = f"\ue000{len(swaps)}\ue000"
        escaped = re.escape(value)
        # A real value may also be a word of the template's own text (a slug ``api``): it is
        # replaced only where it stands alone, as in the Render names ``<slug>-<key>``.
        pattern = rf"(?<![A-Za-z0-9_]){escaped}(?![A-Za-z0-9_])" if standalone else escaped
        swaps.append((re.compile(pattern), marker, placeholder))

    add(values.plugin_repo, PLUGIN_REPO_PLACEHOLDER, standalone=False)
    if values.name != values.slug:
        add(values.name, NAME_PLACEHOLDER, standalone=not slug_anywhere)
    add(values.slug, SLUG_PLACEHOLDER, standalone=not slug_anywhere)

    def text(value: str) -> str:
        for pattern, marker, _placeholder in swaps:
            value = pattern.sub(marker, value)  # a marker holds no backslash or group
        for _pattern, marker, placeholder in swaps:
            value = value.replace(marker, placeholder)
        return value

    def walk(node: Any, field_name: str | None, resource_key: str | None) -> Any:
        if field_name in _STRUCTURAL_FIELDS:
            return node
        if isinstance(node, str):
            if field_name == "name" and resource_key and node == f"{values.slug}-{resource_key}":
                # The Render name `<slug>-<key>`: exact, even when the slug equals a key.
                return f"{SLUG_PLACEHOLDER}-{resource_key}"
            return text(node)
        if isinstance(node, list):
            return [walk(item, None, resource_key) for item in node]
        if isinstance(node, dict):
            if isinstance(node.get("key"), str) and "render_type" in node:
                resource_key = node["key"]
            return {key: walk(item, key, resource_key) for key, item in node.items()}
        return node

    result: dict[str, Any] = walk(data, None, None)
    return result
