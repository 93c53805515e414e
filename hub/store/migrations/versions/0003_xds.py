"""xds: XDS.b registry objects, their query indexes, repository content, known patients

Revision ID: 0003_xds
Revises: 0001_core
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_xds"
down_revision = "0001_core"
branch_labels = ("xds",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xds_document_entry",
        sa.Column("uuid", sa.String(64), nullable=False),
        sa.Column("lid", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("unique_id", sa.String(128), nullable=False),
        sa.Column("patient_id", sa.String(256), nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(64), nullable=False),
        sa.Column("class_code", sa.String(256), nullable=False),
        sa.Column("type_code", sa.String(256), nullable=False),
        sa.Column("format_code", sa.String(256), nullable=False),
        sa.Column("healthcare_facility_type_code", sa.String(256), nullable=False),
        sa.Column("practice_setting_code", sa.String(256), nullable=False),
        sa.Column("creation_time", sa.String(14), nullable=True),
        sa.Column("service_start_time", sa.String(14), nullable=True),
        sa.Column("service_stop_time", sa.String(14), nullable=True),
        sa.Column("repository_unique_id", sa.String(64), nullable=True),
        sa.Column("hash", sa.String(40), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("mime_type", sa.String(128), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name="pk_xds_document_entry"),
    )
    op.create_index(
        "ix_xds_document_entry_find", "xds_document_entry", ["patient_id", "status", "object_type", "creation_time"]
    )
    op.create_index("ix_xds_document_entry_class", "xds_document_entry", ["patient_id", "class_code"])
    op.create_index("ix_xds_document_entry_type", "xds_document_entry", ["patient_id", "type_code"])
    op.create_index("ix_xds_document_entry_unique_id", "xds_document_entry", ["unique_id"])
    op.create_index("ix_xds_document_entry_lid", "xds_document_entry", ["lid", "version"])

    op.create_table(
        "xds_submission_set",
        sa.Column("uuid", sa.String(64), nullable=False),
        sa.Column("unique_id", sa.String(128), nullable=False),
        sa.Column("patient_id", sa.String(256), nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("submission_time", sa.String(14), nullable=False),
        sa.Column("content_type_code", sa.String(256), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name="pk_xds_submission_set"),
        sa.UniqueConstraint("unique_id", name="uq_xds_submission_set_unique_id"),
    )
    op.create_index("ix_xds_submission_set_find", "xds_submission_set", ["patient_id", "status", "submission_time"])

    op.create_table(
        "xds_folder",
        sa.Column("uuid", sa.String(64), nullable=False),
        sa.Column("lid", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("unique_id", sa.String(128), nullable=False),
        sa.Column("patient_id", sa.String(256), nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("last_update_time", sa.String(14), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name="pk_xds_folder"),
    )
    op.create_index("ix_xds_folder_find", "xds_folder", ["patient_id", "status", "last_update_time"])
    op.create_index("ix_xds_folder_unique_id", "xds_folder", ["unique_id"])
    op.create_index("ix_xds_folder_lid", "xds_folder", ["lid", "version"])

    op.create_table(
        "xds_association",
        sa.Column("uuid", sa.String(64), nullable=False),
        sa.Column("association_type", sa.String(128), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name="pk_xds_association"),
    )
    op.create_index("ix_xds_association_source", "xds_association", ["source", "association_type"])
    op.create_index("ix_xds_association_target", "xds_association", ["target", "association_type"])

    op.create_table(
        "xds_code",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("object_uuid", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("code", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_xds_code"),
    )
    op.create_index("ix_xds_code_object", "xds_code", ["object_uuid", "kind"])
    op.create_index("ix_xds_code_code", "xds_code", ["kind", "code", "object_uuid"])

    op.create_table(
        "xds_author",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("object_uuid", sa.String(64), nullable=False),
        sa.Column("person", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_xds_author"),
    )
    op.create_index("ix_xds_author_object", "xds_author", ["object_uuid"])

    op.create_table(
        "xds_reference_id",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("object_uuid", sa.String(64), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_xds_reference_id"),
    )
    op.create_index("ix_xds_reference_id_value", "xds_reference_id", ["value", "object_uuid"])
    op.create_index("ix_xds_reference_id_object", "xds_reference_id", ["object_uuid"])

    op.create_table(
        "xds_document",
        sa.Column("unique_id", sa.String(128), nullable=False),
        sa.Column("mime_type", sa.String(128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(40), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("unique_id", name="pk_xds_document"),
    )

    op.create_table(
        "xds_known_patient",
        sa.Column("patient_id", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", name="pk_xds_known_patient"),
    )


def downgrade() -> None:
    for table in (
        "xds_known_patient",
        "xds_document",
        "xds_reference_id",
        "xds_author",
        "xds_code",
        "xds_association",
        "xds_folder",
        "xds_submission_set",
        "xds_document_entry",
    ):
        op.drop_table(table)
