"""`/coordination` ImportXdmMedium against a running hub, with a signed VIHF assertion,
the medium sent as an MTOM part (as a browser-side upload proxy or LPS would)."""
from __future__ import annotations

import base64
import uuid
from pathlib import Path

import pytest
from lxml import etree

from actors.xds import constants as c
from actors.xds.patients import add_known_patient
from conformance.hubprocess import HubProcess
from hub import mtom, soap
from hub.store import Store
from vihf import wsse
from vihf.issue import Signer, issue

PATIENT = "179114410905287^^^&1.2.250.1.213.1.4.8&ISO"
NS = "urn:tsnhub:coordination"


@pytest.fixture
def hub(start_hub) -> HubProcess:  # type: ignore[no-untyped-def]
    process = start_hub("")
    store = Store(process.db_url)
    with store.transaction() as session:
        add_known_patient(session, PATIENT)
    store.close()
    return process


def _assertion(pki: Path) -> etree._Element:
    return issue(
        Signer.load(pki / "vihf-signer.key", pki / "vihf-signer.pem"),
        subject_id="899900052343",
        subject_name="FERRAOUI, Nadia, Médecine d'urgence",
        roles=["10", "SM26"],
        structure_id="1990000010",
        sector="SA01",
    )


def _upload(hub: HubProcess, medium: bytes, patient: str | None, mtom_part: bool = True, signed: bool = True) -> etree._Element:
    body = etree.Element(f"{{{NS}}}ImportXdmMediumRequest", nsmap={"co": NS})
    medium_element = etree.SubElement(body, f"{{{NS}}}Medium")
    if mtom_part:
        etree.SubElement(medium_element, f"{{{soap.XOP}}}Include", href="cid:medium@test", nsmap={"xop": soap.XOP})
    else:
        medium_element.text = base64.b64encode(medium).decode()
    if patient:
        etree.SubElement(body, f"{{{NS}}}PatientId").text = patient
    envelope = wsse.envelope(
        "urn:tsnhub:coordination:ImportXdmMedium", body, _assertion(hub.pki) if signed else None,
        to=hub.https_url + "/coordination",
    )
    if mtom_part:
        content_type, chunks = mtom.build(envelope, [("medium@test", medium)], "urn:tsnhub:coordination:ImportXdmMedium")
        data = b"".join(chunks)
    else:
        content_type, data = "application/soap+xml; charset=UTF-8", envelope
    response = hub.session().post(hub.https_url + "/coordination", data=data, headers={"Content-Type": content_type}, timeout=60)
    root = etree.fromstring(response.content)
    return root.find(f"{{{soap.SOAP12}}}Body")[0]


def test_upload_registers_the_medium_and_a_second_upload_is_refused(hub: HubProcess, corpus: Path) -> None:
    medium = (corpus / "xdm" / "nist-lynn-xdm.zip").read_bytes()
    first = _upload(hub, medium, PATIENT)
    assert first.get("status") == c.RESPONSE_SUCCESS, etree.tostring(first)
    second = _upload(hub, medium, PATIENT, mtom_part=False)
    assert second.get("status") == c.RESPONSE_FAILURE
    codes = {e.get("errorCode") for e in second.iter(f"{{{c.RS}}}RegistryError")}
    assert c.XDSDuplicateUniqueIdInRegistry in codes


def test_an_attacking_medium_is_refused_in_the_registry_vocabulary(hub: HubProcess) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("IHE_XDM/SUBSET01/METADATA.XML", b"<x/>")
        archive.writestr("IHE_XDM/../../evil.sh", b"rm -rf /")
    answer = _upload(hub, buffer.getvalue(), PATIENT)
    assert answer.get("status") == c.RESPONSE_FAILURE
    error = answer.find(f".//{{{c.RS}}}RegistryError")
    assert error.get("errorCode") == c.XDSRepositoryMetadataError
    assert error.get("location") == "medium"


def test_upload_without_assertion_is_refused(hub: HubProcess, corpus: Path) -> None:
    answer = _upload(hub, (corpus / "xdm" / "nist-lynn-xdm.zip").read_bytes(), PATIENT, signed=False)
    assert etree.QName(answer).localname == "Fault"
    assert answer.findtext(f"{{{soap.SOAP12}}}Code/{{{soap.SOAP12}}}Value") == "soap:Sender"
