"""The identity core (sans-IO): patient identity feed, merge, identifier change, link and
unlink, with the INS rules of the French referential. Shared by PIX (ITI-8, ITI-44),
PAM (ITI-30) and, later, FHIR; the transports turn messages into `IncomingIdentity`
values and `IdentityError`s into their own error vocabulary.

Every function works inside the caller's database transaction and raises before writing
anything when the input is refused, so that a refused message leaves no partial write.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from hub.wire import hl7v2
from hub.store.base import table
from hub.store.models.identity import (
    Encounter,
    IdentityDomain,
    IdentityHistory,
    IdentityIdentifier,
    IdentityMatchCandidate,
    IdentityPatient,
    IdentityPerson,
)

from actors.identity import ins, matching
from actors.identity.events import IdentifierChanged, PatientComplements, PatientsLinked, PatientsMerged, publish
from actors.identity.model import Cx, Hd, IdentityStatus, Traits, normalise

# The core reports its refusals in the vocabulary of HL7 table 0357 (`hub.wire.hl7v2.ERR_*`).

# The empty-string marker PAM-FR sends in CX-1 to remove an INS (A47).
DELETE_MARKER = '""'


@dataclass(frozen=True)
class Location:
    """Where an error lies: segment, its sequence, field, repetition, component (HL7
    numbering; 0 = not given). v3 and FHIR transports map it to their own paths."""

    segment: str
    sequence: int = 1
    field: int = 0
    repetition: int = 0
    component: int = 0


class IdentityError(Exception):
    """A refusal of the identity core: table 0357 code, location, human message."""

    def __init__(self, code: str, location: Location | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.location = location
        self.message = message


@dataclass
class Policy:
    """Configured domains and EMPI thresholds ([identity] of hub.toml)."""

    affinity_domain: str = ins.OID_INS_NIR
    accepted_domains: tuple[str, ...] = ()
    auto_link_threshold: float = 0.97
    review_threshold: float = 0.5

    def accepts(self, hd: Hd, row: DomainRef | None = None) -> bool:
        """Whether identifiers of this assigning authority are accepted: the affinity
        domain, the INS authorities, the configured ones (by OID or namespace), or any
        when `accepted_domains` holds `*`."""
        if "*" in self.accepted_domains:
            return True
        allowed = {self.affinity_domain, *ins.INS_OIDS, *self.accepted_domains}
        names = {hd.universal_id, hd.namespace}
        if row is not None:
            names |= {row.universal_id, row.namespace}
        names.discard("")
        return bool(names & allowed)

    def configured(self, hd: Hd) -> bool:
        """Named in the configuration (affinity domain, INS authorities, accepted list)."""
        allowed = {self.affinity_domain, *ins.INS_OIDS, *self.accepted_domains}
        return bool(({hd.universal_id, hd.namespace} - {""}) & allowed)

    def knows(self, hd: Hd, row: DomainRef | None) -> bool:
        """A domain a query may name: accepted, and configured or already holding
        identifiers (with `*`, only the domains seen so far are known)."""
        return self.accepts(hd, row) and (row is not None or self.configured(hd))


@dataclass(frozen=True)
class Complements:
    """What the PAM-FR complements of a feed say for the coordination layer (published as
    `events.PatientComplements`): ZFA-11 `opposition`, ZFA-9 `feeding`, the treating
    physicians of ROL `ODRP` (and those a ROL `DE` deletes), PD1-12 `protected`."""

    opposition: str = ""
    feeding: str = ""
    treating_physicians: tuple[str, ...] = ()
    former_treating_physicians: tuple[str, ...] = ()
    protected: bool | None = None

    def __bool__(self) -> bool:
        return bool(self.opposition or self.feeding or self.treating_physicians or self.former_treating_physicians
                    or self.protected is not None)


@dataclass
class IncomingIdentity:
    """One patient as a message states it: identifiers (with the location of each, e.g.
    PID-3 repetitions), traits, PID-32 reliability codes, complements (ZFA, ZFD ...) as
    raw fields in `details` and, read, in `complements`."""

    identifiers: list[Cx]
    traits: Traits
    reliability_codes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    complements: Complements = Complements()
    source: str = ""
    segment: str = "PID"
    sequence: int = 1
    identifier_field: int = 3


@dataclass
class Context:
    """What one transaction needs besides its session: policy, clock, message id, and
    the domains it created (cached by the caller once the transaction commits)."""

    policy: Policy
    now: datetime
    message_id: str = ""
    created_domains: list[DomainRef] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    review: list[tuple[int, float]] = field(default_factory=list)
    # Persons whose cross-references changed (ITI-10): by a feed, or by a merge, link or
    # unlink (`xref_forced`, notified even with a single identifier left).
    xref_changed: set[int] = field(default_factory=set)
    xref_forced: set[int] = field(default_factory=set)
    notifications: int = 0

    def publish(self, session: Session, event: Any) -> None:
        self.events.append(event)
        publish(session, event, self.now)


@dataclass
class FeedResult:
    patient_id: int
    person_id: int
    created: bool
    status: IdentityStatus


# -- assigning authorities ------------------------------------------------------------------

@dataclass(frozen=True)
class DomainRef:
    """A stored assigning authority, detached from any session."""

    id: int
    namespace: str
    universal_id: str
    universal_id_type: str

    @property
    def hd(self) -> Hd:
        return Hd(self.namespace, self.universal_id, self.universal_id_type)


class DomainCache:
    """Process-wide cache of assigning authorities (never deleted, so safe to share);
    filled only from committed rows."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], DomainRef] = {}
        self._by_id: dict[int, DomainRef] = {}

    def get(self, hd: Hd) -> DomainRef | None:
        return self._by_key.get((hd.namespace, hd.universal_id))

    def remember(self, hd: Hd, ref: DomainRef) -> None:
        self._by_key[(hd.namespace, hd.universal_id)] = ref
        self._by_id[ref.id] = ref

    def hd(self, domain_id: int) -> Hd | None:
        found = self._by_id.get(domain_id)
        return found.hd if found else None

    def clear(self) -> None:
        self._by_key.clear()
        self._by_id.clear()


domain_cache = DomainCache()

_DOMAIN_COLUMNS = (IdentityDomain.id, IdentityDomain.namespace, IdentityDomain.universal_id, IdentityDomain.universal_id_type)


def _first_domain(session: Session, *conditions: Any) -> DomainRef | None:
    row = session.execute(select(*_DOMAIN_COLUMNS).where(*conditions).order_by(IdentityDomain.id).limit(1)).first()
    return DomainRef(*row) if row is not None else None


def find_domain(session: Session, hd: Hd) -> DomainRef | None:
    """The stored assigning authority an HD designates: by universal id when given,
    else by namespace."""
    cached = domain_cache.get(hd)
    if cached is not None:
        return cached
    ref: DomainRef | None = None
    if hd.universal_id:
        ref = _first_domain(session, IdentityDomain.universal_id == hd.universal_id)
        if ref is None and hd.namespace:
            ref = _first_domain(session, IdentityDomain.namespace == hd.namespace, IdentityDomain.universal_id == "")
    elif hd.namespace:
        ref = _first_domain(session, IdentityDomain.namespace == hd.namespace)
    # The first domain (by id) of a universal id stays the first: domains are never
    # deleted. An HD naming only the universal id (as XDS patient ids do) is cached too.
    if ref is not None and ref.universal_id == hd.universal_id and (ref.namespace == hd.namespace or not hd.namespace):
        domain_cache.remember(hd, ref)
    return ref


def resolve_domain(session: Session, ctx: Context, hd: Hd, location: Location) -> DomainRef:
    """The domain of an incoming identifier, created on first use when the policy
    accepts it; an authority the hub does not accept is `204 Unknown key identifier`."""
    if not hd:
        raise IdentityError(hl7v2.ERR_REQUIRED_FIELD_MISSING, location, "the identifier has no assigning authority (CX-4)")
    ref = find_domain(session, hd)
    if not ctx.policy.accepts(hd, ref):
        raise IdentityError(hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER, location, f"assigning authority {hd.key} is not accepted by this PIX manager")
    if ref is None:
        new_id = _new_id(session.connection().execute(
            insert(IdentityDomain).values(namespace=hd.namespace, universal_id=hd.universal_id, universal_id_type=hd.universal_id_type)
        ))
        ref = DomainRef(int(new_id), hd.namespace, hd.universal_id, hd.universal_id_type)
        ctx.created_domains.append(ref)
    elif (hd.universal_id and not ref.universal_id) or (hd.namespace and not ref.namespace):
        # A domain first seen by one name only learns the other.
        ref = DomainRef(ref.id, ref.namespace or hd.namespace, ref.universal_id or hd.universal_id,
                        ref.universal_id_type or hd.universal_id_type)
        session.execute(update(IdentityDomain).where(IdentityDomain.id == ref.id).values(
            namespace=ref.namespace, universal_id=ref.universal_id, universal_id_type=ref.universal_id_type))
    return ref


def domain_hd(session: Session, domain_id: int) -> Hd:
    cached = domain_cache.hd(domain_id)
    if cached is not None:
        return cached
    ref = _first_domain(session, IdentityDomain.id == domain_id)
    assert ref is not None
    domain_cache.remember(ref.hd, ref)
    return ref.hd


# -- INS rules ------------------------------------------------------------------------------

@dataclass
class Screened:
    """Identifiers kept after the INS rules, the resulting RNIV status, and whether the
    message asks to remove the patient's INS (PAM-FR A47 with `""`)."""

    identifiers: list[tuple[int, Cx]]
    status: IdentityStatus
    remove_ins: bool = False


def screen(incoming: IncomingIdentity) -> Screened:
    """Apply the INS rules (spec/identity-fr.md §1.3, §2.3): a CX claimed as INS must
    carry an INS authority and a valid key, else the message is refused (102/103); the
    INS is kept only when PID-32 says VALI (then the status is QUAL), and never with the
    DOUT/FICT attributes; given both an INS-NIA and an INS-NIR, the NIR is kept."""
    codes = {c.upper() for c in incoming.reliability_codes}
    kept: list[tuple[int, Cx]] = []
    ins_ids: list[tuple[int, Cx]] = []
    remove = False
    for rep, cx in enumerate(incoming.identifiers, start=1):
        loc = Location(incoming.segment, incoming.sequence, incoming.identifier_field, rep)
        if not cx.value:
            raise IdentityError(hl7v2.ERR_REQUIRED_FIELD_MISSING, Location(loc.segment, loc.sequence, loc.field, rep, 1), "identifier without ID number (CX-1)")
        hd = cx.authority
        if ins.claims_ins(hd.universal_id, hd.namespace, cx.type_code):
            if hd.universal_id and not ins.is_ins_authority(hd.universal_id):
                raise IdentityError(
                    hl7v2.ERR_TABLE_VALUE_NOT_FOUND, Location(loc.segment, loc.sequence, loc.field, rep, 4),
                    f"{hd.universal_id} is not an INS assigning authority",
                )
            if not hd.universal_id:
                raise IdentityError(
                    hl7v2.ERR_REQUIRED_FIELD_MISSING, Location(loc.segment, loc.sequence, loc.field, rep, 4),
                    "an INS needs the OID of its assigning authority",
                )
            if cx.value == DELETE_MARKER:
                remove = True
                continue
            try:
                ins.check(cx.value)
            except ins.InsError as exc:
                raise IdentityError(hl7v2.ERR_DATA_TYPE, Location(loc.segment, loc.sequence, loc.field, rep, 1), str(exc)) from exc
            ins_ids.append((rep, cx))
            continue
        if hd.universal_id == ins.OID_INS_NIR and cx.type_code == ins.TYPE_BILLING_NIR:
            continue  # billing NIR (NH): the beneficiary's, not an identity of this patient
        kept.append((rep, cx))
    qualified = "VALI" in codes and not codes & {"DOUT", "FICT"}
    if qualified and ins_ids:
        nir = [(r, c) for r, c in ins_ids if c.authority.universal_id != ins.OID_INS_NIA]
        kept.extend(nir or ins_ids)
        status = IdentityStatus.QUAL
    elif qualified:
        status = IdentityStatus.VALI
    else:
        status = IdentityStatus.PROV
    kept.sort(key=lambda item: item[0])
    return Screened(kept, status, remove)


# -- records ----------------------------------------------------------------------------------

def trait_values(traits: Traits, status: IdentityStatus, incoming: IncomingIdentity, now: datetime) -> dict[str, Any]:
    """Column values of `identity_patient` for the traits of one feed."""
    birth = traits.birth_name
    used = traits.used_name
    home = next((a for a in traits.addresses if a.use != "BDL"), None)
    values: dict[str, Any] = {
        "family_name": birth.family,
        "family_norm": normalise(birth.family),
        "given_name": birth.given,
        "given_names": birth.further_given,
        "given_norm": normalise(birth.given),
        "prefix": birth.prefix,
        "used_family_name": used.family if used else "",
        "used_family_norm": normalise(used.family) if used and used.family else "",
        "used_given_name": used.given if used else "",
        "birth_date": traits.birth_date[:8],
        "sex": traits.sex[:1],
        "birthplace_code": traits.birthplace_code,
        "birthplace_city": traits.birthplace_city,
        "birthplace_postal_code": traits.birthplace_postal_code,
        "birthplace_country": traits.birthplace_country,
        "street": home.street if home else "",
        "city": home.city if home else "",
        "city_norm": normalise(home.city) if home else "",
        "postal_code": home.postal_code if home else "",
        "country": home.country if home else "",
        "phone": traits.phone,
        "mother_maiden_name": traits.mother_maiden_name,
        "status": status.value,
        "reliability_codes": ",".join(incoming.reliability_codes),
        "source": incoming.source,
        "updated_at": now,
    }
    if incoming.details:
        values["details"] = json.dumps(incoming.details, ensure_ascii=False)
    return values


def _history(session: Session, ctx: Context, kind: str, patient_id: int, other: int | None, detail: str) -> None:
    session.add(IdentityHistory(at=ctx.now, kind=kind, patient_id=patient_id, other_patient_id=other, detail=detail, message_id=ctx.message_id))


def identifiers_of(session: Session, patient_id: int, active_only: bool = True) -> list[Cx]:
    query = select(IdentityIdentifier).where(IdentityIdentifier.patient_id == patient_id)
    if active_only:
        query = query.where(IdentityIdentifier.active.is_(True))
    return [Cx(row.value, domain_hd(session, row.domain_id), row.type_code) for row in session.scalars(query.order_by(IdentityIdentifier.id))]


def find_identifier(session: Session, hd: Hd, value: str) -> IdentityIdentifier | None:
    domain = find_domain(session, hd)
    if domain is None:
        return None
    return session.scalars(
        select(IdentityIdentifier).where(IdentityIdentifier.domain_id == domain.id, IdentityIdentifier.value == value)
    ).first()


# Table-level statements of the feed's hot path, compiled once (the ORM unit of work and
# per-call `.values()` cost more than the SQL itself here).
_PATIENT: Table = table(IdentityPatient)
_IDENTIFIER: Table = table(IdentityIdentifier)
_PERSON: Table = table(IdentityPerson)
_INSERT_PERSON = _PERSON.insert()
_INSERT_PATIENT = _PATIENT.insert()
_INSERT_IDENTIFIER = _IDENTIFIER.insert()
_UPDATE_PATIENT = _PATIENT.update().where(_PATIENT.c.id == bindparam("patient_key"))
_SELECT_IDENTIFIER = select(_IDENTIFIER.c.id, _IDENTIFIER.c.patient_id, _IDENTIFIER.c.active).where(
    _IDENTIFIER.c.domain_id == bindparam("domain_key"), _IDENTIFIER.c.value == bindparam("value_key")
)
_SELECT_STORED = select(_PATIENT.c.status, _PATIENT.c.source, _PATIENT.c.person_id).where(_PATIENT.c.id == bindparam("patient_key"))


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def feed(session: Session, ctx: Context, incoming: IncomingIdentity) -> FeedResult:
    """Create or update the patient an identity feed describes (ITI-8 A01/A04/A05/A08,
    ITI-30 A28/A31): identifiers already known select the record; the others are added
    to it. A new record is matched against known persons (EMPI) before getting a person
    of its own."""
    screened = screen(incoming)
    if not screened.identifiers and not screened.remove_ins:
        raise IdentityError(
            hl7v2.ERR_REQUIRED_FIELD_MISSING, Location(incoming.segment, incoming.sequence, incoming.identifier_field),
            "no patient identifier (PID-3) this manager can keep",
        )
    connection = session.connection()
    resolved: list[tuple[int, Cx, DomainRef, Any]] = []
    for rep, cx in screened.identifiers:
        loc = Location(incoming.segment, incoming.sequence, incoming.identifier_field, rep, 4)
        domain = resolve_domain(session, ctx, cx.authority, loc)
        row = connection.execute(_SELECT_IDENTIFIER, {"domain_key": domain.id, "value_key": cx.value}).first()
        resolved.append((rep, cx, domain, row))
    owners: list[int] = []
    for rep, cx, _domain, row in resolved:
        if row is not None and row.patient_id not in owners:
            if owners:
                raise IdentityError(
                    hl7v2.ERR_DUPLICATE_KEY_IDENTIFIER, Location(incoming.segment, incoming.sequence, incoming.identifier_field, rep, 1),
                    f"identifier {cx.value} belongs to another patient than the other identifiers of the message",
                )
            owners.append(row.patient_id)
    created = not owners
    status = screened.status
    if created:
        values = trait_values(incoming.traits, screened.status, incoming, ctx.now)
        empi_traits = matching.traits_of(values, _qualified_ins(screened))
        person_id = match_person(session, ctx, empi_traits, [domain.id for _r, _c, domain, _row in resolved])
        if person_id is None:
            person_id = _new_id(connection.execute(_INSERT_PERSON, {"created_at": ctx.now}))
        values.setdefault("details", "{}")
        patient_id = _new_id(connection.execute(
            _INSERT_PATIENT, {"person_id": person_id, "active": True, "merged_into_id": None, "created_at": ctx.now, **values}
        ))
        matching.store_keys(connection, patient_id, empi_traits)
        for candidate, score in ctx.review:
            session.execute(insert(IdentityMatchCandidate).values(
                patient_id=patient_id, candidate_person_id=candidate, score=score, status="pending", created_at=ctx.now))
        ctx.review.clear()
    else:
        patient_id = owners[0]
        stored = connection.execute(_SELECT_STORED, {"patient_key": patient_id}).one()
        person_id = stored.person_id
        if screened.status.rank >= IdentityStatus(stored.status).rank or incoming.source == stored.source:
            values = trait_values(incoming.traits, screened.status, incoming, ctx.now)
            connection.execute(_UPDATE_PATIENT, {"patient_key": patient_id, **values})
            matching.store_keys(connection, patient_id, matching.traits_of(values, _qualified_ins(screened)), replace=True)
        else:
            status = IdentityStatus(stored.status)
    new_identifiers = []
    for _rep, cx, domain, row in resolved:
        if row is None:
            if not created:
                _replace_same_domain_ins(session, ctx, patient_id, domain, cx)
            new_identifiers.append(
                {"domain_id": domain.id, "value": cx.value, "patient_id": patient_id, "type_code": cx.type_code, "active": True}
            )
        elif not row.active:
            session.execute(update(IdentityIdentifier).where(IdentityIdentifier.id == row.id).values(active=True))
    if new_identifiers:
        connection.execute(_INSERT_IDENTIFIER, new_identifiers)
        ctx.xref_changed.add(person_id)
    if screened.remove_ins:
        status = remove_ins(session, ctx, patient_id) or status
        ctx.xref_forced.add(person_id)
    if incoming.complements:
        _publish_complements(session, ctx, patient_id, incoming)
    return FeedResult(patient_id, person_id, created, status)


def _publish_complements(session: Session, ctx: Context, patient_id: int, incoming: IncomingIdentity) -> None:
    said = incoming.complements
    ctx.publish(session, PatientComplements(
        patient_id=patient_id,
        identifiers=tuple(_affinity_first(identifiers_of(session, patient_id), ctx.policy)),
        opposition=said.opposition,
        feeding=said.feeding,
        treating_physicians=said.treating_physicians,
        protected=said.protected,
        former_treating_physicians=said.former_treating_physicians,
        source=incoming.source,
        at=ctx.now,
    ))


def _qualified_ins(screened: Screened) -> Cx | None:
    if screened.status is not IdentityStatus.QUAL:
        return None
    return next((cx for _rep, cx in screened.identifiers if cx.authority.universal_id in ins.INS_OIDS), None)


def _replace_same_domain_ins(session: Session, ctx: Context, patient_id: int, domain: DomainRef, cx: Cx) -> None:
    """A patient has one INS per INS authority: a new matricule (PAM-FR A31/A47, e.g.
    NIA replaced by NIR, or a new NIR) retires the previous one."""
    if domain.universal_id not in ins.INS_OIDS:
        return
    _delete_ins(session, ctx, patient_id, cx)
    session.flush()


def _delete_ins(session: Session, ctx: Context, patient_id: int, replacement: Cx | None) -> None:
    """Delete every INS (NIR and NIA) of the patient, each with its history line and its
    IdentifierChanged event: replaced by `replacement`, or removed when it is None."""
    ins_domains = select(IdentityDomain.id).where(IdentityDomain.universal_id.in_(ins.INS_OIDS))
    rows = session.scalars(
        select(IdentityIdentifier).where(IdentityIdentifier.patient_id == patient_id, IdentityIdentifier.domain_id.in_(ins_domains))
    ).all()
    for row in rows:
        old = Cx(row.value, domain_hd(session, row.domain_id), row.type_code)
        session.delete(row)
        if replacement is None:
            _history(session, ctx, "ins-removed", patient_id, None, f"{old.value}@{old.authority.key}")
        else:
            _history(session, ctx, "ins-replaced", patient_id, None, f"{old.value}@{old.authority.key} -> {replacement.value}")
        ctx.publish(session, IdentifierChanged(patient_id, old, replacement, ctx.now))


def remove_ins(session: Session, ctx: Context, patient_id: int) -> IdentityStatus:
    """PAM-FR A47 with an empty INS: every INS (NIR and NIA) of the patient is deleted;
    a qualified identity falls back to validated. Returns the resulting status."""
    _delete_ins(session, ctx, patient_id, None)
    stored = session.execute(select(IdentityPatient.status).where(IdentityPatient.id == patient_id)).scalar_one()
    if stored == IdentityStatus.QUAL.value:
        session.execute(update(IdentityPatient).where(IdentityPatient.id == patient_id).values(status=IdentityStatus.VALI.value))
        return IdentityStatus.VALI
    return IdentityStatus(stored)


def _default_authority(cx: Cx, fallback: Hd) -> Cx:
    return cx if cx.authority else Cx(cx.value, fallback, cx.type_code)


def merge(session: Session, ctx: Context, survivor: IncomingIdentity, retired: Sequence[Cx], retired_segment: Location) -> FeedResult:
    """Merge (ITI-8/ITI-30 A40): the patients known under the MRG-1 identifiers are
    merged into the surviving patient of PID-3. Their identifiers move to the survivor
    (those of the retired ids themselves become inactive), their stays follow, history is
    kept, and `PatientsMerged` is published for the XDS registry and coordination."""
    if not retired:
        raise IdentityError(hl7v2.ERR_REQUIRED_FIELD_MISSING, retired_segment, "MRG-1 (prior patient identifier) is required")
    fallback = survivor.identifiers[0].authority if survivor.identifiers else Hd()
    retired_rows: list[tuple[Cx, IdentityIdentifier]] = []
    for rep, cx in enumerate(retired, start=1):
        cx = _default_authority(cx, fallback)
        loc = Location(retired_segment.segment, retired_segment.sequence, retired_segment.field, rep, 4)
        if not cx.value:
            raise IdentityError(hl7v2.ERR_REQUIRED_FIELD_MISSING, Location(loc.segment, loc.sequence, loc.field, rep, 1), "prior identifier without ID number")
        domain = resolve_domain(session, ctx, cx.authority, loc)
        row = session.scalars(
            select(IdentityIdentifier).where(IdentityIdentifier.domain_id == domain.id, IdentityIdentifier.value == cx.value)
        ).first()
        if row is not None:
            retired_rows.append((cx, row))
    # The survivor's own identifiers must not be claimed by the record being retired.
    retired_patients = {row.patient_id for _cx, row in retired_rows}
    kept_ids: list[Cx] = []
    for cx in survivor.identifiers:
        existing = find_identifier(session, cx.authority, cx.value) if cx.authority else None
        if existing is not None and existing.patient_id in retired_patients:
            continue
        kept_ids.append(cx)
    result = feed(session, ctx, dataclasses.replace(survivor, identifiers=kept_ids or survivor.identifiers))
    for cx, row in retired_rows:
        old_id = row.patient_id
        if old_id == result.patient_id:
            row.active = False
            continue
        old = session.get(IdentityPatient, old_id)
        assert old is not None
        survivor_domains = set(session.scalars(
            select(IdentityIdentifier.domain_id).where(
                IdentityIdentifier.patient_id == result.patient_id, IdentityIdentifier.active.is_(True))
        ))
        retired_now: list[Cx] = []
        for ident in session.scalars(select(IdentityIdentifier).where(IdentityIdentifier.patient_id == old_id)).all():
            ident.patient_id = result.patient_id
            # The prior identifier, and any other in a domain where the survivor already
            # has one, stop designating anybody; the others now designate the survivor.
            if ident.active and (ident.id == row.id or ident.domain_id == row.domain_id or ident.domain_id in survivor_domains):
                ident.active = False
                retired_now.append(Cx(ident.value, domain_hd(session, ident.domain_id), ident.type_code))
        old.active = False
        old.merged_into_id = result.patient_id
        old.updated_at = ctx.now
        session.execute(update(Encounter).where(Encounter.patient_id == old_id).values(patient_id=result.patient_id))
        session.execute(
            update(IdentityPatient).where(IdentityPatient.merged_into_id == old_id).values(merged_into_id=result.patient_id)
        )
        session.flush()
        _history(session, ctx, "merge", result.patient_id, old_id, f"{cx.value}@{cx.authority.key}")
        ctx.xref_forced.update({result.person_id, old.person_id})
        ctx.publish(
            session,
            PatientsMerged(
                surviving_patient_id=result.patient_id,
                retired_patient_id=old_id,
                surviving=tuple(_affinity_first(identifiers_of(session, result.patient_id), ctx.policy)),
                retired=tuple(retired_now),
                at=ctx.now,
            ),
        )
    return result


def _affinity_first(ids: Iterable[Cx], policy: Policy) -> list[Cx]:
    return sorted(ids, key=lambda c: c.authority.universal_id != policy.affinity_domain)


def change_identifier(session: Session, ctx: Context, incoming: IncomingIdentity, old: Sequence[Cx], old_location: Location) -> FeedResult:
    """Change of patient identifier (PAM ITI-30 A47): MRG-1 is replaced by the PID-3
    identifier of the same domain; `""` as INS in PID-3 removes the patient's INS. An
    unknown prior identifier makes the message a plain feed of PID-3."""
    if not old:
        raise IdentityError(hl7v2.ERR_REQUIRED_FIELD_MISSING, old_location, "MRG-1 (prior patient identifier) is required")
    fallback = incoming.identifiers[0].authority if incoming.identifiers else Hd()
    target: IdentityIdentifier | None = None
    old_cx = _default_authority(old[0], fallback)
    domain = resolve_domain(session, ctx, old_cx.authority, Location(old_location.segment, old_location.sequence, old_location.field, 1, 4))
    target = session.scalars(
        select(IdentityIdentifier).where(IdentityIdentifier.domain_id == domain.id, IdentityIdentifier.value == old_cx.value)
    ).first()
    if target is None:
        return feed(session, ctx, incoming)
    screened = screen(incoming)
    replacement = next(
        (cx for _rep, cx in screened.identifiers if find_domain(session, cx.authority) == domain or cx.authority == old_cx.authority),
        None,
    )
    patient_id = target.patient_id
    if replacement is not None and replacement.value != old_cx.value:
        clash = find_identifier(session, replacement.authority, replacement.value)
        if clash is not None and clash.patient_id != patient_id:
            raise IdentityError(hl7v2.ERR_DUPLICATE_KEY_IDENTIFIER, Location(incoming.segment, incoming.sequence, incoming.identifier_field, 1, 1),
                                f"identifier {replacement.value} already designates another patient")
        if clash is None:
            session.add(IdentityIdentifier(domain_id=domain.id, value=replacement.value, patient_id=patient_id, type_code=replacement.type_code, active=True))
        target.active = False
        _history(session, ctx, "identifier-changed", patient_id, None, f"{old_cx.value} -> {replacement.value}@{domain.universal_id or domain.namespace}")
        owner = session.get(IdentityPatient, patient_id)
        if owner is not None:
            ctx.xref_forced.add(owner.person_id)
        ctx.publish(session, IdentifierChanged(patient_id, old_cx, replacement, ctx.now))
        session.flush()
    return feed(session, ctx, incoming)


def link(session: Session, ctx: Context, first: IncomingIdentity, second: IncomingIdentity) -> tuple[FeedResult, FeedResult]:
    """Link patient information (ITI-30 A24): both records designate one person."""
    a = feed(session, ctx, first)
    b = feed(session, ctx, second)
    if a.person_id != b.person_id:
        session.execute(update(IdentityPatient).where(IdentityPatient.person_id == b.person_id).values(person_id=a.person_id))
        session.execute(
            update(IdentityMatchCandidate).where(IdentityMatchCandidate.candidate_person_id == b.person_id).values(candidate_person_id=a.person_id)
        )
        session.execute(delete(IdentityPerson).where(IdentityPerson.id == b.person_id))
    _history(session, ctx, "link", a.patient_id, b.patient_id, "")
    ctx.xref_forced.add(a.person_id)
    ctx.publish(session, PatientsLinked(a.patient_id, b.patient_id, True))
    session.flush()
    return a, FeedResult(b.patient_id, a.person_id, b.created, b.status)


def unlink(session: Session, ctx: Context, first: IncomingIdentity, second: IncomingIdentity) -> None:
    """Unlink patient information (ITI-30 A37): the second record gets a person of its own."""
    records: list[IdentityPatient] = []
    for incoming in (first, second):
        row: IdentityIdentifier | None = None
        for rep, cx in enumerate(incoming.identifiers, start=1):
            row = find_identifier(session, cx.authority, cx.value) if cx.authority else None
            if row is not None:
                break
        if row is None:
            raise IdentityError(hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER, Location(incoming.segment, incoming.sequence, incoming.identifier_field, 1, 1),
                                "no known identifier of this patient: nothing to unlink")
        patient = session.get(IdentityPatient, row.patient_id)
        assert patient is not None
        records.append(patient)
    a, b = records
    if a.person_id == b.person_id and a.id != b.id:
        person = IdentityPerson(created_at=ctx.now)
        session.add(person)
        session.flush()
        b.person_id = person.id
    _history(session, ctx, "unlink", a.id, b.id, "")
    ctx.xref_forced.update({a.person_id, b.person_id})
    ctx.publish(session, PatientsLinked(a.id, b.id, False))
    session.flush()


# -- EMPI ---------------------------------------------------------------------------------------

def match_person(session: Session, ctx: Context, traits: Any, domain_ids: Sequence[int]) -> int | None:
    """The person a record from a new domain belongs to, when the EMPI decides "link"
    for the best candidate; a "review" decision queues the pair for the identity
    vigilance cell (`identity_match_candidate`) and the record gets a person of its own."""
    best = matching.best_match(session, traits, domain_ids, ctx.policy.auto_link_threshold, ctx.policy.review_threshold)
    if best is None:
        return None
    if best.decision == "link":
        return best.person_id
    if best.decision == "review":
        ctx.review.append((best.person_id, best.score))
    return None
