"""The care circle as a FHIR CareTeam (ANS volet "Gestion du cercle de soins", profile
`cds-ihe-careteam`, IHE PCC DCTM; coordination.md §5) at `/fhir/CareTeam`, over the same
store rows as the SOAP ListCareCircle / AddCareCircleMember / RemoveCareCircleMember:

- `GET /fhir/CareTeam?patient=<system>|<value>` — PCC-46 Search for Care Team: a
  searchset Bundle of the patient's one CareTeam (`patient.identifier`, `patient:identifier`,
  `subject`, `subject.identifier`, `subject:identifier` are read the same way, the first
  as the volet writes it);
- `GET /fhir/CareTeam/<id>` — PCC-47 Retrieve Care Team;
- `POST /fhir/CareTeam` (create, 201) and `PUT /fhir/CareTeam/<id>` (update, 200) — PCC-45
  Update Care Team: the participants of the resource without an ended period become the
  circle, members being added (`records.add_member`) and removed
  (`records.remove_member`) to match, in one store transaction; the answer is the
  resulting CareTeam.

A patient has one care circle, so one CareTeam: its id is the patient's key reversibly
written with FHIR id characters (`<OID>-<base32 of the identifier>`), and a create for
a patient sets the circle the same way an update does. The CareTeam lists every period
of membership (`participant.period`, the ended ones with their `end`: a member who left
and came back has two), each member a contained PractitionerRole whose practitioner is
named by its IdNat_PS (`urn:oid:1.2.250.1.71.4.2.1`, the VIHF subject id) and whose
organization, when the circle knows it, by its IdNat_Struct (`urn:oid:1.2.250.1.71.4.2.2`).
Roles are TRE_R259 `PCP` (the treating physician) or TRE_R260-HL7RoleClass codes.

Resources are read and written with `fhir.resources` (R4B models: JSON and FHIR XML);
XML input is parsed by `hub.wire.xmlsafe` first. Errors are OperationOutcomes: 400 for a
resource that does not validate (the issue's expression names the element), 401 without
a valid VIHF assertion (as on `/fhir/Patient`), 403 when the access decision refuses
(get-status to read or search, manage-circle to change), 404 for an unknown patient or
id, 405 for other methods; nothing is written when the answer is an error.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, NoReturn
from urllib.parse import urlencode

from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntrySearch, BundleLink
from fhir.resources.R4B.careteam import CareTeam, CareTeamParticipant
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.meta import Meta
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from lxml import etree
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from actors.coordination import records
from actors.coordination.decision import Action
from actors.coordination.gate import Gate
from actors.coordination.records import Actor, CoordinationError
from actors.coordination.service import UNAUTHENTICATED
from actors.coordination.state import TREATING_PHYSICIAN_ROLE, CircleMember
from actors.fhir import format as fhir_format
from actors.fhir import resources, security
from actors.fhir.service import Answer, HttpRequest
from hub.store import Store
from hub.store.models.identity import IdentityDomain, IdentityIdentifier
from hub.wire import xmlsafe
from vihf.principal import PatientId, Principal

log = logging.getLogger(__name__)

# IHE PCC DCTM transactions (coordination.md §5).
UPDATE = "PCC-45"
SEARCH = "PCC-46"
RETRIEVE = "PCC-47"
TRANSACTIONS = (UPDATE, SEARCH, RETRIEVE)

PROFILE = "https://interop.esante.gouv.fr/ig/fhir/cds/StructureDefinition/cds-ihe-careteam"
# participant.role, ValueSet careteam-roles-vs: TRE_R259 `PCP` and every TRE_R260 code.
ROLE_FUNCTION = "https://mos.esante.gouv.fr/NOS/TRE_R259-HL7ParticipationFunction/FHIR/TRE-R259-HL7ParticipationFunction"
ROLE_CLASS = "https://mos.esante.gouv.fr/NOS/TRE_R260-HL7RoleClass/FHIR/TRE-R260-HL7RoleClass"
TREATING_PHYSICIAN_DISPLAY = "Médecin traitant"
# Identifier systems (identity-fr.md §5): IdNat_PS (the VIHF subject id), the raw RPPS
# (IdNat_PS `8` + RPPS), IdNat_Struct (the VIHF structure id).
IDNAT_PS = "urn:oid:1.2.250.1.71.4.2.1"
RPPS = "https://rpps.esante.gouv.fr"
IDNAT_STRUCT = "urn:oid:1.2.250.1.71.4.2.2"
# CareTeam.identifier (1..1 in the profile): the resource's own URN.
IDENTIFIER_SYSTEM = "urn:ietf:rfc:3986"
IDENTIFIER_PREFIX = "urn:tsnhub:careteam:"

_PATIENT_PARAMETERS = frozenset({
    "patient", "patient.identifier", "patient:identifier", "subject", "subject.identifier", "subject:identifier",
})
_CONTROL_PARAMETERS = frozenset({"_format", "_count"})
_OID = re.compile(r"^[0-9]+(\.[0-9]+)+$")
_BASE32 = re.compile(r"^[a-z2-7]+$")
_HL7_DELIMITERS = frozenset("^&~\\|")
_RECORD = re.compile(r"^(?:Patient/)?([0-9]{1,18})$")
MAX_ID = 64


@dataclass(frozen=True)
class CareTeamContext:
    """What the CareTeam handlers need: the store, the access decision, the affinity
    domain (the OID of the patient identifiers the circle is kept by) and how the
    caller's IUA SAML token is verified (None when `/fhir/CareTeam` is open)."""

    store: Store
    gate: Gate
    affinity_domain: str
    authenticate: security.Authenticate | None = None


@dataclass
class CareTeamAnswer(Answer):
    """An answer, with what the audit record says of it: the patient (its key), and why
    the request was refused or else the access decisions taken (`Check.summary()`)."""

    patient: str | None = None
    detail: str | None = None


class _Refused(Exception):
    def __init__(self, answer: CareTeamAnswer) -> None:
        super().__init__(answer.status)
        self.answer = answer


@dataclass
class _Call:
    ctx: CareTeamContext
    request: HttpRequest
    media: str = fhir_format.JSON
    principal: Principal | None = None
    patient: str | None = None
    access: str | None = None
    refusal: str | None = None
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def actor(self) -> Actor:
        if self.principal is None:
            return Actor(UNAUTHENTICATED)
        return Actor(self.principal.subject_id, (self.principal.structure_id or "").strip() or None)

    def fail(self, status: int, code: str, diagnostics: str, expression: str = "",
             headers: tuple[tuple[str, str], ...] = ()) -> NoReturn:
        self.refusal = diagnostics[:480]
        resource = resources.operation_outcome(code, diagnostics, expression=expression)
        raise _Refused(CareTeamAnswer(status, fhir_format.content_type(self.media),
                                      fhir_format.serialise(resource, self.media), headers))


def handle(ctx: CareTeamContext, request: HttpRequest) -> CareTeamAnswer:
    """Answer one request to `/fhir/CareTeam...` (never raises); the answer names its
    transaction, outcome, caller and patient for the host to record."""
    transaction = RETRIEVE if request.method == "GET" and request.path else SEARCH if request.method == "GET" else UPDATE
    call = _Call(ctx, request)
    try:
        answer = _answer(call, transaction)
        answer.outcome = "success"
    except _Refused as refused:
        answer = refused.answer
        answer.outcome = "refused"
    except Exception:
        log.exception("internal error in /fhir/CareTeam (%s)", transaction)
        outcome = resources.operation_outcome("exception", "internal error; the request was not processed")
        answer = CareTeamAnswer(500, fhir_format.content_type(fhir_format.JSON), fhir_format.serialise(outcome, fhir_format.JSON))
    answer.transaction = transaction
    answer.who = getattr(call.principal, "audit_who", None) if call.principal is not None else None
    answer.patient = call.patient
    answer.detail = call.refusal or call.access
    return answer


def _answer(call: _Call, transaction: str) -> CareTeamAnswer:
    request = call.request
    writes = request.method in ("POST", "PUT") and bool(request.body)
    format_parameter = next((value for name, value in request.parameters if name == "_format"), None)
    try:
        # Unless _format or Accept names a FHIR format, a write is answered in the one it came in.
        accept = ",".join(part for part in (request.accept, request.content_type if writes else "") if part)
        call.media = fhir_format.negotiate(format_parameter, accept)
    except fhir_format.NotAcceptable as exc:
        call.fail(406, "not-supported", f"_format {exc} is not supported")
    allowed = "GET, PUT" if request.path else "GET, POST"
    if request.method not in ("GET", "POST", "PUT") or len(request.path) > 1:
        if len(request.path) > 1:
            call.fail(404, "not-found", "no such resource (history and operations are not supported)")
        call.fail(405, "not-supported", f"{request.method} is not supported here: {allowed}", headers=(("Allow", allowed),))
    if request.method != "GET" and (request.method == "POST") == bool(request.path):
        call.fail(405, "not-supported", f"{request.method} is not supported here: {allowed}", headers=(("Allow", allowed),))
    try:
        call.principal = security.principal(call.ctx.authenticate, request.authorization, transaction)
    except security.Unauthenticated as exc:
        call.fail(exc.status, exc.code, exc.diagnostics, headers=(("WWW-Authenticate", "SAML"),) if exc.status == 401 else ())
    if request.method == "GET":
        return _search(call) if not request.path else _read(call, request.path[0])
    return _write(call, request.path[0] if request.path else None)


# -- ids --------------------------------------------------------------------------------------

def careteam_id(key: str) -> str | None:
    """The CareTeam id of a patient key (`id^^^&OID&ISO`): `<OID>-<base32 of id>`, None
    when it would be longer than a FHIR id may be (or the authority is no OID)."""
    patient = PatientId.parse(key)
    encoded = base64.b32encode(patient.id.encode("utf-8")).decode("ascii").rstrip("=").lower()
    resource_id = f"{patient.assigning_authority}-{encoded}"
    return resource_id if len(resource_id) <= MAX_ID and _OID.match(patient.assigning_authority) else None


def patient_of(resource_id: str) -> str | None:
    """The patient key a CareTeam id names, None when it names none."""
    oid, _, encoded = resource_id.partition("-")
    if not _OID.match(oid) or not _BASE32.match(encoded):
        return None
    try:
        value = base64.b32decode(encoded.upper() + "=" * (-len(encoded) % 8)).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if not value or any(ch in _HL7_DELIMITERS for ch in value):
        return None
    try:
        key = records.patient_key(f"{value}^^^&{oid}&ISO")
    except CoordinationError:
        return None
    return key if careteam_id(key) == resource_id else None


# -- the patient and the access decision ------------------------------------------------------

@dataclass(frozen=True)
class _Subject:
    key: str | None = None
    record: int | None = None


def _record_key(session: Session, record: int, affinity_domain: str) -> str | None:
    """The key of the patient record a `Patient/<id>` reference names (its identifier in
    the affinity domain)."""
    value = session.scalar(
        select(IdentityIdentifier.value)
        .join(IdentityDomain, IdentityDomain.id == IdentityIdentifier.domain_id)
        .where(IdentityIdentifier.patient_id == record, IdentityDomain.universal_id == affinity_domain,
               IdentityIdentifier.active.is_(True))
    )
    return None if value is None else records.patient_key(f"{value}^^^&{affinity_domain}&ISO")


def _enter(call: _Call, session: Session, key: str, action: Action, expression: str = "") -> records.KnownPatient:
    """The patient, after checking that the hub knows them (404) and that the decision
    allows `action` (403)."""
    patient = records.known_patient(session, key)
    if patient is None:
        call.fail(404, "not-found", "unknown patient", expression)
    call.patient = key
    check = call.ctx.gate.check(session, call.principal, call.now)
    decision = check.decide(action, key)
    call.access = check.summary()
    if decision is not None and not decision.allowed:
        call.fail(403, "forbidden", f"not authorised ({decision.rule}): {decision.reason}")
    return patient


# -- reading ----------------------------------------------------------------------------------

def _search(call: _Call) -> CareTeamAnswer:
    """PCC-46: the searchset of the patient's CareTeam."""
    criteria: list[tuple[str, str]] = []
    for name, value in call.request.parameters:
        if name in _PATIENT_PARAMETERS:
            criteria.append((name, value))
        elif name not in _CONTROL_PARAMETERS:
            call.fail(400, "not-supported", f"the search parameter {name} is not supported "
                      "(patient=<system>|<value>, or patient.identifier)", name)
    if len(criteria) != 1:
        call.fail(400, "required" if not criteria else "not-supported",
                  "a search names one patient: patient=urn:oid:<OID>|<identifier>", "patient")
    name, token = criteria[0]
    subject = _token_subject(call, name, token)
    with call.ctx.store.transaction() as session:
        key = _resolve(call, session, subject, name)
        patient = _enter(call, session, key, Action.GET_STATUS, name)
        team = _careteam(call, session, patient)
    kept = [(n, v) for n, v in call.request.parameters if n != "_count"]
    bundle = Bundle(
        id=str(uuid.uuid4()),
        meta=Meta(lastUpdated=call.now),
        type="searchset",
        total=1,
        link=[BundleLink(relation="self", url=f"{call.request.base_url}/CareTeam?{urlencode(kept)}")],
        entry=[BundleEntry(fullUrl=f"{call.request.base_url}/CareTeam/{team.id}", resource=team,
                           search=BundleEntrySearch(mode="match"))],
    )
    return _resource_answer(call, 200, bundle)


def _token_subject(call: _Call, name: str, token: str) -> _Subject:
    """The patient of a `system|value` token (a bare value: the affinity domain's), or
    of a reference `Patient/<id>` to a Patient of this hub."""
    if "," in token:
        call.fail(400, "not-supported", f"{name} takes one patient", name)
    reference = _RECORD.match(token.strip()) if token.strip().startswith("Patient/") else None
    if reference is not None:
        return _Subject(record=int(reference.group(1)))
    system, bar, value = token.partition("|")
    if not bar:
        system, value = f"urn:oid:{call.ctx.affinity_domain}", token
    if not value.strip():
        call.fail(400, "invalid", f"{name} takes one identifier: urn:oid:<OID>|<identifier>", name)
    return _Subject(key=_subject_key(call, system.strip(), value.strip(), name))


def _resolve(call: _Call, session: Session, subject: _Subject, expression: str) -> str:
    """The patient key of a subject (a `Patient/<id>` through the identity records), 404
    when the hub knows no such patient, 400 when its CareTeam could have no id."""
    key = subject.key
    if key is None:
        assert subject.record is not None
        key = _record_key(session, subject.record, call.ctx.affinity_domain)
        if key is None:
            call.fail(404, "not-found", f"Patient/{subject.record} has no identifier in the affinity domain", expression)
    if careteam_id(key) is None:
        call.fail(400, "not-supported", f"the patient identifier cannot be written as a CareTeam id (an OID and at most "
                  f"{MAX_ID} characters)", expression)
    return key


def _subject_key(call: _Call, system: str, value: str, expression: str) -> str:
    oid = call.ctx.affinity_domain
    if system != f"urn:oid:{oid}":
        call.fail(400, "not-supported", f"care circles are kept by the affinity domain's identifier (urn:oid:{oid})",
                  expression)
    if any(ch in _HL7_DELIMITERS for ch in value):
        call.fail(400, "invalid", "the patient identifier contains a delimiter (^ & ~ \\ |)", expression)
    try:
        return records.patient_key(f"{value}^^^&{oid}&ISO")
    except CoordinationError as exc:
        call.fail(400, "invalid", f"the patient identifier: {exc.reason}", expression)


def _read(call: _Call, resource_id: str) -> CareTeamAnswer:
    """PCC-47: the CareTeam of this id."""
    key = patient_of(resource_id)
    if key is None:
        call.fail(404, "not-found", f"CareTeam/{resource_id} is not known")
    with call.ctx.store.transaction() as session:
        patient = _enter(call, session, key, Action.GET_STATUS)
        team = _careteam(call, session, patient)
    return _resource_answer(call, 200, team)


def _resource_answer(call: _Call, status: int, resource: Resource, headers: tuple[tuple[str, str], ...] = ()) -> CareTeamAnswer:
    if call.media == fhir_format.XML:
        written: Any = resource.model_dump_xml()
        body = written if isinstance(written, bytes) else str(written).encode("utf-8")
    else:
        body = resource.model_dump_json().encode("utf-8")
    return CareTeamAnswer(status, fhir_format.content_type(call.media), body, headers)


# -- the CareTeam of a circle -----------------------------------------------------------------

def _instant(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


def _role(code: str) -> CodeableConcept:
    if code == TREATING_PHYSICIAN_ROLE:
        return CodeableConcept(coding=[Coding(system=ROLE_FUNCTION, code=code, display=TREATING_PHYSICIAN_DISPLAY)])
    return CodeableConcept(coding=[Coding(system=ROLE_CLASS, code=code)])


def _careteam(call: _Call, session: Session, patient: records.KnownPatient) -> CareTeam:
    """The CareTeam of the patient's circle, every period of membership."""
    periods = records.circle(session, patient.key, call.now, history=True)
    resource_id = careteam_id(patient.key)
    assert resource_id is not None  # checked on entry (`_resolve`, `patient_of`)
    members: dict[tuple[str, str | None], str] = {}
    contained: list[Resource] = []
    participants: list[CareTeamParticipant] = []
    for member in periods:
        who = (member.professional_id, member.structure_id)
        local = members.get(who)
        if local is None:
            local = members[who] = f"m{len(members) + 1}"
            contained.append(PractitionerRole(
                id=local,
                practitioner=Reference(type="Practitioner", identifier=Identifier(system=IDNAT_PS, value=member.professional_id)),
                organization=(Reference(type="Organization", identifier=Identifier(system=IDNAT_STRUCT, value=member.structure_id))
                              if member.structure_id else None),
            ))
        participants.append(CareTeamParticipant(
            role=[_role(member.role)],
            member=Reference(reference=f"#{local}", type="PractitionerRole"),
            period=Period(start=_instant(member.since), end=_instant(member.until) if member.until else None),
        ))
    changes = [m.since for m in periods] + [m.until for m in periods if m.until is not None]
    updated = max(changes) if changes else (patient.created or call.now)
    start = min(m.since for m in periods) if periods else (patient.created or call.now)
    parsed = PatientId.parse(patient.key)
    name = " ".join(part for part in (patient.given, patient.family) if part)
    return CareTeam(
        id=resource_id,
        meta=Meta(versionId=str(1 + len(changes)), lastUpdated=_instant(updated), profile=[PROFILE]),
        contained=contained or None,
        identifier=[Identifier(system=IDENTIFIER_SYSTEM, value=f"{IDENTIFIER_PREFIX}{resource_id}")],
        status="active",
        name=f"Cercle de soins de {name}" if name else "Cercle de soins",
        subject=Reference(
            reference=f"Patient/{patient.record}" if patient.record is not None else None,
            type="Patient",
            identifier=Identifier(system=f"urn:oid:{parsed.assigning_authority}", value=parsed.id),
            display=name or None,
        ),
        period=Period(start=_instant(start)),
        participant=participants or None,
    )


# -- writing ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Member:
    """A member of the circle a resource asks for: participant `index` of the resource."""

    index: int
    professional_id: str
    structure_id: str | None
    role: str


def _error_path(error: Any, root: str) -> str:
    parts = [root]
    for item in error.get("loc", ()):
        if isinstance(item, int):
            parts[-1] += f"[{item}]"
        else:
            name = str(item)
            name = "resourceType" if name == "resource_type" else name
            parts.append(f"_{name[:-5]}" if name.endswith("__ext") else name)
    return ".".join(parts)


def _validation_failure(call: _Call, exc: ValidationError, from_xml: bool) -> NoReturn:
    errors = exc.errors(include_url=False, include_input=False)
    first: Any = errors[0] if errors else {}
    # The XML loader validates each element on its own: its error names the element's type.
    path = _error_path(first, exc.title if from_xml else "CareTeam")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    call.fail(400, "invalid", f"{path}: {first.get('msg', 'invalid')}{more}", path)


def parse_careteam(call: _Call) -> CareTeam:
    """The CareTeam of the request body (JSON, or FHIR XML by its Content-Type), checked
    by the R4B model; 400 naming the element otherwise."""
    body = call.request.body
    if not body.strip():
        call.fail(400, "required", "the body is a CareTeam resource", "CareTeam")
    if "xml" in call.request.content_type.lower():
        try:
            root = xmlsafe.parse(body)
        except xmlsafe.UnsafeXmlError as exc:
            call.fail(400, "invalid", f"the body is not a CareTeam: {exc}", "CareTeam")
        if root.tag != f"{{{fhir_format.FHIR_NS}}}CareTeam":
            call.fail(400, "invalid", "the body is not a FHIR CareTeam resource", "CareTeam")
        try:
            return CareTeam.model_validate_xml(etree.tostring(root), xmlparser=xmlsafe.new_parser())
        except ValidationError as exc:
            _validation_failure(call, exc, from_xml=True)
        except KeyError as exc:
            call.fail(400, "structure", f"unknown element {exc.args[0]!r}" if exc.args else "unknown element", "CareTeam")
        except Exception:  # the XML loader's other refusals (an unknown contained resource ...)
            call.fail(400, "structure", "the body is not a valid CareTeam", "CareTeam")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        call.fail(400, "invalid", "the body is not JSON", "CareTeam")
    if not isinstance(document, dict) or document.get("resourceType") != "CareTeam":
        call.fail(400, "invalid", "the body is not a FHIR CareTeam resource", "CareTeam.resourceType")
    try:
        return CareTeam.model_validate(document)
    except ValidationError as exc:
        _validation_failure(call, exc, from_xml=False)
    except RecursionError:
        call.fail(400, "invalid", "the resource is nested too deep", "CareTeam")
    except Exception:  # the model's other refusals (an unknown contained resource type ...)
        call.fail(400, "structure", "the body is not a valid CareTeam", "CareTeam")


def _identifier_value(identifiers: Sequence[Identifier], systems: dict[str, str]) -> str | None:
    """The value of the first identifier of one of `systems` (system -> prefix)."""
    for identifier in identifiers:
        if identifier.system in systems and identifier.value:
            return systems[identifier.system] + identifier.value.strip()
    return None


def _ended(moment: Any, now: datetime) -> bool | None:
    """Whether a period end has passed (None: it has not come yet)."""
    if isinstance(moment, datetime):
        end = moment
    elif isinstance(moment, date):
        end = datetime(moment.year, moment.month, moment.day, tzinfo=timezone.utc) + timedelta(days=1)
    else:  # a year or a year-month: the end of it
        year, _, month = str(moment).partition("-")
        if month:
            end = datetime(int(year) + int(month) // 12, int(month) % 12 + 1, 1, tzinfo=timezone.utc)
        else:
            end = datetime(int(year) + 1, 1, 1, tzinfo=timezone.utc)
    return True if end <= now else None


def members_of(call: _Call, team: CareTeam) -> list[Member]:
    """The current members a CareTeam asks for: its participants whose period has not
    ended, each a health professional named by IdNat_PS (or RPPS) with a role of the
    volet's value set."""
    contained = {r.id: r for r in team.contained or [] if r.id}
    wanted: list[Member] = []
    seen: dict[str, int] = {}
    for index, participant in enumerate(team.participant or []):
        where = f"CareTeam.participant[{index}]"
        if participant.period is not None and participant.period.end is not None:
            if _ended(participant.period.end, call.now):
                continue  # a past membership: the circle's history, kept as it is
            call.fail(400, "not-supported", "a membership ends when the member is removed: an end to come is not kept",
                      f"{where}.period.end")
        professional, structure = _member(call, participant, contained, where)
        role = _role_code(call, participant, where)
        if professional in seen:
            call.fail(400, "invalid", f"the professional is already participant[{seen[professional]}] of the circle",
                      f"{where}.member")
        seen[professional] = index
        wanted.append(Member(index, professional, structure, role))
    return wanted


def _member(call: _Call, participant: CareTeamParticipant, contained: dict[str, Resource], where: str) -> tuple[str, str | None]:
    """(professional id, structure id) of a participant: a contained PractitionerRole or
    Practitioner, or a reference by identifier; the structure from the PractitionerRole's
    organization or the participant's onBehalfOf."""
    member = participant.member
    if member is None:
        call.fail(400, "required", "a participant names its member", f"{where}.member")
    professional: str | None = None
    structure: str | None = None
    organisation: Reference | None = participant.onBehalfOf
    practitioner_ids = {IDNAT_PS: "", RPPS: "8"}
    if member.reference:
        if not member.reference.startswith("#"):
            call.fail(400, "not-supported", "the member is a contained PractitionerRole or Practitioner, or a reference "
                      f"by identifier ({IDNAT_PS}): this hub keeps no Practitioner resources", f"{where}.member")
        target = contained.get(member.reference[1:])
        if isinstance(target, PractitionerRole):
            named = target.practitioner
            if named is not None and named.reference and named.reference.startswith("#"):
                inner = contained.get(named.reference[1:])
                if isinstance(inner, Practitioner):
                    professional = _identifier_value(inner.identifier or [], practitioner_ids)
            elif named is not None and named.identifier is not None:
                professional = _identifier_value([named.identifier], practitioner_ids)
            organisation = target.organization or organisation
        elif isinstance(target, Practitioner):
            professional = _identifier_value(target.identifier or [], practitioner_ids)
        elif target is None:
            call.fail(400, "invalid", f"no contained resource {member.reference}", f"{where}.member.reference")
        else:
            call.fail(400, "not-supported", "the hub's care circle holds health professionals "
                      "(a PractitionerRole or Practitioner)", f"{where}.member")
    elif member.identifier is not None:
        if member.type not in (None, "Practitioner", "PractitionerRole"):
            call.fail(400, "not-supported", "the hub's care circle holds health professionals", f"{where}.member.type")
        professional = _identifier_value([member.identifier], practitioner_ids)
    if not professional:
        call.fail(400, "required", f"the member's professional is named by an identifier of system {IDNAT_PS} (IdNat_PS)",
                  f"{where}.member")
    if organisation is not None:
        if organisation.identifier is None:
            call.fail(400, "invalid", f"the member's organization is named by an identifier of system {IDNAT_STRUCT}",
                      f"{where}.member")
        structure = _identifier_value([organisation.identifier], {IDNAT_STRUCT: ""})
        if structure is None:
            call.fail(400, "invalid", f"the member's organization is named by an identifier of system {IDNAT_STRUCT}",
                      f"{where}.member")
    return professional, structure


def _role_code(call: _Call, participant: CareTeamParticipant, where: str) -> str:
    for concept in participant.role or []:
        for coding in concept.coding or []:
            if coding.system == ROLE_FUNCTION:
                if coding.code != TREATING_PHYSICIAN_ROLE:
                    call.fail(400, "code-invalid", f"of TRE_R259 only {TREATING_PHYSICIAN_ROLE} is a circle role",
                              f"{where}.role")
                return TREATING_PHYSICIAN_ROLE
            if coding.system == ROLE_CLASS and coding.code:
                return coding.code
    call.fail(400, "required", "a participant's role is a code of TRE_R259 (PCP) or TRE_R260-HL7RoleClass",
              f"{where}.role")


def subject_of(call: _Call, team: CareTeam) -> _Subject:
    """The patient a CareTeam is about: `subject.identifier` in the affinity domain, or
    a reference to a Patient of this hub (`Patient/<id>`)."""
    subject = team.subject
    if subject is None:
        call.fail(400, "required", "a CareTeam has a subject (the patient)", "CareTeam.subject")
    if subject.identifier is not None:
        identifier = subject.identifier
        if not identifier.value:
            call.fail(400, "required", "the subject's identifier has a value", "CareTeam.subject.identifier.value")
        return _Subject(key=_subject_key(call, (identifier.system or "").strip(), identifier.value.strip(),
                                         "CareTeam.subject.identifier"))
    found = _RECORD.match(subject.reference or "")
    if found is None:
        call.fail(400, "invalid", "the subject is the patient's identifier in the affinity domain, or Patient/<id>",
                  "CareTeam.subject")
    return _Subject(record=int(found.group(1)))


def _write(call: _Call, resource_id: str | None) -> CareTeamAnswer:
    """PCC-45: the circle set to the resource's participants (create and update)."""
    key_of_id: str | None = None
    if resource_id is not None:
        key_of_id = patient_of(resource_id)
        if key_of_id is None:
            call.fail(404, "not-found", f"CareTeam/{resource_id} is not known")
    team = parse_careteam(call)
    if resource_id is not None and team.id != resource_id:
        call.fail(400, "invalid", "the resource's id is the id of the URL", "CareTeam.id")
    if team.status != "active":
        call.fail(400, "not-supported" if team.status else "required", "the hub keeps active care circles: status is active",
                  "CareTeam.status")
    subject = subject_of(call, team)
    wanted = members_of(call, team)
    with call.ctx.store.transaction() as session:
        key = _resolve(call, session, subject, "CareTeam.subject")
        if key_of_id is not None and key != key_of_id:
            call.fail(400, "invalid", "the subject is not the patient of this CareTeam", "CareTeam.subject")
        patient = _enter(call, session, key, Action.MANAGE_CIRCLE, "CareTeam.subject")
        _apply(call, session, key, wanted)
        result = _careteam(call, session, patient)
    assert result.id is not None
    if resource_id is None:
        location = f"{call.request.base_url}/CareTeam/{result.id}"
        return _resource_answer(call, 201, result, (("Location", location), *_etag(result)))
    return _resource_answer(call, 200, result, _etag(result))


def _etag(team: CareTeam) -> tuple[tuple[str, str], ...]:
    version = team.meta.versionId if team.meta is not None else None
    return (("ETag", f'W/"{version}"'),) if version else ()


def _apply(call: _Call, session: Session, key: str, wanted: list[Member]) -> None:
    """Remove the current members the resource leaves out or changes, then add those it
    brings (a new role or structure closes the period and opens another)."""
    current: dict[str, CircleMember] = {m.professional_id: m for m in records.circle(session, key, call.now)}
    keep = {m.professional_id for m in wanted
            if m.professional_id in current
            and (current[m.professional_id].structure_id, current[m.professional_id].role) == (m.structure_id, m.role)}
    for professional in current:
        if professional not in keep:
            records.remove_member(session, key, professional, call.actor, call.now)
    for member in wanted:
        if member.professional_id in keep:
            continue
        try:
            records.add_member(session, key, member.professional_id, member.structure_id, member.role, call.actor, call.now)
        except CoordinationError as exc:
            element = {"role": "role", "structureId": "member"}.get(exc.field, "member")
            call.fail(400, "invalid", exc.reason, f"CareTeam.participant[{member.index}].{element}")


__all__ = [
    "RETRIEVE",
    "SEARCH",
    "TRANSACTIONS",
    "UPDATE",
    "CareTeamAnswer",
    "CareTeamContext",
    "Member",
    "careteam_id",
    "handle",
    "members_of",
    "parse_careteam",
    "patient_of",
    "subject_of",
]
