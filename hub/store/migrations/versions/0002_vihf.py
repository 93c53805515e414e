"""vihf: replay cache of assertion IDs

Revision ID: 0002_vihf
Revises: 0001_core
"""
import sqlalchemy as sa
from alembic import op

import hub.store.base

revision = "0002_vihf"
down_revision = "0001_core"
branch_labels = ("vihf",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vihf_replay",
        sa.Column("assertion_id", sa.String(256), nullable=False),
        sa.Column("expires_at", hub.store.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("assertion_id", name="pk_vihf_replay"),
    )
    op.create_index("ix_vihf_replay_expires_at", "vihf_replay", ["expires_at"])


def downgrade() -> None:
    op.drop_table("vihf_replay")
