"""The conformance test plan: Gazelle-style steps that play the peer actors (Patient
Identity Source, PDQ Consumer, Document Source, Document Consumer, X-Service User) against
a system under test and check its answers against the Technical Framework.

Each test has a stable id, the transaction it exercises and the tests it needs (a
patient fed by ITI-8 before a document is registered for it). A test raises
`Nonconformity` with what was expected and what came back; any other exception is an
error of the run (the SUT could not be reached, say), not a verdict.
"""
from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import requests
from lxml import etree

from actors.xds import constants as c
from conformance.xds_client import XdsClient, quoted, quoted_list
from conformance.xds_metadata import DocumentSpec, submit_objects_request
from hub import mllp
from hub.wire import soap, xmlsafe
from vihf.issue import Signer, issue

INS_NIR = "1.2.250.1.213.1.4.8"


class Nonconformity(AssertionError):
    """The SUT answered, but not as the standard requires."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Nonconformity(message)


@dataclass
class Sut:
    """The system under test and the identities the simulators use towards it."""

    https_url: str
    mllp: tuple[str, int]
    session: requests.Session
    signer: Signer
    affinity_domain: str = INS_NIR
    state: dict[str, Any] = field(default_factory=dict)

    def assertion(self) -> etree._Element:
        """A fresh VIHF assertion of a general practitioner of the development PKI."""
        return issue(
            self.signer,
            subject_id="899900012347",
            subject_name="MASSERAN, Aurélien, Médecine générale",
            roles=["10", "SM26"],
            structure_id="49990001234701",
            sector="SA07",
        )

    def xds(self, signed: bool = True) -> XdsClient:
        return XdsClient(self.session, self.https_url, self.assertion if signed else None)

    def hl7(self, message: str, timeout: float = 30.0) -> dict[str, list[list[str]]]:
        """Send one HL7 v2 message over MLLP; the answer's segments by name."""
        host, port = self.mllp
        answer = mllp.exchange(f"{host}:{port}", message.encode("utf-8"), timeout)
        text = answer.decode("utf-8", "replace")
        segments: dict[str, list[list[str]]] = {}
        for segment in text.split("\r"):
            if segment:
                segments.setdefault(segment[:3], []).append(segment.split("|"))
        return segments


@dataclass(frozen=True)
class Test:
    id: str
    title: str
    transaction: str
    needs: tuple[str, ...]
    run: Callable[[Sut], None]


PLAN: list[Test] = []


def test(id: str, title: str, transaction: str, needs: tuple[str, ...] = ()) -> Callable[[Callable[[Sut], None]], Callable[[Sut], None]]:
    def register(function: Callable[[Sut], None]) -> Callable[[Sut], None]:
        PLAN.append(Test(id, title, transaction, needs, function))
        return function

    return register


def synthetic_nir(rng: random.Random) -> str:
    """A NIR of a fictional person (department 99 does not exist) with a valid key."""
    base = f"{rng.choice('12')}{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}99{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"
    return base + f"{97 - int(base) % 97:02d}"


def _msh(message_type: str) -> str:
    return (
        f"MSH|^~\\&|TSNHUB-CONF|CONFORMANCE|SUT|SUT|{date.today():%Y%m%d}120000||{message_type}|"
        f"C{uuid.uuid4().hex[:16]}|P|2.5|||||FRA|UNICODE UTF-8\r"
    )


# -- the hub itself ---------------------------------------------------------------------------

@test("HUB-HEALTH-001", "The liveness endpoint answers over TLS", "health")
def health(sut: Sut) -> None:
    response = sut.session.get(sut.https_url + "/health", timeout=30)
    expect(response.status_code == 200, f"GET /health answered {response.status_code}")


@test("SOAP-WSA-001", "An unknown WS-Addressing Action is a wsa:ActionNotSupported fault naming the request", "SOAP 1.2")
def unknown_action(sut: Sut) -> None:
    message_id = f"urn:uuid:{uuid.uuid4()}"
    envelope = (
        f'<s:Envelope xmlns:s="{soap.SOAP12}" xmlns:wsa="{soap.WSA}"><s:Header>'
        f"<wsa:Action>urn:tsnhub:conformance:NoSuchAction</wsa:Action><wsa:MessageID>{message_id}</wsa:MessageID>"
        "</s:Header><s:Body><x xmlns='urn:tsnhub:conformance'/></s:Body></s:Envelope>"
    )
    response = sut.session.post(
        sut.https_url + "/xds/registry", data=envelope, headers={"Content-Type": "application/soap+xml"}, timeout=30
    )
    root = xmlsafe.parse(response.content)
    codes = [_qname(v) for v in root.iter(f"{{{soap.SOAP12}}}Value")]
    expect(response.status_code == 400, f"HTTP status {response.status_code}, expected 400 (env:Sender)")
    expect(codes[:1] == [(soap.SOAP12, "Sender")] and (soap.WSA, "ActionNotSupported") in codes,
           f"fault codes {codes}, expected env:Sender / wsa:ActionNotSupported")
    expect(root.findtext(f".//{{{soap.WSA}}}RelatesTo") == message_id, "wsa:RelatesTo does not name the request")


@test("VIHF-001", "A SOAP request without VIHF assertion is refused with a WS-Security fault", "VIHF")
def no_assertion(sut: Sut) -> None:
    answer = sut.xds(signed=False).stored_query(c.FIND_DOCUMENTS, {"$XDSDocumentEntryPatientId": quoted(f"1^^^&{sut.affinity_domain}&ISO")})
    expect(etree.QName(answer.body).localname == "Fault", "the request was answered without an assertion")
    codes = [_qname(value) for value in answer.body.iter(f"{{{soap.SOAP12}}}Value")]
    expect(codes[:1] == [(soap.SOAP12, "Sender")], f"fault code {codes[:1]}, expected env:Sender")
    expect(any(namespace == soap.WSSE for namespace, _ in codes[1:]), f"fault subcodes {codes[1:]}, expected a WS-Security one")


def _qname(value: etree._Element) -> tuple[str, str]:
    """A fault code's QName, its prefix resolved on the element (prefixes are the SUT's)."""
    prefix, _, local = (value.text or "").strip().rpartition(":")
    return value.nsmap.get(prefix or None, ""), local


# -- identity ---------------------------------------------------------------------------------

@test("ITI8-001", "Patient Identity Feed (ADT^A01) with a qualified INS is accepted (MSA-1 AA)", "ITI-8")
def identity_feed(sut: Sut) -> None:
    rng = random.Random()
    nir = synthetic_nir(rng)
    family = "CONFORMITE" + "".join(rng.choice("ABCDEFGHIJKLMNOPRSTUVZ") for _ in range(6))
    sex = "M" if nir[0] == "1" else "F"
    birth = f"19{nir[1:3]}{nir[3:5]}15"
    message = (
        _msh("ADT^A01^ADT_A01") + f"EVN||{date.today():%Y%m%d}\r"
        f"PID|1||{nir}^^^ASIP-SANTE-INS-NIR&{sut.affinity_domain}&ISO^INS||{family}^CAMILLE^^^^^L||{birth}|{sex}"
        f"{'|' * 24}VALI\rPV1|1|N\r"
    )
    answer = sut.hl7(message)
    msa = answer.get("MSA", [[]])[0]
    expect(msa[1:2] == ["AA"], f"MSA {msa}, ERR {answer.get('ERR')}")
    sut.state["patient"] = f"{nir}^^^&{sut.affinity_domain}&ISO"
    sut.state["family"], sut.state["birth"] = family, birth


@test("ITI21-001", "PDQ by family name and birth date finds the fed patient (RSP^K22, QAK-2 OK)", "ITI-21", ("ITI8-001",))
def pdq_by_traits(sut: Sut) -> None:
    tag = uuid.uuid4().hex[:12]
    answer = sut.hl7(
        _msh("QBP^Q22^QBP_Q21") + f"QPD|IHE PDQ Query|{tag}|@PID.5.1.1^{sut.state['family']}~@PID.7.1^{sut.state['birth']}\rRCP|I\r"
    )
    expect(answer.get("MSA", [[]])[0][1:2] == ["AA"], f"MSA {answer.get('MSA')}")
    expect(answer.get("QAK", [[]])[0][2:3] == ["OK"], f"QAK {answer.get('QAK')}")
    nir = sut.state["patient"].split("^")[0]
    expect(any(nir in pid[3] for pid in answer.get("PID", [])), "the fed patient's INS is not in the answer")


@test("ITI78-001", "PDQm search by family and birthdate returns a Bundle with the fed patient", "ITI-78", ("ITI8-001",))
def pdqm(sut: Sut) -> None:
    token = base64.urlsafe_b64encode(etree.tostring(sut.assertion())).decode().rstrip("=")
    birth = sut.state["birth"]
    response = sut.session.get(
        sut.https_url + "/fhir/Patient",
        params={"family": sut.state["family"], "birthdate": f"{birth[:4]}-{birth[4:6]}-{birth[6:]}"},
        headers={"Authorization": f"SAML {token}", "Accept": "application/fhir+json"},
        timeout=30,
    )
    expect(response.status_code == 200, f"HTTP {response.status_code}: {response.text[:200]}")
    bundle = response.json()
    expect(bundle.get("resourceType") == "Bundle" and bundle.get("type") == "searchset", "not a searchset Bundle")
    nir = sut.state["patient"].split("^")[0]
    values = {i.get("value") for e in bundle.get("entry", []) for i in e.get("resource", {}).get("identifier", [])}
    expect(nir in values, "the fed patient's INS is not among the identifiers returned")


# -- documents --------------------------------------------------------------------------------

@test("ITI41-001", "Provide and Register Document Set-b (MTOM) for the fed patient succeeds", "ITI-41", ("ITI8-001",))
def provide_and_register(sut: Sut) -> None:
    document = DocumentSpec(content=f"Compte rendu de test {uuid.uuid4()}".encode(), mime_type="text/plain")
    answer = sut.xds().provide_and_register(submit_objects_request(sut.state["patient"], documents=[document]), [document])
    expect(answer.registry_status == c.RESPONSE_SUCCESS, f"status {answer.registry_status}, errors {answer.errors}")
    sut.state["document"] = document


@test("ITI41-002", "A submission for an unknown patient is refused with XDSUnknownPatientId", "ITI-41")
def unknown_patient(sut: Sut) -> None:
    patient = f"{synthetic_nir(random.Random())}^^^&{sut.affinity_domain}&ISO"
    document = DocumentSpec(content=b"orphan", mime_type="text/plain")
    answer = sut.xds().provide_and_register(submit_objects_request(patient, documents=[document]), [document])
    expect(answer.registry_status == c.RESPONSE_FAILURE, f"status {answer.registry_status}")
    expect(c.XDSUnknownPatientId in {code for code, _ in answer.errors}, f"errors {answer.errors}")


@test("ITI18-001", "FindDocuments returns the registered document of the patient", "ITI-18", ("ITI41-001",))
def find_documents(sut: Sut) -> None:
    answer = sut.xds().stored_query(
        c.FIND_DOCUMENTS,
        {"$XDSDocumentEntryPatientId": quoted(sut.state["patient"]), "$XDSDocumentEntryStatus": quoted_list(c.STATUS_APPROVED)},
    )
    expect(answer.registry_status == c.RESPONSE_SUCCESS, f"status {answer.registry_status}, errors {answer.errors}")
    unique_ids = {
        e.get("value") for e in answer.body.iter(f"{{{c.RIM}}}ExternalIdentifier")
        if e.get("identificationScheme") == c.XDSDocumentEntry_uniqueId
    }
    expect(sut.state["document"].unique_id in unique_ids, f"uniqueIds found: {sorted(unique_ids, key=str)}")
    repositories = {
        v.text for s in answer.body.iter(f"{{{c.RIM}}}Slot") if s.get("name") == "repositoryUniqueId"
        for v in s.iter(f"{{{c.RIM}}}Value")
    }
    expect(len(repositories) == 1, f"repositoryUniqueId values: {repositories}")
    sut.state["repository"] = repositories.pop()


@test("ITI43-001", "Retrieve Document Set returns the very bytes provided", "ITI-43", ("ITI18-001",))
def retrieve(sut: Sut) -> None:
    document = sut.state["document"]
    answer, contents = sut.xds().retrieve([(sut.state["repository"], document.unique_id)])
    expect(answer.registry_status == c.RESPONSE_SUCCESS, f"status {answer.registry_status}, errors {answer.errors}")
    expect(contents.get(document.unique_id) == document.content, "the document retrieved differs from the one provided")


@test("ITI43-002", "Retrieving an unknown document gives XDSDocumentUniqueIdError", "ITI-43", ("ITI18-001",))
def retrieve_unknown(sut: Sut) -> None:
    answer, _ = sut.xds().retrieve([(sut.state["repository"], f"1.2.250.1.999.{random.randint(1, 10**9)}")])
    expect(answer.registry_status == c.RESPONSE_FAILURE, f"status {answer.registry_status}")
    expect(c.XDSDocumentUniqueIdError in {code for code, _ in answer.errors}, f"errors {answer.errors}")

