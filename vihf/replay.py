"""Replay defence (spec §6 step 7): an assertion ID is accepted once within its validity.
The verifier asks a `ReplayCache`; the host gives it the store's
(`hub.store.replay.ReplayCache`), which every hub process on one database shares."""
from __future__ import annotations

from datetime import datetime
from typing import Protocol


class ReplayCache(Protocol):
    def first_use(self, assertion_id: str, expires_at: datetime, now: datetime) -> bool:
        """Record `assertion_id` until `expires_at`; False when it is already recorded
        and not expired (a replay)."""
        ...
