"""The registry follows the Patient Identity Feed: after a merge (ITI-8 A40 / ITI-30),
the subsumed patient's entries answer under the surviving id (ITI TF-2a 3.8.4.2.3)."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from xds_support import DOMAIN, OTHER_PATIENT, PATIENT, seed_patients, submit

from actors.identity import events
from actors.identity.model import Cx, Hd
from actors.xds import constants as c
from actors.xds import identity_feed
from actors.xds.query import QuerySettings, run
from conformance.xds_client import adhoc_query, quoted, quoted_list
from conformance.xds_metadata import DocumentSpec, FolderSpec
from hub.wire import xmlsafe
from hub.store.models.xds import XdsDocumentEntry, XdsFolder, XdsSubmissionSet


def _find(store, patient: str) -> int:
    with store.session() as session:
        response = run(
            session,
            adhoc_query(c.FIND_DOCUMENTS, {"$XDSDocumentEntryPatientId": quoted(patient), "$XDSDocumentEntryStatus": quoted_list(c.STATUS_APPROVED)}),
            QuerySettings(),
            lambda p: None,
        ).response
    return len(response.findall(f".//{{{c.RIM}}}ExtrinsicObject"))


def test_merge_moves_entries_submission_sets_and_folders_to_the_survivor(store):
    identity_feed.subscribe()
    seed_patients(store, PATIENT, OTHER_PATIENT)
    assert submit(store, patient=OTHER_PATIENT, documents=[DocumentSpec(), DocumentSpec()], folders=[FolderSpec(members=["Document01"])])[0] == []
    assert (_find(store, PATIENT), _find(store, OTHER_PATIENT)) == (0, 2)
    hd = Hd("", DOMAIN, "ISO")
    surviving, retired = Cx(PATIENT.split("^")[0], hd), Cx(OTHER_PATIENT.split("^")[0], hd)
    with store.transaction() as session:
        events.publish(session, events.PatientsMerged(1, 2, (surviving,), (retired,)), datetime.now(UTC))
    assert (_find(store, PATIENT), _find(store, OTHER_PATIENT)) == (2, 0)
    with store.session() as session:
        for model in (XdsDocumentEntry, XdsSubmissionSet, XdsFolder):
            for row in session.scalars(select(model)):
                assert row.patient_id == PATIENT
                element = xmlsafe.parse(row.xml.encode())
                patient_ids = [
                    e.get("value")
                    for e in element.iter(f"{{{c.RIM}}}ExternalIdentifier")
                    if e.get("identificationScheme") in (c.XDSDocumentEntry_patientId, c.XDSSubmissionSet_patientId, c.XDSFolder_patientId)
                ]
                assert patient_ids == [PATIENT]


def test_identifier_change_moves_entries(store):
    identity_feed.subscribe()
    seed_patients(store, OTHER_PATIENT)
    assert submit(store, patient=OTHER_PATIENT)[0] == []
    hd = Hd("", DOMAIN, "ISO")
    with store.transaction() as session:
        events.publish(session, events.IdentifierChanged(1, Cx(OTHER_PATIENT.split("^")[0], hd), Cx("9999999999999", hd)), datetime.now(UTC))
    assert _find(store, f"9999999999999^^^&{DOMAIN}&ISO") == 1
