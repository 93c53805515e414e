"""Which patient ids the registry accepts (ITI TF-2b 3.42.4.1.3: XDSUnknownPatientId).

`PatientDirectory` is the seam with the identity feed: a DocumentEntry's patientId must
be an identifier of the XDS affinity domain that the Patient Identity Feed made known.
The default directory accepts an id of the configured affinity domain that the identity
manager knows (`actors.identity.directory`) or that is listed in `xds_known_patient`.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import bindparam, literal, null, select
from sqlalchemy.orm import Session

from actors.xds import datatypes as dt
from hub.store.base import table
from hub.store.models.xds import XdsKnownPatient


_KNOWN_TABLE = table(XdsKnownPatient)
_LISTED = select(literal("P"), _KNOWN_TABLE.c.patient_id, null(), null()).where(
    _KNOWN_TABLE.c.patient_id == bindparam("listed_patient")
)


class PatientDirectory(Protocol):
    def is_known(self, patient_id_cx: str) -> bool: ...


class StorePatientDirectory:
    """Patients of the affinity domain known to the store, in the caller's transaction.

    Besides `is_known`, it offers the registry its question as selects (`lookups`) to send
    with the registry's own look-ups in one round trip, and reads the answer from their
    rows (`known_from`)."""

    def __init__(self, session: Session, affinity_domain: str) -> None:
        self.session = session
        self.affinity_domain = affinity_domain

    def is_known(self, patient_id_cx: str) -> bool:
        queries = self.lookups(patient_id_cx)
        rows = [row for statement, params in queries for row in self.session.execute(statement, params)]
        return bool(queries) and self.known_from(patient_id_cx, rows)

    def lookups(self, patient_id_cx: str) -> list[tuple[Any, dict[str, Any]]]:
        """Prebuilt selects of four columns and their parameters (names distinct from the
        registry's): the first column "P" (listed in xds_known_patient) or "I" (the identity
        manager's state); empty when the id cannot be known (not a CX of the affinity domain)."""
        if dt.check_cx(patient_id_cx) or dt.cx_authority(patient_id_cx) != self.affinity_domain:
            return []
        queries: list[tuple[Any, dict[str, Any]]] = [(_LISTED, {"listed_patient": patient_id_cx})]
        directory = _identity_directory()
        if directory is not None:
            identity = directory.state_query(self.session, patient_id_cx)
            if identity is not None:
                queries.append(identity)
        return queries

    def known_from(self, patient_id_cx: str, rows: Sequence[Any]) -> bool:
        """The answer of `lookups`' rows."""
        if any(row[0] == "P" for row in rows):
            return True
        directory = _identity_directory()
        return directory is not None and any(directory.known_from_state(patient_id_cx, row[1], row[2]) for row in rows if row[0] == "I")


def _identity_directory() -> Any:
    try:
        from actors.identity import directory
    except ImportError:
        return None
    return directory


def add_known_patient(session: Session, patient_id_cx: str) -> None:
    """Make a patient id known to the registry (tests, bulk loads, migrations)."""
    if session.get(XdsKnownPatient, patient_id_cx) is None:
        session.add(XdsKnownPatient(patient_id=patient_id_cx))
