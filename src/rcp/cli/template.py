"""`rcp template list|show|validate|history`: the templates tenants are created from
(docs/templates.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from rcp.cli._common import app_context, handle_errors

app = typer.Typer(
    no_args_is_help=True,
    help="List, show and validate templates (Render Blueprint YAML; 'default' is built in), "
    "and list the revisions tenants were provisioned from.",
)

TemplateArgument = Annotated[
    str,
    typer.Argument(
        metavar="TEMPLATE",
        help="A template name (<config dir>/templates/NAME.yaml, or the built-in 'default') "
        "or a path to a YAML file.",
    ),
]


@app.command("list")
@handle_errors
def list_command(ctx: typer.Context) -> None:
    """List the available templates and the resources each creates."""
    from rcp.core.templates import list_templates
    from rcp.output import templates as human

    app_ctx = app_context(ctx)
    infos = list_templates(app_ctx.settings.config_dir)
    data = [info.to_json() for info in infos]

    app_ctx.output.result(data, human=human.template_list(infos))


@app.command("show")
@handle_errors
def show(ctx: typer.Context, template: TemplateArgument = "default") -> None:
    """Print a template's YAML and its resources in creation order."""
    from rcp.core.templates import describe_resources, load_template, preview_template
    from rcp.output import templates as human

    app_ctx = app_context(ctx)
    loaded = load_template(template, app_ctx.settings.config_dir)
    resources = describe_resources(preview_template(loaded))
    data = {
        "name": loaded.name,
        "source": loaded.source,
        "resources": resources,
        "yaml": loaded.text,
        "template": loaded.data,
    }

    app_ctx.output.result(data, human=human.template_show(loaded, resources))


@app.command("validate")
@handle_errors
def validate(ctx: typer.Context, template: TemplateArgument = "default") -> None:
    """Check a template; exit 0 when valid, 2 with every problem listed when not.

    Warnings (a plan without a price in the price table, a free datastore plan) go to stderr and
    to "warnings" in JSON; they do not change the exit code.

    \b
    Examples:
      rcp template validate templates/plugin-app.yaml
      rcp -o json template validate plugin-app
    """
    from rcp.core.cost import load_price_table
    from rcp.core.templates import (
        describe_resources,
        invalid_template_error,
        load_template,
        preview_template,
        template_problems,
        template_warnings,
    )
    from rcp.output import templates as human

    app_ctx = app_context(ctx)
    loaded = load_template(template, app_ctx.settings.config_dir)
    problems = template_problems(loaded)
    if problems:
        # The error lists every problem (stderr lines, "problems" in JSON).
        raise invalid_template_error(loaded, problems, suggest_validate=False)
    resources = describe_resources(preview_template(loaded))
    warnings = template_warnings(loaded, load_price_table(app_ctx.settings.config_dir))
    for warning in warnings:
        app_ctx.output.warn(warning)
    data = {
        "name": loaded.name,
        "source": loaded.source,
        "valid": True,
        "resources": resources,
        "warnings": warnings,
    }
    app_ctx.output.result(data, human=human.template_valid(loaded, resources))


@app.command("history")
@handle_errors
def history(ctx: typer.Context, template: TemplateArgument) -> None:
    """List the revisions of a template that tenants were provisioned from.

    Each revision is a content hash of the rendered template (plus its version: label); the
    list shows when rcp first saw it, how many tenants run it now, and which one the template
    file is at now.

    \b
    Examples:
      rcp template history default
      rcp -o json template history plugin-app
    """
    from rcp.core.templates.history import template_history
    from rcp.output import templates as human

    app_ctx = app_context(ctx)
    found = template_history(app_ctx.store(), template, app_ctx.settings.config_dir)
    app_ctx.output.result(found.to_json(), human=human.template_history(found))
