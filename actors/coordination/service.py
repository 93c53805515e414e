"""The coordination services of `/coordination` (INTERFACES.md, "Coordination
services"): each operation runs in one store transaction, asks the access decision for
its action on the patient, then reads or changes the coordination model
(`actors.coordination.records`). Bad input is a `CoordinationError` naming the field;
a caller the decision refuses gets vihf's `VihfRefusal` (wsse:FailedAuthentication):
nothing is written in either case.

The SOAP codec (spyne, `actors.coordination.soap`) calls these functions with the
request's values; they know nothing of SOAP.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from actors.coordination import records
from actors.coordination.decision import Action
from actors.coordination.gate import Check, Gate
from actors.coordination.pathways import Pathway
from actors.coordination.records import Actor, CoordinationError
from actors.coordination.state import CircleMember, PatientState
from hub.config import CoordinationConfig
from hub.store import Store
from vihf import faults
from vihf.principal import Principal

UNAUTHENTICATED = "unauthenticated"  # the actor of changes made without VIHF (local experiments)


@dataclass(frozen=True)
class CoordinationContext:
    """What the operations need: the store, the access decision, `[coordination]` and
    the pathway catalogue (read once, when the hub starts)."""

    store: Store
    gate: Gate
    config: CoordinationConfig
    catalogue: Mapping[str, Pathway]


@dataclass
class Call:
    """One request: its caller, and what its audit record says (patient, decisions)."""

    ctx: CoordinationContext
    principal: Principal | None
    patient: str | None = None
    access: str | None = None
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    # A refusal of the operation (bad input, unauthorised caller), for the codec to raise.
    refusal: Exception | None = None

    @property
    def actor(self) -> Actor:
        if self.principal is None:
            return Actor(UNAUTHENTICATED)
        return Actor(self.principal.subject_id, (self.principal.structure_id or "").strip() or None)


@dataclass(frozen=True)
class Status:
    identity_status: str
    enrolments: list[tuple[str, str, datetime]]  # pathway, status, since
    treating_physician: str | None
    opposition: str
    mandate: str
    until: datetime | None


def _enter(call: Call, session: Session, patient_id: str, action: Action) -> tuple[str, Check]:
    """The patient's key, after checking that the hub knows the patient and that the
    decision allows `action`; raises `CoordinationError` / `VihfRefusal`."""
    key = records.patient_key(patient_id)
    if records.known_patient(session, key) is None:
        raise CoordinationError("patientId", "unknown patient")
    call.patient = key
    check = call.ctx.gate.check(session, call.principal, call.now)
    decision = check.decide(action, key)
    call.access = check.summary()
    if decision is not None and not decision.allowed:
        raise faults.failed_authentication(f"not authorised ({decision.rule}): {decision.reason}")
    return key, check


def _state(session: Session, key: str, now: datetime) -> PatientState:
    return records.load_states(session, [key], now)[key]


def _caller_access(call: Call, state: PatientState) -> tuple[str, datetime | None]:
    """The caller's own access to the patient: the mandate kind (or circle role) and until when."""
    principal = call.principal
    if principal is None:
        return "none", None
    actor = call.actor
    for member in state.active_circle(call.now):
        if member.matches(actor.professional_id, actor.structure_id):
            return ("treating-physician" if member.treating_physician else "circle"), member.until
    mandates = [m for m in state.active_mandates(call.now) if m.held_by(actor.professional_id, actor.structure_id)]
    if mandates:
        best = max(mandates, key=lambda m: m.ends)
        return best.kind, best.ends
    return "none", None


def get_patient_status(call: Call, patient_id: str) -> Status:
    with call.ctx.store.transaction() as session:
        key, _check = _enter(call, session, patient_id, Action.GET_STATUS)
        known = records.known_patient(session, key)
        identity_status = known.status if known is not None else "UNKNOWN"
        state = _state(session, key, call.now)
    treating = state.treating_physicians(call.now)
    opposition = "consultation" if state.opposes("consultation", call.now) else "none"
    mandate, until = _caller_access(call, state)
    enrolments = [(e.pathway, e.status, e.since) for e in state.enrolments if e.status != "ended"]
    return Status(identity_status, enrolments, treating[0].professional_id if treating else None, opposition, mandate, until)


def enrol(call: Call, patient_id: str, pathway: str, consent: bool, consent_date: datetime | None,
          consent_document: str | None) -> tuple[int, str]:
    if consent_date is not None and consent_date.astimezone(timezone.utc) > call.now:
        raise CoordinationError("consentDate", "the consent cannot be dated in the future")
    with call.ctx.store.transaction() as session:
        key, _check = _enter(call, session, patient_id, Action.ENROL)
        row = records.enrol(session, key, pathway, call.actor, consent, consent_date, consent_document,
                            call.ctx.catalogue, call.now)
        return int(row.id), str(row.status)


def end_enrolment(call: Call, patient_id: str, pathway: str, reason: str) -> str:
    with call.ctx.store.transaction() as session:
        key, _check = _enter(call, session, patient_id, Action.ENROL)
        return records.end_enrolment(session, key, pathway, reason, call.actor, call.now)


def list_circle(call: Call, patient_id: str) -> list[CircleMember]:
    with call.ctx.store.transaction() as session:
        key, _check = _enter(call, session, patient_id, Action.GET_STATUS)
        return records.circle(session, key, call.now)


def add_member(call: Call, patient_id: str, professional_id: str, structure_id: str | None, role: str) -> list[CircleMember]:
    with call.ctx.store.transaction() as session:
        key, _check = _enter(call, session, patient_id, Action.MANAGE_CIRCLE)
        return records.add_member(session, key, professional_id, structure_id, role, call.actor, call.now)


def remove_member(call: Call, patient_id: str, professional_id: str) -> list[CircleMember]:
    with call.ctx.store.transaction() as session:
        key, _check = _enter(call, session, patient_id, Action.MANAGE_CIRCLE)
        return records.remove_member(session, key, professional_id, call.actor, call.now)


def declare_mandate(call: Call, patient_id: str, kind: str, reason: str | None, patient_code: str | None) -> tuple[str, datetime]:
    with call.ctx.store.transaction() as session:
        key, _check = _enter(call, session, patient_id, Action.DECLARE_MANDATE)
        mandate = records.declare_mandate(session, key, call.actor, kind, reason, call.ctx.config, call.now,
                                          patient_code=patient_code)
        return mandate.kind, mandate.ends


def set_opposition(call: Call, patient_id: str, scope: str, professional_id: str | None) -> str:
    with call.ctx.store.transaction() as session:
        key, _check = _enter(call, session, patient_id, Action.SET_OPPOSITION)
        return records.set_opposition(session, key, scope, professional_id, call.actor, "coordination", call.now)


def withdraw_opposition(call: Call, patient_id: str, scope: str, professional_id: str | None) -> str:
    with call.ctx.store.transaction() as session:
        key, _check = _enter(call, session, patient_id, Action.SET_OPPOSITION)
        return records.withdraw_opposition(session, key, scope, professional_id, call.actor, call.now)


def issue_patient_code(call: Call, patient_id: str) -> tuple[str, datetime]:
    lifetime = timedelta(minutes=call.ctx.config.patient_code_minutes)
    with call.ctx.store.transaction() as session:
        key, _check = _enter(call, session, patient_id, Action.ISSUE_PATIENT_CODE)
        return records.issue_code(session, key, call.actor, lifetime, call.now)
