"""Audit trail: every accepted or refused transaction leaves one record.

Refusals are written in a transaction of their own, so that a rolled-back request still
leaves its trace. Never pass a full assertion or document content as `detail`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import insert
from sqlalchemy.orm import Session

from hub.store import Store
from hub.store.base import table
from hub.store.models.audit import AuditRecord

MAX_DETAIL = 2000
_INSERT = insert(table(AuditRecord))


@dataclass(frozen=True)
class AuditEvent:
    transaction: str
    outcome: str  # success | refused | error
    who: str | None = None
    patient: str | None = None
    peer: str | None = None
    detail: str | None = None


def _values(event: AuditEvent) -> dict[str, object]:
    return {
        "at": datetime.now(timezone.utc),
        "transaction": event.transaction[:64],
        "outcome": event.outcome[:16],
        "who": (event.who or None) and event.who[:256],
        "patient": (event.patient or None) and event.patient[:256],
        "peer": (event.peer or None) and event.peer[:128],
        "detail": (event.detail or None) and event.detail[:MAX_DETAIL],
    }


def add(session: Session, event: AuditEvent) -> None:
    """Record `event` inside the caller's transaction."""
    session.execute(_INSERT, _values(event))


def record(store: Store, event: AuditEvent) -> None:
    """Record `event` on its own, committed at once (every request: one Core statement in
    autocommit, not a unit of work and a transaction of its own)."""
    with store.autocommit.connect() as connection:
        connection.execute(_INSERT, _values(event))
