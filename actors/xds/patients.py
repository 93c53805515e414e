"""Which patient ids the registry accepts (ITI TF-2b 3.42.4.1.3: XDSUnknownPatientId).

`PatientDirectory` is the seam with the identity feed: a DocumentEntry's patientId must
be an identifier of the XDS affinity domain that the Patient Identity Feed made known.
The default directory accepts an id of the configured affinity domain that the identity
manager knows (`actors.identity.directory`) or that is listed in `xds_known_patient`.
"""
from __future__ import annotations

from typing import Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from actors.xds import datatypes as dt
from hub.store.models.xds import XdsKnownPatient


_KNOWN_TABLE = XdsKnownPatient.__table__
# A Core statement built once (every ITI-41/42/57 asks it).
_KNOWN = select(_KNOWN_TABLE.c.patient_id).where(_KNOWN_TABLE.c.patient_id == bindparam("patient"))


class PatientDirectory(Protocol):
    def is_known(self, patient_id_cx: str) -> bool: ...


class StorePatientDirectory:
    """Patients of the affinity domain known to the store, in the caller's transaction."""

    def __init__(self, session: Session, affinity_domain: str) -> None:
        self.session = session
        self.affinity_domain = affinity_domain

    def is_known(self, patient_id_cx: str) -> bool:
        if dt.check_cx(patient_id_cx) or dt.cx_authority(patient_id_cx) != self.affinity_domain:
            return False
        if self.session.execute(_KNOWN, {"patient": patient_id_cx}).first() is not None:
            return True
        return _identity_knows(self.session, patient_id_cx)


def _identity_knows(session: Session, patient_id_cx: str) -> bool:
    try:
        from actors.identity import directory
    except ImportError:
        return False
    return bool(directory.is_known(session, patient_id_cx))


def add_known_patient(session: Session, patient_id_cx: str) -> None:
    """Make a patient id known to the registry (tests, bulk loads, migrations)."""
    if session.get(XdsKnownPatient, patient_id_cx) is None:
        session.add(XdsKnownPatient(patient_id=patient_id_cx))
