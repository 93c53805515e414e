"""ITI-10 PIX Update Notification: ADT^A31 messages to the configured PIX consumers when
the cross-references of a patient change.

Notifications are written to `identity_notification` in the transaction that changed
the cross-references (so none is lost when a process stops, and any hub process can
send them), then sent over MLLP from the thread pool; a consumer that does not answer AA
(or CA) is tried again later.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.wire import hl7v2
from hub.store import Store
from hub.store.models.identity import PixNotification

from actors.identity import er7, ins, query
from actors.identity.model import Cx

MAX_ATTEMPTS = 10
RETRY_AFTER = timedelta(seconds=30)
TIMEOUT_SECONDS = 10.0


def a31(identifiers: Sequence[Cx], identity: hl7v2.Identity, now: datetime) -> str:
    """ADT^A31^ADT_A05 of ITI-10: PID-3 the patient's identifiers, PID-5 a single space
    (the notification carries no demographics), PV1-2 `N`."""
    stamp = hl7v2.hl7_timestamp(now)
    msh = er7.segment("MSH|^~\\&", [
        er7.escape(identity.application), er7.escape(identity.facility), "", "", stamp, "", "ADT^A31^ADT_A05",
        hl7v2.new_control_id(), "P", "2.5", "", "", "", "", "", "UNICODE UTF-8",
    ])
    pid = "PID|1||" + "~".join(er7.format_cx(cx) for cx in identifiers) + "|| "
    return "\r".join([msh, f"EVN|A31|{stamp}", pid, "PV1|1|N"]) + "\r"


def enqueue(session: Session, consumers: Sequence[str], persons: set[int], forced: set[int],
            identity: hl7v2.Identity, now: datetime) -> int:
    """Write the notifications of the persons whose cross-references changed: those with
    identifiers in two domains or more, and every person of a merge, link or unlink."""
    written = 0
    for person_id in sorted(persons | forced):
        identifiers = [
            cx for cx, status in query.person_identifiers(session, person_id)
            if status == "QUAL" or cx.authority.universal_id not in ins.INS_OIDS
        ]
        if not identifiers or (len(identifiers) < 2 and person_id not in forced):
            continue
        message = a31(identifiers, identity, now)
        for consumer in consumers:
            session.add(PixNotification(consumer=consumer, message=message, created_at=now, attempts=0, last_error=""))
            written += 1
    return written


class Notifier:
    """Sends pending notifications; one sender at a time per process. `send(peer,
    framed message)` is the host's outbound MLLP client, given by the binding."""

    def __init__(self, store: Store, clock: Callable[[], datetime], send: Callable[[str, bytes], bytes]) -> None:
        self.store = store
        self.clock = clock
        self.send = send
        self._lock = threading.Lock()
        self._again = False

    def send_pending(self) -> int:
        """Deliver what is due; returns how many were acknowledged. A call made while
        another thread is sending makes that thread look again when it is done."""
        self._again = True
        if not self._lock.acquire(blocking=False):
            return 0
        delivered = 0
        try:
            while self._again:
                self._again = False
                delivered += self._send_due()
        finally:
            self._lock.release()
        return delivered

    def _send_due(self) -> int:
        now = self.clock()
        with self.store.session() as session:
            due = session.execute(
                select(PixNotification.id, PixNotification.consumer, PixNotification.message, PixNotification.attempts)
                .where(PixNotification.sent_at.is_(None), PixNotification.attempts < MAX_ATTEMPTS)
                .order_by(PixNotification.id).limit(100)
            ).all()
        delivered = 0
        for row in due:
            with self.store.transaction() as session:
                # Claim the row: another process may be sending it.
                claimed = session.connection().execute(
                    update(PixNotification)
                    .where(PixNotification.id == row.id, PixNotification.attempts == row.attempts, PixNotification.sent_at.is_(None))
                    .values(attempts=row.attempts + 1)
                ).rowcount
            if not claimed:
                continue
            error = ""
            try:
                answer = self.send(row.consumer, row.message.encode("utf-8"))
                msa = next((s for s in answer.decode("utf-8", "replace").split("\r") if s.startswith("MSA")), "")
                code = msa.split("|")[1] if msa.count("|") >= 1 else ""
                if code not in ("AA", "CA"):
                    error = f"acknowledged {code or 'without MSA'}"
            except (OSError, ValueError) as exc:
                error = str(exc) or type(exc).__name__
            with self.store.transaction() as session:
                if error:
                    session.execute(update(PixNotification).where(PixNotification.id == row.id).values(last_error=error[:1000]))
                else:
                    session.execute(update(PixNotification).where(PixNotification.id == row.id).values(sent_at=self.clock()))
                    delivered += 1
        return delivered
