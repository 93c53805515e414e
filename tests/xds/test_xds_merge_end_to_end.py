"""Issue 5, "Done when" 5, end to end on a running hub: patients fed by ITI-8 over MLLP,
documents registered by ITI-41 over HTTPS with VIHF, then an ITI-30 merge (A40): a
FindDocuments on the surviving id finds the documents, on the retired id none."""
from __future__ import annotations

from collections.abc import Callable

from xds_support import assertion_source

from actors.xds import constants as c
from conformance.hubprocess import HubProcess
from conformance.xds_client import XdsClient, quoted, quoted_list
from conformance.xds_metadata import DocumentSpec, submit_objects_request
from vihf.issue import Signer

IPP = "2.999.1.10.1"  # the hospital's identifiers serve as the XDS affinity domain here
SURVIVOR = f"100455^^^&{IPP}&ISO"
RETIRED = f"100456^^^&{IPP}&ISO"
MSH = "MSH|^~\\&|GAM_VF|CH_VALFLEURI|TSNHUB|PFT_REGION|20250318161000||{type}|{id}|P|2.5^FRA^2.11|||||FRA|UNICODE UTF-8|FR||2.11^IHE_FRANCE-2.11-PAM\r"


def _a28(ipp: str, control: str) -> str:
    return (
        MSH.format(type="ADT^A28^ADT_A05", id=control) + "EVN||20250318160000\r"
        f"PID|1||{ipp}^^^CHVF-IPP&{IPP}&ISO^PI||GIRAUDEAU^BERNARD^BERNARD LOUIS^^M^^L||19500909|M{'|' * 24}PROV\rPV1|1|N\r"
    )


def _a40() -> str:
    return (
        MSH.format(type="ADT^A40^ADT_A39", id="VF-A40") + "EVN||20250318161000\r"
        f"PID|1||100455^^^CHVF-IPP&{IPP}&ISO^PI||GIRAUDEAU^BERNARD^BERNARD LOUIS^^M^^L||19500909|M{'|' * 24}PROV\r"
        f"MRG|100456^^^CHVF-IPP&{IPP}&ISO^PI\r"
    )


def _found(client: XdsClient, patient: str) -> set[str]:
    answer = client.stored_query(
        c.FIND_DOCUMENTS,
        {"$XDSDocumentEntryPatientId": quoted(patient), "$XDSDocumentEntryStatus": quoted_list(c.STATUS_APPROVED)},
    )
    assert answer.registry_status == c.RESPONSE_SUCCESS, answer.errors
    return {
        e.get("value", "")
        for e in answer.body.iter(f"{{{c.RIM}}}ExternalIdentifier")
        if e.get("identificationScheme") == c.XDSDocumentEntry_uniqueId
    }


def test_a_merge_moves_registered_documents_to_the_surviving_patient(
    start_hub: Callable[..., HubProcess], signer: Signer
) -> None:
    hub = start_hub(
        f'[identity]\naffinity_domain = "{IPP}"\naccepted_domains = ["{IPP}"]\n[cda]\nsubmission_gate = "off"\n'
        '[coordination]\nunenrolled_patients = "allow"\n'
    )
    for ipp, control in (("100455", "VF-1"), ("100456", "VF-2")):
        assert b"MSA|AA" in hub.mllp(_a28(ipp, control))
    client = XdsClient(hub.session(), hub.https_url, assertion_source(signer))
    documents = [DocumentSpec(content=b"compte rendu"), DocumentSpec(content=b"ordonnance")]
    answer = client.provide_and_register(submit_objects_request(RETIRED, documents=documents), documents)
    assert (answer.registry_status, answer.errors) == (c.RESPONSE_SUCCESS, [])
    unique_ids = {d.unique_id for d in documents}
    assert (_found(client, RETIRED), _found(client, SURVIVOR)) == (unique_ids, set())

    assert b"MSA|AA" in hub.mllp(_a40())

    assert (_found(client, SURVIVOR), _found(client, RETIRED)) == (unique_ids, set())
