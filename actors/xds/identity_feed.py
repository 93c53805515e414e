"""What the Document Registry does with the Patient Identity Feed's merges and
identifier changes (ITI TF-2a 3.8.4.2.3: after a merge the registry answers for the
surviving patient id only; the subsumed id's DocumentEntries, SubmissionSets and Folders
now carry the surviving id).

Subscribed to `actors.identity.events`: the move runs in the identity transaction, so a
merge and its effect on the registry commit or roll back together.
"""
from __future__ import annotations

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from actors.identity import events
from actors.identity.model import Cx
from actors.xds import constants as c
from hub.wire import xmlsafe
from hub.store.models.xds import (
    PatientObject,
    XdsDocumentEntry,
    XdsFolder,
    XdsKnownPatient,
    XdsSubmissionSet,
)

_PATIENT_SCHEMES = {c.XDSDocumentEntry_patientId, c.XDSSubmissionSet_patientId, c.XDSFolder_patientId}
_subscribed = False


def xds_patient_id(cx: Cx) -> str:
    """The CX form of an XDS patientId: id^^^&OID&ISO."""
    return f"{cx.value}^^^&{cx.authority.universal_id}&ISO"


def _rewrite(xml: str, old: str, new: str) -> str:
    element = xmlsafe.parse_own(xml.encode("utf-8"))
    for identifier in element.iter(f"{{{c.RIM}}}ExternalIdentifier"):
        if identifier.get("identificationScheme") in _PATIENT_SCHEMES and identifier.get("value") == old:
            identifier.set("value", new)
    return str(etree.tostring(element, encoding="unicode"))


def move_patient(session: Session, old: str, new: str) -> int:
    """Give the registry objects of patient `old` to patient `new`; returns how many moved.
    sourcePatientId (the source's own identifier) is left as submitted."""
    moved = 0
    models: tuple[type[PatientObject], ...] = (XdsDocumentEntry, XdsSubmissionSet, XdsFolder)
    for model in models:
        rows: list[PatientObject] = list(session.scalars(select(model).where(model.patient_id == old)))
        for row in rows:
            row.patient_id = new
            row.xml = _rewrite(row.xml, old, new)
            moved += 1
    known = session.get(XdsKnownPatient, old)
    if known is not None:
        session.delete(known)
        if session.get(XdsKnownPatient, new) is None:
            session.add(XdsKnownPatient(patient_id=new))
    return moved


def _target(retired: Cx, surviving: tuple[Cx, ...]) -> Cx | None:
    for cx in surviving:
        if cx.authority.key == retired.authority.key:
            return cx
    return surviving[0] if surviving else None


def on_merge(session: Session, event: events.PatientsMerged) -> None:
    """ITI-8 / ITI-30 merge: the retired identifiers' objects go to the survivor."""
    for retired in event.retired:
        target = _target(retired, event.surviving)
        if target is not None and retired.authority.universal_id and target.authority.universal_id:
            move_patient(session, xds_patient_id(retired), xds_patient_id(target))


def on_identifier_changed(session: Session, event: events.IdentifierChanged) -> None:
    """ITI-30 A47: the old identifier's objects carry the new one."""
    if event.new is not None and event.old.authority.universal_id and event.new.authority.universal_id:
        move_patient(session, xds_patient_id(event.old), xds_patient_id(event.new))


def subscribe() -> None:
    """Subscribe once per process."""
    global _subscribed
    if not _subscribed:
        events.subscribe(events.PatientsMerged, on_merge)
        events.subscribe(events.IdentifierChanged, on_identifier_changed)
        _subscribed = True
