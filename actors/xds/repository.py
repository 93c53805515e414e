"""Document Repository: ITI-41 Provide and Register Document Set-b (ITI TF-2b 3.41) and
ITI-43 Retrieve Document Set (ITI TF-2b 3.43).

ITI-41 stores the documents and registers their metadata in one store transaction: the
caller opens it, this module writes into it and raises `XdsFailure` to abandon it.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lxml import etree
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from actors.xds import constants as c
from actors.xds.content import Gate
from actors.xds.errors import RegistryError, XdsFailure, error_list, status_of
from actors.xds.metadata import Submission, parse_submission
from actors.xds.patients import PatientDirectory
from actors.xds.registry import Registered, RegistrySettings, _set_slot, register
from actors.xds.validation import ITI41
from hub.store.base import table
from hub.store.models.xds import XdsDocument, XdsDocumentEntry
from vihf.principal import Principal

XDSB = f"{{{c.XDSB}}}"
_DOCUMENTS: Table = table(XdsDocument)


@dataclass
class ProvideAndRegisterRequest:
    """A parsed xdsb:ProvideAndRegisterDocumentSetRequest: metadata and document bytes by
    the id of their DocumentEntry."""

    submission: Submission
    documents: dict[str, bytes | memoryview]
    errors: list[RegistryError] = field(default_factory=list)


def parse_provide_and_register(
    body: etree._Element, binary: Callable[[etree._Element], bytes | memoryview]
) -> ProvideAndRegisterRequest:
    """Read the ITI-41 request body; `binary` decodes a Document element (MTOM or inline)."""
    request = body.find(f"{{{c.LCM}}}SubmitObjectsRequest")
    errors: list[RegistryError] = []
    if request is None:
        submission = Submission(
            errors=[RegistryError(c.XDSRepositoryMetadataError, "ProvideAndRegisterDocumentSetRequest has no lcm:SubmitObjectsRequest")]
        )
        return ProvideAndRegisterRequest(submission, {}, [])
    submission = parse_submission(request)
    documents: dict[str, bytes | memoryview] = {}
    for element in body.iterchildren(f"{XDSB}Document"):
        identifier = element.get("id", "")
        if identifier in documents:
            errors.append(RegistryError(c.XDSRepositoryMetadataError, "two Document elements share one id", identifier))
            continue
        documents[identifier] = binary(element)
    return ProvideAndRegisterRequest(submission, documents, errors)


@dataclass
class RepositorySettings:
    repository_unique_id: str
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    # Content check of each document (`actors.xds.content`): Error-severity answers
    # refuse the submission, Warning-severity ones are reported with its success.
    gate: Gate | None = None


def provide_and_register(
    session: Session,
    request: ProvideAndRegisterRequest,
    patients: PatientDirectory,
    settings: RepositorySettings,
    principal: Principal | None = None,
) -> Registered:
    """ITI-41: check each document against its DocumentEntry (XDSMissingDocument,
    XDSMissingDocumentMetadata, XDSNonIdenticalHash, XDSNonIdenticalSize), set size, hash
    and repositoryUniqueId, store the bytes and register the metadata — all or nothing.
    `principal` is the caller (see `registry.register`)."""
    submission = request.submission
    errors = list(request.errors)
    entries = {e.id: e for e in submission.documents}
    for entry_id, entry in entries.items():
        if entry.on_demand:
            errors.append(RegistryError(c.XDSRepositoryMetadataError, "on-demand entries are not provided through ITI-41", entry_id))
        elif entry_id not in request.documents:
            errors.append(RegistryError(c.XDSMissingDocument, "DocumentEntry has no Document", entry_id))
    for document_id in request.documents:
        if document_id not in entries:
            errors.append(RegistryError(c.XDSMissingDocumentMetadata, "Document has no DocumentEntry", document_id))
    digests: dict[str, tuple[int, str]] = {}
    for entry_id, content in request.documents.items():
        described = entries.get(entry_id)
        if described is None:
            continue
        entry = described
        size, digest = len(content), hashlib.sha1(content).hexdigest()
        digests[entry_id] = (size, digest)
        supplied_hash = entry.slot("hash")
        if supplied_hash is not None and supplied_hash.lower() != digest:
            errors.append(RegistryError(c.XDSNonIdenticalHash, "hash differs from the SHA-1 of the Document", entry_id))
        supplied_size = entry.slot("size")
        if supplied_size is not None and supplied_size != str(size):
            errors.append(RegistryError(c.XDSNonIdenticalSize, "size differs from the length of the Document", entry_id))
        supplied_repository = entry.slot("repositoryUniqueId")
        if supplied_repository is not None and supplied_repository != settings.repository_unique_id:
            errors.append(
                RegistryError(c.XDSRepositoryMetadataError, "repositoryUniqueId is not this repository's", entry_id)
            )
    warnings: list[RegistryError] = []
    if settings.gate is not None and not errors:
        for entry_id in digests:
            for finding in settings.gate(entries[entry_id], request.documents[entry_id]):
                (errors if finding.is_error else warnings).append(finding)
    if errors:
        raise XdsFailure(errors + warnings)
    for entry_id, (size, digest) in digests.items():
        element = entries[entry_id].element
        _set_slot(element, "size", [str(size)])
        _set_slot(element, "hash", [digest])
        _set_slot(element, "repositoryUniqueId", [settings.repository_unique_id])
        entries[entry_id].slots.update(size=[str(size)], hash=[digest], repositoryUniqueId=[settings.repository_unique_id])
    documents = [
        {
            "unique_id": entries[entry_id].unique_id or "",
            "mime_type": entries[entry_id].mime_type,
            "size": size,
            "hash": digest,
            # A buffer as it came (an MTOM part, a spooled XDM file): the driver reads it,
            # so no copy of a large document is made here.
            "content": request.documents[entry_id],
        }
        for entry_id, (size, digest) in digests.items()
    ]
    registered = register(
        session, submission, patients, settings.registry, ITI41, extra=[(_DOCUMENTS, documents)], principal=principal
    )
    registered.warnings.extend(warnings)
    return registered


# -- ITI-43 ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentRequest:
    repository_unique_id: str
    document_unique_id: str
    home_community_id: str | None = None


@dataclass
class RetrievedDocument:
    request: DocumentRequest
    mime_type: str
    content: bytes
    patient_id: str


def parse_retrieve(body: etree._Element) -> tuple[list[DocumentRequest], list[RegistryError]]:
    """Read an xdsb:RetrieveDocumentSetRequest (ITI TF-2b 3.43.4.1.2)."""
    requests: list[DocumentRequest] = []
    errors: list[RegistryError] = []
    for item in body.iterchildren(f"{XDSB}DocumentRequest"):
        children = [etree.QName(x).localname for x in item if isinstance(x.tag, str)]
        repository = item.findtext(f"{XDSB}RepositoryUniqueId")
        document = item.findtext(f"{XDSB}DocumentUniqueId")
        home = item.findtext(f"{XDSB}HomeCommunityId")
        expected = [n for n in ("HomeCommunityId", "RepositoryUniqueId", "DocumentUniqueId") if n in children]
        if not repository or not document or children != expected:
            errors.append(
                RegistryError(
                    c.XDSRepositoryError,
                    "DocumentRequest needs HomeCommunityId?, RepositoryUniqueId, DocumentUniqueId in that order",
                    (document or "").strip(),
                )
            )
            continue
        requests.append(DocumentRequest(repository.strip(), document.strip(), home.strip() if home else None))
    if not requests and not errors:
        errors.append(RegistryError(c.XDSRepositoryError, "RetrieveDocumentSetRequest has no DocumentRequest"))
    return requests, errors


def retrieve(
    session: Session,
    requests: list[DocumentRequest],
    repository_unique_id: str,
    readable: Callable[[Sequence[XdsDocumentEntry]], list[bool]] | None = None,
) -> tuple[list[RetrievedDocument], list[RegistryError]]:
    """ITI-43: the documents found, and XDSUnknownRepositoryId / XDSDocumentUniqueIdError
    for the others (PartialSuccess is decided by the caller). A document whose entry the
    caller may not read (`readable(entries)`, the access decision per entry) is answered
    exactly as an unknown uniqueId, and its content is not even read."""
    wanted = sorted({r.document_unique_id for r in requests if r.repository_unique_id == repository_unique_id})
    entries = list(session.scalars(select(XdsDocumentEntry).where(XdsDocumentEntry.unique_id.in_(wanted)))) if wanted else []
    patients = {entry.unique_id: entry.patient_id for entry in entries}
    if readable is not None:
        # A content row without a registry entry has no patient: nobody identified sees it.
        allowed = {entry.unique_id for entry, shown in zip(entries, readable(entries)) if shown}
        wanted = [u for u in wanted if u in allowed]
    rows = {
        row.unique_id: row
        for row in session.execute(
            select(XdsDocument.unique_id, XdsDocument.mime_type, XdsDocument.content).where(XdsDocument.unique_id.in_(wanted))
        )
    } if wanted else {}
    found: list[RetrievedDocument] = []
    errors: list[RegistryError] = []
    for request in requests:
        if request.repository_unique_id != repository_unique_id:
            errors.append(
                RegistryError(
                    c.XDSUnknownRepositoryId,
                    f"repositoryUniqueId {request.repository_unique_id} is not this repository",
                    request.document_unique_id,
                )
            )
            continue
        row = rows.get(request.document_unique_id)
        if row is None:
            errors.append(
                RegistryError(c.XDSDocumentUniqueIdError, "no document with this uniqueId", request.document_unique_id)
            )
            continue
        found.append(RetrievedDocument(request, row.mime_type, row.content, patients.get(row.unique_id, "")))
    return found, errors


def retrieve_response(found: list[RetrievedDocument], errors: list[RegistryError]) -> tuple[etree._Element, list[tuple[etree._Element, bytes]]]:
    """xdsb:RetrieveDocumentSetResponse; returns the Document elements to fill with bytes."""
    response = etree.Element(f"{XDSB}RetrieveDocumentSetResponse", nsmap={"xdsb": c.XDSB, "rs": c.RS})
    status = etree.SubElement(response, f"{{{c.RS}}}RegistryResponse")
    status.set("status", status_of(errors, partial=bool(found)))
    if errors:
        status.append(error_list(errors))
    slots: list[tuple[etree._Element, bytes]] = []
    for document in found:
        item = etree.SubElement(response, f"{XDSB}DocumentResponse")
        if document.request.home_community_id:
            etree.SubElement(item, f"{XDSB}HomeCommunityId").text = document.request.home_community_id
        etree.SubElement(item, f"{XDSB}RepositoryUniqueId").text = document.request.repository_unique_id
        etree.SubElement(item, f"{XDSB}DocumentUniqueId").text = document.request.document_unique_id
        etree.SubElement(item, f"{XDSB}mimeType").text = document.mime_type
        slots.append((etree.SubElement(item, f"{XDSB}Document"), document.content))
    return response, slots
