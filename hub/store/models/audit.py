"""Audit trail: one record per transaction, accepted or refused (ATNA-style)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.store.base import Base, SurrogateId, UTCDateTime


class AuditRecord(SurrogateId, Base):
    __tablename__ = "audit_record"

    at: Mapped[datetime] = mapped_column(UTCDateTime)
    transaction: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # success | refused | error
    who: Mapped[str | None] = mapped_column(String(256))
    patient: Mapped[str | None] = mapped_column(String(256))
    peer: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_audit_record_at", "at"),
        Index("ix_audit_record_patient", "patient"),
    )
