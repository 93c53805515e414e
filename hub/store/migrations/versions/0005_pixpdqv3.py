"""pixpdqv3: ITI-47 pending queries (HL7 v3 query continuation)

Revision ID: 0005_pixpdqv3
Revises: 0001_core
"""
import sqlalchemy as sa
from alembic import op

import hub.store.base

revision = "0005_pixpdqv3"
down_revision = "0001_core"
branch_labels = ("pixpdqv3",)
depends_on = None


def upgrade() -> None:
    op.create_table('pdqv3_pending_query',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('query_tag', sa.String(length=199), nullable=False),
    sa.Column('requester', sa.String(length=256), nullable=False),
    sa.Column('pointer', sa.String(length=64), nullable=False),
    sa.Column('query', sa.Text(), nullable=False),
    sa.Column('query_by_parameter', sa.Text(), nullable=False),
    sa.Column('page_size', sa.Integer(), nullable=False),
    sa.Column('delivered', sa.Integer(), nullable=False),
    sa.Column('created_at', hub.store.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pdqv3_pending_query'))
    )
    op.create_index('ix_pdqv3_pending_query_tag', 'pdqv3_pending_query', ['query_tag', 'requester'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_pdqv3_pending_query_tag', table_name='pdqv3_pending_query')
    op.drop_table('pdqv3_pending_query')
