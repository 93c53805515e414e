"""The identity query core shared by PIX and PDQ on every transport (ITI-9/ITI-45/ITI-83
by identifier, ITI-21/ITI-47/ITI-78 by traits), with domain filtering and continuation.

Results are persons (cross-reference groups): one result per person, with the traits of
the best matching record and the active identifiers of all the person's records, limited
to the requested domains. An INS is returned only for a qualified identity.

A PDQ is capped against mass extraction (`Limits`, [identity] pdq_min_name_chars and
pdq_max_results), the same way on every transport: `check_breadth` refuses a query too
broad to run, and `search` never pages beyond the query's first `max_results` persons.
"""
from __future__ import annotations

import hashlib
from typing import Any, Protocol
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from hub.config import IdentityConfig
from hub.store.models.identity import Encounter, IdentityIdentifier, IdentityPatient, PdqContinuation

from actors.identity import ins
from actors.identity.core import find_domain, find_identifier, domain_hd
from actors.identity.model import Address, Cx, Hd, IdentityStatus, PersonName, Traits, normalise


class UnknownIdentifier(LookupError):
    """The queried identifier is not known (ITI-9 case 3)."""


class UnknownContinuation(LookupError):
    """A continuation pointer that is unknown, cancelled, or does not belong to the query."""


class QueryTooBroad(ValueError):
    """A PDQ whose parameters would select too many persons: refused before it runs, in
    each transport's vocabulary (ITI-21 AE, ITI-47 AE, ITI-78 400 `too-costly`)."""


@dataclass(frozen=True)
class Limits:
    """Breadth caps of a PDQ ([identity] of hub.toml; the defaults are the configuration's)."""

    min_name_chars: int = IdentityConfig.pdq_min_name_chars
    max_results: int = IdentityConfig.pdq_max_results

    @classmethod
    def from_config(cls, identity_config: Any) -> Limits:
        return cls(int(identity_config.pdq_min_name_chars), int(identity_config.pdq_max_results))


@dataclass
class PatientView:
    """One person found: identifiers (filtered), traits, status of the matched record."""

    person_id: int
    patient_id: int
    identifiers: list[Cx]
    traits: Traits
    status: IdentityStatus
    reliability_codes: list[str] = field(default_factory=list)


# Which of the persons found the caller may be told of: the coordination model's
# decision (patients in protected access or who oppose are withheld from unauthorised
# callers), given by whoever runs the query; None: all of them.
Disclose = Callable[[Session, list[PatientView]], list[PatientView]]


class Disclosure(Protocol):
    """What the identity transactions ask of the coordination model: the `Disclose` of
    a VIHF caller (None: no principal, nothing withheld) or of an MLLP sender."""

    def for_principal(self, principal: Any) -> Disclose | None: ...

    def for_sender(self, sender: str) -> Disclose: ...


@dataclass
class Page:
    results: list[PatientView]
    total_hint: int  # results in this page; more remain when `next_after` is set
    next_after: int | None


@dataclass
class DemographicsQuery:
    """PDQ query parameters (QPD-3 of ITI-21, ITI-47 parameterList, ITI-78 search).
    Names match on the birth or the used name; a trailing `*` asks for a prefix."""

    family: str = ""
    given: str = ""
    birth_date: str = ""
    sex: str = ""
    street: str = ""
    city: str = ""
    postal_code: str = ""
    country: str = ""
    mother_maiden_name: str = ""
    account_number: str = ""
    identifiers: tuple[Cx, ...] = ()
    domains: tuple[Hd, ...] = ()

    def is_empty(self) -> bool:
        return not any(
            [self.family, self.given, self.birth_date, self.sex, self.street, self.city,
             self.postal_code, self.country, self.mother_maiden_name, self.account_number, self.identifiers]
        )

    def key(self) -> str:
        """Canonical form of the query, for checking a continuation belongs to it."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True, default=str).encode()).hexdigest()


def significant_chars(name: str) -> int:
    """Letters and digits of a name as the search compares it (`normalise`): wildcards,
    punctuation and spaces narrow nothing (`-`, `%`, `_`, `.` or `*` alone fold to the
    empty prefix, which every name starts with)."""
    return len(normalise(name).replace(" ", ""))


def check_breadth(query: DemographicsQuery, limits: Limits) -> None:
    """The breadth rule of every PDQ (ITI-21, ITI-47, ITI-78): an identifier (or an
    account number), or a name of at least `min_name_chars` significant characters, or a
    name and the birth date. Sex, birth date, address parts or a wildcard alone would
    hand out the register; raises `QueryTooBroad`."""
    if any(cx.value.strip() for cx in query.identifiers) or query.account_number.strip():
        return
    name = max(significant_chars(n) for n in (query.family, query.given, query.mother_maiden_name))
    if name >= limits.min_name_chars or (name and query.birth_date):
        return
    raise QueryTooBroad(
        f"the query is too broad: it needs an identifier, a name of at least {limits.min_name_chars} "
        "letters or digits, or a name and the birth date"
    )


def _check_domains(session: Session, domains: Sequence[Hd]) -> list[int]:
    """Stored ids of the requested domains; a domain without any identifier yet simply
    matches nothing (whether a domain may be named at all is the transport's policy)."""
    ids: list[int] = []
    for hd in domains:
        row = find_domain(session, hd)
        if row is not None:
            ids.append(row.id)
    return ids


def _filter(session: Session, ids: list[Cx], domains: Sequence[Hd], domain_ids: list[int], status: str) -> list[Cx]:
    qualified = status == IdentityStatus.QUAL.value
    kept: list[Cx] = []
    for cx in ids:
        if cx.authority.universal_id in ins.INS_OIDS and not qualified:
            continue
        if domains:
            row = find_domain(session, cx.authority)
            if row is None or row.id not in domain_ids:
                continue
        kept.append(cx)
    return kept


def person_identifiers(session: Session, person_id: int) -> list[tuple[Cx, str]]:
    """Active identifiers of every active record of a person, with each record's status."""
    rows = session.execute(
        select(IdentityIdentifier.value, IdentityIdentifier.domain_id, IdentityIdentifier.type_code, IdentityPatient.status)
        .join(IdentityPatient, IdentityPatient.id == IdentityIdentifier.patient_id)
        .where(IdentityPatient.person_id == person_id, IdentityPatient.active.is_(True), IdentityIdentifier.active.is_(True))
        .order_by(IdentityPatient.id, IdentityIdentifier.id)
    ).all()
    return [(Cx(value, domain_hd(session, domain_id), type_code), status) for value, domain_id, type_code, status in rows]


def cross_references(session: Session, identifier: Cx, domains: Sequence[Hd] = (),
                     disclose: Disclose | None = None) -> list[Cx]:
    """PIX query (ITI-9/ITI-45/ITI-83): the identifiers of the person designated by
    `identifier`, in the requested domains (all when none is requested). Raises
    `UnknownIdentifier`, also for a patient `disclose` withholds from the caller (the
    answer does not reveal that the patient exists)."""
    domain_ids = _check_domains(session, domains)
    row = find_identifier(session, identifier.authority, identifier.value)
    if row is None or not row.active:
        raise UnknownIdentifier(identifier.value)
    patient = session.get(IdentityPatient, row.patient_id)
    if patient is None or not patient.active:
        raise UnknownIdentifier(identifier.value)
    if disclose is not None:
        view = PatientView(patient.person_id, patient.id, [], _traits(patient), IdentityStatus(patient.status))
        if not disclose(session, [view]):
            raise UnknownIdentifier(identifier.value)
    found: list[Cx] = []
    for cx, status in person_identifiers(session, patient.person_id):
        kept = _filter(session, [cx], domains, domain_ids, status)
        if kept and kept[0] not in found:
            found.append(kept[0])
    return found


def _traits(patient: IdentityPatient) -> Traits:
    names = [PersonName(patient.family_name, patient.given_name, patient.given_names, patient.prefix, "L")]
    if patient.used_family_name or patient.used_given_name:
        names.append(PersonName(patient.used_family_name, patient.used_given_name, "", "", "D"))
    addresses = []
    if patient.street or patient.city or patient.postal_code:
        addresses.append(Address(patient.street, "", patient.city, "", patient.postal_code, patient.country, "H"))
    return Traits(
        names=names, birth_date=patient.birth_date, sex=patient.sex, birthplace_code=patient.birthplace_code,
        birthplace_city=patient.birthplace_city, birthplace_postal_code=patient.birthplace_postal_code,
        birthplace_country=patient.birthplace_country,
        addresses=addresses, phone=patient.phone, mother_maiden_name=patient.mother_maiden_name,
    )


def _name_condition(column_a: Any, column_b: Any, value: str) -> Any:
    prefix = value.endswith("*")
    folded = normalise(value.rstrip("*"))
    if prefix:
        return or_(column_a.startswith(folded), column_b.startswith(folded))
    return or_(column_a == folded, column_b == folded)


# Read in place of a page size longer than nine digits: every transport clamps far below.
_HUGE_QUANTITY = 999_999_999


def quantity(raw: str) -> int | None:
    """A page size as a consumer writes it (RCP-2, initialQuantity, `_count`): a positive
    number in ASCII digits, else None. `str.isdigit` alone would pass `²`, and `int` of
    a 5,000-digit number raises: both must be a refusal of the value, not an error of
    the hub."""
    text = raw.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0")
    if not digits:
        return None
    return int(digits) if len(digits) <= 9 else _HUGE_QUANTITY


def _conditions(session: Session, query: DemographicsQuery) -> list[Any] | None:
    """The WHERE clause of a PDQ on patient records; None when it can match nobody (an
    identifier of an unknown domain)."""
    conditions: list[Any] = [IdentityPatient.active.is_(True)]
    if query.family:
        conditions.append(_name_condition(IdentityPatient.family_norm, IdentityPatient.used_family_norm, query.family))
    if query.given:
        folded = normalise(query.given.rstrip("*"))
        if query.given.endswith("*"):
            conditions.append(IdentityPatient.given_norm.startswith(folded))
        else:
            conditions.append(IdentityPatient.given_norm == folded)
    if query.birth_date:
        conditions.append(IdentityPatient.birth_date == query.birth_date[:8])
    if query.sex:
        conditions.append(IdentityPatient.sex == query.sex[:1].upper())
    if query.city:
        conditions.append(IdentityPatient.city_norm == normalise(query.city))
    if query.postal_code:
        conditions.append(IdentityPatient.postal_code == query.postal_code)
    if query.street:
        conditions.append(IdentityPatient.street == query.street)
    if query.country:
        conditions.append(IdentityPatient.country == query.country)
    if query.mother_maiden_name:
        conditions.append(IdentityPatient.mother_maiden_name == query.mother_maiden_name)
    for ident in query.identifiers:
        owners = select(IdentityIdentifier.patient_id).where(
            IdentityIdentifier.value == ident.value, IdentityIdentifier.active.is_(True)
        )
        if ident.authority:
            domain = find_domain(session, ident.authority)
            if domain is None:
                return None
            owners = owners.where(IdentityIdentifier.domain_id == domain.id)
        conditions.append(IdentityPatient.id.in_(owners))
    if query.account_number:
        conditions.append(IdentityPatient.id.in_(
            select(Encounter.patient_id).where(Encounter.account_number == query.account_number)
        ))
    return conditions


def _page(session: Session, query: DemographicsQuery, conditions: list[Any], limit: int, after_person_id: int,
          disclose: Disclose | None = None) -> Page:
    domain_ids = _check_domains(session, query.domains)
    results: list[PatientView] = []
    cursor = after_person_id
    # Persons are read in order; those without an identifier in the requested domains
    # (or withheld from the caller) are skipped, so read in batches until the page is full.
    while len(results) <= limit:
        batch = session.scalars(
            select(IdentityPatient)
            .where(*conditions, IdentityPatient.person_id > cursor)
            .order_by(IdentityPatient.person_id, IdentityPatient.id)
            .limit(max(limit + 1, 16) * 2)
        ).all()
        if not batch:
            break
        views = _views(session, query, domain_ids, batch)
        cursor = batch[-1].person_id
        shown = disclose(session, views) if disclose is not None and views else views
        for view in shown:
            results.append(view)
            if len(results) > limit:
                break
    more = len(results) > limit
    page = results[:limit]
    return Page(page, len(page), page[-1].person_id if more and page else None)


def _views(session: Session, query: DemographicsQuery, domain_ids: list[int], batch: Sequence[IdentityPatient]) -> list[PatientView]:
    """One view per person of `batch` (its first record), with the identifiers the
    query's domains keep; a person with none of them is left out."""
    views: list[PatientView] = []
    seen: set[int] = set()
    for patient in batch:
        if patient.person_id in seen:
            continue
        seen.add(patient.person_id)
        identifiers: list[Cx] = []
        for cx, status in person_identifiers(session, patient.person_id):
            kept = _filter(session, [cx], query.domains, domain_ids, status)
            if kept and kept[0] not in identifiers:
                identifiers.append(kept[0])
        if query.domains and not identifiers:
            continue
        views.append(
            PatientView(
                patient.person_id, patient.id, identifiers, _traits(patient), IdentityStatus(patient.status),
                [c for c in patient.reliability_codes.split(",") if c],
            )
        )
    return views


def _rank(session: Session, conditions: list[Any], person_id: int) -> int:
    """How many persons the query matches up to `person_id` included."""
    count = session.scalar(
        select(func.count(func.distinct(IdentityPatient.person_id))).where(*conditions, IdentityPatient.person_id <= person_id)
    )
    return int(count or 0)


def search(session: Session, query: DemographicsQuery, limit: int, after_person_id: int = 0,
           limits: Limits = Limits(), disclose: Disclose | None = None) -> Page:
    """PDQ (ITI-21/ITI-47/ITI-78): persons whose records match every given trait, in
    person order, `limit` at a time after `after_person_id`. Persons with no identifier in
    the requested domains are left out.

    The per-query cap of every transport: a query reaches only its first
    `limits.max_results` matching persons (in person order), whatever the page sizes
    asked and however many continuations follow. The position is counted in the store,
    not carried by the consumer's pointer, so nothing the consumer holds can reset it;
    persons the domain filter leaves out count too, so a consumer may get fewer, never
    more."""
    conditions = _conditions(session, query)
    if conditions is None:
        return Page([], 0, None)
    reached = _rank(session, conditions, after_person_id) if after_person_id else 0
    room = limits.max_results - reached
    if room <= 0:
        return Page([], 0, None)
    page = _page(session, query, conditions, min(limit, room), after_person_id, disclose)
    if page.next_after is not None and _rank(session, conditions, page.next_after) >= limits.max_results:
        return Page(page.results, page.total_hint, None)
    return page


# -- continuation ---------------------------------------------------------------------------

CONTINUATION_TTL = timedelta(hours=1)


def save_continuation(session: Session, query_tag: str, requester: str, query: DemographicsQuery, after: int, now: datetime) -> str:
    """Store where the next page starts; the pointer is what DSC-1 (or the v3/FHIR
    equivalent) carries back."""
    pointer = secrets.token_hex(12)
    session.add(PdqContinuation(pointer=pointer, query_tag=query_tag, requester=requester, query_key=query.key(),
                                after_person_id=after, created_at=now))
    return pointer


def take_continuation(session: Session, pointer: str, query_tag: str, query: DemographicsQuery, now: datetime) -> int:
    """Consume a continuation pointer of this query; raises `UnknownContinuation`."""
    row = session.get(PdqContinuation, pointer)
    if row is None or row.query_tag != query_tag or row.query_key != query.key() or row.created_at < now - CONTINUATION_TTL:
        raise UnknownContinuation(pointer)
    after = row.after_person_id
    session.delete(row)
    return after


def cancel(session: Session, query_tag: str, requester: str = "") -> int:
    """Query cancel (QCN^J01, ITI-47 QUQI_IN000003UV01 cancel): drop the pointers of a
    query tag; returns how many there were."""
    statement = delete(PdqContinuation).where(PdqContinuation.query_tag == query_tag)
    if requester:
        statement = statement.where(PdqContinuation.requester == requester)
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]


def purge_expired(session: Session, now: datetime) -> None:
    """Forget the pointers older than `CONTINUATION_TTL` (never continued nor cancelled)."""
    session.execute(delete(PdqContinuation).where(PdqContinuation.created_at < now - CONTINUATION_TTL))


__all__ = [
    "DemographicsQuery", "Limits", "Page", "PatientView", "QueryTooBroad", "UnknownContinuation", "UnknownIdentifier",
    "cancel", "check_breadth", "cross_references", "person_identifiers", "quantity",
    "save_continuation", "search", "significant_chars", "take_continuation",
]

