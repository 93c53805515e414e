"""XDM Portable Media Importer: ITI-32 on the receiving side, into the XDS registry and
repository through the ITI-41 path (`actors.xds.repository.provide_and_register`).

The medium is checked whole first (`actors.xdm.medium`: unpacked streamed and bounded,
large files spooled to temporary files); then each submission set is one store
transaction: its documents are stored and its metadata registered, or nothing of it. A
spooled document goes to the store as a view of its file, never copied whole in memory.

Patient reconciliation, as an importer into an affinity domain must do: the medium
carries the patient id of its source. The id registered is, in this order, the one the
operator gives (`patient`), or the affinity-domain identifier the identity manager
cross-references to the medium's id, or the medium's id itself when it already belongs to
the affinity domain. The medium's id is kept as `sourcePatientId` where the entry has none.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree
from sqlalchemy.orm import Session

from actors.xdm import legacy
from actors.xdm import medium as xdm_medium
from actors.xds import constants as c
from actors.xds import datatypes as dt
from actors.xds.content import Gate
from actors.xds.errors import RegistryError, XdsFailure
from actors.xds.metadata import parse_submission
from actors.xds.patients import StorePatientDirectory
from actors.xds.registry import RegistrySettings
from actors.xds.repository import ProvideAndRegisterRequest, RepositorySettings, provide_and_register
from hub.wire import xmlsafe
from hub.store import Store

RIM = f"{{{c.RIM}}}"
PATIENT_SCHEMES = (c.XDSDocumentEntry_patientId, c.XDSSubmissionSet_patientId, c.XDSFolder_patientId)


# Codes an operator may complete a medium's metadata with: name -> (scheme, owner).
COMPLETABLE_CODES = {
    "classCode": (c.XDSDocumentEntry_classCode, "document"),
    "typeCode": (c.XDSDocumentEntry_typeCode, "document"),
    "formatCode": (c.XDSDocumentEntry_formatCode, "document"),
    "confidentialityCode": (c.XDSDocumentEntry_confidentialityCode, "document"),
    "healthcareFacilityTypeCode": (c.XDSDocumentEntry_healthCareFacilityTypeCode, "document"),
    "practiceSettingCode": (c.XDSDocumentEntry_practiceSettingCode, "document"),
    "contentTypeCode": (c.XDSSubmissionSet_contentTypeCode, "submissionset"),
}
COMPLETABLE_SLOTS = ("languageCode", "creationTime")


@dataclass
class ImportSettings:
    """`source_id` is the importer's own sourceId, used where the medium's is not an OID:
    the importer is the Document Source of the submission it registers. `completion`
    holds operator-given values for required metadata a medium may lack (XDM allows
    limited metadata, XDS does not): code names of COMPLETABLE_CODES as "code|scheme|display",
    and the slots of COMPLETABLE_SLOTS as their value. Present values are never replaced."""

    repository_unique_id: str
    affinity_domain: str
    source_id: str
    patient: str | None = None  # operator's reconciliation: the affinity-domain id to use
    completion: dict[str, str] = field(default_factory=dict)
    limits: xdm_medium.Limits = field(default_factory=xdm_medium.Limits)
    gate: Gate | None = None  # the repository's content gate (`actors.xds.content`)


@dataclass
class SubsetResult:
    subset: str
    documents: int
    errors: list[RegistryError]

    @property
    def imported(self) -> bool:
        return not any(e.is_error for e in self.errors)


@dataclass
class ImportResult:
    subsets: list[SubsetResult]

    @property
    def imported(self) -> bool:
        return bool(self.subsets) and all(s.imported for s in self.subsets)


def _cross_reference(session: Session, source_id: str, affinity_domain: str) -> str | None:
    """The affinity-domain id the identity manager links to `source_id` (PIX), if any."""
    from actors.identity import directory, query

    try:
        identifiers = query.cross_references(session, directory.parse_cx(source_id))
    except (ValueError, query.UnknownIdentifier):
        return None
    for cx in identifiers:
        if cx.authority.universal_id == affinity_domain:
            return f"{cx.value}^^^&{affinity_domain}&ISO"
    return None


def _medium_patient(root: etree._Element) -> str | None:
    for identifier in root.iter(f"{RIM}ExternalIdentifier"):
        value = identifier.get("value")
        if identifier.get("identificationScheme") in PATIENT_SCHEMES and value:
            return str(value)
    return None


def _set_source_patient(entry: etree._Element, source_id: str) -> None:
    """sourcePatientId names the patient in the source's domain: keep the medium's when it
    is a valid CX, else use `source_id` (the medium's patient id, or the registered one)."""
    existing = _slot_values(entry, "sourcePatientId")
    if existing:
        values = [v.text or "" for v in existing[0].iter(f"{RIM}Value")]
        if len(values) == 1 and dt.check_cx(values[0]) is None:
            return
        entry.remove(existing[0])
    _add_slot(entry, "sourcePatientId", source_id)


def reconcile_patient(root: etree._Element, patient: str, source_id: str | None) -> None:
    """Register the submission under `patient`; keep the medium's id as sourcePatientId."""
    for identifier in root.iter(f"{RIM}ExternalIdentifier"):
        if identifier.get("identificationScheme") in PATIENT_SCHEMES:
            identifier.set("value", patient)
    source = source_id if source_id and dt.check_cx(source_id) is None else patient
    for entry in root.iter(f"{RIM}ExtrinsicObject"):
        _set_source_patient(entry, source)
        _ensure_patient(entry, c.XDSDocumentEntry_patientId, patient)
    for package in root.iter(f"{RIM}RegistryPackage"):
        is_folder = any(
            node.get("classificationNode") == c.XDSFolder and node.get("classifiedObject") == package.get("id")
            for node in root.iter(f"{RIM}Classification")
        )
        _ensure_patient(package, c.XDSFolder_patientId if is_folder else c.XDSSubmissionSet_patientId, patient)


def _ensure_patient(element: etree._Element, scheme: str, patient: str) -> None:
    if any(i.get("identificationScheme") == scheme for i in element.iterchildren(f"{RIM}ExternalIdentifier")):
        return
    etree.SubElement(
        element,
        f"{RIM}ExternalIdentifier",
        id=f"urn:uuid:{_uuid()}",
        registryObject=element.get("id", ""),
        identificationScheme=scheme,
        value=patient,
    )


def _uuid() -> str:
    return str(uuid.uuid4())


def _slot_values(element: etree._Element, name: str) -> list[etree._Element]:
    return [slot for slot in element.iterchildren(f"{RIM}Slot") if slot.get("name") == name]


def _add_slot(element: etree._Element, name: str, value: str) -> None:
    slot = etree.Element(f"{RIM}Slot", name=name)
    etree.SubElement(etree.SubElement(slot, f"{RIM}ValueList"), f"{RIM}Value").text = value
    element.insert(0, slot)


def _add_classification(element: etree._Element, scheme: str, value: str) -> None:
    code, _, rest = value.partition("|")
    coding_scheme, _, display = rest.partition("|")
    classification = etree.Element(
        f"{RIM}Classification",
        id=f"urn:uuid:{_uuid()}",
        classificationScheme=scheme,
        classifiedObject=element.get("id", ""),
        nodeRepresentation=code,
    )
    _add_slot(classification, "codingScheme", coding_scheme)
    etree.SubElement(etree.SubElement(classification, f"{RIM}Name"), f"{RIM}LocalizedString", value=display or code)
    # Classifications follow Slot, Name and Description in ebRIM 3.0.
    anchor = element.find(f"{RIM}ExternalIdentifier")
    if anchor is not None:
        anchor.addprevious(classification)
    else:
        element.append(classification)


def forget_repository(root: etree._Element) -> None:
    """Drop the entries' repositoryUniqueId: on a medium it names the repository of the
    source that exported it (optional there, ITI TF-3 Table 4.3.1-3); the importer keeps
    the documents in its own repository, whose id the registration writes."""
    for entry in root.iter(f"{RIM}ExtrinsicObject"):
        for slot in entry.findall(f"{RIM}Slot[@name='repositoryUniqueId']"):
            entry.remove(slot)


def complete(root: etree._Element, settings: ImportSettings) -> None:
    """Fill what the medium lacks with the operator's values; repair the sourceId."""
    owners = {
        "document": list(root.iter(f"{RIM}ExtrinsicObject")),
        "submissionset": list(root.iter(f"{RIM}RegistryPackage")),
    }
    submission_sets = {
        node.get("classifiedObject")
        for node in root.iter(f"{RIM}Classification")
        if node.get("classificationNode") == c.XDSSubmissionSet
    }
    owners["submissionset"] = [p for p in owners["submissionset"] if p.get("id") in submission_sets] or owners["submissionset"][:1]
    for name, (scheme, owner) in COMPLETABLE_CODES.items():
        if name not in settings.completion:
            continue
        for element in owners[owner]:
            if not any(cl.get("classificationScheme") == scheme for cl in element.iterchildren(f"{RIM}Classification")):
                _add_classification(element, scheme, settings.completion[name])
    for name in COMPLETABLE_SLOTS:
        if name in settings.completion:
            for element in owners["document"]:
                if not _slot_values(element, name):
                    _add_slot(element, name, settings.completion[name])
    for package in owners["submissionset"]:
        for identifier in package.iterchildren(f"{RIM}ExternalIdentifier"):
            if identifier.get("identificationScheme") == c.XDSSubmissionSet_sourceId and dt.check_oid(identifier.get("value", "")) is not None:
                identifier.set("value", settings.source_id)


def _import_subset(session: Session, subset: xdm_medium.Subset, settings: ImportSettings) -> tuple[int, list[RegistryError]]:
    try:
        root = xmlsafe.parse(subset.metadata)
    except xmlsafe.UnsafeXmlError as exc:
        raise XdsFailure([RegistryError(c.XDSRegistryMetadataError, f"METADATA.XML: {exc}", subset.name)]) from None
    root = legacy.normalise(root)
    if etree.QName(root).localname != "SubmitObjectsRequest":
        raise XdsFailure([RegistryError(c.XDSRegistryMetadataError, "METADATA.XML is not an lcm:SubmitObjectsRequest", subset.name)])
    source_id = _medium_patient(root)
    patient = settings.patient
    if patient is None and source_id is not None:
        if dt.cx_authority(source_id) == settings.affinity_domain:
            patient = source_id
        else:
            patient = _cross_reference(session, source_id, settings.affinity_domain)
    if patient is None:
        raise XdsFailure(
            [
                RegistryError(
                    c.XDSUnknownPatientId,
                    "the medium's patient is not known in the affinity domain: give the patient to import under",
                    source_id or subset.name,
                )
            ]
        )
    reconcile_patient(root, patient, source_id if source_id != patient else None)
    forget_repository(root)
    complete(root, settings)
    submission = parse_submission(root)
    documents: dict[str, bytes | memoryview] = {}
    errors: list[RegistryError] = []
    for entry in submission.documents:
        uri = entry.slot("URI")
        content = subset.document(uri) if uri else subset.document_named(entry.id)
        if content is None:
            errors.append(RegistryError(c.XDSMissingDocument, f"the medium holds no file {uri!r}", entry.id))
        else:
            documents[entry.id] = content
    if errors:
        raise XdsFailure(errors)
    request = ProvideAndRegisterRequest(submission, documents)
    registered = provide_and_register(
        session,
        request,
        StorePatientDirectory(session, settings.affinity_domain),
        RepositorySettings(settings.repository_unique_id, RegistrySettings(), settings.gate),
    )
    return len(documents), registered.warnings


def import_medium(
    store: Store, data: xdm_medium.Source, settings: ImportSettings, progress: Callable[[int, int], None] | None = None
) -> ImportResult:
    """Import every submission set of a medium (its bytes, or a path or binary file,
    which is then never read whole); raises `MediumError` when the archive itself is
    refused (nothing is written then). `progress(files_done, files_total)` is called
    after each submission set. The medium's files are released when the import ends."""
    results: list[SubsetResult] = []
    with xdm_medium.read(data, settings.limits) as medium:
        total = sum(len(subset.files) for subset in medium.subsets)
        done = 0
        for subset in medium.subsets:
            try:
                with store.transaction() as session:
                    count, warnings = _import_subset(session, subset, settings)
                results.append(SubsetResult(subset.name, count, warnings))
            except XdsFailure as failure:
                results.append(SubsetResult(subset.name, 0, failure.errors))
            done += len(subset.files)
            if progress is not None:
                progress(done, total)
    return ImportResult(results)
