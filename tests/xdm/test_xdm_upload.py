"""`/coordination` ImportXdmMedium against a running hub, with a signed VIHF assertion,
the medium sent as an MTOM part (as a browser-side upload proxy or LPS would)."""
from __future__ import annotations

import base64
from pathlib import Path

import pytest
import xdm_media
from lxml import etree
from xdm_media import AFFINITY, MEDIUM_PATIENT, PATIENT, REPOSITORY

from actors.xds import constants as c
from actors.xds.patients import add_known_patient
from conformance.hubprocess import HubProcess
from hub.wire import mtom, soap
from hub.store import Store
from vihf import wsse
from vihf.issue import Signer, issue

NS = "urn:tsnhub:coordination"
HUB_CONFIG = f'[identity]\naffinity_domain = "{AFFINITY}"\n\n[xds]\nrepository_unique_id = "{REPOSITORY}"\n'


@pytest.fixture
def hub(start_hub) -> HubProcess:  # type: ignore[no-untyped-def]
    process = start_hub(HUB_CONFIG)
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


def _codes(answer: etree._Element) -> set[tuple[str | None, str | None]]:
    return {(e.get("errorCode"), e.get("location")) for e in answer.iter(f"{{{c.RS}}}RegistryError")}


def _project_medium() -> bytes:
    """Two submission sets of a clinic's patient (its local id, not the INS)."""
    docs = xdm_media.three_documents()
    return xdm_media.compose([
        xdm_media.subset(MEDIUM_PATIENT, docs[:2], name="SUBSET01"),
        xdm_media.subset(MEDIUM_PATIENT, docs[2:], name="SUBSET02"),
    ])


def _registered(hub: HubProcess) -> list[str]:
    from sqlalchemy import select

    from hub.store.models.xds import XdsDocumentEntry

    store = Store(hub.db_url)
    try:
        with store.session() as session:
            return list(session.scalars(select(XdsDocumentEntry.patient_id)))
    finally:
        store.close()


def test_upload_registers_the_medium_and_a_second_upload_is_refused(hub: HubProcess) -> None:
    medium = _project_medium()
    unreconciled = _upload(hub, medium, None)
    assert unreconciled.get("status") == c.RESPONSE_FAILURE
    assert _codes(unreconciled) == {(c.XDSUnknownPatientId, f"SUBSET01/{MEDIUM_PATIENT}"), (c.XDSUnknownPatientId, f"SUBSET02/{MEDIUM_PATIENT}")}
    first = _upload(hub, medium, PATIENT)
    assert first.get("status") == c.RESPONSE_SUCCESS, etree.tostring(first)
    assert _registered(hub) == [PATIENT] * 3
    second = _upload(hub, medium, PATIENT, mtom_part=False)
    assert second.get("status") == c.RESPONSE_FAILURE
    assert c.XDSDuplicateUniqueIdInRegistry in {code for code, _ in _codes(second)}
    assert _registered(hub) == [PATIENT] * 3


def test_a_refused_submission_set_makes_a_partial_success(hub: HubProcess) -> None:
    docs = [xdm_media.document(b"kept"), xdm_media.document(b"missing")]
    lacking = xdm_media.subset(MEDIUM_PATIENT, docs[1:], name="SUBSET02")
    lacking.files.clear()
    medium = xdm_media.compose([xdm_media.subset(MEDIUM_PATIENT, docs[:1], name="SUBSET01"), lacking])
    answer = _upload(hub, medium, PATIENT)
    assert answer.get("status") == c.RESPONSE_PARTIAL_SUCCESS, etree.tostring(answer)
    assert _codes(answer) == {(c.XDSMissingDocument, f"SUBSET02/{docs[1].symbolic_id}")}
    assert _registered(hub) == [PATIENT]


def test_corpus_medium_upload_registers_and_a_second_upload_is_refused(hub: HubProcess, corpus: Path) -> None:
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


def test_upload_without_assertion_is_refused(hub: HubProcess) -> None:
    answer = _upload(hub, _project_medium(), PATIENT, signed=False)
    assert etree.QName(answer).localname == "Fault"
    assert answer.findtext(f"{{{soap.SOAP12}}}Code/{{{soap.SOAP12}}}Value") == "soap:Sender"
    assert _registered(hub) == []
