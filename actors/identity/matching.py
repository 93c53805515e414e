"""The identity core's use of the EMPI (`actors.empi`): blocking keys kept per patient
record, and the best known person for a record arriving from a new domain.

Candidates are the active records sharing a blocking key with the incoming one, less the
persons already holding an identifier in one of the incoming record's domains (two
records of one domain are the source's duplicates, resolved by its own merge, A40).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, select
from sqlalchemy.orm import Session

from actors import empi
from actors.identity import ins
from actors.identity.model import Cx
from hub.store.base import table
from hub.store.models.identity import IdentityBlockingKey, IdentityDomain, IdentityIdentifier, IdentityPatient

MAX_CANDIDATES = 200

_KEYS: Table = table(IdentityBlockingKey)
_INSERT_KEYS = _KEYS.insert()
_PATIENT: Table = table(IdentityPatient)


@dataclass(frozen=True)
class Match:
    """The EMPI's decision for the best candidate: link, review or new."""

    decision: empi.Decision
    person_id: int
    score: float


@lru_cache(maxsize=8)
def matcher(link: float, review: float) -> empi.Matcher:
    return empi.Matcher(empi.Thresholds(link=link, review=review))


def _birth_date(value: str) -> date | empi.PartialDate | None:
    digits = value[:8]
    try:
        if len(digits) == 8:
            return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
        if len(digits) == 6:
            return empi.PartialDate(int(digits[:4]), int(digits[4:6]))
        if len(digits) == 4:
            return empi.PartialDate(int(digits))
    except ValueError:
        return None
    return None


def traits_of(values: dict[str, Any], ins_cx: Cx | None) -> empi.Traits:
    """EMPI traits from the column values of a patient record and its INS, if any."""
    given = tuple(values.get("given_names", "").split()) or ((values["given_name"],) if values.get("given_name") else ())
    sex = values.get("sex", "")
    return empi.Traits(
        birth_name=values.get("family_name") or None,
        given_names=given,
        birth_date=_birth_date(values.get("birth_date", "")),
        sex=sex if sex in ("M", "F") else "U",
        used_name=values.get("used_family_name") or None,
        birthplace=values.get("birthplace_code") or None,
        ins=ins_cx.value if ins_cx is not None else None,
        ins_type="NIA" if ins_cx is not None and ins_cx.authority.universal_id == ins.OID_INS_NIA else "NIR",
        postal_code=values.get("postal_code") or None,
    )


@lru_cache(maxsize=64)
def keys_of(traits: empi.Traits) -> frozenset[str]:
    """Blocking keys of a record (computed once for the search and the filing)."""
    return empi.blocking_keys(traits)


def store_keys(connection: Connection, patient_id: int, traits: empi.Traits, replace: bool = False) -> None:
    """File a record under its blocking keys (replacing its former keys on update)."""
    if replace:
        connection.execute(delete(_KEYS).where(_KEYS.c.patient_id == patient_id))
    keys = keys_of(traits)
    if keys:
        connection.execute(_INSERT_KEYS, [{"patient_id": patient_id, "key": key[:64]} for key in sorted(keys)])


_CANDIDATES = (
    select(_PATIENT)
    .where(
        _PATIENT.c.active.is_(True),
        _PATIENT.c.id.in_(select(_KEYS.c.patient_id).where(_KEYS.c.key.in_(bindparam("keys", expanding=True)))),
    )
    .limit(MAX_CANDIDATES)
)


def best_match(session: Session, traits: empi.Traits, domain_ids: Sequence[int], link: float, review: float) -> Match | None:
    """The EMPI decision on the best candidate person for a new record, or None when no
    candidate shares a blocking key."""
    keys = keys_of(traits)
    if not keys:
        return None
    connection = session.connection()
    rows = connection.execute(_CANDIDATES, {"keys": sorted(keys)}).mappings().all()
    if not rows:
        return None
    persons = {row["person_id"] for row in rows}
    same_domain = set(connection.execute(
        select(_PATIENT.c.person_id).join(table(IdentityIdentifier), IdentityIdentifier.patient_id == _PATIENT.c.id)
        .where(_PATIENT.c.person_id.in_(persons), IdentityIdentifier.domain_id.in_(list(domain_ids)),
               IdentityIdentifier.active.is_(True))
    ).scalars())
    candidates = [row for row in rows if row["person_id"] not in same_domain]
    if not candidates:
        return None
    ins_by_patient = _ins_of(connection, [row["id"] for row in candidates])
    ranked = matcher(link, review).rank(
        traits, ((row["person_id"], traits_of(dict(row), ins_by_patient.get(row["id"]))) for row in candidates)
    )
    person_id, result = ranked[0]
    return Match(result.decision, int(person_id), result.score)


def _ins_of(connection: Connection, patient_ids: Iterable[int]) -> dict[int, Cx]:
    from actors.identity.model import Hd

    rows = connection.execute(
        select(IdentityIdentifier.patient_id, IdentityIdentifier.value, IdentityDomain.universal_id)
        .join(IdentityDomain, IdentityDomain.id == IdentityIdentifier.domain_id)
        .where(IdentityIdentifier.patient_id.in_(list(patient_ids)), IdentityDomain.universal_id.in_(ins.INS_OIDS),
               IdentityIdentifier.active.is_(True), _PATIENT.c.status == "QUAL")
        .join(_PATIENT, _PATIENT.c.id == IdentityIdentifier.patient_id)
    ).all()
    return {patient_id: Cx(value, Hd("", oid, "ISO"), ins.TYPE_INS) for patient_id, value, oid in rows}
