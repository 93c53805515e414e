"""Issue 12: the care circle as a FHIR CareTeam (ANS volet "Gestion du cercle de soins",
`cds-ihe-careteam`) at `/fhir/CareTeam`, against a running hub with VIHF required: create
(PCC-45, POST), retrieve (PCC-47), search (PCC-46), update (PCC-45, PUT) adding and
removing members, in JSON and FHIR XML; each refusal an OperationOutcome with its HTTP
status and the store unchanged; and the SOAP services (zeep) and the CareTeam showing
one and the same circle."""
from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy
from coordination_support import Caller, assertions, coordination_hub, coordination_service
from lxml import etree

from actors.coordination.careteam import IDNAT_PS, IDNAT_STRUCT, PROFILE, ROLE_CLASS, ROLE_FUNCTION, RPPS, careteam_id
from conformance.hubprocess import HubProcess
from vihf.issue import Signer

IPP = "2.999.1.12.45"  # the hospital's identifiers serve as the affinity domain here
SYSTEM = f"urn:oid:{IPP}"
COORDINATORS = "499900000001"
FHIR_NS = "http://hl7.org/fhir"
JSON = "application/fhir+json"
XML = "application/fhir+xml"
TABLES = ("coordination_circle_member", "coordination_event", "coordination_enrolment", "coordination_mandate")
PATIENTS = {"300001": "MARTIN^JEANNE", "300002": "DURAND^PAUL", "300003": "PETIT^LUCIE", "300004": "ROUX^ANNE",
            "300005": "BLANC^LEA", "300006": "NOIR^JULES"}
UNKNOWN = "399999"

# Callers: (subject id = IdNat_PS, structure id = IdNat_Struct, role codes)
COORDINATOR = ("810000000011", COORDINATORS, ["60"])  # nurse of the coordination structure
GP = ("810000000022", "499900000022", ["10", "SM26"])  # the treating physician of the patients here
NURSE = ("810000000044", "499900000044", ["60"])
OUTSIDER = ("810000000033", "499900000033", ["10", "SM26"])


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    process = coordination_hub(tmp_path_factory.mktemp("careteam"), pki, IPP, COORDINATORS, PATIENTS)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def http(hub: HubProcess) -> Iterator[requests.Session]:
    session = hub.session()
    yield session
    session.close()


@pytest.fixture(scope="module")
def saml(signer: Signer) -> Callable[[Caller], str]:
    """`Authorization` of a caller: a fresh signed VIHF assertion as an IUA SAML token."""
    def token(caller: Caller) -> str:
        assertion = assertions(signer, caller)()
        return "SAML " + base64.urlsafe_b64encode(etree.tostring(assertion)).decode("ascii").rstrip("=")

    return token


@pytest.fixture(scope="module")
def soap(hub: HubProcess, signer: Signer) -> Callable[[Caller], Any]:
    """The zeep service of `/coordination` for a caller."""
    return partial(coordination_service, hub, signer)


@pytest.fixture(scope="module")
def fhir(hub: HubProcess, http: requests.Session, saml: Callable[[Caller], str]) -> Callable[..., requests.Response]:
    """`fhir(method, path, caller, json=..., data=..., headers=...)` against `/fhir`."""
    def call(method: str, path: str, caller: Caller | None = COORDINATOR, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if caller is not None:
            headers.setdefault("Authorization", saml(caller))
        if "json" in kwargs:
            headers.setdefault("Content-Type", JSON)
        return http.request(method, f"{hub.https_url}/fhir/{path}", headers=headers, timeout=30, **kwargs)

    return call


def _counts(hub: HubProcess) -> dict[str, int]:
    engine = sqlalchemy.create_engine(hub.db_url)
    try:
        with engine.connect() as connection:
            return {t: connection.execute(sqlalchemy.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}
    finally:
        engine.dispose()


def _audit(hub: HubProcess, transaction: str) -> list[tuple[str, str | None, str | None]]:
    engine = sqlalchemy.create_engine(hub.db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sqlalchemy.text(
                'SELECT outcome, patient, detail FROM audit_record WHERE "transaction" = :t ORDER BY id'), {"t": transaction})
            return [(r.outcome, r.patient, r.detail) for r in rows]
    finally:
        engine.dispose()


# -- resources ----------------------------------------------------------------------------------

def key(ipp: str) -> str:
    return f"{ipp}^^^&{IPP}&ISO"


def team_id(ipp: str) -> str:
    found = careteam_id(key(ipp))
    assert found is not None
    return found


def role(code: str) -> dict[str, Any]:
    return {"coding": [{"system": ROLE_FUNCTION if code == "PCP" else ROLE_CLASS, "code": code}]}


def by_role(local: str, professional: str, structure: str | None, code: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(contained PractitionerRole, participant) of a member."""
    practitioner_role: dict[str, Any] = {
        "resourceType": "PractitionerRole", "id": local,
        "practitioner": {"identifier": {"system": IDNAT_PS, "value": professional}},
    }
    if structure:
        practitioner_role["organization"] = {"identifier": {"system": IDNAT_STRUCT, "value": structure}}
    return practitioner_role, {"role": [role(code)], "member": {"reference": f"#{local}"}}


def careteam(ipp: str, *members: tuple[dict[str, Any], dict[str, Any]], resource_id: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "CareTeam", "status": "active", "name": "Cercle de soins",
        "subject": {"identifier": {"system": SYSTEM, "value": ipp}},
    }
    if resource_id:
        resource["id"] = resource_id
    if members:
        resource["contained"] = [contained for contained, _ in members]
        resource["participant"] = [participant for _, participant in members]
    return resource


def current(resource: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """professional id -> (role, structure) of the participants without an end."""
    contained = {c["id"]: c for c in resource.get("contained", [])}
    found = {}
    for participant in resource.get("participant", []):
        if participant["period"].get("end"):
            continue
        member = contained[participant["member"]["reference"][1:]]
        assert member["resourceType"] == "PractitionerRole"
        assert member["practitioner"]["identifier"]["system"] == IDNAT_PS
        organisation = member.get("organization", {}).get("identifier")
        if organisation is not None:
            assert organisation["system"] == IDNAT_STRUCT
        found[member["practitioner"]["identifier"]["value"]] = (
            participant["role"][0]["coding"][0]["code"], organisation["value"] if organisation else None)
    return found


def ended(resource: dict[str, Any]) -> list[str]:
    contained = {c["id"]: c for c in resource.get("contained", [])}
    return [contained[p["member"]["reference"][1:]]["practitioner"]["identifier"]["value"]
            for p in resource.get("participant", []) if p["period"].get("end")]


def outcome(response: requests.Response, status: int, code: str, expression: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    if response.headers["content-type"].startswith(XML):
        root = etree.fromstring(response.content)
        assert root.tag == f"{{{FHIR_NS}}}OperationOutcome"
        issue_element = root.find(f"{{{FHIR_NS}}}issue")
        assert issue_element is not None
        first: dict[str, Any] = {etree.QName(child).localname: child.get("value") for child in issue_element}
        body: dict[str, Any] = {"resourceType": "OperationOutcome", "issue": [first]}
    else:
        assert response.headers["content-type"].startswith(JSON), response.headers["content-type"]
        body = response.json()
        assert body["resourceType"] == "OperationOutcome"
        first = dict(body["issue"][0])
        if "expression" in first:
            first["expression"] = first["expression"][0]
    assert (first["severity"], first["code"]) == ("error", code), first
    if expression is not None:
        assert first.get("expression") == expression, first
    return body


# -- create, read, search, update ---------------------------------------------------------------

def test_create_read_and_search_in_json(hub: HubProcess, fhir: Callable[..., requests.Response]) -> None:
    resource = careteam("300001", by_role("gp", GP[0], GP[1], "PCP"), by_role("n", NURSE[0], None, "CAREGIVER"))
    created = fhir("POST", "CareTeam", json=resource)
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith(JSON)
    body = created.json()
    assert created.headers["Location"] == f"{hub.https_url}/fhir/CareTeam/{body['id']}"
    assert body["id"] == team_id("300001")
    assert body["meta"]["profile"] == [PROFILE] and body["meta"]["lastUpdated"]
    assert created.headers["ETag"] == f'W/"{body["meta"]["versionId"]}"'
    assert (body["status"], body["name"]) == ("active", "Cercle de soins de JEANNE MARTIN")
    assert body["subject"]["identifier"] == {"system": SYSTEM, "value": "300001"}
    assert body["subject"]["reference"].startswith("Patient/")
    assert body["identifier"][0]["value"].endswith(body["id"]) and body["period"]["start"]
    assert current(body) == {GP[0]: ("PCP", GP[1]), NURSE[0]: ("CAREGIVER", None)}
    pcp = next(p for p in body["participant"] if p["role"][0]["coding"][0]["code"] == "PCP")
    assert pcp["role"][0]["coding"][0] == {"system": ROLE_FUNCTION, "code": "PCP", "display": "Médecin traitant"}
    assert all(p["period"]["start"] for p in body["participant"])

    read = fhir("GET", f"CareTeam/{body['id']}")
    assert read.status_code == 200, read.text
    assert read.json() == body

    for parameter in ("patient", "patient.identifier", "subject:identifier"):
        found = fhir("GET", "CareTeam", params={parameter: f"{SYSTEM}|300001"})
        assert found.status_code == 200, found.text
        bundle = found.json()
        assert (bundle["resourceType"], bundle["type"], bundle["total"]) == ("Bundle", "searchset", 1)
        assert bundle["entry"][0]["fullUrl"] == f"{hub.https_url}/fhir/CareTeam/{body['id']}"
        assert bundle["entry"][0]["resource"] == body
    # the patient's Patient resource on this hub names the same circle
    by_reference = fhir("GET", "CareTeam", params={"patient": body["subject"]["reference"]})
    assert by_reference.status_code == 200 and by_reference.json()["entry"][0]["resource"]["id"] == body["id"]

    outcome_, patient, detail = _audit(hub, "PCC-45")[-1]
    assert (outcome_, patient) == ("success", key("300001")) and detail and "R9-coordinator" in detail
    assert [row[:2] for row in _audit(hub, "PCC-47")] == [("success", key("300001"))]
    assert len(_audit(hub, "PCC-46")) == 4


def test_update_adds_and_removes_members(hub: HubProcess, fhir: Callable[..., requests.Response],
                                         soap: Callable[[Caller], Any]) -> None:
    resource = careteam("300002", by_role("gp", GP[0], GP[1], "PCP"))
    assert fhir("POST", "CareTeam", json=resource).status_code == 201
    resource_id = team_id("300002")

    # add a nurse, named by a reference by identifier (raw RPPS: IdNat_PS "8" + RPPS)
    read = fhir("GET", f"CareTeam/{resource_id}").json()
    read["participant"].append({"role": [role("CAREGIVER")], "member": {"type": "Practitioner",
                                "identifier": {"system": RPPS, "value": NURSE[0][1:]}}})
    updated = fhir("PUT", f"CareTeam/{resource_id}", json=read)
    assert updated.status_code == 200, updated.text
    assert current(updated.json()) == {GP[0]: ("PCP", GP[1]), NURSE[0]: ("CAREGIVER", None)}
    assert int(updated.json()["meta"]["versionId"]) > int(read["meta"]["versionId"])
    assert {m.professionalId for m in soap(COORDINATOR).ListCareCircle(patientId=key("300002"))} == {GP[0], NURSE[0]}

    # the same resource again changes nothing
    before = _counts(hub)
    again = fhir("PUT", f"CareTeam/{resource_id}", json=updated.json())
    assert again.status_code == 200 and again.json() == updated.json()
    assert _counts(hub) == before

    # remove the nurse: their period ends, it stays in the CareTeam
    body = updated.json()
    nurse = next(c["id"] for c in body["contained"] if c["practitioner"]["identifier"]["value"] == NURSE[0])
    body["participant"] = [p for p in body["participant"] if p["member"]["reference"] != f"#{nurse}"]
    removed = fhir("PUT", f"CareTeam/{resource_id}", json=body)
    assert removed.status_code == 200, removed.text
    assert current(removed.json()) == {GP[0]: ("PCP", GP[1])}
    assert ended(removed.json()) == [NURSE[0]]
    assert [m.professionalId for m in soap(COORDINATOR).ListCareCircle(patientId=key("300002"))] == [GP[0]]

    # a new role closes the period and opens another
    body = removed.json()
    body["participant"][0]["role"] = [role("ONESCP")]
    changed = fhir("PUT", f"CareTeam/{resource_id}", json=body)
    assert changed.status_code == 200, changed.text
    assert current(changed.json()) == {GP[0]: ("ONESCP", GP[1])}
    assert sorted(ended(changed.json())) == sorted([GP[0], NURSE[0]])


def test_json_and_xml(hub: HubProcess, fhir: Callable[..., requests.Response]) -> None:
    resource = careteam("300003", by_role("gp", GP[0], GP[1], "PCP"))
    created = fhir("POST", "CareTeam", json=resource, headers={"Accept": XML})
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith(XML)
    root = etree.fromstring(created.content)
    assert root.tag == f"{{{FHIR_NS}}}CareTeam"
    resource_id = root.find(f"{{{FHIR_NS}}}id").get("value")  # type: ignore[union-attr]
    assert resource_id == team_id("300003")

    # XML in, XML out (the answer in the request's format): a member added as a contained
    # Practitioner, in the element order of FHIR XML (contained after meta)
    contained = etree.Element(f"{{{FHIR_NS}}}contained")
    practitioner = etree.SubElement(contained, f"{{{FHIR_NS}}}Practitioner")
    etree.SubElement(practitioner, f"{{{FHIR_NS}}}id", value="nurse")
    identifier = etree.SubElement(practitioner, f"{{{FHIR_NS}}}identifier")
    etree.SubElement(identifier, f"{{{FHIR_NS}}}system", value=IDNAT_PS)
    etree.SubElement(identifier, f"{{{FHIR_NS}}}value", value=NURSE[0])
    meta = root.find(f"{{{FHIR_NS}}}meta")
    assert meta is not None
    meta.addnext(contained)
    participant = etree.SubElement(root, f"{{{FHIR_NS}}}participant")
    coding = etree.SubElement(etree.SubElement(participant, f"{{{FHIR_NS}}}role"), f"{{{FHIR_NS}}}coding")
    etree.SubElement(coding, f"{{{FHIR_NS}}}system", value=ROLE_CLASS)
    etree.SubElement(coding, f"{{{FHIR_NS}}}code", value="CAREGIVER")
    etree.SubElement(etree.SubElement(participant, f"{{{FHIR_NS}}}member"), f"{{{FHIR_NS}}}reference", value="#nurse")
    updated = fhir("PUT", f"CareTeam/{resource_id}", data=etree.tostring(root, xml_declaration=True, encoding="UTF-8"),
                   headers={"Content-Type": XML})
    assert updated.status_code == 200, updated.text
    assert updated.headers["content-type"].startswith(XML)
    codes = [c.get("value", "") for c in etree.fromstring(updated.content).iter(f"{{{FHIR_NS}}}code")]
    assert sorted(codes) == ["CAREGIVER", "PCP"]

    as_json = fhir("GET", f"CareTeam/{resource_id}")
    assert current(as_json.json()) == {GP[0]: ("PCP", GP[1]), NURSE[0]: ("CAREGIVER", None)}
    for asked in ({"params": {"_format": "xml"}}, {"headers": {"Accept": XML}}):
        as_xml = fhir("GET", f"CareTeam/{resource_id}", **asked)
        assert as_xml.status_code == 200 and as_xml.headers["content-type"].startswith(XML)
        assert etree.fromstring(as_xml.content).find(f"{{{FHIR_NS}}}id").get("value") == resource_id  # type: ignore[union-attr]
    bundle = fhir("GET", "CareTeam", params={"patient": f"{SYSTEM}|300003", "_format": "xml"})
    assert bundle.status_code == 200
    assert etree.fromstring(bundle.content).tag == f"{{{FHIR_NS}}}Bundle"


def test_soap_and_careteam_are_one_circle(hub: HubProcess, fhir: Callable[..., requests.Response],
                                          soap: Callable[[Caller], Any]) -> None:
    coordinator = soap(COORDINATOR)
    members = coordinator.AddCareCircleMember(patientId=key("300004"), professionalId=GP[0], structureId=GP[1], role="PCP")
    assert [m.professionalId for m in members] == [GP[0]]
    resource_id = team_id("300004")
    read = fhir("GET", f"CareTeam/{resource_id}")
    assert read.status_code == 200 and current(read.json()) == {GP[0]: ("PCP", GP[1])}

    # the treating physician, a member now, manages the circle through FHIR (R9-treating-physician)
    body = read.json()
    body["contained"].append({"resourceType": "PractitionerRole", "id": "nurse",
                              "practitioner": {"identifier": {"system": IDNAT_PS, "value": NURSE[0]}}})
    body["participant"].append({"role": [role("CAREGIVER")], "member": {"reference": "#nurse"}})
    added = fhir("PUT", f"CareTeam/{resource_id}", GP, json=body)
    assert added.status_code == 200, added.text
    circle = coordinator.ListCareCircle(patientId=key("300004"))
    assert {(m.professionalId, m.role) for m in circle} == {(GP[0], "PCP"), (NURSE[0], "CAREGIVER")}
    assert (_audit(hub, "PCC-45")[-1][2] or "").startswith("access allow:R9-treating-physician")

    coordinator.RemoveCareCircleMember(patientId=key("300004"), professionalId=NURSE[0])
    assert current(fhir("GET", f"CareTeam/{resource_id}").json()) == {GP[0]: ("PCP", GP[1])}
    # a member of the circle reads it (R9-circle-member) ...
    assert fhir("GET", f"CareTeam/{resource_id}", GP).status_code == 200
    # ... and the empty circle is a CareTeam without participant that can be filled
    empty = fhir("GET", "CareTeam", params={"patient": f"{SYSTEM}|300006"}).json()["entry"][0]["resource"]
    assert "participant" not in empty and empty["meta"]["versionId"] == "1"


# -- refusals -----------------------------------------------------------------------------------

XML_BAD_DATE = (
    f'<CareTeam xmlns="{FHIR_NS}"><id value="{{id}}"/><status value="active"/>'
    f'<subject><identifier><system value="{SYSTEM}"/><value value="300005"/></identifier></subject>'
    '<participant><period><start value="2020-13-01"/></period></participant></CareTeam>'
).encode()


def _put(ipp: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"method": "PUT", "path": f"CareTeam/{team_id(ipp)}", "json": {**resource, "id": team_id(ipp)}}


def _with(resource: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    changed = copy.deepcopy(resource)
    change(changed)
    return changed


BASE = careteam("300005", by_role("gp", GP[0], GP[1], "PCP"))

REFUSALS: list[tuple[str, dict[str, Any], int, str, str | None]] = [
    ("a date that is no date", _put("300005", _with(BASE, lambda r: r["participant"][0].update(
        period={"start": "2020-13-01"}))), 400, "invalid", "CareTeam.participant[0].period.start"),
    ("an element CareTeam does not have", _put("300005", {**BASE, "colour": "blue"}), 400, "invalid", "CareTeam.colour"),
    ("not JSON", {"method": "POST", "path": "CareTeam", "data": b"{not json", "headers": {"Content-Type": JSON}},
     400, "invalid", "CareTeam"),
    ("another resource", {"method": "POST", "path": "CareTeam", "json": {"resourceType": "Patient"}},
     400, "invalid", "CareTeam.resourceType"),
    ("no status", _put("300005", _with(BASE, lambda r: r.pop("status"))), 400, "required", "CareTeam.status"),
    ("no subject", {"method": "POST", "path": "CareTeam", "json": _with(BASE, lambda r: r.pop("subject"))},
     400, "required", "CareTeam.subject"),
    ("a subject of another domain", {"method": "POST", "path": "CareTeam", "json": _with(
        BASE, lambda r: r["subject"]["identifier"].update(system="urn:oid:1.2.250.1.213.1.4.8"))},
     400, "not-supported", "CareTeam.subject.identifier"),
    ("a participant without role", _put("300005", _with(BASE, lambda r: r["participant"][0].pop("role"))),
     400, "required", "CareTeam.participant[0].role"),
    ("a TRE_R259 code other than PCP", _put("300005", _with(BASE, lambda r: r["participant"][0].update(
        role=[{"coding": [{"system": ROLE_FUNCTION, "code": "ATTPHYS"}]}]))), 400, "code-invalid",
     "CareTeam.participant[0].role"),
    ("a member who is no professional", _put("300005", _with(BASE, lambda r: r.update(contained=[
        {"resourceType": "RelatedPerson", "id": "gp", "patient": {"reference": "Patient/1"}}]))),
     400, "not-supported", "CareTeam.participant[0].member"),
    ("a member without IdNat_PS", _put("300005", _with(BASE, lambda r: r["contained"][0]["practitioner"][
        "identifier"].update(system="urn:oid:1.2.3"))), 400, "required", "CareTeam.participant[0].member"),
    ("a member on the server", _put("300005", _with(BASE, lambda r: r["participant"][0].update(
        member={"reference": "Practitioner/12"}))), 400, "not-supported", "CareTeam.participant[0].member"),
    ("a professional id too long for the circle", _put("300005", _with(BASE, lambda r: r["contained"][0]["practitioner"][
        "identifier"].update(value="8" * 200))), 400, "invalid", "CareTeam.participant[0].member"),
    ("a membership ending later", _put("300005", _with(BASE, lambda r: r["participant"][0].update(
        period={"start": "2020-01-01", "end": "2999-01-01"}))), 400, "not-supported",
     "CareTeam.participant[0].period.end"),
    ("the same professional twice", _put("300005", _with(BASE, lambda r: r["participant"].append(
        r["participant"][0]))), 400, "invalid", "CareTeam.participant[1].member"),
    ("an id other than the URL's", {"method": "PUT", "path": f"CareTeam/{team_id('300005')}",
                                    "json": {**BASE, "id": team_id("300001")}}, 400, "invalid", "CareTeam.id"),
    ("the subject of another CareTeam", {"method": "PUT", "path": f"CareTeam/{team_id('300001')}",
                                         "json": {**BASE, "id": team_id("300001")}}, 400, "invalid", "CareTeam.subject"),
    ("an XML date that is no date", {"method": "PUT", "path": f"CareTeam/{team_id('300005')}",
                                     "data": XML_BAD_DATE.replace(b"{id}", team_id("300005").encode()),
                                     "headers": {"Content-Type": XML}}, 400, "invalid", "Period.start"),
    ("XML with a DOCTYPE", {"method": "POST", "path": "CareTeam", "headers": {"Content-Type": XML},
                            "data": b'<!DOCTYPE x SYSTEM "file:///etc/passwd"><CareTeam xmlns="http://hl7.org/fhir"/>'},
     400, "invalid", "CareTeam"),
    ("XML of an unknown element", {"method": "POST", "path": "CareTeam", "headers": {"Content-Type": XML},
                                   "data": f'<CareTeam xmlns="{FHIR_NS}"><colour value="blue"/></CareTeam>'.encode()},
     400, "structure", "CareTeam"),
    ("an unknown search parameter", {"method": "GET", "path": "CareTeam", "params": {"status": "active"}},
     400, "not-supported", "status"),
    ("a search without patient", {"method": "GET", "path": "CareTeam"}, 400, "required", "patient"),
    ("a search in another domain", {"method": "GET", "path": "CareTeam", "params": {"patient": "urn:oid:1.2.3|300005"}},
     400, "not-supported", "patient"),
    ("an unknown patient (create)", {"method": "POST", "path": "CareTeam", "json": _with(
        BASE, lambda r: r["subject"]["identifier"].update(value=UNKNOWN))}, 404, "not-found", "CareTeam.subject"),
    ("an unknown patient (search)", {"method": "GET", "path": "CareTeam", "params": {"patient": f"{SYSTEM}|{UNKNOWN}"}},
     404, "not-found", "patient"),
    ("an unknown id", {"method": "GET", "path": "CareTeam/not-an-id"}, 404, "not-found", None),
    ("the id of an unknown patient", {"method": "GET", "path": f"CareTeam/{team_id(UNKNOWN)}"}, 404, "not-found", None),
    ("an update of an unknown id", {"method": "PUT", "path": "CareTeam/x", "json": BASE}, 404, "not-found", None),
    ("a history", {"method": "GET", "path": f"CareTeam/{team_id('300005')}/_history/1"}, 404, "not-found", None),
    ("DELETE", {"method": "DELETE", "path": f"CareTeam/{team_id('300005')}"}, 405, "not-supported", None),
    ("PATCH", {"method": "PATCH", "path": f"CareTeam/{team_id('300005')}", "json": BASE}, 405, "not-supported", None),
    ("POST to an id", {"method": "POST", "path": f"CareTeam/{team_id('300005')}", "json": BASE}, 405, "not-supported", None),
    ("PUT without id", {"method": "PUT", "path": "CareTeam", "json": BASE}, 405, "not-supported", None),
    ("a format the hub does not write", {"method": "GET", "path": f"CareTeam/{team_id('300005')}",
                                         "params": {"_format": "turtle"}}, 406, "not-supported", None),
]


@pytest.mark.parametrize(("request_", "status", "code", "expression"), [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])
def test_refusals_are_operation_outcomes_and_change_nothing(
        hub: HubProcess, fhir: Callable[..., requests.Response], request_: dict[str, Any], status: int, code: str,
        expression: str | None) -> None:
    given = copy.deepcopy(request_)
    before = _counts(hub)
    response = fhir(given.pop("method"), given.pop("path"), **given)
    outcome(response, status, code, expression)
    if status == 405:
        assert response.headers["Allow"] in ("GET, POST", "GET, PUT")
    assert _counts(hub) == before


def test_a_failing_member_leaves_the_circle_as_it_was(hub: HubProcess, fhir: Callable[..., requests.Response]) -> None:
    """One transaction: the nurse's removal and the GP's addition are undone when the third
    member cannot be kept."""
    resource_id = team_id("300005")
    start = careteam("300005", by_role("n", NURSE[0], NURSE[1], "CAREGIVER"), resource_id=resource_id)
    assert fhir("PUT", f"CareTeam/{resource_id}", json=start).status_code == 200
    before, circle = _counts(hub), fhir("GET", f"CareTeam/{resource_id}").json()
    failing = careteam("300005", by_role("gp", GP[0], GP[1], "PCP"), by_role("x", "8" * 200, None, "CAREGIVER"),
                       resource_id=resource_id)
    outcome(fhir("PUT", f"CareTeam/{resource_id}", json=failing), 400, "invalid", "CareTeam.participant[1].member")
    assert _counts(hub) == before
    assert fhir("GET", f"CareTeam/{resource_id}").json() == circle


def test_callers_without_a_valid_assertion_get_401(hub: HubProcess, fhir: Callable[..., requests.Response]) -> None:
    before = _counts(hub)
    for headers in ({}, {"Authorization": "Bearer abc"}, {"Authorization": "SAML !!!"},
                    {"Authorization": "SAML " + base64.urlsafe_b64encode(b"<x/>").decode()}):
        for method, path, kwargs in (("GET", f"CareTeam/{team_id('300001')}", {}),
                                     ("GET", "CareTeam", {"params": {"patient": f"{SYSTEM}|300001"}}),
                                     ("POST", "CareTeam", {"json": careteam("300001")})):
            response = fhir(method, path, None, headers=headers, **kwargs)
            outcome(response, 401, "security" if headers.get("Authorization", "").startswith("SAML") else "login")
            assert response.headers["WWW-Authenticate"] == "SAML"
    assert _counts(hub) == before


def test_the_access_decision_refuses_with_403(hub: HubProcess, fhir: Callable[..., requests.Response]) -> None:
    resource_id = team_id("300001")
    circle = careteam("300001", by_role("gp", GP[0], GP[1], "PCP"), by_role("n", NURSE[0], None, "CAREGIVER"),
                      resource_id=resource_id)
    assert fhir("PUT", f"CareTeam/{resource_id}", json=circle).status_code == 200
    before = _counts(hub)
    for method, path, kwargs in (("GET", f"CareTeam/{resource_id}", {}),
                                 ("GET", "CareTeam", {"params": {"patient": f"{SYSTEM}|300001"}}),
                                 ("PUT", f"CareTeam/{resource_id}", {"json": careteam(
                                     "300001", by_role("o", OUTSIDER[0], OUTSIDER[1], "PCP"), resource_id=resource_id)}),
                                 ("POST", "CareTeam", {"json": careteam("300001")})):
        body = outcome(fhir(method, path, OUTSIDER, **kwargs), 403, "forbidden")
        assert body["issue"][0]["diagnostics"].startswith("not authorised (R9-not-allowed)")
    # a member who is not the treating physician reads the circle but does not manage it
    nurse_put = fhir("PUT", f"CareTeam/{resource_id}", NURSE, json=careteam("300001", resource_id=resource_id))
    outcome(nurse_put, 403, "forbidden")
    assert fhir("GET", f"CareTeam/{resource_id}", NURSE).status_code == 200
    assert _counts(hub) == before
    refused = [row for row in _audit(hub, "PCC-45") if row[0] == "refused" and row[1] == key("300001")]
    assert refused and "R9-not-allowed" in (refused[-1][2] or "")
