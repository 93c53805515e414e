"""Care-coordination tables (coordination.md §5, §9, §10; INTERFACES.md "Coordination
services"): pathway enrolments, care-circle membership periods, access mandates, the
patient's oppositions, protected access (PD1-12), one-time patient access codes, and the
outbox of coordination events.

Patients are named by the same HL7 v2 CX string as `xds_document_entry.patient_id`
(`NIR^^^&1.2.250.1.213.1.4.8&ISO`, the affinity domain's id), so that the coordination
state of a patient is found with the patient id the registry entries carry.
Professionals are named by their VIHF subject id (RPPS/ADELI form, e.g. `810002958546`),
structures by their VIHF structure id.

History is kept, never overwritten: an enrolment ends, a membership period closes, an
opposition is withdrawn, with the moment it happened. The partial unique indexes keep
at most one current row where two concurrent requests could otherwise both insert one.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from hub.store.base import Base, UTCDateTime

# As xds_document_entry.patient_id: a CX string in the affinity domain.
PATIENT_LEN = 256
PROFESSIONAL_LEN = 128
STRUCTURE_LEN = 128
CODE_LEN = 64

ENROLMENT_STATUSES = ("proposed", "active", "suspended", "ended")
MANDATE_KINDS = ("treating-physician", "circle", "care-team", "break-the-glass", "patient-code")
OPPOSITION_SCOPES = ("consultation", "professional", "feeding")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def _current(condition: str) -> dict[str, Any]:
    """The WHERE clause of a partial index, on both backends of the store."""
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


class CoordinationEnrolment(Base):
    """A patient's enrolment in a care pathway (the catalogue of actors.coordination.pathways)."""

    __tablename__ = "coordination_enrolment"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(String(PATIENT_LEN))
    pathway: Mapped[str] = mapped_column(String(CODE_LEN))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    enrolled_by: Mapped[str] = mapped_column(String(PROFESSIONAL_LEN))
    enrolled_by_structure: Mapped[str | None] = mapped_column(String(STRUCTURE_LEN), nullable=True)
    consent: Mapped[bool] = mapped_column(Boolean)
    consent_date: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The XDS uniqueId of the scanned consent form, when one was submitted.
    consent_document_unique_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        CheckConstraint(_one_of("status", ENROLMENT_STATUSES), name="status"),
        CheckConstraint("status <> 'ended' OR ended_at IS NOT NULL", name="ended_at"),
        Index("ix_coordination_enrolment_patient", "patient_id", "pathway"),
        # At most one enrolment that has not ended per patient and pathway; ended ones
        # stay as history, and the patient may be enrolled again.
        Index("ix_coordination_enrolment_current", "patient_id", "pathway", unique=True, **_current("status <> 'ended'")),
    )


class CoordinationCircleMember(Base):
    """A period of membership of a patient's care circle (CDSCareTeam participant with
    its period: a member who leaves and comes back has two rows)."""

    __tablename__ = "coordination_circle_member"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(String(PATIENT_LEN))
    professional_id: Mapped[str] = mapped_column(String(PROFESSIONAL_LEN))
    # NULL when the source names no structure (a PAM ROL feed): membership then matches
    # on the professional id alone.
    structure_id: Mapped[str | None] = mapped_column(String(STRUCTURE_LEN), nullable=True)
    # TRE_R259-HL7ParticipationFunction (`PCP` = médecin traitant) or TRE_R260-HL7RoleClass.
    role: Mapped[str] = mapped_column(String(CODE_LEN))
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    added_by: Mapped[str] = mapped_column(String(PROFESSIONAL_LEN))
    removed_by: Mapped[str | None] = mapped_column(String(PROFESSIONAL_LEN), nullable=True)

    __table_args__ = (
        Index("ix_coordination_circle_member_patient", "patient_id"),
        Index("ix_coordination_circle_member_professional", "professional_id"),
        # One open period per member of a circle: a role change closes one and opens another.
        Index("ix_coordination_circle_member_open", "patient_id", "professional_id", unique=True, **_current("until IS NULL")),
    )


class CoordinationMandate(Base):
    """An access mandate of a professional on a patient's documents (coordination.md §10),
    limited in time and to confidentiality and class codes."""

    __tablename__ = "coordination_mandate"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(String(PATIENT_LEN))
    holder_professional_id: Mapped[str] = mapped_column(String(PROFESSIONAL_LEN))
    holder_structure_id: Mapped[str | None] = mapped_column(String(STRUCTURE_LEN), nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    # The holder themself for a self-declared mandate (care-team, break-the-glass).
    granted_by: Mapped[str] = mapped_column(String(PROFESSIONAL_LEN))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Space-separated codes; empty: every code. Confidentiality: N / R / V; classes:
    # XDS classCode as the registry stores it (`code^^scheme`).
    confidentiality_scope: Mapped[str] = mapped_column(String(64), default="")
    class_scope: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_one_of("kind", MANDATE_KINDS), name="kind"),
        # Break-the-glass is declared with its reason (INTERFACES.md access rules).
        CheckConstraint("kind <> 'break-the-glass' OR (reason IS NOT NULL AND TRIM(reason) <> '')", name="reason"),
        Index("ix_coordination_mandate_holder", "patient_id", "holder_professional_id"),
    )


class CoordinationOpposition(Base):
    """A patient's opposition (coordination.md §9): to consultation (ZFA-11 `INC`), to
    one professional, or to feeding (ZFA-9 `IO`)."""

    __tablename__ = "coordination_opposition"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(String(PATIENT_LEN))
    scope: Mapped[str] = mapped_column(String(16))
    professional_id: Mapped[str | None] = mapped_column(String(PROFESSIONAL_LEN), nullable=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Where it was recorded: `coordination` (SetOpposition), `pam` (ZFA), ...
    source: Mapped[str] = mapped_column(String(32))
    # The professional id of who recorded it, or the MLLP sender of a PAM feed.
    recorded_by: Mapped[str] = mapped_column(String(256))

    __table_args__ = (
        CheckConstraint(_one_of("scope", OPPOSITION_SCOPES), name="scope"),
        # It names a professional exactly when its scope is `professional`.
        CheckConstraint("(scope = 'professional') = (professional_id IS NOT NULL)", name="professional_id"),
        Index("ix_coordination_opposition_patient", "patient_id"),
    )


class CoordinationProtected(Base):
    """A period of protected access (PAM-FR PD1-12 `Y`): the patient's presence is not
    disclosed by identity queries."""

    __tablename__ = "coordination_protected"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(String(PATIENT_LEN))
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    source: Mapped[str] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_coordination_protected_patient", "patient_id"),
        # Feeds repeat PD1-12 on every update: one open period per patient.
        Index("ix_coordination_protected_open", "patient_id", unique=True, **_current("until IS NULL")),
    )


class CoordinationPatientCode(Base):
    """A one-time access code the patient hands to a professional (mandate `patient-code`).
    Only the SHA-256 (hex) of the code is kept."""

    __tablename__ = "coordination_patient_code"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(String(PATIENT_LEN))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by: Mapped[str] = mapped_column(String(PROFESSIONAL_LEN))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    used_by: Mapped[str | None] = mapped_column(String(PROFESSIONAL_LEN), nullable=True)

    __table_args__ = (Index("ix_coordination_patient_code_patient", "patient_id"),)


class CoordinationEvent(Base):
    """Outbox of coordination events, written in the transaction that caused them;
    `event_type` is the TRE_R254 code (`SOR`) or the platform's own (`ENROL`, `CIRCLE`,
    `BTG`, `MERGE`, ...)."""

    __tablename__ = "coordination_event"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    event_type: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[str] = mapped_column(String(PATIENT_LEN))
    # NULL for events no professional caused (an identity feed).
    actor: Mapped[str | None] = mapped_column(String(PROFESSIONAL_LEN), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="{}")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_coordination_event_patient", "patient_id", "id"),
        Index("ix_coordination_event_delivered_at", "delivered_at"),
    )


__all__ = [
    "ENROLMENT_STATUSES",
    "MANDATE_KINDS",
    "OPPOSITION_SCOPES",
    "CoordinationCircleMember",
    "CoordinationEnrolment",
    "CoordinationEvent",
    "CoordinationMandate",
    "CoordinationOpposition",
    "CoordinationPatientCode",
    "CoordinationProtected",
]
