"""ebRIM 3.0 metadata of XDS.b as typed objects (ITI TF-3 4.2.3, 4.2.5).

`parse_submission` reads the rim:RegistryObjectList of an lcm:SubmitObjectsRequest into
DocumentEntry, SubmissionSet, Folder and Association objects. Each object keeps its
element so that the registry can store the submitted ebRIM (ids resolved) and answer
LeafClass queries with it. Structural problems are reported as `RegistryError`s.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

from lxml import etree

from actors.xds import constants as c
from actors.xds.errors import RegistryError

RIM = f"{{{c.RIM}}}"


@dataclass(frozen=True)
class Code:
    """A coded value: nodeRepresentation, codingScheme slot and display name."""

    code: str
    scheme: str
    display: str = ""

    @property
    def key(self) -> str:
        """The `code^^scheme` form used by stored query parameters."""
        return f"{self.code}^^{self.scheme}"


@dataclass
class Classification:
    id: str
    scheme: str
    classified_object: str
    node: str
    node_representation: str
    slots: dict[str, list[str]]
    name: str
    element: etree._Element


@dataclass
class ExternalIdentifier:
    id: str
    scheme: str
    registry_object: str
    value: str
    element: etree._Element


@dataclass
class Author:
    person: str | None
    institutions: list[str]
    roles: list[str]
    specialties: list[str]
    telecoms: list[str]


@dataclass
class RegistryObject:
    """Common part of every ebRIM object of a submission."""

    id: str
    element: etree._Element
    lid: str | None = None
    status: str | None = None
    home: str | None = None
    object_type: str | None = None
    slots: dict[str, list[str]] = field(default_factory=dict)
    classifications: list[Classification] = field(default_factory=list)
    external_identifiers: list[ExternalIdentifier] = field(default_factory=list)
    name: str = ""
    version: str | None = None
    duplicate_slots: list[str] = field(default_factory=list)

    def slot(self, name: str) -> str | None:
        values = self.slots.get(name)
        return values[0] if values else None

    def classified(self, scheme: str) -> list[Classification]:
        return [x for x in self.classifications if x.scheme == scheme]

    def codes(self, scheme: str) -> list[Code]:
        return [
            Code(x.node_representation, (x.slots.get("codingScheme") or [""])[0], x.name)
            for x in self.classified(scheme)
        ]

    def code(self, scheme: str) -> Code | None:
        codes = self.codes(scheme)
        return codes[0] if codes else None

    def identifiers(self, scheme: str) -> list[ExternalIdentifier]:
        return [x for x in self.external_identifiers if x.scheme == scheme]

    def identifier(self, scheme: str) -> str | None:
        found = self.identifiers(scheme)
        return found[0].value if found else None

    def authors(self, scheme: str) -> list[Author]:
        return [
            Author(
                person=next(iter(x.slots.get("authorPerson", [])), None),
                institutions=x.slots.get("authorInstitution", []),
                roles=x.slots.get("authorRole", []),
                specialties=x.slots.get("authorSpecialty", []),
                telecoms=x.slots.get("authorTelecommunication", []),
            )
            for x in self.classified(scheme)
        ]


@dataclass
class IdentifiedObject(RegistryObject):
    """A DocumentEntry, SubmissionSet or Folder: its patientId and uniqueId are the values
    of its ExternalIdentifiers of the schemes `identifier_schemes` (patientId, uniqueId)."""

    identifier_schemes: ClassVar[tuple[str, str]]

    @property
    def patient_id(self) -> str | None:
        return self.identifier(self.identifier_schemes[0])

    @property
    def unique_id(self) -> str | None:
        return self.identifier(self.identifier_schemes[1])


@dataclass
class DocumentEntry(IdentifiedObject):
    identifier_schemes = (c.XDSDocumentEntry_patientId, c.XDSDocumentEntry_uniqueId)
    mime_type: str = ""

    @property
    def on_demand(self) -> bool:
        return self.object_type == c.DOCUMENT_ENTRY_ON_DEMAND


@dataclass
class SubmissionSet(IdentifiedObject):
    identifier_schemes = (c.XDSSubmissionSet_patientId, c.XDSSubmissionSet_uniqueId)


@dataclass
class Folder(IdentifiedObject):
    identifier_schemes = (c.XDSFolder_patientId, c.XDSFolder_uniqueId)


@dataclass
class Association(RegistryObject):
    association_type: str = ""
    source: str = ""
    target: str = ""


_D = TypeVar("_D")
_S = TypeVar("_S")
_F = TypeVar("_F")
_A = TypeVar("_A")


@dataclass
class ByKind(Generic[_D, _S, _F, _A]):
    """Registry objects by kind: DocumentEntries, SubmissionSets, Folders, Associations (as
    submitted here, as stored rows in `actors.xds.query.Result`)."""

    documents: list[_D] = field(default_factory=list)
    submission_sets: list[_S] = field(default_factory=list)
    folders: list[_F] = field(default_factory=list)
    associations: list[_A] = field(default_factory=list)


@dataclass
class Submission(ByKind[DocumentEntry, SubmissionSet, Folder, Association]):
    """The content of one rim:RegistryObjectList."""

    object_refs: list[str] = field(default_factory=list)
    errors: list[RegistryError] = field(default_factory=list)
    # symbolic id -> urn:uuid assigned by the registry
    id_map: dict[str, str] = field(default_factory=dict)

    @property
    def objects(self) -> list[RegistryObject]:
        return [*self.submission_sets, *self.documents, *self.folders, *self.associations]

    @property
    def submission_set(self) -> SubmissionSet | None:
        return self.submission_sets[0] if len(self.submission_sets) == 1 else None


def _slots(element: etree._Element) -> tuple[dict[str, list[str]], list[str]]:
    slots: dict[str, list[str]] = {}
    duplicates: list[str] = []
    for slot in element.iterchildren(f"{RIM}Slot"):
        name = slot.get("name", "")
        if name in slots:
            duplicates.append(name)
        slots[name] = [(v.text or "").strip() for v in slot.iter(f"{RIM}Value")]
    return slots, duplicates


def _localized(element: etree._Element, tag: str) -> str:
    holder = element.find(f"{RIM}{tag}")
    if holder is None:
        return ""
    string = holder.find(f"{RIM}LocalizedString")
    return string.get("value", "") if string is not None else ""


def _classification(element: etree._Element) -> Classification:
    slots, _ = _slots(element)
    return Classification(
        id=element.get("id", ""),
        scheme=element.get("classificationScheme", ""),
        classified_object=element.get("classifiedObject", ""),
        node=element.get("classificationNode", ""),
        node_representation=element.get("nodeRepresentation", ""),
        slots=slots,
        name=_localized(element, "Name"),
        element=element,
    )


def _fill(obj: RegistryObject) -> None:
    element = obj.element
    obj.lid = element.get("lid")
    obj.status = element.get("status")
    obj.home = element.get("home")
    obj.object_type = element.get("objectType")
    obj.slots, obj.duplicate_slots = _slots(element)
    obj.name = _localized(element, "Name")
    version = element.find(f"{RIM}VersionInfo")
    obj.version = version.get("versionName") if version is not None else None
    obj.classifications = [_classification(x) for x in element.iterchildren(f"{RIM}Classification")]
    obj.external_identifiers = [
        ExternalIdentifier(
            id=x.get("id", ""),
            scheme=x.get("identificationScheme", ""),
            registry_object=x.get("registryObject", ""),
            value=x.get("value", ""),
            element=x,
        )
        for x in element.iterchildren(f"{RIM}ExternalIdentifier")
    ]


def parse_submission(request: etree._Element) -> Submission:
    """Read an lcm:SubmitObjectsRequest (ITI-41 / ITI-42 / ITI-57) into typed objects.

    Stand-alone Classifications (the SubmissionSet and Folder classification nodes) are
    moved into the element of the object they classify, as the registry returns them.
    """
    submission = Submission()
    object_list = request.find(f"{RIM}RegistryObjectList")
    if object_list is None:
        submission.errors.append(
            RegistryError(c.XDSRegistryMetadataError, "SubmitObjectsRequest has no rim:RegistryObjectList")
        )
        return submission
    packages, loose = _read_objects(object_list, submission)
    _attach_classifications(packages, loose, submission)
    for package in packages:
        _read_package(package, submission)
    return submission


def _read_objects(object_list: etree._Element, submission: Submission) -> tuple[list[etree._Element], list[etree._Element]]:
    """DocumentEntries, Associations and ObjectRefs into `submission`; the RegistryPackages
    and the stand-alone Classifications are returned, to be read once classified."""
    packages: list[etree._Element] = []
    loose: list[etree._Element] = []
    for child in object_list:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        if qname.namespace != c.RIM:
            submission.errors.append(
                RegistryError(c.XDSRegistryMetadataError, f"unexpected element {qname.localname} in RegistryObjectList")
            )
            continue
        local = qname.localname
        if local == "ExtrinsicObject":
            entry = DocumentEntry(id=child.get("id", ""), element=child, mime_type=child.get("mimeType", ""))
            _fill(entry)
            submission.documents.append(entry)
        elif local == "RegistryPackage":
            packages.append(child)
        elif local == "Association":
            association = Association(
                id=child.get("id", ""),
                element=child,
                association_type=child.get("associationType", ""),
                source=child.get("sourceObject", ""),
                target=child.get("targetObject", ""),
            )
            _fill(association)
            submission.associations.append(association)
        elif local == "Classification":
            loose.append(child)
        elif local == "ObjectRef":
            submission.object_refs.append(child.get("id", ""))
        else:
            submission.errors.append(
                RegistryError(c.XDSRegistryMetadataError, f"rim:{local} is not an XDS metadata object", child.get("id", ""))
            )
    return packages, loose


def _attach_classifications(packages: list[etree._Element], loose: list[etree._Element], submission: Submission) -> None:
    """Move each stand-alone Classification into the RegistryPackage it classifies."""
    by_id = {p.get("id", ""): p for p in packages}
    for classification in loose:
        owner = by_id.get(classification.get("classifiedObject", ""))
        node = classification.get("classificationNode", "")
        if owner is None or node not in (c.XDSSubmissionSet, c.XDSFolder):
            submission.errors.append(
                RegistryError(
                    c.XDSRegistryMetadataError,
                    "stand-alone Classification must classify a RegistryPackage of this submission "
                    "as SubmissionSet or Folder",
                    classification.get("id", ""),
                )
            )
            continue
        parent = classification.getparent()
        if parent is not None:
            parent.remove(classification)
        owner.append(classification)


def _read_package(package: etree._Element, submission: Submission) -> None:
    """A RegistryPackage: the SubmissionSet or a Folder, as its classification says."""
    nodes = {x.get("classificationNode") for x in package.iterchildren(f"{RIM}Classification")}
    if c.XDSSubmissionSet in nodes and c.XDSFolder not in nodes:
        ss = SubmissionSet(id=package.get("id", ""), element=package)
        _fill(ss)
        submission.submission_sets.append(ss)
    elif c.XDSFolder in nodes and c.XDSSubmissionSet not in nodes:
        folder = Folder(id=package.get("id", ""), element=package)
        _fill(folder)
        submission.folders.append(folder)
    else:
        submission.errors.append(
            RegistryError(
                c.XDSRegistryMetadataError,
                "RegistryPackage is classified neither as SubmissionSet nor as Folder",
                package.get("id", ""),
            )
        )


_REFERENCE_ATTRIBUTES = ("id", "lid", "classifiedObject", "registryObject", "sourceObject", "targetObject")
# Asked of libxml2 rather than walked in Python: every ITI-41/42/57 resolves its ids.
_NOT_UUID = "[not(starts-with(., 'urn:uuid:'))]"
_SYMBOLIC_IDS = etree.XPath(f"descendant-or-self::rim:*/@id{_NOT_UUID}", namespaces={"rim": c.RIM})
_SYMBOLIC_REFERENCES = etree.XPath(
    " | ".join(f"descendant-or-self::rim:*/@{name}{_NOT_UUID}" for name in _REFERENCE_ATTRIBUTES), namespaces={"rim": c.RIM}
)


def resolve_symbolic_ids(submission: Submission) -> dict[str, str]:
    """Give every symbolic id (not a urn:uuid) a new UUID and rewrite every reference to
    it inside the submitted elements (ITI TF-3 4.2.3.1.5 "entryUUID")."""
    id_map: dict[str, str] = {}
    elements = [o.element for o in submission.objects]
    for element in elements:
        for value in _SYMBOLIC_IDS(element):
            if value and value not in id_map:
                id_map[str(value)] = f"urn:uuid:{uuid.uuid4()}"
    if id_map:
        for element in elements:
            for reference in _SYMBOLIC_REFERENCES(element):
                if reference in id_map:
                    reference.getparent().set(reference.attrname, id_map[reference])
        for obj in submission.objects:
            obj.id = id_map.get(obj.id, obj.id)
            if obj.lid in id_map:
                obj.lid = id_map[obj.lid]
            if isinstance(obj, Association):
                obj.source = id_map.get(obj.source, obj.source)
                obj.target = id_map.get(obj.target, obj.target)
            for x in obj.classifications:
                x.classified_object = id_map.get(x.classified_object, x.classified_object)
                x.id = id_map.get(x.id, x.id)
            for e in obj.external_identifiers:
                e.registry_object = id_map.get(e.registry_object, e.registry_object)
                e.id = id_map.get(e.id, e.id)
    submission.id_map = id_map
    return id_map
