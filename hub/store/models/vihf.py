"""VIHF replay cache: IDs of accepted assertions until the end of their validity.

Shared by every hub process on the store: the primary key makes a second use of an
assertion ID fail even when two processes see it at the same moment.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.store.base import Base, UTCDateTime


class VihfReplay(Base):
    __tablename__ = "vihf_replay"

    assertion_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_vihf_replay_expires_at", "expires_at"),)
