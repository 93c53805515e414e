"""CI-SIS "structuration minimale des documents de santé": header rules of the French
CDA R2 documents (ANS CI-SIS; INS in recordTarget per the ANS identity rules).

Rule ids (errors unless marked warning):
- CISIS-HDR-REALMCODE: realmCode/@code = FR.
- CISIS-HDR-TYPEID: typeId root 2.16.840.1.113883.1.3, extension POCD_HD000040.
- CISIS-HDR-TEMPLATEID-HL7FR: templateId 2.16.840.1.113883.2.8.2.1 (HL7 France header).
- CISIS-HDR-TEMPLATEID-CISIS: templateId 1.2.250.1.213.1.1.1.1 (CI-SIS minimal structure).
- CISIS-HDR-ID: id with an OID or UUID @root.
- CISIS-HDR-CODE: code with @code and @codeSystem (displayName: warning).
- CISIS-HDR-TITLE: a non-empty title.
- CISIS-HDR-EFFECTIVETIME: effectiveTime precise to the second with a UTC offset.
- CISIS-HDR-CONFIDENTIALITYCODE: confidentialityCode N, R or V in 2.16.840.1.113883.5.25.
- CISIS-HDR-LANGUAGECODE: languageCode fr-FR.
- CISIS-HDR-SETID / CISIS-HDR-VERSIONNUMBER: setId and versionNumber present.
- CISIS-HDR-RECORDTARGET: exactly one recordTarget/patientRole.
- CISIS-HDR-PATIENT-ID: a qualified patient identifier (id with @root and @extension).
- CISIS-HDR-INS: an INS id has an INS OID (NIR, NIA, test, demo) and a 15-character
  matricule whose key is right; absence of INS is a warning (local ids and traits only).
- CISIS-HDR-INS-TRAITS: with an INS, the birth name (family BR), sex (M or F) and birth
  date are present, and birth names are INSi traits (capitals without diacritics); first
  birth given name and birthplace code: warnings.
- CISIS-HDR-PATIENT: patient name, administrativeGenderCode and birthTime present.
- CISIS-HDR-AUTHOR: at least one author with time (a TS with at least a date; coarser
  than the second: warning) and assignedAuthor/id, a person or a device; a person
  identified otherwise than under 1.2.250.1.71.4.2.1 (IdNat_PS): warning.
- CISIS-HDR-CUSTODIAN: custodian organisation identified under 1.2.250.1.71.4.2.2.
- CISIS-HDR-LEGALAUTHENTICATOR: legalAuthenticator with time, signatureCode S and
  assignedEntity/id.
- CISIS-HDR-SERVICEEVENT: documentationOf/serviceEvent (its effectiveTime: warning).
- CISIS-HDR-COMPONENTOF: componentOf/encompassingEncounter (healthCareFacility code:
  warning).
- CISIS-HDR-COMPONENT: a structuredBody with titled sections, or a nonXMLBody.
"""
from __future__ import annotations

import re

from lxml import etree

from cda.datatypes import has_null_flavor, ins_format_valid, ins_key_valid, is_ii_root, ts_precision
from cda.document import CdaDocument
from cda.oids import (
    CDA_TYPE_ID_EXTENSION,
    CDA_TYPE_ID_ROOT,
    CISIS_STRUCTURATION_MINIMALE,
    HL7_ADMINISTRATIVE_GENDER,
    HL7_CONFIDENTIALITY,
    HL7_FRANCE_HEADER,
    IDNAT_PS,
    IDNAT_STRUCT,
    INS_OIDS,
)
from cda.rules import Emitter, present_or, required

INS_ARC = "1.2.250.1.213.1.4."
CONFIDENTIALITY_CODES = frozenset({"N", "R", "V"})
GENDER_CODES = frozenset({"M", "F", "U"})
INS_SEXES = frozenset({"M", "F"})
# INSi traits: upper case, no diacritics; words joined by space, hyphen or apostrophe.
INSI_NAME = re.compile(r"^[A-Z]+(?:(?: |-|'|--)[A-Z]+)*$")


def _ts(
    emit: Emitter, rule: str, element: etree._Element | None, what: str, parent: etree._Element, strict: bool = True
) -> None:
    """A TS precise to the second with a time-zone offset: required of the document's
    effectiveTime; for other header times a coarser TS is only a warning."""
    if element is None:
        emit.error(rule, f"{what} is required", parent)
        return
    value = element.get("value", "")
    precision = ts_precision(value)
    if precision is None or precision[0] < 8:
        emit.error(rule, f"{what}/@value is not an HL7 TS with at least a date", element, "value")
    elif precision[0] < 14 or not precision[1]:
        report = emit.error if strict else emit.warning
        report(rule, f"{what} shall be precise to the second with a UTC offset (YYYYMMDDHHMMSS+ZZZZ)", element, "value")


def check(document: CdaDocument, emit: Emitter) -> None:
    """CI-SIS minimal-structure header rules."""
    _identification(document, emit)
    _document_codes(document, emit)
    _record_target(document, emit)
    _authors(document, emit)
    _custodian(document, emit)
    _legal_authenticator(document, emit)
    _context(document, emit)
    _body(document, emit)


def _identification(document: CdaDocument, emit: Emitter) -> None:
    """realmCode, typeId, templateIds, id, code, title and effectiveTime."""
    root = document.root
    first = document.first

    realm = first("cda:realmCode")
    if realm is None or realm.get("code") != "FR":
        emit.error("CISIS-HDR-REALMCODE", "realmCode/@code shall be FR", present_or(realm, root))

    type_id = first("cda:typeId")
    if type_id is None or type_id.get("root") != CDA_TYPE_ID_ROOT or type_id.get("extension") != CDA_TYPE_ID_EXTENSION:
        emit.error("CISIS-HDR-TYPEID", f"typeId shall be root {CDA_TYPE_ID_ROOT} extension {CDA_TYPE_ID_EXTENSION}",
                   present_or(type_id, root))

    templates = document.template_ids()
    if HL7_FRANCE_HEADER not in templates:
        emit.error("CISIS-HDR-TEMPLATEID-HL7FR",
                   f"ClinicalDocument/templateId[@root='{HL7_FRANCE_HEADER}'] (HL7 France header) is mandatory", root)
    if CISIS_STRUCTURATION_MINIMALE not in templates:
        emit.error("CISIS-HDR-TEMPLATEID-CISIS",
                   f"ClinicalDocument/templateId[@root='{CISIS_STRUCTURATION_MINIMALE}'] (CI-SIS minimal structure) is mandatory",
                   root)

    document_id = first("cda:id")
    if document_id is None or not is_ii_root(document_id.get("root", "")):
        emit.error("CISIS-HDR-ID", "ClinicalDocument/id with an OID or UUID @root is required", present_or(document_id, root))

    code = first("cda:code")
    if code is None or not code.get("code") or not code.get("codeSystem"):
        emit.error("CISIS-HDR-CODE", "ClinicalDocument/code with @code and @codeSystem is required", present_or(code, root))
    elif not code.get("displayName"):
        emit.warning("CISIS-HDR-CODE", "ClinicalDocument/code should carry @displayName", code)

    title = first("cda:title")
    if title is None or not "".join(title.itertext()).strip():
        emit.error("CISIS-HDR-TITLE", "ClinicalDocument/title is required and not empty", present_or(title, root))

    _ts(emit, "CISIS-HDR-EFFECTIVETIME", first("cda:effectiveTime"), "ClinicalDocument/effectiveTime", root)


def _document_codes(document: CdaDocument, emit: Emitter) -> None:
    """confidentialityCode, languageCode, setId and versionNumber."""
    root = document.root
    first = document.first

    confidentiality = required(
        document, emit, "CISIS-HDR-CONFIDENTIALITYCODE", "cda:confidentialityCode", "ClinicalDocument/confidentialityCode"
    )
    if confidentiality is not None and (
        confidentiality.get("code") not in CONFIDENTIALITY_CODES or confidentiality.get("codeSystem") != HL7_CONFIDENTIALITY
    ):
        emit.error("CISIS-HDR-CONFIDENTIALITYCODE",
                   f"confidentialityCode shall be N, R or V in {HL7_CONFIDENTIALITY}", confidentiality)

    language = required(document, emit, "CISIS-HDR-LANGUAGECODE", "cda:languageCode", "ClinicalDocument/languageCode")
    if language is not None and language.get("code") != "fr-FR":
        emit.error("CISIS-HDR-LANGUAGECODE", "languageCode/@code shall be fr-FR", language, "code")

    set_id = first("cda:setId")
    if set_id is None or not is_ii_root(set_id.get("root", "")):
        emit.error("CISIS-HDR-SETID", "ClinicalDocument/setId with an OID or UUID @root is required", present_or(set_id, root))
    version = first("cda:versionNumber")
    if version is None or not version.get("value", "").isdigit():
        emit.error("CISIS-HDR-VERSIONNUMBER", "ClinicalDocument/versionNumber/@value (an integer) is required", present_or(version, root))


def _custodian(document: CdaDocument, emit: Emitter) -> None:
    """The custodian organisation, identified by its IdNat_Struct."""
    root = document.root
    first = document.first

    custodian_org = first("cda:custodian/cda:assignedCustodian/cda:representedCustodianOrganization")
    if custodian_org is None:
        emit.error("CISIS-HDR-CUSTODIAN", "custodian/assignedCustodian/representedCustodianOrganization is required",
                   present_or(first("cda:custodian"), root))
    else:
        org_id = first("cda:id", custodian_org)
        if org_id is None or org_id.get("root") != IDNAT_STRUCT or not org_id.get("extension"):
            emit.error("CISIS-HDR-CUSTODIAN",
                       f"the custodian organisation shall be identified by id/@root {IDNAT_STRUCT} with its IdNat_Struct",
                       present_or(org_id, custodian_org))


def _legal_authenticator(document: CdaDocument, emit: Emitter) -> None:
    """legalAuthenticator: time, signatureCode S, assignedEntity."""
    first = document.first

    legal = required(document, emit, "CISIS-HDR-LEGALAUTHENTICATOR", "cda:legalAuthenticator", "legalAuthenticator")
    if legal is not None:
        _ts(emit, "CISIS-HDR-LEGALAUTHENTICATOR", first("cda:time", legal), "legalAuthenticator/time", legal, strict=False)
        signature = first("cda:signatureCode", legal)
        if signature is None or signature.get("code") != "S":
            emit.error("CISIS-HDR-LEGALAUTHENTICATOR", "legalAuthenticator/signatureCode/@code shall be S", present_or(signature, legal))
        entity_id = first("cda:assignedEntity/cda:id", legal)
        if entity_id is None or not (entity_id.get("root") or has_null_flavor(entity_id)):
            emit.error("CISIS-HDR-LEGALAUTHENTICATOR", "legalAuthenticator/assignedEntity/id is required", legal)
        if first("cda:assignedEntity/cda:assignedPerson", legal) is None:
            emit.warning("CISIS-HDR-LEGALAUTHENTICATOR", "legalAuthenticator/assignedEntity/assignedPerson should be present", legal)


def _context(document: CdaDocument, emit: Emitter) -> None:
    """documentationOf/serviceEvent and componentOf/encompassingEncounter."""
    root = document.root
    first = document.first
    x = document.xpath

    events = x("cda:documentationOf/cda:serviceEvent")
    if not events:
        emit.error("CISIS-HDR-SERVICEEVENT", "documentationOf/serviceEvent is required", root)
    for event in events:
        if first("cda:effectiveTime", event) is None:
            emit.warning("CISIS-HDR-SERVICEEVENT", "serviceEvent/effectiveTime should be present", event)

    encounter = required(document, emit, "CISIS-HDR-COMPONENTOF", "cda:componentOf/cda:encompassingEncounter", "componentOf/encompassingEncounter")
    if encounter is not None and first("cda:location/cda:healthCareFacility/cda:code", encounter) is None:
        emit.warning("CISIS-HDR-COMPONENTOF", "encompassingEncounter/location/healthCareFacility/code (cadre d'exercice) should be present",
                     encounter)


def _record_target(document: CdaDocument, emit: Emitter) -> None:
    root = document.root
    first = document.first
    targets = document.xpath("cda:recordTarget")
    if len(targets) != 1:
        emit.error("CISIS-HDR-RECORDTARGET", f"exactly one recordTarget is required, found {len(targets)}",
                   targets[1] if len(targets) > 1 else root)
        if not targets:
            return
    role = required(document, emit, "CISIS-HDR-RECORDTARGET", "cda:patientRole", "recordTarget/patientRole", targets[0])
    if role is None:
        return
    ids = document.xpath("cda:id", role)
    if not any(i.get("root") and i.get("extension") for i in ids):
        emit.error("CISIS-HDR-PATIENT-ID",
                   "patientRole/id: a qualified patient identifier (@root of the assigning authority and @extension) is required",
                   ids[0] if ids else role)
    ins_ids = []
    for patient_id in ids:
        root_oid = patient_id.get("root", "")
        if root_oid in INS_OIDS:
            ins_ids.append(patient_id)
            matricule = patient_id.get("extension", "")
            if not ins_format_valid(matricule):
                emit.error("CISIS-HDR-INS", "the INS matricule shall be 13 characters and a 2-digit key", patient_id, "extension")
            elif not ins_key_valid(matricule):
                emit.error("CISIS-HDR-INS", "the INS key does not match its matricule (97 - N mod 97)", patient_id, "extension")
        elif root_oid.startswith(INS_ARC):
            emit.error("CISIS-HDR-INS",
                       f"{root_oid} is not an INS assigning authority (INS-NIR .4.8, INS-NIA .4.9, test .4.10, demo .4.11)",
                       patient_id, "root")
    if not ins_ids:
        emit.warning("CISIS-HDR-INS", "no INS: the patient is identified by local identifiers and traits only", role)

    patient = required(document, emit, "CISIS-HDR-PATIENT", "cda:patient", "patientRole/patient", role)
    if patient is None:
        return
    for name, what in (("name", "name"), ("administrativeGenderCode", "administrativeGenderCode"), ("birthTime", "birthTime")):
        if first(f"cda:{name}", patient) is None:
            emit.error("CISIS-HDR-PATIENT", f"patient/{what} is required", patient)
    gender = first("cda:administrativeGenderCode", patient)
    if gender is not None and not has_null_flavor(gender):
        if gender.get("code") not in GENDER_CODES or gender.get("codeSystem") != HL7_ADMINISTRATIVE_GENDER:
            emit.error("CISIS-HDR-PATIENT", f"administrativeGenderCode shall be M, F or U in {HL7_ADMINISTRATIVE_GENDER}", gender)
    if ins_ids:
        _ins_traits(document, emit, patient)


def _ins_traits(document: CdaDocument, emit: Emitter, patient: etree._Element) -> None:
    """With an INS, the INS traits come unaltered from the INSi teleservice."""
    first = document.first
    if first("cda:name/cda:family[@qualifier='BR']", patient) is None:
        emit.error("CISIS-HDR-INS-TRAITS", "with an INS, patient/name/family[@qualifier='BR'] (birth name) is required", patient)
    if first("cda:name/cda:given[@qualifier='BR']", patient) is None:
        emit.warning("CISIS-HDR-INS-TRAITS", "with an INS, patient/name/given[@qualifier='BR'] (first birth given name) should be present",
                     patient)
    for trait in document.xpath("cda:name/cda:family[@qualifier='BR'] | cda:name/cda:given[@qualifier='BR']", patient):
        if not INSI_NAME.match("".join(trait.itertext()).strip()):
            emit.error("CISIS-HDR-INS-TRAITS",
                       "with an INS, birth names are the INSi traits: capital letters without diacritics, space, hyphen, apostrophe",
                       trait)
    gender = first("cda:administrativeGenderCode", patient)
    if gender is None or has_null_flavor(gender):
        emit.error("CISIS-HDR-INS-TRAITS", "with an INS, the sex (administrativeGenderCode) is required", patient)
    elif gender.get("code") in GENDER_CODES - INS_SEXES:
        emit.error("CISIS-HDR-INS-TRAITS", "with an INS, the sex is M or F (the INS sex)", gender, "code")
    birth = first("cda:birthTime", patient)
    if birth is None or not birth.get("value"):
        emit.error("CISIS-HDR-INS-TRAITS", "with an INS, the birth date (birthTime/@value) is required", patient)
    if first("cda:birthplace/cda:place/cda:addr/cda:county", patient) is None:
        emit.warning("CISIS-HDR-INS-TRAITS", "with an INS, the birthplace INSEE code (birthplace/place/addr/county) should be present",
                     patient)


def _authors(document: CdaDocument, emit: Emitter) -> None:
    authors = document.xpath("cda:author")
    if not authors:
        emit.error("CISIS-HDR-AUTHOR", "at least one author is required", document.root)
    for author in authors:
        first = document.first
        _ts(emit, "CISIS-HDR-AUTHOR", first("cda:time", author), "author/time", author, strict=False)
        assigned = required(document, emit, "CISIS-HDR-AUTHOR", "cda:assignedAuthor", "author/assignedAuthor", author)
        if assigned is None:
            continue
        author_id = first("cda:id", assigned)
        if author_id is None or not (author_id.get("root") or has_null_flavor(author_id)):
            emit.error("CISIS-HDR-AUTHOR", "author/assignedAuthor/id is required", assigned)
        person = first("cda:assignedPerson", assigned)
        device = first("cda:assignedAuthoringDevice", assigned)
        if person is None and device is None:
            emit.error("CISIS-HDR-AUTHOR", "assignedAuthor shall hold an assignedPerson or an assignedAuthoringDevice", assigned)
        elif person is not None and author_id is not None and author_id.get("root") != IDNAT_PS and not has_null_flavor(author_id):
            emit.warning("CISIS-HDR-AUTHOR", f"a health professional author is identified under {IDNAT_PS} (IdNat_PS)", author_id, "root")


def _body(document: CdaDocument, emit: Emitter) -> None:
    first = document.first
    component = required(document, emit, "CISIS-HDR-COMPONENT", "cda:component", "ClinicalDocument/component")
    if component is None:
        return
    structured = first("cda:structuredBody", component)
    unstructured = first("cda:nonXMLBody", component)
    if unstructured is not None:
        text = first("cda:text", unstructured)
        if text is None or not (text.text or "").strip():
            emit.error("CISIS-HDR-COMPONENT", "nonXMLBody/text shall hold the document", unstructured)
        elif not text.get("mediaType"):
            emit.error("CISIS-HDR-COMPONENT", "nonXMLBody/text/@mediaType is required", text)
        return
    if structured is None:
        emit.error("CISIS-HDR-COMPONENT", "component shall hold a structuredBody or a nonXMLBody", component)
        return
    sections = document.xpath("cda:component/cda:section", structured)
    if not sections:
        emit.error("CISIS-HDR-COMPONENT", "structuredBody shall hold at least one section", structured)
    for section in document.xpath(".//cda:section", structured):
        title = first("cda:title", section)
        if title is None or not "".join(title.itertext()).strip():
            emit.error("CISIS-HDR-COMPONENT", "every section shall have a title", section)
        if first("cda:code", section) is None:
            emit.warning("CISIS-HDR-COMPONENT", "section/code should be present", section)
