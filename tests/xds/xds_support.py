"""Helpers of the XDS tests: a seeded store and sans-IO calls of the actors."""
from __future__ import annotations

import base64
from collections.abc import Callable

from lxml import etree
from sqlalchemy import func, select

from actors.xds.errors import XdsFailure
from actors.xds.metadata import parse_submission
from actors.xds.patients import StorePatientDirectory, add_known_patient
from actors.xds.registry import RegistrySettings, register
from actors.xds.repository import (
    RepositorySettings,
    parse_provide_and_register,
    provide_and_register,
)
from conformance.xds_metadata import DocumentSpec, submit_objects_request
from conformance.xds_metadata import provide_and_register as pnr_body
from hub.store import Store
from vihf.issue import Signer, issue
from hub.store.models import xds as models

DOMAIN = "1.2.250.1.213.1.4.8"
REPOSITORY = "1.2.250.1.213.1.999.1"
PATIENT = f"1234567890123^^^&{DOMAIN}&ISO"
OTHER_PATIENT = f"2234567890123^^^&{DOMAIN}&ISO"


def seed_patients(store: Store, *patients: str) -> None:
    with store.transaction() as session:
        for patient in patients:
            add_known_patient(session, patient)


def iti41(store: Store, request: etree._Element, documents: list[DocumentSpec]) -> list[tuple[str, str]]:
    """Provide and register `documents` (inline); returns (code, location) of the errors."""
    body, _ = pnr_body(request, documents, mtom=False)
    parsed = parse_provide_and_register(body, lambda e: base64.b64decode(e.text or ""))
    try:
        with store.transaction() as session:
            provide_and_register(session, parsed, StorePatientDirectory(session, DOMAIN), RepositorySettings(REPOSITORY))
    except XdsFailure as failure:
        return [(e.code, e.location) for e in failure.errors]
    return []


def submit(store: Store, patient: str = PATIENT, **kwargs) -> tuple[list[tuple[str, str]], list[DocumentSpec]]:
    documents = kwargs.pop("documents", None) or [DocumentSpec()]
    request = submit_objects_request(patient, documents=documents, **kwargs)
    return iti41(store, request, documents), documents


def iti42(store: Store, request: etree._Element) -> list[tuple[str, str]]:
    try:
        with store.transaction() as session:
            register(session, parse_submission(request), StorePatientDirectory(session, DOMAIN), RegistrySettings())
    except XdsFailure as failure:
        return [(e.code, e.location) for e in failure.errors]
    return []


def counts(store: Store) -> dict[str, int]:
    """Rows of every XDS table (to show that a refused transaction left no trace)."""
    tables = (
        models.XdsDocumentEntry,
        models.XdsSubmissionSet,
        models.XdsFolder,
        models.XdsAssociation,
        models.XdsCode,
        models.XdsAuthor,
        models.XdsReferenceId,
        models.XdsDocument,
    )
    with store.session() as session:
        return {t.__tablename__: session.scalar(select(func.count()).select_from(t)) for t in tables}


def iti57(store: Store, request: etree._Element) -> list[tuple[str, str]]:
    from actors.xds.update import update_document_set

    try:
        with store.transaction() as session:
            update_document_set(session, parse_submission(request), StorePatientDirectory(session, DOMAIN), RegistrySettings())
    except XdsFailure as failure:
        return [(e.code, e.location) for e in failure.errors]
    return []


def assertion_source(signer: Signer, patient: str | None = None) -> Callable[[], etree._Element]:
    """Fresh signed VIHF assertions of a GP (direct mode), about `patient` when given."""
    def fresh() -> etree._Element:
        return issue(
            signer,
            subject_id="899900012347",
            subject_name="MARTIN, Paul, Médecine générale",
            roles=["10", "SM26"],
            structure_id="49990001234701",
            sector="SA07",
            patient=patient,
        )

    return fresh
