"""tenants.render_api_url, tenants.render_owner_id: the world a record belongs to

Revision ID: 0006
Revises: 0005

Each tenant record remembers the Render API base URL and the workspace (owner id) it was
created against, so a command run against another world (the sandbox, another workspace, a
staging API) refuses it instead of acting on ids that mean nothing there.

Existing rows get NULL for both ("unknown"): nothing on record says which world made them.
The next mutating command on such a record records its own world; until then any world may
act on it, as before this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("render_api_url", sa.Text(), nullable=True))
        batch.add_column(sa.Column("render_owner_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("render_owner_id")
        batch.drop_column("render_api_url")
