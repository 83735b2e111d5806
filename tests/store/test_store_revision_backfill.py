"""Migration 0007 backfills each tenant's template revision from its stored rendered template:
tenants rendered from the same template get the revision the template has now, whatever their
slug (even one equal to a resource key), and `template history` lists it (real CLI)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from rcp.core.templates import builtin_default, render_template
from rcp.core.templates.revisions import revision_of
from rcp.store import migrate, open_store
from tests.conftest import Cli


def _rendered_before_revisions(slug: str, name: str) -> str:
    rendered = render_template(builtin_default(), slug=slug, name=name, plugin_repo=None).to_dict()
    rendered.pop("revision")  # what rcp stored before revisions existed
    return json.dumps(rendered, sort_keys=True, separators=(",", ":"))


def test_0007_backfills_revisions_from_rendered_templates(
    db_url: str, cli: Cli, isolated_env: Path
) -> None:
    from alembic import command

    store = open_store(db_url, auto_upgrade=False)
    try:
        with store.engine.begin() as connection:
            command.upgrade(migrate._alembic_config(connection), "0006")
            for index, (slug, name, updated) in enumerate(
                (
                    ("acme", "Acme Corporation", "2026-12-01 10:00:00"),
                    ("web", "web", "2026-11-30 09:00:00"),  # slug equal to a resource key
                    ("db", "Db", "2026-12-02 08:00:00"),
                ),
                start=1,
            ):
                connection.execute(
                    text(
                        "INSERT INTO tenants (id, name, slug, status, template, rendered_template,"
                        " env_overrides, created_at, updated_at, fleet_managed) VALUES"
                        " (:id, :name, :slug, 'ACTIVE', 'default', :rendered, '{}', :at, :at,"
                        " false)"
                    ),
                    {
                        "id": index,
                        "name": name,
                        "slug": slug,
                        "rendered": _rendered_before_revisions(slug, name),
                        "at": updated,
                    },
                )
        assert store.upgrade() is True
        current = revision_of(builtin_default())
        for slug in ("acme", "web", "db"):
            tenant = store.get_tenant(slug)
            assert tenant is not None and tenant.template_revision is not None
            assert tenant.template_revision.hash == current.hash, slug
            assert tenant.template_revision.since == tenant.updated_at
        seen = store.template_revisions("default")
        assert [(r.hash, r.tenants) for r in seen] == [(current.hash, 3)]
        assert seen[0].first_seen.isoformat().startswith("2026-11-30T09:00:00")
        assert seen[0].content == current.content
    finally:
        store.close()

    result = cli("-o", "json", "template", "history", "default", env={"RCP_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert [(r["hash"], r["tenants"], r["current"]) for r in data["revisions"]] == [
        (current.hash, 3, True)
    ]
    assert data["revisions"][0]["first_seen"] == "2026-11-30T09:00:00Z"
