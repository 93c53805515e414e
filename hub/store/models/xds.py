"""XDS.b registry and repository tables (ITI TF-3 4.2.3; ARCHITECTURE.md "registry",
"repository").

Each registry object keeps its ebRIM XML (ids resolved, as returned in LeafClass query
responses) next to the columns the stored queries select on. Every stored query starts
from an index: patient + status (+ entry type, codes, times) for the Find* queries,
uniqueId / entryUUID / logicalId for the Get* queries, source and target for
associations, so a query's cost does not grow with other patients' entries.
"""
from __future__ import annotations

from sqlalchemy import Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.store.base import Base, SurrogateId

UUID_LEN = 64
CODE_LEN = 256
PATIENT_LEN = 256
STRUCTURE_LEN = 128


class _Versioned:
    """The leading columns of a registry object kept one row per version (DocumentEntry,
    Folder): entryUUID, logical id and version, uniqueId, patient and status. They stay
    the first columns of the table (`sort_order`), as the migrations create them."""

    uuid: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True, sort_order=-1)
    lid: Mapped[str] = mapped_column(String(UUID_LEN), sort_order=-1)
    version: Mapped[int] = mapped_column(Integer, default=1, sort_order=-1)
    unique_id: Mapped[str] = mapped_column(String(128), sort_order=-1)
    patient_id: Mapped[str] = mapped_column(String(PATIENT_LEN), sort_order=-1)
    status: Mapped[str] = mapped_column(String(64), sort_order=-1)


class XdsDocumentEntry(_Versioned, Base):
    """XDSDocumentEntry (one row per version)."""

    __tablename__ = "xds_document_entry"

    object_type: Mapped[str] = mapped_column(String(UUID_LEN))
    class_code: Mapped[str] = mapped_column(String(CODE_LEN))
    type_code: Mapped[str] = mapped_column(String(CODE_LEN))
    format_code: Mapped[str] = mapped_column(String(CODE_LEN))
    healthcare_facility_type_code: Mapped[str] = mapped_column(String(CODE_LEN))
    practice_setting_code: Mapped[str] = mapped_column(String(CODE_LEN))
    # DTM widened to 14 digits (actors.xds.datatypes.pad_dtm) so that ranges compare as strings
    creation_time: Mapped[str | None] = mapped_column(String(14))
    service_start_time: Mapped[str | None] = mapped_column(String(14))
    service_stop_time: Mapped[str | None] = mapped_column(String(14))
    repository_unique_id: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(40))
    size: Mapped[int | None] = mapped_column(Integer)
    mime_type: Mapped[str] = mapped_column(String(128))
    xml: Mapped[str] = mapped_column(Text)
    # The VIHF structure of the principal who submitted the document (ITI-41/42): it
    # counts as an author structure for later ITI-57 (INTERFACES.md access rules).
    # NULL when the submission carried no principal (require_vihf = false, XDM import).
    submitter_structure: Mapped[str | None] = mapped_column(String(STRUCTURE_LEN))

    __table_args__ = (
        Index("ix_xds_document_entry_find", "patient_id", "status", "object_type", "creation_time"),
        Index("ix_xds_document_entry_class", "patient_id", "class_code"),
        Index("ix_xds_document_entry_type", "patient_id", "type_code"),
        # One row per (uniqueId, version) and per (logical id, version): two concurrent
        # submissions of one document, or two concurrent updates of one entry, cannot
        # both commit (PostgreSQL's READ COMMITTED would let both pre-checks pass).
        Index("ix_xds_document_entry_unique_id", "unique_id", "version", unique=True),
        Index("ix_xds_document_entry_lid", "lid", "version", unique=True),
    )


class XdsSubmissionSet(Base):
    """XDSSubmissionSet."""

    __tablename__ = "xds_submission_set"

    uuid: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    unique_id: Mapped[str] = mapped_column(String(128), unique=True)
    patient_id: Mapped[str] = mapped_column(String(PATIENT_LEN))
    status: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(64))
    submission_time: Mapped[str] = mapped_column(String(14))
    content_type_code: Mapped[str] = mapped_column(String(CODE_LEN))
    xml: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_xds_submission_set_find", "patient_id", "status", "submission_time"),)


class XdsFolder(_Versioned, Base):
    """XDSFolder (one row per version); lastUpdateTime is kept by the registry."""

    __tablename__ = "xds_folder"

    last_update_time: Mapped[str] = mapped_column(String(14))
    xml: Mapped[str] = mapped_column(Text)
    # As for XdsDocumentEntry: the submitting principal's structure (ITI-57 rule).
    submitter_structure: Mapped[str | None] = mapped_column(String(STRUCTURE_LEN))

    __table_args__ = (
        Index("ix_xds_folder_find", "patient_id", "status", "last_update_time"),
        Index("ix_xds_folder_unique_id", "unique_id"),
        Index("ix_xds_folder_lid", "lid", "version"),
    )


class XdsAssociation(Base):
    """rim:Association between registry objects."""

    __tablename__ = "xds_association"

    uuid: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    association_type: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(UUID_LEN))
    target: Mapped[str] = mapped_column(String(UUID_LEN))
    status: Mapped[str] = mapped_column(String(64))
    xml: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_xds_association_source", "source", "association_type"),
        Index("ix_xds_association_target", "target", "association_type"),
    )


class XdsCode(SurrogateId, Base):
    """Multi-valued codes of an object: DocumentEntry eventCodeList and
    confidentialityCode, Folder codeList (`kind` names the attribute)."""

    __tablename__ = "xds_code"

    object_uuid: Mapped[str] = mapped_column(String(UUID_LEN))
    kind: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(CODE_LEN))

    __table_args__ = (
        Index("ix_xds_code_object", "object_uuid", "kind"),
        Index("ix_xds_code_code", "kind", "code", "object_uuid"),
    )


class XdsAuthor(SurrogateId, Base):
    """authorPerson values of DocumentEntries and SubmissionSets (LIKE queries)."""

    __tablename__ = "xds_author"

    object_uuid: Mapped[str] = mapped_column(String(UUID_LEN))
    person: Mapped[str] = mapped_column(String(CODE_LEN))

    __table_args__ = (Index("ix_xds_author_object", "object_uuid"),)


class XdsReferenceId(SurrogateId, Base):
    """DocumentEntry referenceIdList values (FindDocumentsByReferenceId)."""

    __tablename__ = "xds_reference_id"

    object_uuid: Mapped[str] = mapped_column(String(UUID_LEN))
    value: Mapped[str] = mapped_column(String(CODE_LEN))

    __table_args__ = (
        Index("ix_xds_reference_id_value", "value", "object_uuid"),
        Index("ix_xds_reference_id_object", "object_uuid"),
    )


class XdsDocument(Base):
    """Document Repository content, keyed by document uniqueId, with size and SHA-1."""

    __tablename__ = "xds_document"

    unique_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    mime_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(40))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class XdsKnownPatient(Base):
    """Patient ids of the affinity domain known to the registry until the identity
    feed (ITI-8 / ITI-30) provides them."""

    __tablename__ = "xds_known_patient"

    patient_id: Mapped[str] = mapped_column(String(PATIENT_LEN), primary_key=True)


# A registry object row that belongs to a patient.
PatientObject = XdsDocumentEntry | XdsSubmissionSet | XdsFolder

__all__ = [
    "PatientObject",
    "XdsAssociation",
    "XdsAuthor",
    "XdsCode",
    "XdsDocument",
    "XdsDocumentEntry",
    "XdsFolder",
    "XdsKnownPatient",
    "XdsReferenceId",
    "XdsSubmissionSet",
]
