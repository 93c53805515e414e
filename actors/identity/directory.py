"""What other packages ask the identity manager (the XDS registry first): is a patient
identifier known, and which identifier does a merged one now stand for.

    from actors.identity import directory
    directory.is_known(session, "150093306319996^^^&1.2.250.1.213.1.4.10&ISO")

Merges are announced by `actors.identity.events.PatientsMerged`, published in the
merging transaction; subscribe with `actors.identity.events.subscribe`.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table, and_, bindparam, case, func, literal, null, select
from sqlalchemy.orm import Session

from hub.store.base import table
from hub.store.models.identity import IdentityDomain, IdentityIdentifier, IdentityPatient

from actors.identity import er7, ins
from actors.identity.core import domain_cache, find_domain, find_identifier, identifiers_of
from actors.identity.model import Cx, IdentityStatus


def parse_cx(value: str | Cx) -> Cx:
    """A CX given as ER7 text (`id^^^ns&oid&ISO^type`, as XDS patient ids are) or a `Cx`."""
    return value if isinstance(value, Cx) else er7.parse_cx(value.strip())


def is_known(session: Session, patient_id_cx: str | Cx) -> bool:
    """Whether the identifier designates an active patient (a merged-away or changed
    identifier is no longer known)."""
    query = state_query(session, patient_id_cx)
    if query is None:
        return False
    row = session.execute(*query).first()
    return row is not None and known_from_state(patient_id_cx, row[1], row[2])


_PATIENTS: Table = table(IdentityPatient)
_IDENTIFIERS: Table = table(IdentityIdentifier)
_DOMAINS: Table = table(IdentityDomain)


def state_query(session: Session, patient_id_cx: str | Cx) -> tuple[Select[Any], dict[str, Any]] | None:
    """The state of the identifier as one Core select of four columns — "I", the patient's
    identity status, "Y" when identifier and patient are both active, NULL — and its
    parameters, for the XDS registry to send with its own look-ups; None when the
    identifier cannot designate anyone (no value, or an authority never stored)."""
    cx = parse_cx(patient_id_cx)
    if not cx.value or not cx.authority:
        return None
    cached = domain_cache.get(cx.authority)
    if cached is not None:
        return _STATE_BY_DOMAIN, {"identity_domain": cached.id, "identity_value": cx.value}
    if cx.authority.universal_id and not cx.authority.namespace:
        # Not read yet (or not stored): `find_domain`'s answer for a universal id, its
        # first domain, asked inside the same statement rather than one round trip before.
        return _STATE_BY_UNIVERSAL_ID, {"identity_uid": cx.authority.universal_id, "identity_value": cx.value}
    found = find_domain(session, cx.authority)
    if found is None:
        return None
    return _STATE_BY_DOMAIN, {"identity_domain": found.id, "identity_value": cx.value}


def _state(domain: Any) -> Select[Any]:
    active = case((and_(_IDENTIFIERS.c.active, _PATIENTS.c.active), literal("Y")), else_=literal("N"))
    return (
        select(literal("I"), _PATIENTS.c.status, active, null())
        .join_from(_IDENTIFIERS, _PATIENTS, _PATIENTS.c.id == _IDENTIFIERS.c.patient_id)
        .where(_IDENTIFIERS.c.domain_id == domain, _IDENTIFIERS.c.value == bindparam("identity_value"))
    )


# Built once: the registry asks one of them on every submission.
_STATE_BY_DOMAIN = _state(bindparam("identity_domain"))
_STATE_BY_UNIVERSAL_ID = _state(
    select(func.min(_DOMAINS.c.id)).where(_DOMAINS.c.universal_id == bindparam("identity_uid")).scalar_subquery()
)


def known_from_state(patient_id_cx: str | Cx, status: str | None, active: str | None) -> bool:
    """`is_known` from a row of `state_query`: both active, and an INS designates a patient
    only while the identity is qualified (RNIV)."""
    if active != "Y":
        return False
    cx = parse_cx(patient_id_cx)
    return cx.authority.universal_id not in ins.INS_OIDS or status == IdentityStatus.QUAL.value


def current_identifiers(session: Session, patient_id_cx: str | Cx) -> list[Cx]:
    """The active identifiers of the patient an identifier designates or designated (a
    retired identifier leads to its surviving patient); empty when never known."""
    cx = parse_cx(patient_id_cx)
    row = find_identifier(session, cx.authority, cx.value) if cx.authority else None
    if row is None:
        return []
    patient = session.get(IdentityPatient, row.patient_id)
    while patient is not None and not patient.active and patient.merged_into_id is not None:
        patient = session.get(IdentityPatient, patient.merged_into_id)
    return identifiers_of(session, patient.id) if patient is not None else []
