"""rollouts and their per-tenant steps

Revision ID: 0008
Revises: 0007

``rcp rollout`` keeps each rollout (target template revision with its tenant-neutral content,
options, state, wave progress) and each tenant's step (wave, state, the configuration it ran
before, errors), so a rollout killed at any point continues where it stopped and a rollback
knows what to return each tenant to.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template", sa.String(length=255), nullable=False),
        sa.Column("revision_hash", sa.String(length=64), nullable=False),
        sa.Column("revision_label", sa.String(length=64), nullable=True),
        sa.Column("revision_content", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("current_wave", sa.Integer(), nullable=False),
        sa.Column("wave_finished_at", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollouts")),
    )
    op.create_index(op.f("ix_rollouts_template"), "rollouts", ["template"])
    op.create_table(
        "rollout_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("previous", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["rollout_id"],
            ["rollouts.id"],
            name=op.f("fk_rollout_steps_rollout_id_rollouts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout_steps")),
        sa.UniqueConstraint("rollout_id", "slug", name=op.f("uq_rollout_steps_rollout_id_slug")),
    )
    op.create_index(op.f("ix_rollout_steps_rollout_id"), "rollout_steps", ["rollout_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rollout_steps_rollout_id"), table_name="rollout_steps")
    op.drop_table("rollout_steps")
    op.drop_index(op.f("ix_rollouts_template"), table_name="rollouts")
    op.drop_table("rollouts")
