"""core: audit trail

Revision ID: 0001_core
Revises:
"""
import sqlalchemy as sa
from alembic import op

import hub.store.base

revision = "0001_core"
down_revision = None
branch_labels = ("core",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_record",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", hub.store.base.UTCDateTime(), nullable=False),
        sa.Column("transaction", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("who", sa.String(256), nullable=True),
        sa.Column("patient", sa.String(256), nullable=True),
        sa.Column("peer", sa.String(128), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_record"),
    )
    op.create_index("ix_audit_record_at", "audit_record", ["at"])
    op.create_index("ix_audit_record_patient", "audit_record", ["patient"])


def downgrade() -> None:
    op.drop_table("audit_record")
