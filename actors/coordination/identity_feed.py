"""What the coordination model does with the identity feeds (ITI-8, ITI-30): the PAM-FR
complements of a patient (coordination.md §9, §10; INTERFACES.md access rules) and the
merges and identifier changes that rename a patient.

Subscribed to `actors.identity.events`: each change runs in the identity transaction,
so that a feed and its effect on the coordination model commit or roll back together.
The coordination model names patients by their id in the affinity domain; a patient
without one has no coordination state, and the feed changes nothing there.

- ZFA-11 `INC` records an opposition to consultation, `IC` (consent) withdraws it;
- ZFA-9 `IO` records an opposition to feeding, `INO` withdraws it; `NA` ("not
  collected") changes nothing: an opposition the patient expressed is not lifted by a
  message that did not ask. ZFA-9 itself stays with the identity's complements
  (`identity_patient.details`), as every ZFA field does;
- a ROL-3 `ODRP` professional becomes a `PCP` member of the circle, without structure
  (membership then matches on the professional id), unless already a member; a ROL-2
  `DE` of a treating physician closes their `PCP` membership;
- PD1-12 `Y` / `N` opens or closes the protected-access period;
- a merge moves the retired patient's coordination rows to the survivor, an identifier
  change within the affinity domain moves them to the new identifier.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy.orm import Session

from actors.coordination import records
from actors.coordination.state import TREATING_PHYSICIAN_ROLE
from actors.identity import events
from actors.identity.model import Cx

# coordination_opposition.source / coordination_protected.source of what a PAM feed says.
SOURCE = "pam"


def store_patient_id(cx: Cx) -> str:
    """The CX form of the store and of the XDS registry: id^^^&OID&ISO."""
    return f"{cx.value}^^^&{cx.authority.universal_id}&ISO"


def _at(event: events.PatientsMerged | events.IdentifierChanged | events.PatientComplements) -> datetime:
    return event.at or datetime.now(timezone.utc)


@dataclass(frozen=True)
class IdentityFeed:
    """The subscriber of one affinity domain (`[identity] affinity_domain`)."""

    affinity_domain: str

    def _in_domain(self, cx: Cx | None) -> bool:
        return cx is not None and bool(cx.value) and cx.authority.universal_id == self.affinity_domain

    def _patient(self, identifiers: tuple[Cx, ...]) -> str | None:
        found = next((cx for cx in identifiers if self._in_domain(cx)), None)
        return store_patient_id(found) if found is not None else None

    def on_merge(self, session: Session, event: events.PatientsMerged) -> None:
        """ITI-8 / ITI-30 A40: the retired id's coordination state goes to the survivor."""
        surviving = self._patient(event.surviving)
        if surviving is None:
            return
        for retired in event.retired:
            if self._in_domain(retired):
                records.move_patient(session, store_patient_id(retired), surviving, _at(event))

    def on_identifier_changed(self, session: Session, event: events.IdentifierChanged) -> None:
        """ITI-30 A47 within the affinity domain: the state follows the new identifier."""
        if self._in_domain(event.old) and self._in_domain(event.new):
            assert event.new is not None
            records.move_patient(
                session, store_patient_id(event.old), store_patient_id(event.new), _at(event), cause="identifier-changed"
            )

    def on_complements(self, session: Session, event: events.PatientComplements) -> None:
        """ZFA-11, ZFA-9, ROL `ODRP`, PD1-12 of a feed, applied to the patient's state."""
        patient = self._patient(event.identifiers)
        if patient is None:
            return
        now, sender = _at(event), event.source or SOURCE
        if event.opposition == "INC":
            records.set_opposition(session, patient, "consultation", None, sender, SOURCE, now)
        elif event.opposition == "IC":
            records.withdraw_opposition(session, patient, "consultation", None, sender, now)
        if event.feeding == "IO":
            records.set_opposition(session, patient, "feeding", None, sender, SOURCE, now)
        elif event.feeding == "INO":
            records.withdraw_opposition(session, patient, "feeding", None, sender, now)
        if event.treating_physicians or event.former_treating_physicians:
            members = {m.professional_id: m for m in records.circle(session, patient, now) if m.until is None}
            for professional in event.treating_physicians:
                if professional not in members:
                    records.add_member(session, patient, professional, None, TREATING_PHYSICIAN_ROLE, sender, now)
            for professional in event.former_treating_physicians:
                member = members.get(professional)
                if member is not None and member.treating_physician:
                    records.remove_member(session, patient, professional, sender, now)
        if event.protected is not None:
            records.set_protected(session, patient, event.protected, SOURCE, now)


_feed: IdentityFeed | None = None


def subscribe(affinity_domain: str) -> None:
    """Subscribe once per process (again with another affinity domain replaces it)."""
    global _feed
    if _feed is not None and _feed.affinity_domain == affinity_domain:
        return
    unsubscribe()
    feed = IdentityFeed(affinity_domain)
    events.subscribe(events.PatientsMerged, feed.on_merge)
    events.subscribe(events.IdentifierChanged, feed.on_identifier_changed)
    events.subscribe(events.PatientComplements, feed.on_complements)
    _feed = feed


def unsubscribe() -> None:
    global _feed
    if _feed is None:
        return
    events.unsubscribe(events.PatientsMerged, _feed.on_merge)
    events.unsubscribe(events.IdentifierChanged, _feed.on_identifier_changed)
    events.unsubscribe(events.PatientComplements, _feed.on_complements)
    _feed = None
