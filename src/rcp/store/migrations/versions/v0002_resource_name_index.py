"""index tenant_resources by Render name and Render id

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 10:00:00

``tenant create`` checks that the Render names it needs are free and ``tenant adopt`` that the
ids it takes are not recorded elsewhere: with these indexes both are lookups of the names/ids
asked for, not scans of every tenant's resources.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_tenant_resources_name"), "tenant_resources", ["name"], unique=False)
    op.create_index(
        op.f("ix_tenant_resources_render_id"), "tenant_resources", ["render_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_tenant_resources_render_id"), table_name="tenant_resources")
    op.drop_index(op.f("ix_tenant_resources_name"), table_name="tenant_resources")
