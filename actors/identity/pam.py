"""PAM over HL7 v2 (IHE PAM, French national extension 2.11): ITI-30 identifier change
(A47), link/unlink (A24/A37), and ITI-31 encounter management (A01-A13, A21/A22, A38)
with the ZBE movement segment, stored as stays and movements of the patient.

Admissions and discharges are published as events (`PatientAdmitted`,
`PatientDischarged`, `EncounterCancelled`) for the coordination layer.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.wire import hl7v2
from hub.store.models.identity import Encounter, Movement

from actors.identity import core, er7
from actors.identity.core import Context, Location
from actors.identity.events import EncounterCancelled, PatientAdmitted, PatientDischarged
from actors.identity.model import Cx
from actors.identity.pix import COMPLEMENTS, feed_message
from actors.identity.service import IdentityService
from actors.identity.v2 import Route, complements, incoming_from_pid, parse, parse_ts, refusal, require_order, source_of, without_nulls

# ZBE-4 (PAM-FR 6.13.4), ZBE-9 nature of the movement.
ZBE_ACTIONS = frozenset({"INSERT", "UPDATE", "CANCEL"})
ZBE_NATURES = frozenset({"S", "H", "M", "L", "D", "SM", "SH", "MH", "LD", "HMS", "C"})
ENCOUNTER_COMPLEMENTS = ("PV2", "ZFP", "ZFV", "ZFM", "ROL")


@dataclass(frozen=True)
class Trigger:
    """What an ITI-31 event does to the stay: the status it leaves, and for a
    cancellation the trigger it cancels."""

    status: str | None
    cancels: str = ""


TRIGGERS = {
    "A01": Trigger("admitted"),
    "A04": Trigger("admitted"),
    "A05": Trigger("pre-admitted"),
    "A06": Trigger("admitted"),
    "A07": Trigger("admitted"),
    "A02": Trigger(None),
    "A03": Trigger("discharged"),
    "A21": Trigger("on-leave"),
    "A22": Trigger("admitted"),
    "A11": Trigger("cancelled", "A01"),
    "A12": Trigger(None, "A02"),
    "A13": Trigger("admitted", "A03"),
    "A38": Trigger("cancelled", "A05"),
    "A52": Trigger("admitted", "A21"),
    "A53": Trigger("on-leave", "A22"),
    "A54": Trigger(None),
    "A55": Trigger(None, "A54"),
    "Z99": Trigger(None),
}
# ROL may come after PID and again after the Z segments: it is not placed.
ENCOUNTER_ORDER = ("MSH", "EVN", "PID", "PD1", "NK1", "PV1", "PV2", "ZBE", "ZFA", "ZFP", "ZFV", "ZFM", "ZFD")


@dataclass(frozen=True)
class MovementSegment:
    """ZBE read and checked: ZBE-1 movement id, ZBE-2 start, ZBE-4 action, ZBE-5 historic,
    ZBE-6 original trigger, ZBE-7/8 medical and care units, ZBE-9 nature."""

    movement_id: str
    domain: str
    start: str
    action: str
    historic: bool
    original_trigger: str
    medical_unit: str
    care_unit: str
    nature: str


def read_zbe(zbe: er7.Segment) -> MovementSegment:
    """PAM-FR ZBE rules: ZBE-1, ZBE-2, ZBE-4 required; ZBE-4 and ZBE-9 from their tables;
    ZBE-6 required for UPDATE and CANCEL."""
    if not zbe.value(1):
        raise refusal(hl7v2.ERR_REQUIRED_FIELD_MISSING, "ZBE^1^1", "ZBE-1 (movement id) is required")
    if not zbe.value(2):
        raise refusal(hl7v2.ERR_REQUIRED_FIELD_MISSING, "ZBE^1^2", "ZBE-2 (movement start) is required")
    action = zbe.value(4).upper()
    if not action:
        raise refusal(hl7v2.ERR_REQUIRED_FIELD_MISSING, "ZBE^1^4", "ZBE-4 (action) is required")
    if action not in ZBE_ACTIONS:
        raise refusal(hl7v2.ERR_TABLE_VALUE_NOT_FOUND, "ZBE^1^4", f"ZBE-4 {action!r} is not INSERT, UPDATE or CANCEL")
    historic = zbe.value(5).upper()
    if historic not in ("", "Y", "N"):
        raise refusal(hl7v2.ERR_TABLE_VALUE_NOT_FOUND, "ZBE^1^5", "ZBE-5 must be Y or N")
    if action in ("UPDATE", "CANCEL") and not zbe.value(6):
        raise refusal(hl7v2.ERR_REQUIRED_FIELD_MISSING, "ZBE^1^6", f"ZBE-6 (original trigger) is required with {action}")
    nature = zbe.value(9).upper()
    if nature and nature not in ZBE_NATURES:
        raise refusal(hl7v2.ERR_TABLE_VALUE_NOT_FOUND, "ZBE^1^9", f"ZBE-9 {nature!r} is not a movement nature of PAM-FR")
    comps = zbe.components(1)
    domain = ""
    if len(comps) > 2 and comps[2]:
        domain = er7.unescape(comps[2], zbe.delimiters)
    elif len(comps) > 1:
        domain = er7.unescape(comps[1], zbe.delimiters)
    return MovementSegment(
        movement_id=zbe.value(1), domain=domain, start=zbe.value(2), action=action, historic=historic == "Y",
        original_trigger=zbe.value(6), medical_unit=_unit(zbe, 7), care_unit=_unit(zbe, 8), nature=nature,
    )


def _unit(zbe: er7.Segment, number: int) -> str:
    """XON of a functional unit: XON-10 code (XON-1 label when no code)."""
    return zbe.value(number, 10) or zbe.value(number, 1)


def _ts(value: str, location: str) -> datetime | None:
    try:
        return parse_ts(value)
    except ValueError as exc:
        raise refusal(hl7v2.ERR_DATA_TYPE, location, str(exc)) from exc


def encounter_message(session: Session, ctx: Context, message: er7.Er7Message, msh: hl7v2.Msh) -> None:
    """ITI-31 (and ITI-8 A01/A04/A05): the identity of PID is fed first; then, when the
    message carries a visit (PV1-19 or PID-18) the stay is created or updated, and with
    a ZBE the movement is recorded, cancelled as ZBE-4 says."""
    trigger = msh.trigger_event
    require_order(message, ENCOUNTER_ORDER, ("PID",))
    zbe_segment = message.first("ZBE")
    movement = read_zbe(zbe_segment) if zbe_segment is not None else None
    pv1 = message.first("PV1")
    if trigger not in ("A01", "A04", "A05", "A08") and pv1 is None:
        raise refusal(hl7v2.ERR_SEGMENT_SEQUENCE, "PV1", "PV1 is required in encounter messages")
    result = feed_message(session, ctx, message, msh)
    visit, account = _visit(message, pv1)
    if visit is None:
        if movement is not None:
            raise refusal(hl7v2.ERR_REQUIRED_FIELD_MISSING, "PV1^1^19", "a movement needs its visit number (PV1-19) or account number (PID-18)")
        return
    rule = TRIGGERS.get(trigger, Trigger(None))
    at = _ts(movement.start, "ZBE^1^2") if movement is not None else None
    cancelling = bool(rule.cancels) or (movement is not None and movement.action == "CANCEL")
    encounter = _stay(session, ctx, message, result.patient_id, visit, account, pv1, rule, cancelling)
    if movement is not None and cancelling:
        _cancel(session, encounter, movement, rule)
        ctx.publish(session, EncounterCancelled(result.patient_id, encounter.id, trigger, movement.movement_id))
        return
    if trigger == "Z99":
        if movement is None:
            raise refusal(hl7v2.ERR_SEGMENT_SEQUENCE, "ZBE", "Z99 requires the ZBE of the movement it corrects")
        if movement.action != "UPDATE":
            raise refusal(hl7v2.ERR_TABLE_VALUE_NOT_FOUND, "ZBE^1^4", "Z99 carries ZBE-4 UPDATE")
        _correct(session, encounter, movement, at, pv1)
        return
    if movement is not None:
        assert at is not None
        _record(session, encounter, movement, trigger, at, pv1)
    if rule.status is not None:
        encounter.status = rule.status
    unit = movement.medical_unit if movement is not None else ""
    if trigger in ("A01", "A04"):
        encounter.admitted_at = at or (_ts(pv1.value(44), "PV1^1^44") if pv1 is not None else None)
        ctx.publish(session, PatientAdmitted(result.patient_id, encounter.id, trigger, encounter.admitted_at, visit.value, unit))
    elif trigger == "A03":
        encounter.discharged_at = at or (_ts(pv1.value(45), "PV1^1^45") if pv1 is not None else None)
        ctx.publish(session, PatientDischarged(result.patient_id, encounter.id, trigger, encounter.discharged_at, visit.value, unit))
    session.flush()


def _visit(message: er7.Er7Message, pv1: er7.Segment | None) -> tuple[Cx | None, Cx | None]:
    """(visit, account): the stay is named by PV1-19, else by the account number PID-18."""
    pid = message.first("PID")
    assert pid is not None
    visit = er7.parse_cx(pv1.repetitions(19)[0], pv1.delimiters) if pv1 is not None and pv1.raw(19) else None
    account = er7.parse_cx(pid.repetitions(18)[0], pid.delimiters) if pid.raw(18) else None
    if visit is None or not visit.value:
        visit = account if account is not None and account.value else None
    return visit, account


def _stay(
    session: Session, ctx: Context, message: er7.Er7Message, patient_id: int, visit: Cx, account: Cx | None,
    pv1: er7.Segment | None, rule: Trigger, cancelling: bool,
) -> Encounter:
    """The stay `visit` names, created (unless the message cancels something in it) or
    updated with the message's class, location, account and complements."""
    domain = visit.authority.key
    encounter = session.scalars(
        select(Encounter).where(Encounter.visit_domain == domain, Encounter.visit_number == visit.value)
    ).first()
    if encounter is None:
        if cancelling:
            raise refusal(hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER, "PV1^1^19", f"no stay {visit.value} to cancel a movement of")
        encounter = Encounter(
            patient_id=patient_id, visit_domain=domain, visit_number=visit.value, status=rule.status or "admitted",
            updated_at=ctx.now,
        )
        session.add(encounter)
    elif encounter.patient_id != patient_id:
        raise refusal(hl7v2.ERR_DUPLICATE_KEY_IDENTIFIER, "PV1^1^19", f"stay {visit.value} belongs to another patient")
    encounter.account_number = account.value if account is not None else encounter.account_number
    if pv1 is not None:
        encounter.patient_class = pv1.value(2)[:4]
        if pv1.raw(3):
            encounter.location = pv1.raw(3)[:128]
    details = json.loads(encounter.details or "{}")
    details.update(complements(message, ENCOUNTER_COMPLEMENTS))
    encounter.details = json.dumps(details, ensure_ascii=False)
    encounter.updated_at = ctx.now
    session.flush()
    return encounter


def _cancel(session: Session, encounter: Encounter, movement: MovementSegment, rule: Trigger) -> None:
    """A cancellation (A11, A12, A13 ... or ZBE-4 CANCEL): the current movement ZBE-1
    names is cancelled, and the stay takes back the status the trigger says."""
    row = session.scalars(
        select(Movement).where(Movement.movement_domain == movement.domain, Movement.movement_id == movement.movement_id)
    ).first()
    if row is None or row.encounter_id != encounter.id or row.cancelled:
        raise refusal(hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER, "ZBE^1^1", f"no current movement {movement.movement_id} to cancel")
    row.cancelled = True
    if rule.status is not None:
        encounter.status = rule.status
    if rule.cancels == "A03":
        encounter.discharged_at = None


def _record(
    session: Session, encounter: Encounter, movement: MovementSegment, trigger: str, at: datetime, pv1: er7.Segment | None
) -> None:
    """A new movement of the stay (ZBE-4 INSERT); its id is recorded once."""
    if movement.action == "UPDATE":
        raise refusal(hl7v2.ERR_TABLE_VALUE_NOT_FOUND, "ZBE^1^4", "UPDATE is sent only with Z99")
    clash = session.scalars(
        select(Movement).where(Movement.movement_domain == movement.domain, Movement.movement_id == movement.movement_id)
    ).first()
    if clash is not None:
        raise refusal(hl7v2.ERR_DUPLICATE_KEY_IDENTIFIER, "ZBE^1^1", f"movement {movement.movement_id} is already recorded")
    session.add(Movement(
        encounter_id=encounter.id, movement_domain=movement.domain, movement_id=movement.movement_id, trigger=trigger,
        started_at=at, historic=movement.historic, medical_unit=movement.medical_unit, care_unit=movement.care_unit,
        nature=movement.nature, location=(pv1.raw(3)[:128] if pv1 is not None else ""), cancelled=False,
    ))


def _correct(session: Session, encounter: Encounter, movement: MovementSegment, at: datetime | None, pv1: er7.Segment | None) -> None:
    """Z99 (PAM-FR correction, ZBE-4 UPDATE): the movement named by ZBE-1 takes the
    start, units, nature and location of the message; the stay's admission or discharge
    time follows when ZBE-6 names an A01/A04 or an A03."""
    row = session.scalars(
        select(Movement).where(Movement.movement_domain == movement.domain, Movement.movement_id == movement.movement_id)
    ).first()
    if row is None or row.encounter_id != encounter.id or row.cancelled:
        raise refusal(hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER, "ZBE^1^1", f"no current movement {movement.movement_id} to correct")
    if movement.original_trigger and movement.original_trigger != row.trigger:
        raise refusal(hl7v2.ERR_TABLE_VALUE_NOT_FOUND, "ZBE^1^6", f"movement {movement.movement_id} was sent with {row.trigger}")
    assert at is not None
    row.started_at = at
    row.historic = movement.historic
    row.medical_unit, row.care_unit = movement.medical_unit, movement.care_unit
    if movement.nature:
        row.nature = movement.nature
    if pv1 is not None and pv1.raw(3):
        row.location = pv1.raw(3)[:128]
    if row.trigger in ("A01", "A04"):
        encounter.admitted_at = at
    elif row.trigger == "A03":
        encounter.discharged_at = at
    session.flush()


def handle_encounter(service: IdentityService, message: str, msh: hl7v2.Msh) -> str:
    def work(session: Session, ctx: Context) -> str:
        encounter_message(session, ctx, parse(message), msh)
        return service.accept(msh)

    return service.run(msh, work)


def _pids(message: er7.Er7Message, count: int) -> list[er7.Segment]:
    pids = [segment for _n, segment in message.all("PID")]
    if len(pids) < count:
        raise refusal(hl7v2.ERR_SEGMENT_SEQUENCE, f"PID^{len(pids) + 1}", f"{count} PID segments are required")
    for sequence, pid in enumerate(pids[:count], start=1):
        if not pid.raw(3):
            raise refusal(hl7v2.ERR_REQUIRED_FIELD_MISSING, f"PID^{sequence}^3", "PID-3 (patient identifier list) is required")
    return pids[:count]


def handle_change_identifier(service: IdentityService, message: str, msh: hl7v2.Msh) -> str:
    """ITI-30 A47 (ADT_A30): PID-3 the new identifier, MRG-1 the prior one."""
    def work(session: Session, ctx: Context) -> str:
        parsed = parse(message)
        require_order(parsed, ("MSH", "EVN", "PID", "PD1", "MRG"), ("PID", "MRG"))
        pid = _pids(parsed, 1)[0]
        mrg = parsed.first("MRG")
        assert mrg is not None
        incoming = without_nulls(incoming_from_pid(pid, 1, source_of(msh), complements(parsed, COMPLEMENTS)))
        prior = [cx for cx in er7.parse_cx_list(mrg.raw(1), mrg.delimiters) if cx.value]
        core.change_identifier(session, ctx, incoming, prior, Location("MRG", 1, 1))
        return service.accept(msh)

    return service.run(msh, work)


def handle_link(service: IdentityService, message: str, msh: hl7v2.Msh, linked: bool) -> str:
    """ITI-30 A24 link / A37 unlink: two PID segments naming the two records."""
    def work(session: Session, ctx: Context) -> str:
        parsed = parse(message)
        require_order(parsed, ("MSH", "EVN", "PID"), ("PID",))
        first, second = _pids(parsed, 2)
        a = without_nulls(incoming_from_pid(first, 1, source_of(msh)))
        b = without_nulls(incoming_from_pid(second, 2, source_of(msh)))
        if linked:
            core.link(session, ctx, a, b)
        else:
            core.unlink(session, ctx, a, b)
        return service.accept(msh)

    return service.run(msh, work)


def routes(service: IdentityService) -> list[Route]:
    encounter = lambda message, msh: handle_encounter(service, message, msh)  # noqa: E731
    found = [
        Route(f"ADT^{trigger}", "ITI-8" if trigger in ("A01", "A04", "A05") else "ITI-31", encounter)
        for trigger in TRIGGERS
    ]
    return found + [
        Route("ADT^A47", "ITI-30", lambda message, msh: handle_change_identifier(service, message, msh)),
        Route("ADT^A24", "ITI-30", lambda message, msh: handle_link(service, message, msh, True)),
        Route("ADT^A37", "ITI-30", lambda message, msh: handle_link(service, message, msh, False)),
    ]
