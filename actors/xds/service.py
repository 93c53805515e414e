"""The handlers behind /xds/registry and /xds/repository (INTERFACES.md), over an
`XdsContext` (the store and the settings) that `actors.xds.binding` builds and
registers with the host.

Each handler parses the body, asks the access policy, runs the actor in one store
transaction and answers in the transaction's vocabulary (RegistryResponse errors).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from collections.abc import Callable
from functools import partial
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from actors.xds import access, identity_feed, query, update, valuesets
from actors.xds import constants as c
from actors.xds.content import cda_gate
from actors.xds.errors import RegistryError, XdsFailure, registry_response
from actors.xds.metadata import Submission, parse_submission
from actors.xds.patients import PatientDirectory, StorePatientDirectory
from actors.xds.registry import RegistrySettings, register
from actors.xds.repository import (
    RepositorySettings,
    parse_provide_and_register,
    parse_retrieve,
    provide_and_register,
    retrieve,
    retrieve_response,
)
from actors.xds.validation import ITI42
from actors.coordination import records
from actors.coordination.gate import Gate
from hub.config import Config, XdsConfig
from hub.store import Store
from hub.wire.soap import SoapRequest, SoapResponse

log = logging.getLogger(__name__)


# Unique indexes that a concurrent transaction can hit after the registry's own checks
# passed (they read before the other committed): what each means in XDS terms.
_CONFLICTS = (
    (("ix_xds_document_entry_unique_id", "xds_document_entry.unique_id"),
     c.XDSDuplicateUniqueIdInRegistry, "a document with this uniqueId was registered meanwhile; nothing was recorded"),
    (("ix_xds_document_entry_lid", "xds_document_entry.lid"),
     c.XDSMetadataVersionError, "the entry was updated by another submission meanwhile; nothing was recorded"),
)


def _store_error(code: str, transaction: str, error: SQLAlchemyError) -> list[RegistryError]:
    """A store failure rolled the transaction back: say so in the transaction's terms.
    Only the error class is logged: the statement parameters hold metadata and content."""
    if isinstance(error, IntegrityError):
        text = str(error.orig)
        for markers, conflict, context in _CONFLICTS:
            if any(marker in text for marker in markers):
                return [RegistryError(conflict, context)]
    log.error("store error (%s) during %s; the transaction was rolled back", type(error).__name__, transaction)
    return [RegistryError(code, "the store could not complete the transaction; nothing was recorded")]


def registry_settings(xds: XdsConfig) -> RegistrySettings:
    """The registry settings of this hub: the value sets file is read here, once."""
    path = xds.value_sets
    return RegistrySettings(valuesets.load(Path(path)) if path else {})


@dataclass(frozen=True)
class XdsContext:
    """What the XDS.b handlers need: the store, the `[xds]` settings, the affinity domain
    of known patients, the registry's settings (value sets read once) and the repository's
    (with the CDA submission gate)."""

    store: Store
    xds: XdsConfig
    affinity_domain: str
    registry: RegistrySettings
    repository: RepositorySettings
    # The coordination model's access decision (None: the assertion alone decides).
    gate: Gate | None = None

    @classmethod
    def from_config(cls, config: Config, store: Store) -> XdsContext:
        """A broken value sets file or gate policy is raised here, when the hub starts."""
        registry = registry_settings(config.xds)
        repository = RepositorySettings(config.xds.repository_unique_id, registry, cda_gate(config.cda))
        gate = Gate.from_config(config.coordination)
        return cls(store, config.xds, config.identity.affinity_domain, registry, repository, gate)

    def patients(self, session: Session) -> PatientDirectory:
        """The registry's view of known patients (see `actors.xds.patients`)."""
        return StorePatientDirectory(session, self.affinity_domain)


def _failure(code: str, context: str, action: str) -> SoapResponse:
    return SoapResponse(registry_response([RegistryError(code, context)]), action)


def _is(element: etree._Element, namespace: str, local: str) -> bool:
    qname = etree.QName(element)
    return bool(qname.namespace == namespace and qname.localname == local)


def _legacy(element: etree._Element) -> bool:
    return etree.QName(element).namespace in (c.EBRS21_RS, c.EBRS21_RIM)


def _refusal(errors: list[RegistryError]) -> str | None:
    """The audit detail of an answer that refuses an unauthorised caller (an update by
    another structure, a submission the patient opposes)."""
    return next((e.context for e in errors if e.context.startswith("not authorised")), None)


def _submit(
    request: SoapRequest, ctx: XdsContext, action: str, transaction: str, work: Callable[[Session, Submission], object]
) -> SoapResponse:
    """The common course of ITI-42 and ITI-57: read the SubmitObjectsRequest, ask the
    access policy, run `work` in one store transaction, answer a RegistryResponse."""
    submission = parse_submission(request.body)
    patient = submission.submission_set.patient_id if submission.submission_set else None
    if patient:
        access.check_submit(request.principal, patient)

    def write(session: Session) -> list[RegistryError]:
        work(session, submission)
        return []

    return _stored(ctx, request, patient, transaction, c.XDSRegistryError, write, action)


def _stored(ctx: XdsContext, request: SoapRequest, patient: str | None, transaction: str, code: str,
            write: Callable[[Session], list[RegistryError]], action: str) -> SoapResponse:
    """Run `write` in one store transaction, after the coordination model's rule on
    submissions (ITI-41/42: the patient's feeding opposition); answer a RegistryResponse
    with its errors (or warnings), `code` for a store failure."""
    errors: list[RegistryError] = []
    try:
        with ctx.store.transaction() as session:
            refused = access.refused_submission(session, ctx.gate, request.principal, patient, code) \
                if patient and transaction != "ITI-57" else None
            if refused is not None:
                raise XdsFailure([refused])
            errors = write(session)
    except XdsFailure as failure:
        errors = failure.errors
    except SQLAlchemyError as error:
        errors = _store_error(code, transaction, error)
    response = SoapResponse(registry_response(errors), action)
    response.audit_patient = patient
    response.audit_refusal = _refusal(errors)
    return response


def iti42(request: SoapRequest, ctx: XdsContext) -> SoapResponse:
    """ITI-42 Register Document Set-b."""
    action = c.ACTION_ITI42_RESPONSE
    if _legacy(request.body):
        return _failure(c.XDSRegistryMetadataError, "ebRS 2.1 metadata is not accepted: XDS.b uses ebRS 3.0", action)
    if not _is(request.body, c.LCM, "SubmitObjectsRequest"):
        return _failure(c.XDSRegistryMetadataError, "the body of ITI-42 is an lcm:SubmitObjectsRequest", action)
    return _submit(
        request, ctx, action, "ITI-42",
        lambda session, submission: register(
            session, submission, ctx.patients(session), ctx.registry, ITI42, principal=request.principal
        ),
    )


def iti41(request: SoapRequest, ctx: XdsContext) -> SoapResponse:
    """ITI-41 Provide and Register Document Set-b (MTOM or inline documents)."""
    action = c.ACTION_ITI41_RESPONSE
    if not _is(request.body, c.XDSB, "ProvideAndRegisterDocumentSetRequest"):
        return _failure(
            c.XDSRepositoryMetadataError, "the body of ITI-41 is an xdsb:ProvideAndRegisterDocumentSetRequest", action
        )
    parsed = parse_provide_and_register(request.body, request.binary)
    ss = parsed.submission.submission_set
    patient = ss.patient_id if ss else None
    if patient:
        access.check_submit(request.principal, patient)

    def write(session: Session) -> list[RegistryError]:
        return provide_and_register(session, parsed, ctx.patients(session), ctx.repository, request.principal).warnings

    return _stored(ctx, request, patient, "ITI-41", c.XDSRepositoryError, write, action)


def iti43(request: SoapRequest, ctx: XdsContext) -> SoapResponse:
    """ITI-43 Retrieve Document Set: MTOM response when the request was MTOM."""
    action = c.ACTION_ITI43_RESPONSE
    if not _is(request.body, c.XDSB, "RetrieveDocumentSetRequest"):
        body, _ = retrieve_response(
            [], [RegistryError(c.XDSRepositoryError, "the body of ITI-43 is an xdsb:RetrieveDocumentSetRequest")]
        )
        return SoapResponse(body, action)
    requests, errors = parse_retrieve(request.body)
    with ctx.store.session() as session:
        # A document the caller may not read is answered as an unknown uniqueId.
        reader = access.Reader(session, ctx.gate, request.principal)
        found, missing = retrieve(session, requests, ctx.xds.repository_unique_id, reader.entries)
    _break_the_glass(ctx, request, reader, "ITI-43")
    body, slots = retrieve_response(found, errors + missing)
    response = SoapResponse(body, action)
    for element, content in slots:
        response.attach(element, content)
    patients = {d.patient_id for d in found}
    response.audit_patient = next(iter(patients)) if len(patients) == 1 else None
    response.audit_access = reader.summary()
    return response


def iti18(request: SoapRequest, ctx: XdsContext) -> SoapResponse:
    """ITI-18 Registry Stored Query."""
    settings = query.QuerySettings(
        max_results=ctx.xds.max_query_results, home_community_id=ctx.xds.home_community_id
    )
    with ctx.store.session() as session:
        reader = access.Reader(session, ctx.gate, request.principal)
        outcome = query.run(
            session,
            request.body,
            settings,
            partial(access.check_read, request.principal),
            reader.patient_visible,
            reader.entries,
        )
    _break_the_glass(ctx, request, reader, "ITI-18")
    response = SoapResponse(outcome.response, c.ACTION_ITI18_RESPONSE)
    response.audit_patient = outcome.patient_id
    response.audit_access = reader.summary()
    return response


def _break_the_glass(ctx: XdsContext, request: SoapRequest, reader: access.Reader, transaction: str) -> None:
    """An access granted by break-the-glass is a coordination event of the patient (and
    a high-severity audit record, `Reader.summary` flags it)."""
    patients = reader.break_the_glass()
    if not patients:
        return
    principal = request.principal
    log.warning("break-the-glass access in %s by %s", transaction, principal.audit_who if principal else "?")
    now = datetime.now(timezone.utc)
    with ctx.store.transaction() as session:
        for patient in sorted(patients):
            records.record_event(session, "BTG", patient, principal.subject_id if principal else None,
                                 {"transaction": transaction}, now)


def iti57(request: SoapRequest, ctx: XdsContext) -> SoapResponse:
    """ITI-57 Update Document Set (Metadata Update)."""
    action = c.ACTION_ITI57_RESPONSE
    if _legacy(request.body) or not _is(request.body, c.LCM, "SubmitObjectsRequest"):
        return _failure(c.XDSMetadataUpdateError, "the body of ITI-57 is an lcm:SubmitObjectsRequest (ebRS 3.0)", action)
    return _submit(
        request, ctx, action, "ITI-57",
        lambda session, submission: update.update_document_set(
            session, submission, ctx.patients(session), ctx.registry, principal=request.principal
        ),
    )
