"""PDQ v3 (ITI-47) pending queries: the HL7 v3 continuation message names a query by its
queryId only, so what the next page needs (the query, its echo, the page size, the
identity core's continuation pointer) is kept here, where any hub process can read it.
Written by `actors.pixpdqv3.continuation`."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.store.base import Base, SurrogateId, UTCDateTime


class Pdqv3PendingQuery(SurrogateId, Base):
    __tablename__ = "pdqv3_pending_query"

    query_tag: Mapped[str] = mapped_column(String(199))
    requester: Mapped[str] = mapped_column(String(256), default="")
    pointer: Mapped[str] = mapped_column(String(64))
    query: Mapped[str] = mapped_column(Text)
    query_by_parameter: Mapped[str] = mapped_column(Text)
    page_size: Mapped[int] = mapped_column(Integer)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_pdqv3_pending_query_tag", "query_tag", "requester"),)
