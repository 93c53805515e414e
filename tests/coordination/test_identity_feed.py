"""The identity feeds drive the coordination model (actors.coordination.identity_feed):
PAM-FR messages (`conformance.hl7v2_samples`) go through the identity service as the MLLP
listener hands them over, and the coordination rows are asserted.

- ZFA-11 `INC` / `IC`: opposition to consultation recorded / withdrawn;
- ZFA-9 `IO` / `INO`: opposition to feeding recorded / withdrawn, `NA` changes nothing;
- ROL-3 `ODRP`: the treating physician becomes a `PCP` member without structure, once;
  ROL-2 `DE` closes that membership;
- PD1-12 `Y` / `N`: protected access opened / closed;
- A40 merge and A47 identifier change: the state follows the surviving identifier.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from actors.coordination import identity_feed, records
from actors.coordination.state import PatientState
from actors.identity import events, pam, pix
from actors.identity.core import Complements, Policy
from actors.identity.er7 import Er7Message
from actors.identity.service import IdentityService
from actors.identity.v2 import complements, professional_id, read_complements
from conformance import hl7v2_samples as s
from hub.store import Store
from hub.store.models.coordination import CoordinationCircleMember, CoordinationEvent, CoordinationOpposition
from hub.store.models.identity import IdentityEvent
from hub.wire import hl7v2

pytestmark = pytest.mark.usefixtures("fresh_domain_cache")

START = datetime(2025, 6, 10, 7, 15, tzinfo=timezone.utc)
GP_ID = "8" + s.GP.rpps
SENDER = "|".join(s.HOSPITAL)


def key(person: s.Person) -> str:
    return f"{person.ins}^^^&{s.INS_TEST_OID}&ISO"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def service(store: Store) -> Iterator[IdentityService]:
    """The identity service of a hub whose affinity domain is the INS (test OID), with the
    coordination model subscribed to its events."""
    identity_feed.subscribe(s.INS_TEST_OID)
    yield IdentityService(store, Policy(affinity_domain=s.INS_TEST_OID, accepted_domains=s.PATIENT_DOMAINS), clock=Clock())
    identity_feed.unsubscribe()


def send(service: IdentityService, message: str) -> None:
    msh = hl7v2.parse_msh(message)
    if msh.trigger_event == "A40":
        answer = pix.handle_merge(service, message, msh)
    elif msh.trigger_event == "A47":
        answer = pam.handle_change_identifier(service, message, msh)
    else:
        answer = pix.handle_feed(service, message, msh)
    assert "\rMSA|AA|" in answer, answer


def update(person: s.Person, control: str, *, consultation: str = "", feeding: str = "", protected: str = "",
           rol: str = s.rol_treating_physician()) -> str:
    """ITI-30 A31 of `person` with the ZFA-9, ZFA-11 and PD1-12 values given (an empty one
    is not sent) and the ROL segments `rol` (the treating physician by default)."""
    at = "20250612104500"
    zfa = s.segment("ZFA", {1: "ACTIF", 2: at, 9: feeding, 10: at if feeding else "", 11: consultation,
                            12: at if consultation else ""})
    pd1 = s.segment("PD1", {12: protected}) if protected else ""
    return s.join(s.msh(s.adt_type("A31"), control, at), s.evn(at), s.pid(person), pd1, rol,
                  s.segment("PV1", {1: "1", 2: "N"}), zfa)


def state(store: Store, person: s.Person, at: datetime | None = None) -> PatientState:
    with store.session() as session:
        return records.load_state(session, key(person), at or START + timedelta(days=1))


# -- reading the complements ------------------------------------------------------------------

@pytest.mark.parametrize(("xcn", "expected"), [
    (s.GP.xcn("IDNPS"), GP_ID),
    (s.GP.xcn("RPPS"), GP_ID),
    (f"751012344^Dupont^Jean^^^^^^{s.PS_AUTHORITY}^D^^^ADELI", "0751012344"),
    (f"{s.GP.rpps}^ESTRADE^Honorine^^^^^^{s.PS_AUTHORITY}", GP_ID),
    (f"{GP_ID}^ESTRADE^Honorine^^^^^^{s.PS_AUTHORITY}", GP_ID),
    ("750100125/50362^Loisel^Jeanne^^^^^^AUT-AFFECTATION&3750100125&M^D^^^EI", None),
    ("^Loisel^Jeanne^^^^^^^D^^^RPPS", None),
])
def test_a_treating_physician_is_named_by_the_vihf_subject_id(xcn: str, expected: str | None) -> None:
    assert professional_id(xcn) == expected


def test_the_complements_of_a_message_are_read_for_coordination() -> None:
    message = Er7Message(update(s.QUINTARD, "C-1", consultation="INC", feeding="IO", protected="Y"))
    said = read_complements(complements(message, pix.COMPLEMENTS), message.delimiters)
    assert said == Complements("INC", "IO", (GP_ID,), (), True)
    deleted = s.segment("ROL", {2: "DE", 3: "ODRP^Médecin traitant^HL70443", 4: s.GP.xcn()})
    other = s.segment("ROL", {2: "AD", 3: "FHCP^Family health care professional^HL70443", 4: s.SURGEON.xcn()})
    message = Er7Message(update(s.QUINTARD, "C-2", consultation="NA", feeding="NA", protected="N", rol=f"{deleted}\r{other}"))
    assert read_complements(complements(message, pix.COMPLEMENTS), message.delimiters) == Complements(
        "", "NA", (), (GP_ID,), False)
    assert not read_complements({})


def test_a_feed_without_complements_publishes_no_complements_event(store: Store, service: IdentityService) -> None:
    message = s.without_segment(s.without_segment(s.iti30_a28(s.QUINTARD, "C-1"), "ROL"), "ZFA")
    send(service, message)
    with store.session() as session:
        assert session.scalars(select(IdentityEvent.kind)).all() == []
        assert session.scalars(select(CoordinationEvent)).all() == []


# -- the feed's effects -----------------------------------------------------------------------

def test_the_treating_physician_of_a_feed_joins_the_circle_once(store: Store, service: IdentityService) -> None:
    send(service, s.iti30_a28(s.QUINTARD, "C-1"))
    send(service, s.iti30_a31(s.QUINTARD, "C-2"))
    with store.session() as session:
        rows = session.scalars(select(CoordinationCircleMember)).all()
        kinds = session.scalars(select(IdentityEvent.kind)).all()
    assert [(r.patient_id, r.professional_id, r.structure_id, r.role, r.added_by) for r in rows] == [
        (key(s.QUINTARD), GP_ID, None, "PCP", SENDER)]
    assert kinds == ["identity.complements", "identity.complements"]
    loaded = state(store, s.QUINTARD)
    # No structure: the membership holds in whatever structure the physician acts.
    assert [m.professional_id for m in loaded.treating_physicians(START + timedelta(days=1))] == [GP_ID]
    assert loaded.circle[0].matches(GP_ID, "10B0012345")
    # ZFA-9 INO and ZFA-11 IC of the sample: nothing to withdraw.
    assert loaded.oppositions == () and not loaded.protected


def test_a_feed_records_and_withdraws_the_patient_s_oppositions(store: Store, service: IdentityService) -> None:
    send(service, update(s.QUINTARD, "C-1", consultation="INC", feeding="IO"))
    later = START + timedelta(days=1)
    loaded = state(store, s.QUINTARD)
    assert loaded.opposes("consultation", later) and loaded.opposes("feeding", later)
    with store.session() as session:
        rows = session.scalars(select(CoordinationOpposition).order_by(CoordinationOpposition.id)).all()
    assert [(r.scope, r.source, r.recorded_by) for r in rows] == [("consultation", "pam", SENDER), ("feeding", "pam", SENDER)]
    send(service, update(s.QUINTARD, "C-2", consultation="INC", feeding="IO"))
    send(service, update(s.QUINTARD, "C-3", consultation="NA", feeding="NA"))
    loaded = state(store, s.QUINTARD)
    assert loaded.opposes("consultation", later) and loaded.opposes("feeding", later)
    send(service, update(s.QUINTARD, "C-4", consultation="IC", feeding="INO"))
    assert state(store, s.QUINTARD).oppositions == ()
    with store.session() as session:
        assert len(session.scalars(select(CoordinationOpposition)).all()) == 2


def test_pd1_12_opens_and_closes_protected_access(store: Store, service: IdentityService) -> None:
    send(service, update(s.QUINTARD, "C-1", protected="Y"))
    assert state(store, s.QUINTARD).protected
    send(service, update(s.QUINTARD, "C-2", protected="Y"))
    send(service, update(s.QUINTARD, "C-3"))
    assert state(store, s.QUINTARD).protected
    send(service, update(s.QUINTARD, "C-4", protected="N"))
    assert not state(store, s.QUINTARD).protected


def test_a_deleted_treating_physician_leaves_the_circle(store: Store, service: IdentityService) -> None:
    send(service, s.iti30_a28(s.QUINTARD, "C-1"))
    deleted = s.segment("ROL", {2: "DE", 3: "ODRP^Médecin traitant^HL70443", 4: s.GP.xcn()})
    send(service, update(s.QUINTARD, "C-2", rol=deleted))
    assert state(store, s.QUINTARD).circle == ()
    send(service, update(s.QUINTARD, "C-3", rol=deleted))
    assert state(store, s.QUINTARD).circle == ()


def test_a_patient_without_an_affinity_domain_id_has_no_coordination_state(store: Store, service: IdentityService) -> None:
    assert not s.MORVANDEAU.qualified
    send(service, update(s.MORVANDEAU, "C-1", consultation="INC", protected="Y"))
    with store.session() as session:
        assert session.scalars(select(IdentityEvent.kind)).all() == ["identity.complements"]
        assert session.scalars(select(CoordinationEvent)).all() == []


def test_a_merge_moves_the_state_and_the_merged_patient_s_opposition_holds(store: Store, service: IdentityService) -> None:
    send(service, s.iti30_a28(s.QUINTARD, "C-1"))
    # A duplicate record of the same person, with an INS of its own, who opposed consultation.
    duplicate = replace(s.DELAUNAY, ipp="300999")
    send(service, update(duplicate, "C-2", consultation="INC", protected="Y", rol=""))
    assert state(store, duplicate).opposes("consultation", START + timedelta(days=1))
    send(service, s.iti30_a40(s.QUINTARD, duplicate.ipp, "C-3"))
    later = START + timedelta(days=1)
    survivor = state(store, s.QUINTARD)
    assert survivor.opposes("consultation", later) and survivor.protected
    assert [m.professional_id for m in survivor.treating_physicians(later)] == [GP_ID]
    assert not state(store, duplicate).oppositions and not state(store, duplicate).protected
    with store.session() as session:
        merge = session.scalars(select(CoordinationEvent).where(CoordinationEvent.event_type == "MERGE")).one()
    assert (merge.patient_id, merge.actor) == (key(s.QUINTARD), None)
    assert key(duplicate) in merge.detail


def test_an_identifier_change_in_the_affinity_domain_moves_the_state(store: Store, service: IdentityService) -> None:
    send(service, update(s.QUINTARD, "C-1", consultation="INC"))
    renumbered = replace(s.QUINTARD, order="413")
    send(service, s.iti30_a47(renumbered, s.QUINTARD.ins_cx, "C-2"))
    assert state(store, renumbered).opposes("consultation", START + timedelta(days=1))
    assert state(store, s.QUINTARD).oppositions == ()
    assert [m.professional_id for m in state(store, renumbered).circle] == [GP_ID]


def test_a_failing_coordination_change_rolls_the_feed_back(store: Store, service: IdentityService) -> None:
    def broken(session: object, event: events.PatientComplements) -> None:
        raise RuntimeError("coordination unavailable")

    events.subscribe(events.PatientComplements, broken)
    try:
        with pytest.raises(RuntimeError):
            send(service, update(s.QUINTARD, "C-1", consultation="INC"))
    finally:
        events.unsubscribe(events.PatientComplements, broken)
    with store.session() as session:
        assert session.scalars(select(IdentityEvent)).all() == []
        assert session.scalars(select(CoordinationOpposition)).all() == []


def test_subscribing_twice_subscribes_once() -> None:
    identity_feed.subscribe(s.INS_TEST_OID)
    identity_feed.subscribe(s.INS_TEST_OID)
    try:
        handlers = events._subscribers.get(events.PatientComplements, [])
        assert len([h for h in handlers if getattr(h, "__self__", None) is not None
                    and isinstance(h.__self__, identity_feed.IdentityFeed)]) == 1
    finally:
        identity_feed.unsubscribe()
    assert not [h for h in events._subscribers.get(events.PatientComplements, [])
                if isinstance(getattr(h, "__self__", None), identity_feed.IdentityFeed)]
