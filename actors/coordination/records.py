"""The coordination model in the store: reads and writes of enrolments, the care circle,
mandates, oppositions, protected access and patient access codes (coordination.md §5,
§9, §10; INTERFACES.md "Coordination services"), over the caller's `Session`.

The caller owns the transaction: nothing here commits, and every function checks its
input before writing anything, so that a `CoordinationError` leaves the session as it
found it. Each change writes its `coordination_event` row (the outbox of notifications)
in the same transaction.

Patients are named by the CX string the XDS registry stores (`id^^^&OID&ISO`, the
affinity domain's id); `patient_key` reduces what a caller sends to that form.
Professionals are VIHF subject ids, structures VIHF structure ids.

Where two concurrent requests could both insert a current row (an enrolment, an open
circle period or protected period, a code), the insert is `ON CONFLICT DO NOTHING`
against the partial unique indexes of `hub.store.models.coordination`: the loser is
told as the input error it is, and its transaction stays usable.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Text, and_, bindparam, insert, literal_column, null, or_, select, union_all, update
from sqlalchemy import cast as cast_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from actors.coordination.pathways import Pathway
from actors.coordination.state import (
    BREAK_THE_GLASS,
    ENROLLED_STATUSES,
    CircleMember,
    Enrolment,
    Mandate,
    MandateKind,
    Opposition,
    OppositionScope,
    PatientState,
)
from hub.config import CoordinationConfig
from hub.store.base import Base, table
from hub.store.models.identity import IdentityDomain, IdentityIdentifier, IdentityPatient
from hub.store.models.xds import XdsKnownPatient
from hub.store.models.coordination import (
    CODE_LEN,
    OPPOSITION_SCOPES,
    PATIENT_LEN,
    PROFESSIONAL_LEN,
    STRUCTURE_LEN,
    CoordinationCircleMember,
    CoordinationEnrolment,
    CoordinationEvent,
    CoordinationMandate,
    CoordinationOpposition,
    CoordinationPatientCode,
    CoordinationProtected,
)
from vihf.principal import PatientId

# coordination_event.event_type (INTERFACES.md: the platform's own codes).
ENROL = "ENROL"
CIRCLE = "CIRCLE"
BTG = "BTG"
MERGE = "MERGE"
OPPOSITION = "OPPOSITION"
MANDATE = "MANDATE"

# The mandates a professional declares for themself (DeclareMandate); `treating-physician`
# and `circle` are granted by others.
SELF_DECLARED_KINDS: tuple[MandateKind, ...] = ("care-team", "break-the-glass", "patient-code")

# Patient access codes: 8 characters without the look-alikes 0/O, 1/I (40 bits), read
# back without case, spaces or hyphens.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
_CODE_ATTEMPTS = 8

# A consent date may be ahead of the hub's clock by this much (the client's clock).
CLOCK_SKEW = timedelta(minutes=5)

# IN lists of one query stay below every backend's limit on bound parameters.
_CHUNK = 10_000


class CoordinationError(ValueError):
    """Bad input of a coordination operation: `field` names the request field at fault
    (`patientId`, `pathway`, `consentDate`, `professionalId`, `role`, `kind`, `reason`,
    `patientCode`, `scope` ...), `reason` says why. The SOAP service answers it as a
    `Sender` fault naming the field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a professional (VIHF subject id), acting for a structure."""

    professional_id: str
    structure_id: str | None = None


# A change made by an identity feed names its sender (`MSH-3|MSH-4`) instead of a person.
Author = Actor | str


def _author_id(actor: Author) -> str:
    return actor.professional_id if isinstance(actor, Actor) else actor


def _event_actor(actor: Author) -> str | None:
    """coordination_event.actor: the professional, NULL for a feed."""
    return actor.professional_id if isinstance(actor, Actor) else None


# -- patients ---------------------------------------------------------------------------------

def patient_key(cx: str) -> str:
    """The store's form of a patient id: `id^^^&OID&ISO`, as the XDS registry keeps it
    (CX-4 may come as `&OID&ISO`, `NAME&OID&ISO` or a bare OID; CX-5 is dropped)."""
    try:
        patient = PatientId.parse(cx)
    except (ValueError, AttributeError):
        raise CoordinationError("patientId", "not a CX identifier with the OID of its assigning authority (id^^^&OID&ISO)") from None
    key = f"{patient.id}^^^&{patient.assigning_authority}&ISO"
    if len(key) > PATIENT_LEN:
        raise CoordinationError("patientId", f"longer than {PATIENT_LEN} characters")
    return key


def _text(field: str, value: str | None, limit: int, *, required: bool) -> str | None:
    """A trimmed identifier or code without spaces; None when blank and not required."""
    cleaned = (value or "").strip()
    if not cleaned:
        if required:
            raise CoordinationError(field, "is required")
        return None
    if len(cleaned) > limit:
        raise CoordinationError(field, f"longer than {limit} characters")
    if any(ch.isspace() for ch in cleaned):
        raise CoordinationError(field, "contains spaces")
    return cleaned


def _insert_unless_current(session: Session, model: type[Base], values: Mapping[str, Any]) -> int | None:
    """INSERT one row, unless a unique index already holds its like (the partial indexes
    keep one current row): the new row's id, or None. No savepoint is needed, so the
    caller's transaction stays whole either way."""
    dialect = session.get_bind().dialect.name
    key = cast(InstrumentedAttribute[int], getattr(model, "id"))
    if dialect == "postgresql":
        statement: Any = postgresql.insert(model).values(dict(values)).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(model).values(dict(values)).on_conflict_do_nothing()
    else:
        statement = insert(model).values(dict(values))
    found = session.execute(statement.returning(key)).scalar_one_or_none()
    return None if found is None else int(found)


# -- reading ----------------------------------------------------------------------------------

def _still_open(until: InstrumentedAttribute[datetime | None], now: datetime) -> ColumnElement[bool]:
    return or_(until.is_(None), until > now)


def _circle_member(row: CoordinationCircleMember) -> CircleMember:
    return CircleMember(row.professional_id, row.structure_id, row.role, row.since, row.until)


def _state_statement(single: bool) -> Any:
    """One statement for the whole state of many patients (the access decision reads it
    on every request): the five tables' rows that can still matter, as one UNION ALL of
    uniform columns, built once (SQLAlchemy then reuses its compiled form). `single`: the
    statement for one patient (`= :key`, the common case, without the expanding IN's
    per-call rendering)."""
    E, C, M, O, P = (table(CoordinationEnrolment), table(CoordinationCircleMember), table(CoordinationMandate),
                     table(CoordinationOpposition), table(CoordinationProtected))
    keys: Any = bindparam("keys", expanding=True)
    key: Any = bindparam("key")
    now: Any = bindparam("now", type_=E.c.started_at.type)

    def text(value: Any = None) -> Any:
        return value if value is not None else cast_(null(), Text)

    def part(tag: str, t: Any, a: Any, b: Any, c: Any, d: Any, e: Any, f: Any, start: Any, end: Any, *where: Any) -> Any:
        return select(literal_column(f"'{tag}'", Text).label("tag"), t.c.id, t.c.patient_id, text(a).label("a"), text(b).label("b"),
                      text(c).label("c"), text(d).label("d"), text(e).label("e"), text(f).label("f"),
                      start.label("start"), end.label("end")).where(
                          t.c.patient_id == key if single else t.c.patient_id.in_(keys), *where)

    return union_all(
        part("E", E, E.c.pathway, E.c.status, None, None, None, None, E.c.started_at, E.c.ended_at, E.c.status != "ended"),
        part("C", C, C.c.professional_id, C.c.structure_id, C.c.role, None, None, None, C.c.since, C.c.until,
             or_(C.c.until.is_(None), C.c.until > now)),
        part("M", M, M.c.holder_professional_id, M.c.holder_structure_id, M.c.kind, M.c.confidentiality_scope,
             M.c.class_scope, M.c.reason, M.c.starts_at, M.c.ends_at, M.c.ends_at > now),
        part("O", O, O.c.scope, O.c.professional_id, None, None, None, None, O.c.since, O.c.withdrawn_at,
             or_(O.c.withdrawn_at.is_(None), O.c.withdrawn_at > now)),
        part("P", P, None, None, None, None, None, None, P.c.since, P.c.until,
             P.c.since <= now, or_(P.c.until.is_(None), P.c.until > now)),
    ).order_by("tag", "id")


_STATE = _state_statement(single=False)
_STATE_ONE = _state_statement(single=True)


def load_states(session: Session, patients: Iterable[str], now: datetime) -> dict[str, PatientState]:
    """The coordination state of each patient, keyed by the id as given (one query for
    all of them). Rows that can no longer matter at `now` are left out: ended
    enrolments, closed circle and protected periods, expired mandates, withdrawn
    oppositions. `other_ids` is left empty (the identity layer knows them)."""
    given = list(dict.fromkeys(patients))
    key_of = {patient: patient_key(patient) for patient in given}
    keys = sorted(set(key_of.values()))
    enrolments: dict[str, list[Enrolment]] = {key: [] for key in keys}
    circle: dict[str, list[CircleMember]] = {key: [] for key in keys}
    mandates: dict[str, list[Mandate]] = {key: [] for key in keys}
    oppositions: dict[str, list[Opposition]] = {key: [] for key in keys}
    protected: set[str] = set()
    batches = [(_STATE_ONE, {"key": keys[0], "now": now})] if len(keys) == 1 else [
        (_STATE, {"keys": keys[start:start + _CHUNK], "now": now}) for start in range(0, len(keys), _CHUNK)
    ]
    for statement, parameters in batches:
        for row in session.execute(statement, parameters):
            tag, patient = row.tag, row.patient_id
            if tag == "E":
                enrolments[patient].append(Enrolment(row.a, row.b, row.start, row.end))
            elif tag == "C":
                circle[patient].append(CircleMember(row.a, row.b, row.c, row.start, row.end))
            elif tag == "M":
                mandates[patient].append(Mandate(
                    holder_id=row.a, holder_structure=row.b, kind=cast(MandateKind, row.c),
                    scope_confidentiality=frozenset((row.d or "").split()), scope_classes=frozenset((row.e or "").split()),
                    starts=row.start, ends=row.end, reason=row.f,
                ))
            elif tag == "O":
                oppositions[patient].append(Opposition(cast(OppositionScope, row.a), row.b, row.start, row.end))
            else:
                protected.add(patient)
    states = {
        key: PatientState(
            patient=PatientId.parse(key),
            enrolments=tuple(enrolments[key]),
            circle=tuple(circle[key]),
            mandates=tuple(mandates[key]),
            oppositions=tuple(oppositions[key]),
            protected=key in protected,
        )
        for key in keys
    }
    return {patient: states[key_of[patient]] for patient in given}


def _oppositions_statement() -> Any:
    """The oppositions in force of one patient (ITI-41/42), built once."""
    O = table(CoordinationOpposition)
    now: Any = bindparam("now", type_=O.c.since.type)
    return (select(O.c.scope, O.c.professional_id, O.c.since, O.c.withdrawn_at)
            .where(O.c.patient_id == bindparam("key"), or_(O.c.withdrawn_at.is_(None), O.c.withdrawn_at > now))
            .order_by(O.c.id))


_OPPOSITIONS = _oppositions_statement()


@dataclass(frozen=True)
class KnownPatient:
    """A patient the hub knows: by the identity manager (its record, identity status and
    names), or only by the XDS registry's known patients (no record, status `UNKNOWN`)."""

    key: str
    record: int | None = None
    status: str = "UNKNOWN"
    family: str = ""
    given: str = ""
    created: datetime | None = None


def known_patient(session: Session, key: str) -> KnownPatient | None:
    """The patient the hub knows by `key` (a CX of `patient_key`), None when it knows
    nobody by it: the coordination model only holds state of known patients."""
    parsed = PatientId.parse(key)
    row = session.execute(
        select(IdentityPatient.id, IdentityPatient.status, IdentityPatient.family_name, IdentityPatient.given_name,
               IdentityPatient.created_at)
        .join(IdentityIdentifier, IdentityIdentifier.patient_id == IdentityPatient.id)
        .join(IdentityDomain, IdentityDomain.id == IdentityIdentifier.domain_id)
        .where(IdentityDomain.universal_id == parsed.assigning_authority, IdentityIdentifier.value == parsed.id,
               IdentityIdentifier.active.is_(True))
    ).first()
    if row is not None:
        return KnownPatient(key, int(row.id), str(row.status), row.family_name or "", row.given_name or "", row.created_at)
    if session.scalar(select(XdsKnownPatient.patient_id).where(XdsKnownPatient.patient_id == key)) is not None:
        return KnownPatient(key)
    return None


def submission_state(session: Session, patient: str, now: datetime) -> PatientState:
    """The part of a patient's state a submission (ITI-41/42) is decided on: the
    oppositions in force (one query; R1-opposition-feeding is the only rule of the model
    a submission meets, INTERFACES.md access rules)."""
    key = patient_key(patient)
    rows = session.execute(_OPPOSITIONS, {"key": key, "now": now})
    oppositions = tuple(Opposition(cast(OppositionScope, scope), professional, since, withdrawn)
                        for scope, professional, since, withdrawn in rows)
    return PatientState(patient=PatientId.parse(key), oppositions=oppositions)


def load_state(session: Session, patient: str, now: datetime) -> PatientState:
    """The coordination state of one patient (`load_states` for one)."""
    return load_states(session, [patient], now)[patient]


# -- events -----------------------------------------------------------------------------------

def record_event(session: Session, event_type: str, patient: str, actor: str | None, detail: Mapping[str, str], now: datetime) -> None:
    """One row of the coordination outbox (`ENROL`, `CIRCLE`, `BTG`, `MERGE`,
    `OPPOSITION`, `MANDATE`, or a TRE_R254 code), in the caller's transaction. `actor` is
    the professional who caused it, None for a feed."""
    session.add(CoordinationEvent(
        at=now, event_type=event_type, patient_id=patient_key(patient), actor=actor,
        detail=json.dumps(dict(detail), ensure_ascii=False, sort_keys=True), delivered_at=None,
    ))


# -- enrolments -------------------------------------------------------------------------------

def enrol(
    session: Session, patient: str, pathway: str, actor: Actor, consent: bool, consent_date: datetime | None,
    consent_document: str | None, catalogue: Mapping[str, Pathway], now: datetime,
) -> CoordinationEnrolment:
    """Enrol the patient in a pathway of the catalogue (`Enrol`): `active` with the
    patient's consent (its date required), `proposed` until it is recorded. A patient has
    one current enrolment per pathway."""
    key = patient_key(patient)
    if pathway not in catalogue:
        raise CoordinationError("pathway", f"unknown pathway {pathway!r} (not in the catalogue)")
    if consent_date is not None:
        if consent_date.tzinfo is None:
            raise CoordinationError("consentDate", "a date and time with its time zone (UTC)")
        if consent_date > now + CLOCK_SKEW:
            raise CoordinationError("consentDate", "is in the future")
    elif consent:
        raise CoordinationError("consentDate", "is required when the patient's consent is given")
    document = _text("consentDocumentUniqueId", consent_document, 128, required=False)
    status = "active" if consent else "proposed"
    enrolment_id = _insert_unless_current(session, CoordinationEnrolment, {
        "patient_id": key, "pathway": pathway, "status": status, "started_at": now, "ended_at": None,
        "enrolled_by": actor.professional_id, "enrolled_by_structure": actor.structure_id, "consent": consent,
        "consent_date": consent_date, "consent_document_unique_id": document, "end_reason": None,
    })
    if enrolment_id is None:
        raise CoordinationError("pathway", f"the patient is already enrolled in {pathway}")
    record_event(session, ENROL, key, actor.professional_id,
                 {"action": "enrol", "pathway": pathway, "status": status, "enrolmentId": str(enrolment_id)}, now)
    row = session.get(CoordinationEnrolment, enrolment_id)
    assert row is not None
    return row


def end_enrolment(session: Session, patient: str, pathway: str, reason: str | None, actor: Actor, now: datetime) -> str:
    """End the patient's current enrolment in a pathway (`EndEnrolment`); the new status."""
    key = patient_key(patient)
    current = session.scalars(select(CoordinationEnrolment).where(
        CoordinationEnrolment.patient_id == key, CoordinationEnrolment.pathway == pathway,
        CoordinationEnrolment.status != "ended",
    )).first()
    if current is None:
        raise CoordinationError("pathway", f"the patient is not enrolled in {pathway}")
    current.status = "ended"
    current.ended_at = now
    current.end_reason = (reason or "").strip() or None
    record_event(session, ENROL, key, actor.professional_id,
                 {"action": "end", "pathway": pathway, "status": "ended", "enrolmentId": str(current.id)}, now)
    session.flush()
    return "ended"


# -- the care circle --------------------------------------------------------------------------

def circle(session: Session, patient: str, now: datetime, *, history: bool = False) -> list[CircleMember]:
    """The members of the patient's care circle at `now` (`ListCareCircle`), in the order
    they joined; with `history`, every period, closed ones included."""
    key = patient_key(patient)
    C = CoordinationCircleMember
    query = select(C).where(C.patient_id == key)
    if not history:
        query = query.where(C.since <= now, _still_open(C.until, now))
    return [_circle_member(row) for row in session.scalars(query.order_by(C.since, C.id))]


def add_member(
    session: Session, patient: str, professional_id: str, structure_id: str | None, role: str, actor: Author, now: datetime,
) -> list[CircleMember]:
    """Open a membership period (`AddCareCircleMember`; a PAM ROL `ODRP` feed). `role` is
    a TRE_R259 / TRE_R260 code (`PCP`: the treating physician); a member without
    structure matches on the professional id alone. The circle after the change."""
    key = patient_key(patient)
    professional = _text("professionalId", professional_id, PROFESSIONAL_LEN, required=True)
    structure = _text("structureId", structure_id, STRUCTURE_LEN, required=False)
    code = _text("role", role, CODE_LEN, required=True)
    added = _insert_unless_current(session, CoordinationCircleMember, {
        "patient_id": key, "professional_id": professional, "structure_id": structure, "role": code,
        "since": now, "until": None, "added_by": _author_id(actor)[:PROFESSIONAL_LEN], "removed_by": None,
    })
    if added is None:
        raise CoordinationError("professionalId", "already a member of the patient's care circle")
    detail = {"action": "add", "professionalId": str(professional), "role": str(code)}
    if structure:
        detail["structureId"] = structure
    record_event(session, CIRCLE, key, _event_actor(actor), detail, now)
    return circle(session, key, now)


def remove_member(session: Session, patient: str, professional_id: str, actor: Author, now: datetime) -> list[CircleMember]:
    """Close the member's open period (`RemoveCareCircleMember`). The circle after it."""
    key = patient_key(patient)
    professional = _text("professionalId", professional_id, PROFESSIONAL_LEN, required=True)
    C = CoordinationCircleMember
    current = session.scalars(select(C).where(C.patient_id == key, C.professional_id == professional, C.until.is_(None))).first()
    if current is None:
        raise CoordinationError("professionalId", "not a member of the patient's care circle")
    current.until = now
    current.removed_by = _author_id(actor)[:PROFESSIONAL_LEN]
    record_event(session, CIRCLE, key, _event_actor(actor),
                 {"action": "remove", "professionalId": str(professional), "role": current.role}, now)
    session.flush()
    return circle(session, key, now)


# -- mandates ---------------------------------------------------------------------------------

def declare_mandate(
    session: Session, patient: str, holder: Actor, kind: str, reason: str | None, settings: CoordinationConfig,
    now: datetime, patient_code: str | None = None,
) -> Mandate:
    """A mandate the professional declares for themself (`DeclareMandate`): `care-team`,
    `break-the-glass` (with its reason) or `patient-code` (with a code the patient gave,
    used up here). Its lifetime and scope are the `[coordination]` settings of the kind."""
    key = patient_key(patient)
    if kind not in SELF_DECLARED_KINDS:
        raise CoordinationError("kind", f"unknown kind {kind!r} (one of {', '.join(SELF_DECLARED_KINDS)})")
    cleaned_reason = (reason or "").strip() or None
    if kind == BREAK_THE_GLASS and cleaned_reason is None:
        raise CoordinationError("reason", "is required to break the glass")
    granted_by = holder.professional_id
    if kind == "patient-code":
        if not (patient_code or "").strip():
            raise CoordinationError("patientCode", "is required for a patient-code mandate")
        granted_by = _use_code(session, key, str(patient_code), holder, now)
    confidentiality, classes = settings.mandate_scope(kind)
    ends = now + settings.mandate_lifetime(kind)
    session.add(CoordinationMandate(
        patient_id=key, holder_professional_id=holder.professional_id, holder_structure_id=holder.structure_id,
        kind=kind, granted_by=granted_by, reason=cleaned_reason, confidentiality_scope=" ".join(confidentiality),
        class_scope=" ".join(classes), starts_at=now, ends_at=ends,
    ))
    record_event(session, BTG if kind == BREAK_THE_GLASS else MANDATE, key, holder.professional_id,
                 {"kind": kind, "until": ends.isoformat()}, now)
    session.flush()
    return Mandate(
        holder_id=holder.professional_id, holder_structure=holder.structure_id, kind=kind,
        scope_confidentiality=frozenset(confidentiality), scope_classes=frozenset(classes), starts=now, ends=ends,
        reason=cleaned_reason,
    )


# -- oppositions ------------------------------------------------------------------------------

def _opposition_scope(scope: str, professional_id: str | None) -> tuple[str, str | None]:
    if scope not in OPPOSITION_SCOPES:
        raise CoordinationError("scope", f"unknown scope {scope!r} (one of {', '.join(OPPOSITION_SCOPES)})")
    professional = _text("professionalId", professional_id, PROFESSIONAL_LEN, required=scope == "professional")
    if scope != "professional" and professional is not None:
        raise CoordinationError("professionalId", "is given only with the scope professional")
    return scope, professional


def _current_oppositions(scope: str, professional: str | None, key: str) -> Select[CoordinationOpposition]:
    O = CoordinationOpposition
    named = O.professional_id.is_(None) if professional is None else O.professional_id == professional
    return select(O).where(O.patient_id == key, O.scope == scope, named, O.withdrawn_at.is_(None))


def _opposition_summary(session: Session, key: str) -> str:
    """What GetPatientStatus says of the oppositions: `consultation` or `none`."""
    found = session.scalars(_current_oppositions("consultation", None, key).limit(1)).first()
    return "consultation" if found is not None else "none"


def set_opposition(
    session: Session, patient: str, scope: str, professional_id: str | None, actor: Author, source: str, now: datetime,
) -> str:
    """Record the patient's opposition (`SetOpposition`; ZFA-11 `INC`, ZFA-9 `IO`): to
    consultation, to one professional, or to feeding. The same opposition in force is
    not recorded twice. Returns the opposition summary (`consultation` / `none`)."""
    key = patient_key(patient)
    scope, professional = _opposition_scope(scope, professional_id)
    if session.scalars(_current_oppositions(scope, professional, key).limit(1)).first() is None:
        session.add(CoordinationOpposition(
            patient_id=key, scope=scope, professional_id=professional, since=now, withdrawn_at=None,
            source=source[:32], recorded_by=_author_id(actor)[:256],
        ))
        detail = {"action": "set", "scope": scope, "source": source}
        if professional:
            detail["professionalId"] = professional
        record_event(session, OPPOSITION, key, _event_actor(actor), detail, now)
        session.flush()
    return _opposition_summary(session, key)


def withdraw_opposition(
    session: Session, patient: str, scope: str, professional_id: str | None, actor: Author, now: datetime,
) -> str:
    """Withdraw the patient's opposition of this scope (`WithdrawOpposition`; ZFA-11 `IC`,
    ZFA-9 `INO`); nothing to withdraw is not an error. Returns the opposition summary."""
    key = patient_key(patient)
    scope, professional = _opposition_scope(scope, professional_id)
    current = list(session.scalars(_current_oppositions(scope, professional, key)))
    for row in current:
        row.withdrawn_at = now
    if current:
        detail = {"action": "withdraw", "scope": scope}
        if professional:
            detail["professionalId"] = professional
        record_event(session, OPPOSITION, key, _event_actor(actor), detail, now)
        session.flush()
    return _opposition_summary(session, key)


# -- protected access -------------------------------------------------------------------------

def set_protected(session: Session, patient: str, protected: bool, source: str, now: datetime) -> None:
    """PAM-FR PD1-12: open (`Y`) or close (`N`) the patient's protected-access period;
    feeds repeat it, so an unchanged value changes nothing."""
    key = patient_key(patient)
    if protected:
        _insert_unless_current(session, CoordinationProtected, {"patient_id": key, "since": now, "until": None, "source": source[:32]})
        return
    P = CoordinationProtected
    session.execute(update(P).where(P.patient_id == key, P.until.is_(None)).values(until=now))


# -- patient access codes ---------------------------------------------------------------------

def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii", "replace")).hexdigest()


def _normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch not in " -\t")


def issue_code(session: Session, patient: str, actor: Actor, lifetime: timedelta, now: datetime) -> tuple[str, datetime]:
    """A one-time access code for the patient to hand to a professional
    (`IssuePatientAccessCode`), usable once before it expires; only its SHA-256 is kept.
    Returns the code and its expiry."""
    key = patient_key(patient)
    if lifetime <= timedelta(0):
        raise CoordinationError("lifetime", "must be positive")
    expires = now + lifetime
    for _attempt in range(_CODE_ATTEMPTS):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        stored = _insert_unless_current(session, CoordinationPatientCode, {
            "patient_id": key, "code_hash": _code_hash(code), "issued_by": actor.professional_id, "issued_at": now,
            "expires_at": expires, "used_at": None, "used_by": None,
        })
        if stored is not None:
            return code, expires
    raise RuntimeError("no unused patient access code found")


def _use_code(session: Session, key: str, code: str, actor: Actor, now: datetime) -> str:
    """Mark the code used (one UPDATE, so that two concurrent uses cannot both succeed);
    who issued it."""
    K = CoordinationPatientCode
    usable = and_(K.patient_id == key, K.code_hash == _code_hash(_normalise_code(code)), K.used_at.is_(None),
                  K.issued_at <= now, K.expires_at > now)
    issued_by = session.execute(
        update(K).where(usable).values(used_at=now, used_by=actor.professional_id).returning(K.issued_by),
        execution_options={"synchronize_session": False},
    ).scalar_one_or_none()
    if issued_by is None:
        raise CoordinationError("patientCode", "unknown, expired or already used")
    return str(issued_by)


def use_code(session: Session, patient: str, code: str, actor: Actor, now: datetime) -> None:
    """Use up a patient access code of this patient (the `patient-code` mandate)."""
    _use_code(session, patient_key(patient), code, actor, now)


# -- identity merges --------------------------------------------------------------------------

def move_patient(session: Session, retired: str, surviving: str, now: datetime, *, cause: str = "merge") -> None:
    """A merge (ITI-8/ITI-30 A40) or an identifier change: every coordination row of
    `retired` goes to `surviving`. Where both have a current row of the same kind, one
    is kept: the surviving enrolment in a pathway (the retired one when only it carries
    the consent: the survivor's is `proposed`), the other ended `merged`; the surviving
    open circle and protected periods, the retired ones closed. Oppositions of both hold
    (any active one counts, so the more restrictive wins); mandates and codes follow. A
    `MERGE` event is recorded on the surviving patient."""
    old, new = patient_key(retired), patient_key(surviving)
    if old == new:
        return
    E = CoordinationEnrolment
    current = select(E.id, E.pathway, E.status).where(E.status != "ended")
    surviving_enrolments = {row.pathway: row for row in session.execute(current.where(E.patient_id == new))}
    for row in session.execute(current.where(E.patient_id == old)).all():
        kept = surviving_enrolments.get(row.pathway)
        if kept is None:
            continue
        loser = kept.id if kept.status == "proposed" and row.status in ENROLLED_STATUSES else row.id
        session.execute(update(E).where(E.id == loser).values(status="ended", ended_at=now, end_reason="merged"))
    C = CoordinationCircleMember
    both = select(C.professional_id).where(C.patient_id == new, C.until.is_(None))
    session.execute(update(C).where(C.patient_id == old, C.until.is_(None), C.professional_id.in_(both)).values(until=now))
    P = CoordinationProtected
    if session.scalars(select(P.id).where(P.patient_id == new, P.until.is_(None))).first() is not None:
        session.execute(update(P).where(P.patient_id == old, P.until.is_(None)).values(until=now))
    for model in (E, C, CoordinationMandate, CoordinationOpposition, P, CoordinationPatientCode):
        column = cast(InstrumentedAttribute[str], getattr(model, "patient_id"))
        session.execute(update(model).where(column == old).values(patient_id=new))
    record_event(session, MERGE, new, None, {"cause": cause, "retired": old}, now)
    session.flush()


__all__ = [
    "BTG",
    "CIRCLE",
    "ENROL",
    "MANDATE",
    "MERGE",
    "OPPOSITION",
    "SELF_DECLARED_KINDS",
    "Actor",
    "Author",
    "CoordinationError",
    "add_member",
    "circle",
    "declare_mandate",
    "end_enrolment",
    "enrol",
    "issue_code",
    "load_state",
    "load_states",
    "move_patient",
    "patient_key",
    "record_event",
    "remove_member",
    "set_opposition",
    "set_protected",
    "use_code",
    "withdraw_opposition",
]
