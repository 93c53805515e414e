"""xds: (uniqueId, version) and (logical id, version) unique in xds_document_entry

Revision ID: 0006_xds_unique_versions
Revises: 0003_xds
"""
from alembic import op

revision = "0006_xds_unique_versions"
down_revision = "0003_xds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_xds_document_entry_unique_id", table_name="xds_document_entry")
    op.drop_index("ix_xds_document_entry_lid", table_name="xds_document_entry")
    op.create_index("ix_xds_document_entry_unique_id", "xds_document_entry", ["unique_id", "version"], unique=True)
    op.create_index("ix_xds_document_entry_lid", "xds_document_entry", ["lid", "version"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_xds_document_entry_unique_id", table_name="xds_document_entry")
    op.drop_index("ix_xds_document_entry_lid", table_name="xds_document_entry")
    op.create_index("ix_xds_document_entry_unique_id", "xds_document_entry", ["unique_id"])
    op.create_index("ix_xds_document_entry_lid", "xds_document_entry", ["lid", "version"])
