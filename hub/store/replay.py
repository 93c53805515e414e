"""The store side of the VIHF replay defence (vihf spec §6 step 7, `vihf.replay`): an
assertion ID is accepted once within its validity.

IDs are kept in the store (`vihf_replay`), so every hub process on the same database sees
them; the primary key settles two simultaneous first uses. Expired IDs are purged at most
once a minute per process, and an expired row never blocks a fresh insert.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from hub.store import Store
from hub.store.base import table
from hub.store.models.vihf import VihfReplay

PURGE_INTERVAL = timedelta(seconds=60)
# Built once: a statement generated per request costs more than the insert itself.
_INSERT = insert(table(VihfReplay))


class ReplayCache:
    """Remembers accepted assertion IDs until they expire."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._last_purge: datetime | None = None
        self._lock = threading.Lock()

    def first_use(self, assertion_id: str, expires_at: datetime, now: datetime) -> bool:
        """Record `assertion_id` until `expires_at`; False when it is already recorded and
        not expired (a replay)."""
        row = {"assertion_id": assertion_id, "expires_at": expires_at}
        try:
            # One Core statement, committed at once: this runs on every SOAP request.
            with self.store.autocommit.connect() as connection:
                connection.execute(_INSERT, row)
                if self._purge_due(now):
                    connection.execute(delete(VihfReplay).where(VihfReplay.expires_at <= now))
            return True
        except IntegrityError:
            pass
        # The ID is known: a replay, unless the row left is expired and not yet purged.
        try:
            with self.store.engine.begin() as connection:
                expired = connection.execute(
                    delete(VihfReplay).where(VihfReplay.assertion_id == assertion_id, VihfReplay.expires_at <= now)
                )
                if not expired.rowcount:
                    return False
                connection.execute(_INSERT, row)
            return True
        except IntegrityError:
            return False

    def purge(self, now: datetime) -> int:
        """Delete every expired ID; returns how many."""
        with self.store.transaction() as session:
            result = session.execute(delete(VihfReplay).where(VihfReplay.expires_at <= now))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def _purge_due(self, now: datetime) -> bool:
        with self._lock:
            if self._last_purge is None or now - self._last_purge >= PURGE_INTERVAL:
                self._last_purge = now
                return True
            return False
