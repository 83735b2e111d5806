"""template revisions: what each tenant runs, every revision seen, and fleet tiers

Revision ID: 0007
Revises: 0006

Each tenant records the template revision it runs (content hash, ``version:`` label, since
when), and ``template_revisions`` keeps every revision rcp provisioned a tenant from, with its
tenant-neutral rendering (what a rollback re-applies). ``tier`` is the fleet file's ``tier:``.

Existing tenants are backfilled from the rendered template each one stores: its values put
back as placeholders give the revision (``rcp.core.templates.revisions.of_rendered``), "since"
is the tenant's last update, and a revision was first seen at the earliest of those. The
timestamps are copied as stored, so SQLite and Postgres keep them alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("revision_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("revision_label", sa.String(64), nullable=True))
        batch.add_column(sa.Column("revision_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("tier", sa.String(40), nullable=True))
    op.create_index(op.f("ix_tenants_revision_hash"), "tenants", ["revision_hash"], unique=False)
    op.create_table(
        "template_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template", sa.String(255), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("label", sa.String(64), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_template_revisions")),
        sa.UniqueConstraint("template", "hash", name=op.f("uq_template_revisions_template_hash")),
    )
    _backfill()


def _backfill() -> None:
    from rcp.core.templates.revisions import of_rendered

    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT id, slug, name, template, custom_plugin_repo, rendered_template FROM tenants"
        )
    ).all()
    seen: dict[tuple[str, str], tuple[str | None, dict[str, Any]]] = {}
    for row in rows:
        try:
            rendered = json.loads(row.rendered_template)
            found = of_rendered(
                row.template,
                rendered,
                slug=row.slug,
                name=row.name,
                plugin_repo=row.custom_plugin_repo,
            )
        except (TypeError, ValueError, AttributeError):
            continue  # an unreadable rendering has no revision; the next apply records one
        label = found.label[:64] if found.label else None
        connection.execute(
            sa.text(
                "UPDATE tenants SET revision_hash = :hash, revision_label = :label, "
                "revision_at = updated_at WHERE id = :id"
            ),
            {"hash": found.hash, "label": label, "id": row.id},
        )
        seen.setdefault((row.template, found.hash), (label, found.content))
    for (template, digest), (label, content) in sorted(seen.items()):
        # Read back as the driver gives it (text on SQLite, timestamptz on Postgres) and written
        # as is: the same stored value on each backend.
        first_seen = connection.execute(
            sa.text(
                "SELECT MIN(updated_at) FROM tenants "
                "WHERE template = :template AND revision_hash = :hash"
            ),
            {"template": template, "hash": digest},
        ).scalar_one()
        connection.execute(
            sa.text(
                "INSERT INTO template_revisions (template, hash, label, first_seen, content) "
                "VALUES (:template, :hash, :label, :first_seen, :content)"
            ),
            {
                "first_seen": first_seen,
                "template": template,
                "hash": digest,
                "label": label,
                # As the store's JSONText writes it.
                "content": json.dumps(
                    content, sort_keys=True, separators=(",", ":"), ensure_ascii=False
                ),
            },
        )


def downgrade() -> None:
    op.drop_table("template_revisions")
    op.drop_index(op.f("ix_tenants_revision_hash"), table_name="tenants")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("tier")
        batch.drop_column("revision_at")
        batch.drop_column("revision_label")
        batch.drop_column("revision_hash")
