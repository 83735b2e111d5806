"""the last error of each tenant resource

Revision ID: 0004
Revises: 0003

A failed deploy or datastore is recorded on the resource it happened to (service, deploy id,
status, phase), so ``rcp tenant show`` says which resource failed and why, next to the tenant's
own last error. Cleared when the resource is up again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenant_resources") as batch:
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenant_resources") as batch:
        batch.drop_column("last_error")
