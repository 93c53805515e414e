"""Issue 5, done-when 3: a patient fed through ITI-8 over MLLP in one domain is found by
a PDQ query by traits through HL7 v2 (ITI-21), HL7 v3 (ITI-47) and FHIR (ITI-78), with the
same answer: the same identifiers, names, birth date and sex."""
from __future__ import annotations

import uuid

import pytest
import requests
from lxml import etree

import interop
from conformance.hubprocess import HubProcess
from fhir_support import ack_code, adt_a04

DOMAIN = "1.2.250.1.999.21.1"
OTHER_DOMAIN = "1.2.250.1.999.21.2"
HL7 = "urn:hl7-org:v3"


def _v2(hub: HubProcess) -> tuple[object, ...]:
    query = (
        "MSH|^~\\&|LGC|CAB|TSNHUB|PFT|20260101120000||QBP^Q22^QBP_Q21|X-Q22|P|2.5|||||FRA|UNICODE UTF-8\r"
        f"QPD|IHE PDQ Query|X-TAG-{uuid.uuid4().hex[:8]}|@PID.5.1.1^LEBRETON~@PID.7.1^19720315\rRCP|I\r"
    )
    response = hub.mllp(query).decode("utf-8")
    segments = [s.split("|") for s in response.split("\r") if s]
    assert next(s for s in segments if s[0] == "MSA")[1] == "AA"
    pids = [s for s in segments if s[0] == "PID"]
    assert len(pids) == 1
    pid = pids[0]
    identifiers = set()
    for repetition in pid[3].split("~"):
        components = repetition.split("^")
        identifiers.add((components[3].split("&")[1], components[0]))
    name = pid[5].split("~")[0].split("^")
    return identifiers, name[0], name[1], pid[7][:8], pid[8]


def _v3(hub: HubProcess, http: requests.Session) -> tuple[object, ...]:
    response = http.post(f"{hub.https_url}/pdq", data=_v3_query("LEBRETON", "19720315"), timeout=20,
                         headers={"Content-Type": "application/soap+xml; charset=UTF-8"})
    assert response.status_code == 200
    ns = {"hl7": HL7}
    root = etree.fromstring(response.content)
    patients = root.findall(".//hl7:controlActProcess/hl7:subject/hl7:registrationEvent/hl7:subject1/hl7:patient", ns)
    assert len(patients) == 1
    patient = patients[0]
    person = patient.find("hl7:patientPerson", ns)
    name = person.find("hl7:name", ns)
    return (
        {(i.get("root"), i.get("extension")) for i in patient.findall("hl7:id", ns)},
        name.findtext("hl7:family", namespaces=ns),
        name.findtext("hl7:given", namespaces=ns),
        person.find("hl7:birthTime", ns).get("value"),
        person.find("hl7:administrativeGenderCode", ns).get("code"),
    )


def _fhir(hub: HubProcess, http: requests.Session) -> tuple[object, ...]:
    bundle = http.get(f"{hub.https_url}/fhir/Patient", params={"family": "LEBRETON", "birthdate": "1972-03-15"},
                      timeout=20).json()
    assert len(bundle["entry"]) == 1
    patient = bundle["entry"][0]["resource"]
    return (
        {(i["system"].removeprefix("urn:oid:"), i["value"]) for i in patient["identifier"]},
        patient["name"][0]["family"],
        patient["name"][0]["given"][0],
        patient["birthDate"].replace("-", ""),
        {"male": "M", "female": "F"}[patient["gender"]],
    )


def test_pdq_by_traits_finds_an_iti8_patient_alike_in_v2_v3_and_fhir(fhir_hub: HubProcess, http: requests.Session) -> None:
    feed = adt_a04([("IPP-2107", DOMAIN), ("EXT-88", OTHER_DOMAIN)], "LEBRETON", "YANN", "19720315", "M", "X-FEED")
    assert ack_code(fhir_hub.mllp(feed)) == "AA"
    other = adt_a04([("IPP-2108", DOMAIN)], "LEBRETON", "GWEN", "19720316", "F", "X-FEED-2")
    assert ack_code(fhir_hub.mllp(other)) == "AA"
    expected = ({(DOMAIN, "IPP-2107"), (OTHER_DOMAIN, "EXT-88")}, "LEBRETON", "YANN", "19720315", "M")
    assert _v2(fhir_hub) == expected
    assert _v3(fhir_hub, http) == expected
    assert _fhir(fhir_hub, http) == expected


# The HL7 v3 NE2008 schemas are in the corpus (interoperability layer).
SCHEMAS = interop.CORPUS / "hl7v3" / "schemas" / "ipf-HL7V3" / "NE2008" / "multicacheschemas"
# PAM-FR: the birthplace is an XAD with XAD-7 = BDL, its INSEE code in XAD-9.
BIRTHPLACE = "^^Nantes^^44000^FRA^BDL^^44109"
HOME = "3 rue Kervégan^^Nantes^^44000^FRA^H"


def _feed_birthplace(hub: HubProcess) -> None:
    feed = adt_a04([("IPP-2190", DOMAIN)], "KERGUELEN", "ANNA", "19810704", "F", "X-BDL", address=f"{HOME}~{BIRTHPLACE}")
    assert ack_code(hub.mllp(feed)) == "AA"


def _v3_birthplace_answer(hub: HubProcess, http: requests.Session) -> etree._Element:
    """The PRPA_IN201306UV02 answer to an ITI-47 query for the patient fed with a birthplace."""
    response = http.post(f"{hub.https_url}/pdq", data=_v3_query("KERGUELEN", "19810704"), timeout=20,
                         headers={"Content-Type": "application/soap+xml; charset=UTF-8"})
    assert response.status_code == 200
    return etree.fromstring(response.content).find(".//{http://www.w3.org/2003/05/soap-envelope}Body")[0]


def test_the_birthplace_fed_in_pid11_comes_back_whole_in_v2_v3_and_fhir(fhir_hub: HubProcess, http: requests.Session) -> None:
    _feed_birthplace(fhir_hub)

    query = (
        "MSH|^~\\&|LGC|CAB|TSNHUB|PFT|20260101120000||QBP^Q22^QBP_Q21|X-Q22-BDL|P|2.5|||||FRA|UNICODE UTF-8\r"
        f"QPD|IHE PDQ Query|X-TAG-{uuid.uuid4().hex[:8]}|@PID.5.1.1^KERGUELEN~@PID.7.1^19810704\rRCP|I\r"
    )
    pid = next(s.split("|") for s in fhir_hub.mllp(query).decode("utf-8").split("\r") if s.startswith("PID|"))
    assert pid[11].split("~") == [HOME, BIRTHPLACE]

    message = _v3_birthplace_answer(fhir_hub, http)
    ns = {"hl7": HL7}
    place = message.find(".//hl7:patientPerson/hl7:birthPlace/hl7:addr", ns)
    assert place is not None
    assert {child.tag.split("}")[1]: child.text for child in place} == {
        "city": "Nantes", "postalCode": "44000", "country": "FRA", "county": "44109",
    }

    bundle = http.get(f"{fhir_hub.https_url}/fhir/Patient", params={"family": "KERGUELEN"}, timeout=20).json()
    extensions = bundle["entry"][0]["resource"]["extension"]
    place_value = next(e["valueAddress"] for e in extensions if e["url"] == "http://hl7.org/fhir/StructureDefinition/patient-birthPlace")
    assert place_value == {
        "extension": [{
            "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code",
            "valueCoding": {"system": "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM", "code": "44109"},
        }],
        "city": "Nantes", "postalCode": "44000", "country": "FRA",
    }


@pytest.mark.corpus
def test_the_v3_answer_with_a_birthplace_is_schema_valid(fhir_hub: HubProcess, http: requests.Session) -> None:
    """Interop: the PRPA_IN201306UV02 answer carrying birthPlace/addr is valid against the
    HL7 v3 NE2008 schema."""
    _feed_birthplace(fhir_hub)
    message = _v3_birthplace_answer(fhir_hub, http)
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "PRPA_IN201306UV02.xsd")))
    assert schema.validate(etree.fromstring(etree.tostring(message))), str(schema.error_log)


def _v3_query(family: str, birth: str) -> bytes:
    message = (
        f'<PRPA_IN201305UV02 xmlns="{HL7}" ITSVersion="XML_1.0"><id root="{uuid.uuid4()}"/>'
        '<creationTime value="20260101120000"/><interactionId root="2.16.840.1.113883.1.6" extension="PRPA_IN201305UV02"/>'
        '<processingCode code="P"/><processingModeCode code="T"/><acceptAckCode code="AL"/>'
        '<receiver typeCode="RCV"><device classCode="DEV" determinerCode="INSTANCE"><id root="1.2.250.1.999.21.9"/></device></receiver>'
        '<sender typeCode="SND"><device classCode="DEV" determinerCode="INSTANCE"><id root="1.2.250.1.999.21.8"/></device></sender>'
        '<controlActProcess classCode="CACT" moodCode="EVN"><code code="PRPA_TE201305UV02" codeSystem="2.16.840.1.113883.1.6"/>'
        f'<queryByParameter><queryId root="1.2.250.1.999.21.7" extension="X-47-{uuid.uuid4().hex[:8]}"/><statusCode code="new"/>'
        '<responseModalityCode code="R"/><responsePriorityCode code="I"/><parameterList>'
        f'<livingSubjectBirthTime><value value="{birth}"/><semanticsText>LivingSubject.birthTime</semanticsText></livingSubjectBirthTime>'
        f'<livingSubjectName><value><family>{family}</family></value><semanticsText>LivingSubject.name</semanticsText></livingSubjectName>'
        '</parameterList></queryByParameter></controlActProcess></PRPA_IN201305UV02>'
    )
    return (
        '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://www.w3.org/2005/08/addressing">'
        '<soap:Header><wsa:Action soap:mustUnderstand="true">urn:hl7-org:v3:PRPA_IN201305UV02</wsa:Action>'
        f'<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID></soap:Header><soap:Body>{message}</soap:Body></soap:Envelope>'
    ).encode()
