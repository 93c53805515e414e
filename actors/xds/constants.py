"""ebRIM / ebRS 3.0 and IHE XDS.b identifiers, named as ITI TF-3 4.2.5 and 4.1 name them.

UUIDs of classification schemes, external identifiers and classification nodes (ITI TF-3
Table 4.2.5-1), stored query ids (ITI TF-2a 3.18.4.1.2.3.7), association types, status
values, WS-Addressing actions (INTERFACES.md) and the error codes of ITI TF-3 4.2.4.
"""
from __future__ import annotations

from typing import Final

# -- namespaces ---------------------------------------------------------------------------
RIM: Final = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
RS: Final = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
LCM: Final = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
QUERY: Final = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"
XDSB: Final = "urn:ihe:iti:xds-b:2007"
RMU: Final = "urn:ihe:iti:rmu:2018"
EBRS21_RS: Final = "urn:oasis:names:tc:ebxml-regrep:registry:xsd:2.1"
EBRS21_RIM: Final = "urn:oasis:names:tc:ebxml-regrep:rim:xsd:2.1"
NSMAP: Final = {"rim": RIM, "rs": RS, "lcm": LCM, "query": QUERY, "xdsb": XDSB}

# -- WS-Addressing actions (INTERFACES.md) --------------------------------------------------
ACTION_ITI41: Final = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
ACTION_ITI41_RESPONSE: Final = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse"
ACTION_ITI42: Final = "urn:ihe:iti:2007:RegisterDocumentSet-b"
ACTION_ITI42_RESPONSE: Final = "urn:ihe:iti:2007:RegisterDocumentSet-bResponse"
ACTION_ITI18: Final = "urn:ihe:iti:2007:RegistryStoredQuery"
ACTION_ITI18_RESPONSE: Final = "urn:ihe:iti:2007:RegistryStoredQueryResponse"
ACTION_ITI43: Final = "urn:ihe:iti:2007:RetrieveDocumentSet"
ACTION_ITI43_RESPONSE: Final = "urn:ihe:iti:2007:RetrieveDocumentSetResponse"
ACTION_ITI57: Final = "urn:ihe:iti:2010:UpdateDocumentSet"
ACTION_ITI57_RESPONSE: Final = "urn:ihe:iti:2010:UpdateDocumentSetResponse"

# -- response status and error severity (ebRS 3.0, ITI TF-3 4.2.4.2) ------------------------
RESPONSE_SUCCESS: Final = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
RESPONSE_FAILURE: Final = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"
RESPONSE_PARTIAL_SUCCESS: Final = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess"
SEVERITY_ERROR: Final = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"
SEVERITY_WARNING: Final = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning"

# -- availability status --------------------------------------------------------------------
STATUS_APPROVED: Final = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
STATUS_DEPRECATED: Final = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"
STATUS_SUBMITTED: Final = "urn:oasis:names:tc:ebxml-regrep:StatusType:Submitted"

# -- object types ---------------------------------------------------------------------------
DOCUMENT_ENTRY_STABLE: Final = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
DOCUMENT_ENTRY_ON_DEMAND: Final = "urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248"
OBJECT_TYPE_REGISTRY_PACKAGE: Final = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage"
OBJECT_TYPE_ASSOCIATION: Final = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association"
OBJECT_TYPE_CLASSIFICATION: Final = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification"
OBJECT_TYPE_EXTERNAL_IDENTIFIER: Final = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier"

# -- DocumentEntry (ITI TF-3 4.2.5.2 / Table 4.2.5-1) ----------------------------------------
XDSDocumentEntry_author: Final = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
XDSDocumentEntry_classCode: Final = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
XDSDocumentEntry_confidentialityCode: Final = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
XDSDocumentEntry_eventCodeList: Final = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
XDSDocumentEntry_formatCode: Final = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
XDSDocumentEntry_healthCareFacilityTypeCode: Final = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
XDSDocumentEntry_practiceSettingCode: Final = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
XDSDocumentEntry_typeCode: Final = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
XDSDocumentEntry_patientId: Final = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
XDSDocumentEntry_uniqueId: Final = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
XDSDocumentEntry_limitedMetadata: Final = "urn:uuid:ab9b591b-83ab-4d03-8f5d-f93b1fb92e85"

# -- SubmissionSet --------------------------------------------------------------------------
XDSSubmissionSet: Final = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
XDSSubmissionSet_author: Final = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
XDSSubmissionSet_contentTypeCode: Final = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
XDSSubmissionSet_patientId: Final = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
XDSSubmissionSet_sourceId: Final = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
XDSSubmissionSet_uniqueId: Final = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
XDSSubmissionSet_limitedMetadata: Final = "urn:uuid:5003a9db-8d8d-49e6-bf0c-990e34ac7707"

# -- Folder ---------------------------------------------------------------------------------
XDSFolder: Final = "urn:uuid:d9d542f3-6cc4-48b6-8870-ea235fbc94c2"
XDSFolder_codeList: Final = "urn:uuid:1ba97051-7806-41a8-a48b-8fce7af683c5"
XDSFolder_patientId: Final = "urn:uuid:f64ffdf0-4b97-4e06-b79f-a52b38ec2f8a"
XDSFolder_uniqueId: Final = "urn:uuid:75df8f67-9973-4fbe-a900-df66cefecc5a"
XDSFolder_limitedMetadata: Final = "urn:uuid:2c144a76-29a9-4b7c-af54-b25409fe7d03"

XDSAssociationDocumentation: Final = "urn:uuid:abd807a3-4432-4053-87b4-fd82c643d1f3"

# -- association types (ITI TF-3 4.2.2) -----------------------------------------------------
HAS_MEMBER: Final = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
RPLC: Final = "urn:ihe:iti:2007:AssociationType:RPLC"
APND: Final = "urn:ihe:iti:2007:AssociationType:APND"
XFRM: Final = "urn:ihe:iti:2007:AssociationType:XFRM"
XFRM_RPLC: Final = "urn:ihe:iti:2007:AssociationType:XFRM_RPLC"
SIGNS: Final = "urn:ihe:iti:2007:AssociationType:signs"
IS_SNAPSHOT_OF: Final = "urn:ihe:iti:2010:AssociationType:IsSnapshotOf"
UPDATE_AVAILABILITY_STATUS: Final = "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus"
SUBMIT_ASSOCIATION: Final = "urn:ihe:iti:2010:AssociationType:SubmitAssociation"
DOCUMENT_RELATIONSHIPS: Final = frozenset({RPLC, APND, XFRM, XFRM_RPLC, SIGNS, IS_SNAPSHOT_OF})
REPLACEMENTS: Final = frozenset({RPLC, XFRM_RPLC})
ASSOCIATION_TYPES: Final = DOCUMENT_RELATIONSHIPS | {HAS_MEMBER, UPDATE_AVAILABILITY_STATUS, SUBMIT_ASSOCIATION}

# -- stored queries (ITI TF-2a 3.18.4.1.2.3.7) ----------------------------------------------
FIND_DOCUMENTS: Final = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
FIND_DOCUMENTS_BY_REFERENCE_ID: Final = "urn:uuid:12941a89-e02e-4be5-967c-ce4bfc8fe492"
FIND_SUBMISSION_SETS: Final = "urn:uuid:f26abbcb-ac74-4422-8a30-edb644bbc1a9"
FIND_FOLDERS: Final = "urn:uuid:958f3006-baad-4929-a4de-ff1114824431"
GET_ALL: Final = "urn:uuid:10b545ea-725c-446d-9b95-8aeb444eddf3"
GET_DOCUMENTS: Final = "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4"
GET_FOLDERS: Final = "urn:uuid:5737b14c-8a1a-4539-b659-e03a34a5e1e4"
GET_ASSOCIATIONS: Final = "urn:uuid:a7ae438b-4bc2-4642-93e9-be891f7bb155"
GET_DOCUMENTS_AND_ASSOCIATIONS: Final = "urn:uuid:bab9529a-4a10-40b3-a01f-f68a615d247a"
GET_SUBMISSION_SETS: Final = "urn:uuid:51224314-5390-4169-9b91-b1980040715a"
GET_SUBMISSION_SET_AND_CONTENTS: Final = "urn:uuid:e8e3cb2c-e39c-46b9-99e4-c12f57260b83"
GET_FOLDER_AND_CONTENTS: Final = "urn:uuid:b909a503-523d-4517-8acf-8e5834dfc4c7"
GET_FOLDERS_FOR_DOCUMENT: Final = "urn:uuid:10cae35a-c7f9-4cf5-b61e-fc3278ffb578"
GET_RELATED_DOCUMENTS: Final = "urn:uuid:d90e5407-b356-4d91-a89f-873917b4b0e6"

# -- slot names -----------------------------------------------------------------------------
SLOT_REFERENCE_ID_LIST: Final = "urn:ihe:iti:xds:2013:referenceIdList"
SLOT_SUBMISSION_SET_STATUS: Final = "SubmissionSetStatus"
SLOT_PREVIOUS_VERSION: Final = "PreviousVersion"
SLOT_ORIGINAL_STATUS: Final = "OriginalStatus"
SLOT_NEW_STATUS: Final = "NewStatus"
SLOT_LAST_UPDATE_TIME: Final = "lastUpdateTime"

# -- error codes (ITI TF-3 Table 4.2.4.1-2) -------------------------------------------------
XDSRegistryMetadataError: Final = "XDSRegistryMetadataError"
XDSRepositoryMetadataError: Final = "XDSRepositoryMetadataError"
XDSRegistryError: Final = "XDSRegistryError"
XDSRepositoryError: Final = "XDSRepositoryError"
XDSMissingDocument: Final = "XDSMissingDocument"
XDSMissingDocumentMetadata: Final = "XDSMissingDocumentMetadata"
XDSDuplicateUniqueIdInRegistry: Final = "XDSDuplicateUniqueIdInRegistry"
XDSRegistryDuplicateUniqueIdInMessage: Final = "XDSRegistryDuplicateUniqueIdInMessage"
XDSNonIdenticalHash: Final = "XDSNonIdenticalHash"
XDSNonIdenticalSize: Final = "XDSNonIdenticalSize"
XDSUnknownPatientId: Final = "XDSUnknownPatientId"
XDSPatientIdDoesNotMatch: Final = "XDSPatientIdDoesNotMatch"
XDSStoredQueryParamNumber: Final = "XDSStoredQueryParamNumber"
XDSStoredQueryMissingParam: Final = "XDSStoredQueryMissingParam"
XDSUnknownStoredQuery: Final = "XDSUnknownStoredQuery"
XDSResultNotSinglePatient: Final = "XDSResultNotSinglePatient"
XDSTooManyResults: Final = "XDSTooManyResults"
XDSDocumentUniqueIdError: Final = "XDSDocumentUniqueIdError"
XDSUnknownRepositoryId: Final = "XDSUnknownRepositoryId"
XDSMetadataUpdateError: Final = "XDSMetadataUpdateError"
XDSMetadataVersionError: Final = "XDSMetadataVersionError"
XDSMetadataIdentifierError: Final = "XDSMetadataIdentifierError"
XDSMetadataUpdateOperationError: Final = "XDSMetadataUpdateOperationError"
XDSPatientIDReconciliationError: Final = "XDSPatientIDReconciliationError"
XDSReplaceFailed: Final = "XDSReplaceFailed"
XDSExtraMetadataNotSaved: Final = "XDSExtraMetadataNotSaved"
XDSRegistryDeprecatedDocumentError: Final = "XDSRegistryDeprecatedDocumentError"
UnresolvedReferenceException: Final = "UnresolvedReferenceException"
InvalidRequestException: Final = "InvalidRequestException"
