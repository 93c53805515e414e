"""xds: the submitting principal's structure on document entries and folders (ITI-57 rule)

Revision ID: 0008_xds_submitter_structure
Revises: 0006_xds_unique_versions
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_xds_submitter_structure"
down_revision = "0006_xds_unique_versions"
branch_labels = None
depends_on = None

TABLES = ("xds_document_entry", "xds_folder")


def upgrade() -> None:
    # Rows registered before this revision have no recorded submitter: NULL, and only
    # their authorInstitution names an author structure.
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("submitter_structure", sa.String(length=128), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("submitter_structure")
