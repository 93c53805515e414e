"""Domain events of the identity manager and PAM, published inside the database
transaction that caused them.

`publish` writes the event to the `identity_event` outbox (for the coordination layer and
any hub process) and calls the in-process subscribers with the same session, so that a
subscriber (the XDS registry moving a merged patient's entries) commits or rolls back
with the identity change itself.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from hub.store.models.identity import IdentityEvent

from actors.identity.model import Cx


@dataclass(frozen=True)
class PatientsMerged:
    """ITI-8/ITI-30 A40: the patient known under `retired` (identifiers that no longer
    designate anybody) is merged into the surviving patient. Consumers move what they
    hold under a retired identifier to the surviving one of the same domain, or to
    `surviving[0]` (the affinity-domain identifier first when the survivor has one)."""

    kind = "identity.merged"
    surviving_patient_id: int
    retired_patient_id: int
    surviving: tuple[Cx, ...]
    retired: tuple[Cx, ...]
    # The identity transaction's clock (None when the publisher gives none).
    at: datetime | None = None


@dataclass(frozen=True)
class IdentifierChanged:
    """ITI-30 A47: identifier `old` of a patient is replaced by `new` (or removed when
    `new` is None, as for a wrongly attributed INS)."""

    kind = "identity.identifier-changed"
    patient_id: int
    old: Cx
    new: Cx | None
    at: datetime | None = None


@dataclass(frozen=True)
class PatientComplements:
    """ITI-8 / ITI-30 feed whose PAM-FR complements say something the coordination layer
    keeps: `opposition` ZFA-11 (`INC` does not consent to consultation, `IC` consents,
    "" not said or `NA`), `feeding` ZFA-9 (`IO` opposes feeding, `INO` does not, `NA` not
    collected, "" not said), `treating_physicians` the professional ids (`8` + RPPS, VIHF
    subject-id form) of the ROL-3 `ODRP` segments, `former_treating_physicians` those of
    ROL-2 `DE` (deleted), `protected` PD1-12 (`Y` True, `N` False, absent None).
    `identifiers` are the patient's, the affinity domain's first; `source` the sender
    (MSH-3|MSH-4). Published only when one of them carries information."""

    kind = "identity.complements"
    patient_id: int
    identifiers: tuple[Cx, ...]
    opposition: str
    feeding: str
    treating_physicians: tuple[str, ...]
    protected: bool | None
    former_treating_physicians: tuple[str, ...] = ()
    source: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class PatientsLinked:
    """ITI-30 A24 (linked=True) / A37 (linked=False): cross-reference added or removed."""

    kind = "identity.linked"
    patient_id: int
    other_patient_id: int
    linked: bool


@dataclass(frozen=True)
class _Stay:
    """A patient entering or leaving a stay (ITI-31): what both events carry."""

    patient_id: int
    encounter_id: int
    trigger: str
    at: datetime | None
    visit_number: str
    unit: str = ""


@dataclass(frozen=True)
class PatientAdmitted(_Stay):
    """ITI-31 admission (A01), outpatient registration (A04) or return (A22)."""

    kind = "encounter.admitted"


@dataclass(frozen=True)
class PatientDischarged(_Stay):
    """ITI-31 discharge (A03) or leave of absence (A21)."""

    kind = "encounter.discharged"


@dataclass(frozen=True)
class EncounterCancelled:
    """ITI-31 cancellation (A11, A12, A13, A38): the movement is undone."""

    kind = "encounter.cancelled"
    patient_id: int
    encounter_id: int
    trigger: str
    movement_id: str


Event = (
    PatientsMerged | IdentifierChanged | PatientComplements | PatientsLinked | PatientAdmitted | PatientDischarged
    | EncounterCancelled
)
E = TypeVar("E")
Subscriber = Callable[[Session, Any], None]

_subscribers: dict[type, list[Subscriber]] = {}


def subscribe(event_type: type[E], subscriber: Callable[[Session, E], None]) -> None:
    """Call `subscriber(session, event)` for each event of `event_type`, inside the
    publishing transaction (an exception there rolls the whole transaction back)."""
    _subscribers.setdefault(event_type, []).append(subscriber)


def unsubscribe(event_type: type[E], subscriber: Callable[[Session, E], None]) -> None:
    handlers = _subscribers.get(event_type, [])
    if subscriber in handlers:
        handlers.remove(subscriber)


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    return value


def publish(session: Session, event: Any, now: datetime) -> None:
    """Record `event` in the outbox and hand it to the subscribers of its type."""
    patient_id = getattr(event, "patient_id", None) or getattr(event, "surviving_patient_id", None)
    session.add(IdentityEvent(at=now, kind=event.kind, patient_id=patient_id, payload=json.dumps(_json(event))))
    for subscriber in list(_subscribers.get(type(event), [])):
        subscriber(session, event)
