"""CDA R2 documents composed in code, for testing the CDA validator (`cda`), the
`/validation` service and the ITI-41 submission gate without third-party samples.

Each sample follows the rules the validator checks (`cda.rules`), written from the
standards they come from:

- CDA R2 (HL7 POCD_MT000040: element order, typeId, II/TS data types);
- the CI-SIS "structuration minimale" header (realmCode FR, HL7 France and CI-SIS
  templateIds, confidentialityCode N/R/V, languageCode fr-FR, setId and versionNumber,
  one recordTarget whose patient carries an INS with its INSi traits, authors identified
  under IdNat_PS, the custodian under IdNat_Struct, legalAuthenticator with signature
  code S, documentationOf/serviceEvent, componentOf/encompassingEncounter);
- IHE XD-LAB and its French profile CR-BIO (specialty and report-item sections, one
  data-processing entry per leaf section, LOINC-coded result observations);
- the CI-SIS vaccination documents built on IHE PCC Immunization Content (carnet
  11369-6 and note 87273-9);
- IHE XDS-SD (scanned document: a PDF in nonXMLBody, a device author).

Every person, identifier and organisation is invented: INS matricules under the INS
test OID 1.2.250.1.213.1.4.10 with a computed key, RPPS numbers in a 9999... range,
FINESS numbers in a 99... range, local identifiers under 2.999.

    data = cda_samples.sample("cr-bio")                  # bytes of a valid document
    root = cda_samples.tree("cr-bio")                    # the same, to change in place
    data = cda_samples.variant("missing-custodian")      # one rule broken
    data = cda_samples.mutated("vac-carnet", change)     # your own change

`SAMPLES` says, for each positive sample, the profile and rule sets the validator
applies under `auto`; `VARIANTS` says, for each negative variant, the rules it breaks
and whether the document still conforms to the CDA R2 schema.
"""
from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from cda import oids as o
from conformance.synthetic import luhn_key, nir_key

H = f"{{{o.HL7V3}}}"
XSI_TYPE = f"{{{o.XSI}}}type"
NSMAP = {None: o.HL7V3, "xsi": o.XSI}

# Local assigning authorities and identifier roots (2.999: example arc, never assigned).
LOCAL_PATIENT_AUTHORITY = "2.999.42.1.1"      # patient identifiers (IPP) of the facility
LOCAL_ACT_AUTHORITY = "2.999.42.1.2"          # ids of acts (immunizations)
LOCAL_ENCOUNTER_AUTHORITY = "2.999.42.1.3"    # encounter (venue) numbers
XD_LAB_PERFORMER = "1.3.6.1.4.1.19376.1.3.3.1.7"  # Laboratory Performer (serviceEvent/performer)
SECTOR_OF_ACTIVITY = "1.2.250.1.71.4.2.4"     # TRE_R02 SecteurActivite (healthCareFacility/code)
PROFESSION = "1.2.250.1.71.1.2.7"             # TRE_G15 ProfessionSante
ROUTE_OF_ADMINISTRATION = "2.16.840.1.113883.5.112"
IMMUNIZATION_ACT_CODE = "IMMUNIZ"             # ActCode, IHE PCC Immunization entry


# -- identifiers ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Patient:
    """A synthetic patient whose INS traits are written as INSi returns them."""

    nir: str                       # 13 characters; the key is computed
    birth_family: str
    birth_givens: tuple[str, ...]
    used_given: str
    sex: str                       # M or F
    birth_date: str                # YYYYMMDD
    birthplace_code: str           # INSEE code of the birth commune
    birthplace_city: str
    local_id: str
    street: str
    postal_code: str
    city: str
    phone: str

    @property
    def ins(self) -> str:
        return self.nir + nir_key(self.nir)


@dataclass(frozen=True)
class Professional:
    rpps: str                      # 10 digits; the Luhn key is appended
    given: str
    family: str
    profession: tuple[str, str] = ("10", "Médecin")

    @property
    def idnat(self) -> str:
        """IdNat_PS: 8 + the RPPS number."""
        number = self.rpps + luhn_key(self.rpps)
        return "8" + number


@dataclass(frozen=True)
class Organisation:
    finess: str                    # 8 digits; the Luhn key is appended
    name: str
    street: str
    postal_code: str
    city: str
    phone: str
    sector: tuple[str, str]        # TRE_R02 code and label

    @property
    def idnat(self) -> str:
        """IdNat_Struct of a FINESS-identified structure: 1 + the FINESS number."""
        return "1" + self.finess + luhn_key(self.finess)


ADELINE = Patient(
    nir="2910735238417", birth_family="LAVERGNE", birth_givens=("ADELINE", "MARTHE"), used_given="Adeline",
    sex="F", birth_date="19910714", birthplace_code="35238", birthplace_city="RENNES", local_id="IPP-204517",
    street="12 allée des Cerisiers", postal_code="99150", city="Sainte-Odile-des-Prés", phone="+33999001001",
)
BASTIEN = Patient(
    nir="1780269123061", birth_family="ROCHE-VALADE", birth_givens=("BASTIEN", "LOUIS"), used_given="Bastien",
    sex="M", birth_date="19780203", birthplace_code="69123", birthplace_city="LYON", local_id="IPP-318802",
    street="3 impasse du Moulin", postal_code="99150", city="Sainte-Odile-des-Prés", phone="+33999001002",
)
NINA = Patient(
    nir="2181144109022", birth_family="DUVERGIER", birth_givens=("NINA",), used_given="Nina",
    sex="F", birth_date="20181120", birthplace_code="44109", birthplace_city="NANTES", local_id="IPP-551290",
    street="27 rue des Lavandières", postal_code="99150", city="Sainte-Odile-des-Prés", phone="+33999001003",
)

HOSPITAL = Organisation(
    finess="99000012", name="Centre hospitalier de Sainte-Odile (fictif)", street="1 place de l'Hôpital",
    postal_code="99150", city="Sainte-Odile-des-Prés", phone="+33999000100",
    sector=("SA01", "Etablissement public de santé"),
)
LABORATORY = Organisation(
    finess="99000047", name="Laboratoire de biologie médicale des Prés (fictif)", street="8 rue Pasteur",
    postal_code="99150", city="Sainte-Odile-des-Prés", phone="+33999000200",
    sector=("SA29", "Laboratoire de biologie médicale"),
)
PRACTICE = Organisation(
    finess="99000088", name="Cabinet médical du Marché (fictif)", street="5 place du Marché",
    postal_code="99150", city="Sainte-Odile-des-Prés", phone="+33999000300",
    sector=("SA07", "Cabinet individuel"),
)

CARDIOLOGIST = Professional(rpps="9999100001", given="Hélène", family="VASSEUR")
BIOLOGIST = Professional(rpps="9999100002", given="Romain", family="LESAGE")
GENERAL_PRACTITIONER = Professional(rpps="9999100003", given="Inès", family="CARADEC")


def document_uuid(name: str) -> str:
    """A stable UUID for `name` (documents compose identically on every run)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:tsnhub:cda-samples:{name}")).upper()


# -- element helpers ------------------------------------------------------------------------

def _sub(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, H + name, attributes)
    if text is not None:
        element.text = text
    return element


def _code(parent: etree._Element, name: str, code: str, display: str, system: str, system_name: str = "") -> etree._Element:
    attributes = {"code": code, "displayName": display, "codeSystem": system}
    if system_name:
        attributes["codeSystemName"] = system_name
    return etree.SubElement(parent, H + name, attributes)


def _loinc(parent: etree._Element, code: str, display: str, name: str = "code") -> etree._Element:
    return _code(parent, name, code, display, o.LOINC, "LOINC")


def _addr(parent: etree._Element, street: str, postal_code: str, city: str, use: str = "") -> None:
    addr = _sub(parent, "addr", **({"use": use} if use else {}))
    _sub(addr, "streetAddressLine", street)
    _sub(addr, "postalCode", postal_code)
    _sub(addr, "city", city)


def _person(parent: etree._Element, professional: Professional, name: str = "assignedPerson") -> None:
    person = _sub(parent, name)
    person_name = _sub(person, "name")
    _sub(person_name, "prefix", "Dr")
    _sub(person_name, "given", professional.given)
    _sub(person_name, "family", professional.family)


def _organisation(parent: etree._Element, organisation: Organisation, name: str) -> None:
    element = _sub(parent, name)
    _sub(element, "id", root=o.IDNAT_STRUCT, extension=organisation.idnat)
    _sub(element, "name", organisation.name)
    _sub(element, "telecom", value=f"tel:{organisation.phone}", use="WP")
    _addr(element, organisation.street, organisation.postal_code, organisation.city)


def _contact(parent: etree._Element, organisation: Organisation) -> None:
    """The professional's work address and telephone: those of the organisation."""
    _addr(parent, organisation.street, organisation.postal_code, organisation.city, use="WP")
    _sub(parent, "telecom", value=f"tel:{organisation.phone}", use="WP")


def _interval(parent: etree._Element, low: str, high: str, name: str = "effectiveTime") -> None:
    interval = _sub(parent, name)
    _sub(interval, "low", value=low)
    _sub(interval, "high", value=high)


# -- the CI-SIS header ----------------------------------------------------------------------

@dataclass(frozen=True)
class Header:
    """What differs between the headers of the samples."""

    name: str                      # seeds the document and set ids
    templates: tuple[str, ...]     # after HL7 France and CI-SIS minimal structure
    code: tuple[str, str]          # LOINC code and display name
    title: str
    effective_time: str            # YYYYMMDDHHMMSS+ZZZZ
    patient: Patient
    author: Professional
    organisation: Organisation
    encounter: tuple[str, str]     # low, high
    french: bool = True            # HL7 France / CI-SIS templates and realm FR (else UV)
    performer_templates: tuple[str, ...] = ()


def _header(header: Header) -> etree._Element:
    """realmCode .. componentOf, in the order of POCD_MT000040.ClinicalDocument."""
    root = etree.Element(H + "ClinicalDocument", nsmap=NSMAP)
    _sub(root, "realmCode", code="FR" if header.french else "UV")
    _sub(root, "typeId", root=o.CDA_TYPE_ID_ROOT, extension=o.CDA_TYPE_ID_EXTENSION)
    templates = (o.HL7_FRANCE_HEADER, o.CISIS_STRUCTURATION_MINIMALE) if header.french else ()
    for template in (*templates, *header.templates):
        _sub(root, "templateId", root=template)
    _sub(root, "id", root=document_uuid(header.name + "/1"))
    _loinc(root, *header.code)
    _sub(root, "title", header.title)
    _sub(root, "effectiveTime", value=header.effective_time)
    _code(root, "confidentialityCode", "N", "Normal", o.HL7_CONFIDENTIALITY)
    _sub(root, "languageCode", code="fr-FR")
    _sub(root, "setId", root=document_uuid(header.name))
    _sub(root, "versionNumber", value="1")
    _record_target(root, header.patient)
    _author(root, header.author, header.organisation, header.effective_time)
    custodian = _sub(_sub(root, "custodian"), "assignedCustodian")
    _organisation(custodian, header.organisation, "representedCustodianOrganization")
    legal = _sub(root, "legalAuthenticator")
    _sub(legal, "time", value=header.effective_time)
    _sub(legal, "signatureCode", code="S")
    entity = _sub(legal, "assignedEntity")
    _sub(entity, "id", root=o.IDNAT_PS, extension=header.author.idnat)
    _contact(entity, header.organisation)
    _person(entity, header.author)
    event = _sub(_sub(root, "documentationOf"), "serviceEvent")
    _loinc(event, *header.code)
    _interval(event, *header.encounter)
    performer = _sub(event, "performer", typeCode="PRF")
    for template in header.performer_templates:
        _sub(performer, "templateId", root=template)
    _interval(performer, *header.encounter, name="time")
    assigned = _sub(performer, "assignedEntity")
    _sub(assigned, "id", root=o.IDNAT_PS, extension=header.author.idnat)
    _contact(assigned, header.organisation)
    _person(assigned, header.author)
    _organisation(assigned, header.organisation, "representedOrganization")
    encounter = _sub(_sub(root, "componentOf"), "encompassingEncounter")
    _sub(encounter, "id", root=LOCAL_ENCOUNTER_AUTHORITY, extension=f"VEN-{header.encounter[0][:8]}")
    _interval(encounter, *header.encounter)
    facility = _sub(_sub(encounter, "location"), "healthCareFacility")
    _code(facility, "code", *header.organisation.sector, SECTOR_OF_ACTIVITY)
    return root


def _record_target(root: etree._Element, patient: Patient) -> None:
    role = _sub(_sub(root, "recordTarget"), "patientRole")
    _sub(role, "id", root=o.INS_NIR_TEST, extension=patient.ins)
    _sub(role, "id", root=LOCAL_PATIENT_AUTHORITY, extension=patient.local_id)
    _addr(role, patient.street, patient.postal_code, patient.city, use="H")
    _sub(role, "telecom", value=f"tel:{patient.phone}", use="H")
    person = _sub(role, "patient", classCode="PSN")
    name = _sub(person, "name")
    _sub(name, "family", patient.birth_family, qualifier="BR")
    _sub(name, "given", " ".join(patient.birth_givens))
    _sub(name, "given", patient.birth_givens[0], qualifier="BR")
    _sub(name, "given", patient.used_given, qualifier="CL")
    _code(person, "administrativeGenderCode", patient.sex, {"M": "Masculin", "F": "Féminin"}[patient.sex],
          o.HL7_ADMINISTRATIVE_GENDER)
    _sub(person, "birthTime", value=patient.birth_date)
    addr = _sub(_sub(_sub(person, "birthplace"), "place"), "addr")
    _sub(addr, "county", patient.birthplace_code)
    _sub(addr, "city", patient.birthplace_city)


def _author(root: etree._Element, professional: Professional, organisation: Organisation, time: str) -> None:
    author = _sub(root, "author")
    _sub(author, "time", value=time)
    assigned = _sub(author, "assignedAuthor")
    _sub(assigned, "id", root=o.IDNAT_PS, extension=professional.idnat)
    _code(assigned, "code", *professional.profession, PROFESSION)
    _contact(assigned, organisation)
    _person(assigned, professional)
    _organisation(assigned, organisation, "representedOrganization")


def _section(parent: etree._Element, code: tuple[str, str], title: str, templates: tuple[str, ...] = ()) -> etree._Element:
    section = _sub(_sub(parent, "component"), "section")
    for template in templates:
        _sub(section, "templateId", root=template)
    _loinc(section, *code)
    _sub(section, "title", title)
    return section


def _paragraphs(section: etree._Element, *paragraphs: str) -> None:
    text = _sub(section, "text")
    for paragraph in paragraphs:
        _sub(text, "paragraph", paragraph)


# -- the samples ----------------------------------------------------------------------------

def structuration_minimale() -> etree._Element:
    """A CI-SIS consultation report (LOINC 11488-4) with the minimal structure only: two
    titled, coded narrative sections."""
    root = _header(Header(
        name="structuration-minimale", templates=(), code=("11488-4", "Compte rendu de consultation"),
        title="Compte rendu de consultation de cardiologie", effective_time="20250428103000+0200",
        patient=ADELINE, author=CARDIOLOGIST, organisation=HOSPITAL,
        encounter=("20250428100000+0200", "20250428103000+0200"),
    ))
    body = _sub(_sub(root, "component"), "structuredBody")
    _paragraphs(_section(body, ("29299-5", "Motif de consultation"), "Motif de consultation"),
                "Contrôle à distance d'un épisode de palpitations.")
    _paragraphs(_section(body, ("55110-1", "Conclusion"), "Conclusion"),
                "Examen cardiovasculaire normal.", "Pas de traitement; nouveau contrôle si récidive.")
    return root


@dataclass(frozen=True)
class Result:
    """One laboratory result: LOINC code, label, value, UCUM unit, reference range,
    interpretation (HL7 ObservationInterpretation)."""

    code: str
    label: str
    value: str
    unit: str
    low: str
    high: str
    interpretation: str = "N"


@dataclass(frozen=True)
class ReportItem:
    code: str
    title: str
    results: tuple[Result, ...]


@dataclass(frozen=True)
class Specialty:
    code: str
    title: str
    items: tuple[ReportItem, ...]


LAB_SPECIALTIES = (
    Specialty("18723-7", "HÉMATOLOGIE", (
        ReportItem("58410-2", "Hémogramme", (
            Result("718-7", "Hémoglobine", "14.1", "g/dL", "13.0", "17.0"),
            Result("6690-2", "Leucocytes", "7.2", "10*9/L", "4.0", "10.0"),
            Result("777-3", "Plaquettes", "251", "10*9/L", "150", "400"),
        )),
    )),
    Specialty("18719-5", "BIOCHIMIE", (
        ReportItem("14682-9", "Créatinine", (
            Result("14682-9", "Créatinine", "118", "umol/L", "59", "104", "H"),
        )),
    )),
)


def lab_report(cisis: bool = True) -> etree._Element:
    """A laboratory report (LOINC 11502-2): CI-SIS CR-BIO (XD-LAB with the French
    templates beside the IHE ones) or, with `cisis=False`, a plain IHE XD-LAB report.
    Each report item is a leaf section: narrative table, one data-processing entry
    (typeCode DRIV) whose act holds the result observations, each referring to its
    narrative cell."""
    def french(*templates: str) -> tuple[str, ...]:
        """The CR-BIO templates, beside the IHE ones, in a CI-SIS document only."""
        return templates if cisis else ()

    root = _header(Header(
        name="cr-bio" if cisis else "xd-lab", templates=(o.XD_LAB_REPORT, *french(o.CISIS_CR_BIO)),
        code=("11502-2", "CR d'examens biologiques"), title="Compte rendu d'examens de biologie médicale",
        effective_time="20250415140000+0200", patient=BASTIEN, author=BIOLOGIST, organisation=LABORATORY,
        encounter=("20250415081500+0200", "20250415140000+0200"), french=cisis,
        performer_templates=(XD_LAB_PERFORMER,),
    ))
    collected = "20250415081500+0200"
    body = _sub(_sub(root, "component"), "structuredBody")
    for specialty in LAB_SPECIALTIES:
        section = _section(body, (specialty.code, specialty.title), specialty.title,
                           (o.XD_LAB_SPECIALTY_SECTION, *french(o.CRBIO_SPECIALTY_SECTION)))
        for item in specialty.items:
            leaf = _section(section, (item.code, item.title), item.title,
                            (o.XD_LAB_REPORT_ITEM_SECTION, *french(o.CRBIO_REPORT_ITEM_SECTION)))
            table = _sub(_sub(leaf, "text"), "table", border="1")
            head = _sub(_sub(table, "thead"), "tr")
            for label in ("Analyse", "Résultat", "Unité", "Valeurs de référence"):
                _sub(head, "th", label)
            rows = _sub(table, "tbody")
            for result in item.results:
                row = _sub(rows, "tr")
                _sub(_sub(row, "td"), "content", result.label, ID=f"res-{result.code}")
                _sub(row, "td", result.value)
                _sub(row, "td", result.unit)
                _sub(row, "td", f"{result.low} - {result.high}")
            entry = _sub(leaf, "entry", typeCode="DRIV")
            for template in (o.XD_LAB_DATA_PROCESSING_ENTRY, *french(o.CRBIO_DATA_PROCESSING_ENTRY)):
                _sub(entry, "templateId", root=template)
            act = _sub(entry, "act", classCode="ACT", moodCode="EVN")
            _loinc(act, item.code, item.title)
            _sub(act, "statusCode", code="completed")
            _sub(act, "effectiveTime", value=collected)
            for result in item.results:
                _result(_sub(act, "entryRelationship", typeCode="COMP"), result, collected, french)
    return root


def _result(parent: etree._Element, result: Result, time: str, french: Callable[[str], tuple[str, ...]]) -> None:
    observation = _sub(parent, "observation", classCode="OBS", moodCode="EVN")
    for template in (o.XD_LAB_RESULT_OBSERVATION, *french(o.CRBIO_RESULT_OBSERVATION)):
        _sub(observation, "templateId", root=template)
    code = _loinc(observation, result.code, result.label)
    _sub(_sub(code, "originalText"), "reference", value=f"#res-{result.code}")
    _sub(observation, "statusCode", code="completed")
    _sub(observation, "effectiveTime", value=time)
    _sub(observation, "value", **{XSI_TYPE: "PQ", "value": result.value, "unit": result.unit})
    _code(observation, "interpretationCode", result.interpretation, result.interpretation, o.HL7_OBSERVATION_INTERPRETATION)
    # The normal range (XD-LAB: observationRange OBS / EVN.CRT, interpretationCode N).
    observation_range = _sub(_sub(observation, "referenceRange", typeCode="REFV"), "observationRange",
                             classCode="OBS", moodCode="EVN.CRT")
    value = _sub(observation_range, "value", **{XSI_TYPE: "IVL_PQ"})
    _sub(value, "low", value=result.low, unit=result.unit)
    _sub(value, "high", value=result.high, unit=result.unit)
    _code(observation_range, "interpretationCode", "N", "Normal", o.HL7_OBSERVATION_INTERPRETATION)


@dataclass(frozen=True)
class Immunization:
    key: str
    date: str                      # YYYYMMDD
    atc: str
    vaccine: str
    lot: str
    dose: int


IMMUNIZATIONS = (
    Immunization("1", "20190120", "J07AL02", "Vaccin pneumococcique conjugué", "LOT-FICTIF-A17", 1),
    Immunization("2", "20191125", "J07BD52", "Vaccin rougeole-oreillons-rubéole", "LOT-FICTIF-B42", 1),
)


def vaccination(note: bool = False) -> etree._Element:
    """A CI-SIS vaccination document on IHE PCC Immunization Content: the carnet de
    vaccination (1.2.250.1.213.1.1.1.37, LOINC 11369-6) or, with `note=True`, the note de
    vaccination (1.2.250.1.213.1.1.1.46, LOINC 87273-9); one Immunizations section with
    two immunizations, each naming its vaccine (ATC), batch and dose rank."""
    template, code = ((o.CISIS_VAC_NOTE, ("87273-9", "Note de vaccination")) if note
                      else (o.CISIS_VAC_CARNET, ("11369-6", "Historique des vaccinations")))
    root = _header(Header(
        name="vac-note" if note else "vac-carnet", templates=(o.IHE_IMMUNIZATION_CONTENT, template), code=code,
        title="Note de vaccination" if note else "Carnet de vaccination", effective_time="20250325160000+0100",
        patient=NINA, author=GENERAL_PRACTITIONER, organisation=PRACTICE,
        encounter=("20250325153000+0100", "20250325160000+0100"),
    ))
    body = _sub(_sub(root, "component"), "structuredBody")
    section = _section(body, ("11369-6", "Historique des vaccinations"), "Vaccinations",
                       (o.PCC_IMMUNIZATIONS_SECTION, o.CCD_IMMUNIZATIONS_SECTION, o.CISIS_IMMUNIZATIONS_SECTION))
    table = _sub(_sub(section, "text"), "table", border="1")
    head = _sub(_sub(table, "thead"), "tr")
    for label in ("Date", "Vaccin", "Lot", "Rang"):
        _sub(head, "th", label)
    rows = _sub(table, "tbody")
    for shot in IMMUNIZATIONS:
        row = _sub(rows, "tr", ID=f"imm-{shot.key}")
        _sub(row, "td", f"{shot.date[6:]}/{shot.date[4:6]}/{shot.date[:4]}")
        _sub(_sub(row, "td"), "content", shot.vaccine, ID=f"imm-{shot.key}-vaccin")
        _sub(row, "td", shot.lot)
        _sub(row, "td", str(shot.dose))
    for shot in IMMUNIZATIONS:
        _immunization(_sub(section, "entry"), shot)
    return root


def _immunization(entry: etree._Element, shot: Immunization) -> None:
    administration = _sub(entry, "substanceAdministration", classCode="SBADM", moodCode="EVN")
    for template in (o.PCC_IMMUNIZATION_ENTRY, o.CCD_MEDICATION_ACTIVITY, o.CISIS_IMMUNIZATION_ENTRY):
        _sub(administration, "templateId", root=template)
    _sub(administration, "id", root=LOCAL_ACT_AUTHORITY, extension=f"IMM-{shot.key}")
    _code(administration, "code", IMMUNIZATION_ACT_CODE, "Immunisation", o.HL7_ACT_CODE, "ActCode")
    _sub(_sub(administration, "text"), "reference", value=f"#imm-{shot.key}")
    _sub(administration, "statusCode", code="completed")
    _sub(administration, "effectiveTime", value=shot.date)
    _code(administration, "routeCode", "IM", "Voie intramusculaire", ROUTE_OF_ADMINISTRATION)
    product = _sub(_sub(administration, "consumable"), "manufacturedProduct")
    _sub(product, "templateId", root=o.PCC_PRODUCT_ENTRY)
    material = _sub(product, "manufacturedMaterial")
    code = _code(material, "code", shot.atc, shot.vaccine, o.ATC, "ATC")
    _sub(_sub(code, "originalText"), "reference", value=f"#imm-{shot.key}-vaccin")
    _sub(material, "lotNumberText", shot.lot)
    performer = _sub(_sub(administration, "performer", typeCode="PRF"), "assignedEntity")
    _sub(performer, "id", root=o.IDNAT_PS, extension=GENERAL_PRACTITIONER.idnat)
    _person(performer, GENERAL_PRACTITIONER)
    rank = _sub(_sub(administration, "entryRelationship", typeCode="SUBJ"), "observation", classCode="OBS", moodCode="EVN")
    _loinc(rank, o.DOSE_RANK_OBSERVATION_LOINC, "Rang de la dose")
    _sub(rank, "statusCode", code="completed")
    _sub(rank, "value", **{XSI_TYPE: "INT", "value": str(shot.dose)})


def tiny_pdf(text: str = "Document numerise de test") -> bytes:
    """A one-page PDF 1.4 showing `text` (ASCII), with a correct cross-reference table."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def scanned_pdf() -> etree._Element:
    """An XDS-SD scanned document (1.3.6.1.4.1.19376.1.2.20) under the CI-SIS header: the
    original author, the scanning device as second author, a PDF in nonXMLBody."""
    effective = "20250410091500+0200"
    root = _header(Header(
        name="xds-sd-pdf", templates=(o.XDS_SD,), code=("34133-9", "Synthèse d'épisode de soins"),
        title="Synthèse d'hospitalisation (document numérisé)", effective_time=effective,
        patient=ADELINE, author=CARDIOLOGIST, organisation=HOSPITAL,
        encounter=("20250402090000+0200", "20250409170000+0200"),
    ))
    # The scanner is the second author, beside the author of the original document.
    author = root.find(H + "author")
    assert author is not None
    device_author = etree.Element(H + "author")
    author.addnext(device_author)
    _sub(device_author, "time", value=effective)
    assigned = _sub(device_author, "assignedAuthor")
    _sub(assigned, "id", root=o.IDNAT_STRUCT, extension=f"{HOSPITAL.idnat}/SCANNER-2")
    device = _sub(assigned, "assignedAuthoringDevice")
    _sub(device, "manufacturerModelName", "Numériseur fictif NX-1")
    _sub(device, "softwareName", "Chaîne de numérisation fictive 2.3")
    _organisation(assigned, HOSPITAL, "representedOrganization")
    text = _sub(_sub(_sub(root, "component"), "nonXMLBody"), "text", mediaType="application/pdf", representation="B64")
    text.text = base64.b64encode(tiny_pdf()).decode("ascii")
    return root


@dataclass(frozen=True)
class Sample:
    """A positive sample and what the validator applies to it under `auto`."""

    build: Callable[[], etree._Element]
    profile: str
    rule_sets: tuple[str, ...]


SAMPLES: dict[str, Sample] = {
    "cisis-structuration-minimale": Sample(structuration_minimale, "ci-sis", ("cda-r2", "ci-sis-header")),
    "cr-bio": Sample(lab_report, "ci-sis", ("cda-r2", "ci-sis-header", "xd-lab", "cr-bio")),
    "xd-lab": Sample(lambda: lab_report(cisis=False), "xd-lab", ("cda-r2", "xd-lab")),
    "vac-carnet": Sample(vaccination, "ci-sis", ("cda-r2", "ci-sis-header", "vac")),
    "vac-note": Sample(lambda: vaccination(note=True), "ci-sis", ("cda-r2", "ci-sis-header", "vac")),
    "xds-sd-pdf": Sample(scanned_pdf, "ci-sis", ("cda-r2", "ci-sis-header", "xds-sd")),
}


def serialize(root: etree._Element) -> bytes:
    """UTF-8 with the XML declaration, one element per line (findings name lines)."""
    data: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)
    return data


def tree(name: str) -> etree._Element:
    """A fresh tree of the positive sample `name` (one of SAMPLES)."""
    return SAMPLES[name].build()


def sample(name: str) -> bytes:
    return serialize(tree(name))


def mutated(name: str, change: Callable[[etree._Element], None]) -> bytes:
    """The sample `name` changed in place by `change`."""
    root = tree(name)
    change(root)
    return serialize(root)


def external_entity_document(target: str) -> bytes:
    """A small CDA document whose DTD declares an internal entity and an external one
    (`target`, a file URI) used in the title: what an XXE attack sends."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<!DOCTYPE ClinicalDocument [<!ENTITY inside "EXPANDED"> <!ENTITY outside SYSTEM "{target}">]>\n'
        f'<ClinicalDocument xmlns="{o.HL7V3}">\n'
        f'  <typeId root="{o.CDA_TYPE_ID_ROOT}" extension="{o.CDA_TYPE_ID_EXTENSION}"/>\n'
        "  <title>&inside; &outside;</title>\n"
        "</ClinicalDocument>\n"
    ).encode()


# -- negative variants ----------------------------------------------------------------------

NS = {"cda": o.HL7V3}
Change = Callable[[etree._Element], None]


def _all(root: etree._Element, path: str) -> list[etree._Element]:
    found = root.xpath(path, namespaces=NS)
    assert isinstance(found, list) and found, path
    return [e for e in found if isinstance(e, etree._Element)]


def _one(root: etree._Element, path: str) -> etree._Element:
    return _all(root, path)[0]


def remove(path: str) -> Change:
    """Remove every element `path` selects (XPath from ClinicalDocument, prefix cda)."""
    def change(root: etree._Element) -> None:
        for element in _all(root, path):
            parent = element.getparent()
            assert parent is not None
            parent.remove(element)
    return change


def set_attribute(path: str, attribute: str, value: str) -> Change:
    """Set `attribute` of the first element `path` selects."""
    def change(root: etree._Element) -> None:
        _one(root, path).set(attribute, value)
    return change


def remove_attribute(path: str, attribute: str) -> Change:
    """Remove `attribute` from the first element `path` selects."""
    def change(root: etree._Element) -> None:
        del _one(root, path).attrib[attribute]
    return change


def set_text(path: str, text: str) -> Change:
    def change(root: etree._Element) -> None:
        _one(root, path).text = text
    return change


def duplicate(path: str) -> Change:
    """Repeat the first element `path` selects right after itself."""
    def change(root: etree._Element) -> None:
        element = _one(root, path)
        element.addnext(etree.fromstring(etree.tostring(element)))
    return change


def _unqualified_patient_id(root: etree._Element) -> None:
    remove("cda:recordTarget/cda:patientRole/cda:id[@root='1.2.250.1.213.1.4.10']")(root)
    del _one(root, "cda:recordTarget/cda:patientRole/cda:id").attrib["extension"]


def _not_a_pdf(root: etree._Element) -> None:
    _one(root, "cda:component/cda:nonXMLBody/cda:text").text = base64.b64encode(b"plain text, not a PDF").decode()


@dataclass(frozen=True)
class Variant:
    """A positive sample with one requirement broken: the rule ids that report it (a
    requirement two rule sets share, e.g. the typeId, is reported by both) and whether
    the document still conforms to the CDA R2 schema: requirements of CDA R2 itself
    (custodian, confidentialityCode, author/time) break the schema too; the others are
    rules the schema cannot express (a document id such as `not-an-oid` is a schema
    `uid`, since the schema admits HL7-reserved RUIDs, but not the OID or UUID the
    rules require)."""

    sample: str
    rules: frozenset[str]
    change: Change
    schema_valid: bool = True


def _v(sample: str, rules: str, change: Change, schema_valid: bool = True) -> Variant:
    return Variant(sample, frozenset(rules.split()), change, schema_valid)


CISIS = "cisis-structuration-minimale"
INS = "cda:recordTarget/cda:patientRole/cda:id[@root='1.2.250.1.213.1.4.10']"
PATIENT = "cda:recordTarget/cda:patientRole/cda:patient"
OBSERVATION_718 = ".//cda:observation[cda:code/@code='718-7']"

VARIANTS: dict[str, Variant] = {
    # CI-SIS header
    "missing-realmcode": _v(CISIS, "CISIS-HDR-REALMCODE", remove("cda:realmCode")),
    "wrong-typeid": _v(CISIS, "CISIS-HDR-TYPEID CDAR2-TYPEID", set_attribute("cda:typeId", "extension", "POCD_HD000041")),
    "missing-hl7france-templateid": _v(CISIS, "CISIS-HDR-TEMPLATEID-HL7FR", remove(f"cda:templateId[@root='{o.HL7_FRANCE_HEADER}']")),
    "missing-cisis-templateid": _v(CISIS, "CISIS-HDR-TEMPLATEID-CISIS",
                                   remove(f"cda:templateId[@root='{o.CISIS_STRUCTURATION_MINIMALE}']")),
    "document-id-not-an-oid": _v(CISIS, "CISIS-HDR-ID CDAR2-ID", set_attribute("cda:id", "root", "not-an-oid")),
    "code-without-system": _v(CISIS, "CISIS-HDR-CODE", remove_attribute("cda:code", "codeSystem")),
    "empty-title": _v(CISIS, "CISIS-HDR-TITLE", set_text("cda:title", " ")),
    "effectivetime-to-the-day": _v(CISIS, "CISIS-HDR-EFFECTIVETIME", set_attribute("cda:effectiveTime", "value", "20250428")),
    "effectivetime-without-zone": _v(CISIS, "CISIS-HDR-EFFECTIVETIME", set_attribute("cda:effectiveTime", "value", "20250428103000")),
    "confidentialitycode-missing": _v(CISIS, "CISIS-HDR-CONFIDENTIALITYCODE", remove("cda:confidentialityCode"), schema_valid=False),
    "confidentialitycode-unknown": _v(CISIS, "CISIS-HDR-CONFIDENTIALITYCODE", set_attribute("cda:confidentialityCode", "code", "X")),
    "languagecode-not-french": _v(CISIS, "CISIS-HDR-LANGUAGECODE", set_attribute("cda:languageCode", "code", "en-US")),
    "missing-setid": _v(CISIS, "CISIS-HDR-SETID", remove("cda:setId")),
    "missing-versionnumber": _v(CISIS, "CISIS-HDR-VERSIONNUMBER", remove("cda:versionNumber")),
    "two-record-targets": _v(CISIS, "CISIS-HDR-RECORDTARGET", duplicate("cda:recordTarget")),
    "unqualified-patient-id": _v(CISIS, "CISIS-HDR-PATIENT-ID", _unqualified_patient_id),
    "ins-wrong-key": _v(CISIS, "CISIS-HDR-INS", set_attribute(INS, "extension", ADELINE.nir + f"{int(nir_key(ADELINE.nir)) % 97 + 1:02d}")),
    "ins-wrong-oid": _v(CISIS, "CISIS-HDR-INS", set_attribute(INS, "root", "1.2.250.1.213.1.4.5")),
    "ins-without-birth-name": _v(CISIS, "CISIS-HDR-INS-TRAITS", remove(f"{PATIENT}/cda:name/cda:family[@qualifier='BR']")),
    "ins-birth-name-with-diacritics": _v(CISIS, "CISIS-HDR-INS-TRAITS", set_text(f"{PATIENT}/cda:name/cda:family[@qualifier='BR']", "LAVERGNÉ")),
    "ins-sex-unknown": _v(CISIS, "CISIS-HDR-INS-TRAITS", set_attribute(f"{PATIENT}/cda:administrativeGenderCode", "code", "U")),
    "gender-outside-the-code-system": _v(CISIS, "CISIS-HDR-PATIENT", set_attribute(f"{PATIENT}/cda:administrativeGenderCode", "code", "X")),
    "author-without-time": _v(CISIS, "CISIS-HDR-AUTHOR", remove("cda:author/cda:time"), schema_valid=False),
    "author-id-without-root": _v(CISIS, "CISIS-HDR-AUTHOR", remove_attribute("cda:author/cda:assignedAuthor/cda:id", "root")),
    "missing-custodian": _v(CISIS, "CISIS-HDR-CUSTODIAN", remove("cda:custodian"), schema_valid=False),
    "custodian-outside-idnat-struct": _v(CISIS, "CISIS-HDR-CUSTODIAN",
                                         set_attribute("cda:custodian//cda:representedCustodianOrganization/cda:id", "root", "2.999.1")),
    "missing-legalauthenticator": _v(CISIS, "CISIS-HDR-LEGALAUTHENTICATOR", remove("cda:legalAuthenticator")),
    "legalauthenticator-not-signed": _v(CISIS, "CISIS-HDR-LEGALAUTHENTICATOR",
                                        set_attribute("cda:legalAuthenticator/cda:signatureCode", "code", "X")),
    "missing-serviceevent": _v(CISIS, "CISIS-HDR-SERVICEEVENT", remove("cda:documentationOf")),
    "missing-componentof": _v(CISIS, "CISIS-HDR-COMPONENTOF", remove("cda:componentOf")),
    "section-without-title": _v(CISIS, "CISIS-HDR-COMPONENT", remove("(.//cda:section)[2]/cda:title")),
    # CDA R2 beyond the schema
    "dangling-narrative-reference": _v("cr-bio", "CDAR2-REF", set_attribute(f"{OBSERVATION_718}/cda:code/cda:originalText/cda:reference", "value", "#nowhere")),
    # XD-LAB and CR-BIO
    "lab-observation-without-value": _v("cr-bio", "XDLAB-OBSERVATION", remove(f"{OBSERVATION_718}/cda:value")),
    "lab-observation-without-status": _v("cr-bio", "XDLAB-OBSERVATION", remove(f"{OBSERVATION_718}/cda:statusCode")),
    "lab-two-data-processing-entries": _v("cr-bio", "XDLAB-ENTRY", duplicate("(.//cda:entry)[1]")),
    "lab-entry-not-driv": _v("cr-bio", "XDLAB-ENTRY", set_attribute("(.//cda:entry)[1]", "typeCode", "COMP")),
    "lab-without-language": _v("xd-lab", "XDLAB-LANGUAGECODE", remove("cda:languageCode")),
    "lab-document-code-not-loinc": _v("xd-lab", "XDLAB-CODE", set_attribute("cda:code", "codeSystem", "2.999.5")),
    "crbio-observation-not-loinc": _v("cr-bio", "CRBIO-OBSERVATION", set_attribute(f"{OBSERVATION_718}/cda:code", "codeSystem", "2.999.5")),
    "crbio-document-code": _v("cr-bio", "CRBIO-CODE XDLAB-CODE", set_attribute("cda:code", "code", "11488-4")),
    "crbio-without-specialty-template": _v("cr-bio", "CRBIO-SECTION", remove(f"(.//cda:templateId[@root='{o.CRBIO_SPECIALTY_SECTION}'])[1]")),
    "crbio-without-report-item-template": _v("cr-bio", "CRBIO-SECTION", remove(f"(.//cda:templateId[@root='{o.CRBIO_REPORT_ITEM_SECTION}'])[1]")),
    "crbio-without-entry-template": _v("cr-bio", "CRBIO-ENTRY", remove(f"(.//cda:templateId[@root='{o.CRBIO_DATA_PROCESSING_ENTRY}'])[1]")),
    "crbio-without-observation-template": _v("cr-bio", "CRBIO-OBSERVATION",
                                             remove(f"(.//cda:templateId[@root='{o.CRBIO_RESULT_OBSERVATION}'])[1]")),
    # VAC
    "vac-without-immunization-content": _v("vac-carnet", "VAC-TEMPLATEID", remove(f"cda:templateId[@root='{o.IHE_IMMUNIZATION_CONTENT}']")),
    "vac-carnet-with-the-note-code": _v("vac-carnet", "VAC-CODE", set_attribute("cda:code", "code", "87273-9")),
    "vac-note-with-the-carnet-code": _v("vac-note", "VAC-CODE", set_attribute("cda:code", "code", "11369-6")),
    "vac-without-immunizations-section": _v("vac-carnet", "VAC-SECTION",
                                            set_attribute(f".//cda:templateId[@root='{o.PCC_IMMUNIZATIONS_SECTION}']", "root", "2.999.9")),
    "vac-entry-without-cisis-template": _v("vac-carnet", "VAC-ENTRY", remove(f"(.//cda:templateId[@root='{o.CISIS_IMMUNIZATION_ENTRY}'])[2]")),
    "vac-without-vaccine-code": _v("vac-carnet", "VAC-PRODUCT", remove("(.//cda:manufacturedMaterial)[1]/cda:code")),
    "vac-product-without-template": _v("vac-carnet", "VAC-PRODUCT", remove(f"(.//cda:templateId[@root='{o.PCC_PRODUCT_ENTRY}'])[1]")),
    "vac-dose-rank-not-an-int": _v("vac-carnet", "VAC-DOSE", set_attribute(
        f"(.//cda:observation[cda:code/@code='{o.DOSE_RANK_OBSERVATION_LOINC}'])[1]/cda:value", XSI_TYPE, "PQ")),
    # XDS-SD
    "scan-media-type-html": _v("xds-sd-pdf", "XDSSD-BODY", set_attribute("cda:component/cda:nonXMLBody/cda:text", "mediaType", "text/html")),
    "scan-not-a-pdf": _v("xds-sd-pdf", "XDSSD-BODY", _not_a_pdf),
    "scan-not-base64": _v("xds-sd-pdf", "XDSSD-BODY", set_attribute("cda:component/cda:nonXMLBody/cda:text", "representation", "TXT")),
    "scan-without-device-author": _v("xds-sd-pdf", "XDSSD-DEVICE", remove("cda:author[cda:assignedAuthor/cda:assignedAuthoringDevice]")),
}


def variant_tree(name: str) -> etree._Element:
    chosen = VARIANTS[name]
    root = tree(chosen.sample)
    chosen.change(root)
    return root


def variant(name: str) -> bytes:
    """The negative variant `name` (one of VARIANTS)."""
    return serialize(variant_tree(name))
