"""coordination: pathway enrolments, care-circle membership periods, mandates, oppositions,
protected access, patient access codes, coordination events

Revision ID: 0009_coordination
Revises: 0001_core
"""
from typing import Any

import sqlalchemy as sa
from alembic import op

import hub.store.base

revision = "0009_coordination"
down_revision = "0001_core"
branch_labels = ("coordination",)
depends_on = None


def _where(condition: str) -> dict[str, Any]:
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


def upgrade() -> None:
    op.create_table(
        "coordination_enrolment",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.String(length=256), nullable=False),
        sa.Column("pathway", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", hub.store.base.UTCDateTime(), nullable=False),
        sa.Column("ended_at", hub.store.base.UTCDateTime(), nullable=True),
        sa.Column("enrolled_by", sa.String(length=128), nullable=False),
        sa.Column("enrolled_by_structure", sa.String(length=128), nullable=True),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("consent_date", hub.store.base.UTCDateTime(), nullable=True),
        sa.Column("consent_document_unique_id", sa.String(length=128), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('proposed', 'active', 'suspended', 'ended')", name=op.f("ck_coordination_enrolment_status")
        ),
        sa.CheckConstraint("status <> 'ended' OR ended_at IS NOT NULL", name=op.f("ck_coordination_enrolment_ended_at")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordination_enrolment")),
    )
    op.create_index("ix_coordination_enrolment_patient", "coordination_enrolment", ["patient_id", "pathway"])
    op.create_index(
        "ix_coordination_enrolment_current",
        "coordination_enrolment",
        ["patient_id", "pathway"],
        unique=True,
        **_where("status <> 'ended'"),
    )

    op.create_table(
        "coordination_circle_member",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.String(length=256), nullable=False),
        sa.Column("professional_id", sa.String(length=128), nullable=False),
        sa.Column("structure_id", sa.String(length=128), nullable=True),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("since", hub.store.base.UTCDateTime(), nullable=False),
        sa.Column("until", hub.store.base.UTCDateTime(), nullable=True),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.Column("removed_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordination_circle_member")),
    )
    op.create_index("ix_coordination_circle_member_patient", "coordination_circle_member", ["patient_id"])
    op.create_index("ix_coordination_circle_member_professional", "coordination_circle_member", ["professional_id"])
    op.create_index(
        "ix_coordination_circle_member_open",
        "coordination_circle_member",
        ["patient_id", "professional_id"],
        unique=True,
        **_where("until IS NULL"),
    )

    op.create_table(
        "coordination_mandate",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.String(length=256), nullable=False),
        sa.Column("holder_professional_id", sa.String(length=128), nullable=False),
        sa.Column("holder_structure_id", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("granted_by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("confidentiality_scope", sa.String(length=64), nullable=False),
        sa.Column("class_scope", sa.Text(), nullable=False),
        sa.Column("starts_at", hub.store.base.UTCDateTime(), nullable=False),
        sa.Column("ends_at", hub.store.base.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('treating-physician', 'circle', 'care-team', 'break-the-glass', 'patient-code')",
            name=op.f("ck_coordination_mandate_kind"),
        ),
        sa.CheckConstraint(
            "kind <> 'break-the-glass' OR (reason IS NOT NULL AND TRIM(reason) <> '')",
            name=op.f("ck_coordination_mandate_reason"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordination_mandate")),
    )
    op.create_index("ix_coordination_mandate_holder", "coordination_mandate", ["patient_id", "holder_professional_id"])

    op.create_table(
        "coordination_opposition",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.String(length=256), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("professional_id", sa.String(length=128), nullable=True),
        sa.Column("since", hub.store.base.UTCDateTime(), nullable=False),
        sa.Column("withdrawn_at", hub.store.base.UTCDateTime(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("recorded_by", sa.String(length=256), nullable=False),
        sa.CheckConstraint(
            "scope IN ('consultation', 'professional', 'feeding')", name=op.f("ck_coordination_opposition_scope")
        ),
        sa.CheckConstraint(
            "(scope = 'professional') = (professional_id IS NOT NULL)",
            name=op.f("ck_coordination_opposition_professional_id"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordination_opposition")),
    )
    op.create_index("ix_coordination_opposition_patient", "coordination_opposition", ["patient_id"])

    op.create_table(
        "coordination_protected",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.String(length=256), nullable=False),
        sa.Column("since", hub.store.base.UTCDateTime(), nullable=False),
        sa.Column("until", hub.store.base.UTCDateTime(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordination_protected")),
    )
    op.create_index("ix_coordination_protected_patient", "coordination_protected", ["patient_id"])
    op.create_index(
        "ix_coordination_protected_open", "coordination_protected", ["patient_id"], unique=True, **_where("until IS NULL")
    )

    op.create_table(
        "coordination_patient_code",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.String(length=256), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.String(length=128), nullable=False),
        sa.Column("issued_at", hub.store.base.UTCDateTime(), nullable=False),
        sa.Column("expires_at", hub.store.base.UTCDateTime(), nullable=False),
        sa.Column("used_at", hub.store.base.UTCDateTime(), nullable=True),
        sa.Column("used_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordination_patient_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_coordination_patient_code_code_hash")),
    )
    op.create_index("ix_coordination_patient_code_patient", "coordination_patient_code", ["patient_id"])

    op.create_table(
        "coordination_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", hub.store.base.UTCDateTime(), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=False),
        sa.Column("patient_id", sa.String(length=256), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("delivered_at", hub.store.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordination_event")),
    )
    op.create_index("ix_coordination_event_patient", "coordination_event", ["patient_id", "id"])
    op.create_index("ix_coordination_event_delivered_at", "coordination_event", ["delivered_at"])


def downgrade() -> None:
    for table in (
        "coordination_event",
        "coordination_patient_code",
        "coordination_protected",
        "coordination_opposition",
        "coordination_mandate",
        "coordination_circle_member",
        "coordination_enrolment",
    ):
        op.drop_table(table)
