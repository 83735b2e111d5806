"""tenants.fleet_managed: which tenants a fleet file manages

Revision ID: 0005
Revises: 0004

``rcp apply --prune`` deletes only the tenants that a fleet apply created or updated; tenants
made by hand (``tenant create``, ``tenant adopt``, a backup import) keep ``false`` and are never
pruned. Existing rows start unmanaged: nothing on record says a fleet made them, so the safe
default is to leave them alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column("fleet_managed", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("fleet_managed")
