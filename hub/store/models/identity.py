"""Identity tables: assigning authorities, persons (cross-reference groups), patient
records with their traits and RNIV status, identifiers per domain, link/merge history,
EMPI review candidates, domain-event outbox, PDQ continuation pointers, and the stays and
movements of PAM ITI-31.

A *person* groups the patient records known to be the same human (PIX cross-reference);
a *patient* is one record as its sources describe it, with identifiers in one or more
domains. PDQ by family name + birth date is served by `ix_identity_patient_family_birth`
(and its used-name twin), PIX and PDQ by identifier by `uq_identity_identifier_domain`.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.store.base import Base, SurrogateId, UTCDateTime


class IdentityDomain(SurrogateId, Base):
    __tablename__ = "identity_domain"

    namespace: Mapped[str] = mapped_column(String(128), default="")
    universal_id: Mapped[str] = mapped_column(String(128), default="")
    universal_id_type: Mapped[str] = mapped_column(String(16), default="")

    # Unique so that two transactions meeting a new authority at once create it once.
    __table_args__ = (
        UniqueConstraint("namespace", "universal_id", name="uq_identity_domain_namespace"),
        Index("ix_identity_domain_universal_id", "universal_id"),
        Index("ix_identity_domain_namespace", "namespace"),
    )


class IdentityPerson(SurrogateId, Base):
    __tablename__ = "identity_person"

    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IdentityPatient(SurrogateId, Base):
    __tablename__ = "identity_patient"

    person_id: Mapped[int] = mapped_column(ForeignKey("identity_person.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("identity_patient.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(8), default="PROV")
    reliability_codes: Mapped[str] = mapped_column(String(128), default="")
    family_name: Mapped[str] = mapped_column(String(128), default="")
    family_norm: Mapped[str] = mapped_column(String(128), default="")
    given_name: Mapped[str] = mapped_column(String(128), default="")
    given_names: Mapped[str] = mapped_column(String(256), default="")
    given_norm: Mapped[str] = mapped_column(String(128), default="")
    used_family_name: Mapped[str] = mapped_column(String(128), default="")
    used_family_norm: Mapped[str] = mapped_column(String(128), default="")
    used_given_name: Mapped[str] = mapped_column(String(128), default="")
    prefix: Mapped[str] = mapped_column(String(32), default="")
    birth_date: Mapped[str] = mapped_column(String(8), default="")
    sex: Mapped[str] = mapped_column(String(1), default="")
    birthplace_code: Mapped[str] = mapped_column(String(8), default="")
    # The rest of the birthplace address (PID-11 with XAD-7 = BDL): city, postal code, country.
    birthplace_city: Mapped[str] = mapped_column(String(128), default="")
    birthplace_postal_code: Mapped[str] = mapped_column(String(16), default="")
    birthplace_country: Mapped[str] = mapped_column(String(8), default="")
    street: Mapped[str] = mapped_column(String(256), default="")
    city: Mapped[str] = mapped_column(String(128), default="")
    city_norm: Mapped[str] = mapped_column(String(128), default="")
    postal_code: Mapped[str] = mapped_column(String(16), default="")
    country: Mapped[str] = mapped_column(String(8), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    mother_maiden_name: Mapped[str] = mapped_column(String(128), default="")
    source: Mapped[str] = mapped_column(String(256), default="")
    details: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_identity_patient_person", "person_id"),
        Index("ix_identity_patient_family_birth", "family_norm", "birth_date"),
        Index("ix_identity_patient_used_family_birth", "used_family_norm", "birth_date"),
        Index("ix_identity_patient_birth_date", "birth_date"),
    )


class IdentityIdentifier(SurrogateId, Base):
    __tablename__ = "identity_identifier"

    domain_id: Mapped[int] = mapped_column(ForeignKey("identity_domain.id"))
    value: Mapped[str] = mapped_column(String(128))
    patient_id: Mapped[int] = mapped_column(ForeignKey("identity_patient.id"))
    type_code: Mapped[str] = mapped_column(String(16), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        UniqueConstraint("domain_id", "value", name="uq_identity_identifier_domain"),
        Index("ix_identity_identifier_patient", "patient_id"),
    )


class IdentityBlockingKey(SurrogateId, Base):
    """EMPI blocking keys of a patient record (`actors.empi.blocking_keys`): candidates
    of an incoming record are the records sharing one of its keys."""

    __tablename__ = "identity_blocking_key"

    patient_id: Mapped[int] = mapped_column(ForeignKey("identity_patient.id"))
    key: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_identity_blocking_key_key", "key"),
        Index("ix_identity_blocking_key_patient", "patient_id"),
    )


class IdentityHistory(SurrogateId, Base):
    """Merges, links, unlinks, identifier changes: what happened, never erased."""

    __tablename__ = "identity_history"

    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    patient_id: Mapped[int] = mapped_column(ForeignKey("identity_patient.id"))
    other_patient_id: Mapped[int | None] = mapped_column(ForeignKey("identity_patient.id"), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(199), default="")

    __table_args__ = (Index("ix_identity_history_patient", "patient_id"),)


class IdentityMatchCandidate(SurrogateId, Base):
    """A grey-zone EMPI match awaiting the identity-vigilance cell."""

    __tablename__ = "identity_match_candidate"

    patient_id: Mapped[int] = mapped_column(ForeignKey("identity_patient.id"))
    candidate_person_id: Mapped[int] = mapped_column(ForeignKey("identity_person.id"))
    score: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_identity_match_candidate_status", "status"),)


class IdentityEvent(SurrogateId, Base):
    """Outbox of identity domain events (merges, admissions, discharges) for the
    coordination layer, written in the transaction that caused them."""

    __tablename__ = "identity_event"

    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payload: Mapped[str] = mapped_column(Text, default="{}")

    __table_args__ = (Index("ix_identity_event_kind", "kind"),)


class PixNotification(SurrogateId, Base):
    """An outbound HL7 v2 message over MLLP waiting for, or delivered to, `consumer`:
    ITI-10 PIX Update Notifications (ADT^A31) to PIX consumers, written in the
    transaction that changed the cross-references, and ITI-8 feeds forwarded to upstream
    PIX managers (actors.identity.upstream), written right after the feed's commit."""

    __tablename__ = "identity_notification"

    consumer: Mapped[str] = mapped_column(String(256))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_identity_notification_sent_at", "sent_at"),)


class PdqContinuation(Base):
    """ITI-21/ITI-47/ITI-78 continuation state: lives in the store so that any hub
    process can answer the next page."""

    __tablename__ = "identity_pdq_continuation"

    pointer: Mapped[str] = mapped_column(String(64), primary_key=True)
    query_tag: Mapped[str] = mapped_column(String(199))
    requester: Mapped[str] = mapped_column(String(256), default="")
    query_key: Mapped[str] = mapped_column(Text)
    after_person_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_identity_pdq_continuation_tag", "query_tag"),)


class Encounter(SurrogateId, Base):
    """A stay (PAM ITI-31 visit): PV1-19 visit number, PID-18 account number (NDA)."""

    __tablename__ = "identity_encounter"

    patient_id: Mapped[int] = mapped_column(ForeignKey("identity_patient.id"))
    visit_domain: Mapped[str] = mapped_column(String(128), default="")
    visit_number: Mapped[str] = mapped_column(String(64))
    account_number: Mapped[str] = mapped_column(String(64), default="")
    patient_class: Mapped[str] = mapped_column(String(4), default="")
    status: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(String(128), default="")
    admitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    discharged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    details: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("visit_domain", "visit_number", name="uq_identity_encounter_visit_domain"),
        Index("ix_identity_encounter_patient", "patient_id"),
    )


class Movement(SurrogateId, Base):
    """A movement of a stay (ZBE segment): ZBE-1 id, ZBE-2 start, ZBE-4 action, ZBE-9 nature."""

    __tablename__ = "identity_movement"

    encounter_id: Mapped[int] = mapped_column(ForeignKey("identity_encounter.id"))
    movement_domain: Mapped[str] = mapped_column(String(128), default="")
    movement_id: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    historic: Mapped[bool] = mapped_column(Boolean, default=False)
    medical_unit: Mapped[str] = mapped_column(String(128), default="")
    care_unit: Mapped[str] = mapped_column(String(128), default="")
    nature: Mapped[str] = mapped_column(String(8), default="")
    location: Mapped[str] = mapped_column(String(128), default="")
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    details: Mapped[str] = mapped_column(Text, default="{}")

    __table_args__ = (
        UniqueConstraint("movement_domain", "movement_id", name="uq_identity_movement_movement_domain"),
        Index("ix_identity_movement_encounter", "encounter_id"),
    )
