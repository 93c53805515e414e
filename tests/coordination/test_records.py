"""The coordination model's reads and writes (actors.coordination.records) over the store,
on SQLite and, when TSNHUB_TEST_POSTGRES_URL is set, PostgreSQL.

Each refusal is a `CoordinationError` naming the request field at fault, raised before
anything is written: the error tests compare the row counts inside the transaction,
right after the refusal, and the transaction is then rolled back."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from actors.coordination import records
from actors.coordination.pathways import load_catalogue
from actors.coordination.records import Actor, CoordinationError
from actors.coordination.state import CircleMember
from hub.config import CoordinationConfig
from hub.store import Base, Store
from hub.store.models.coordination import (
    CoordinationCircleMember,
    CoordinationEnrolment,
    CoordinationEvent,
    CoordinationMandate,
    CoordinationOpposition,
    CoordinationPatientCode,
    CoordinationProtected,
)
from vihf.principal import PatientId

NIR = "1.2.250.1.213.1.4.8"
PATIENT = f"1840575123456^^^&{NIR}&ISO"
OTHER = f"2690299341732^^^&{NIR}&ISO"
DOCTOR = "810002958546"
NURSE = "810100012345"
COORDINATOR = Actor("810003046231", "10B0012345")
GP = Actor(DOCTOR, "10B0099999")
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
LATER = NOW + timedelta(hours=1)
CATALOGUE = load_catalogue(None)
SETTINGS = CoordinationConfig()
TABLES: tuple[type[Base], ...] = (
    CoordinationEnrolment, CoordinationCircleMember, CoordinationMandate, CoordinationOpposition,
    CoordinationProtected, CoordinationPatientCode, CoordinationEvent,
)


def counts(session: Session) -> dict[str, int]:
    session.flush()
    return {model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0) for model in TABLES}


def events(store: Store, event_type: str | None = None) -> list[tuple[str, str | None, dict[str, str]]]:
    with store.session() as session:
        query = select(CoordinationEvent).order_by(CoordinationEvent.id)
        if event_type:
            query = query.where(CoordinationEvent.event_type == event_type)
        return [(row.event_type, row.actor, json.loads(row.detail)) for row in session.scalars(query)]


class _RollBack(Exception):
    pass


def refused(store: Store, change: Callable[[Session], Any]) -> CoordinationError:
    """Run `change` in a transaction: it must raise a CoordinationError and have written
    nothing; the transaction is rolled back."""
    with pytest.raises(_RollBack):
        with store.transaction() as session:
            before = counts(session)
            with pytest.raises(CoordinationError) as caught:
                change(session)
            assert counts(session) == before
            raise _RollBack
    return caught.value


def enrolled(store: Store, patient: str = PATIENT, pathway: str = "PAERPA", consent: bool = True) -> CoordinationEnrolment:
    with store.transaction() as session:
        return records.enrol(session, patient, pathway, COORDINATOR, consent, NOW - timedelta(days=1) if consent else None,
                             None, CATALOGUE, NOW)


def member(store: Store, professional: str = DOCTOR, role: str = "PCP", structure: str | None = None,
           patient: str = PATIENT, at: datetime = NOW) -> list[CircleMember]:
    with store.transaction() as session:
        return records.add_member(session, patient, professional, structure, role, COORDINATOR, at)


def state(store: Store, patient: str = PATIENT, at: datetime = LATER) -> Any:
    with store.session() as session:
        return records.load_state(session, patient, at)


# -- patients and errors ----------------------------------------------------------------------

@pytest.mark.parametrize("given", [
    PATIENT,
    f" 1840575123456^^^ASIP-SANTE-INS-NIR&{NIR}&ISO^INS ",
    f"1840575123456^^^{NIR}",
])
def test_patient_ids_are_kept_in_the_registry_form(given: str) -> None:
    assert records.patient_key(given) == PATIENT


@pytest.mark.parametrize("given", ["", "1840575123456", "1840575123456^^^", "^^^&1.2.3&ISO", "x" * 250 + "^^^&1.2.3&ISO"])
def test_an_unreadable_patient_id_is_refused(given: str) -> None:
    with pytest.raises(CoordinationError) as caught:
        records.patient_key(given)
    assert caught.value.field == "patientId"


def test_a_coordination_error_names_its_field() -> None:
    error = CoordinationError("pathway", "unknown pathway")
    assert (error.field, error.reason, str(error)) == ("pathway", "unknown pathway", "pathway: unknown pathway")
    assert isinstance(error, ValueError)


# -- loading the state ------------------------------------------------------------------------

def test_a_patient_without_rows_has_an_empty_state(store: Store) -> None:
    loaded = state(store)
    assert loaded.patient == PatientId("1840575123456", NIR)
    assert (loaded.enrolments, loaded.circle, loaded.mandates, loaded.oppositions, loaded.protected) == ((), (), (), (), False)


def test_the_state_holds_what_is_in_force(store: Store) -> None:
    enrolled(store)
    member(store, DOCTOR, "PCP")
    with store.transaction() as session:
        records.declare_mandate(session, PATIENT, Actor(NURSE), "care-team", None, SETTINGS, NOW)
        records.set_opposition(session, PATIENT, "professional", NURSE, COORDINATOR, "coordination", NOW)
        records.set_protected(session, PATIENT, True, "pam", NOW)
    loaded = state(store)
    assert [(e.pathway, e.status) for e in loaded.enrolments] == [("PAERPA", "active")]
    assert loaded.enrolled(LATER)
    assert [m.professional_id for m in loaded.treating_physicians(LATER)] == [DOCTOR]
    assert [(m.holder_id, m.kind) for m in loaded.active_mandates(LATER)] == [(NURSE, "care-team")]
    assert loaded.mandates[0].scope_confidentiality == frozenset({"N", "R"})
    assert loaded.opposes("professional", LATER, NURSE) and not loaded.opposes("consultation", LATER)
    assert loaded.protected


def test_what_can_no_longer_matter_is_not_loaded(store: Store) -> None:
    enrolled(store)
    member(store, NURSE, "NURSE")
    with store.transaction() as session:
        records.end_enrolment(session, PATIENT, "PAERPA", "sortie", COORDINATOR, NOW)
        records.remove_member(session, PATIENT, NURSE, COORDINATOR, NOW)
        records.declare_mandate(session, PATIENT, GP, "break-the-glass", "coma", SETTINGS, NOW)
        records.set_opposition(session, PATIENT, "consultation", None, COORDINATOR, "coordination", NOW)
        records.withdraw_opposition(session, PATIENT, "consultation", None, COORDINATOR, NOW)
        records.set_protected(session, PATIENT, True, "pam", NOW)
        records.set_protected(session, PATIENT, False, "pam", NOW)
    loaded = state(store, at=NOW + timedelta(days=1))
    assert (loaded.enrolments, loaded.circle, loaded.mandates, loaded.oppositions, loaded.protected) == ((), (), (), (), False)


def test_many_patients_are_loaded_with_one_query(store: Store) -> None:
    patients = [f"{n:013d}^^^&{NIR}&ISO" for n in range(1, 1201)]
    enrolled(store, patients[0])
    member(store, DOCTOR, patient=patients[-1])
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        with store.session() as session:
            states = records.load_states(session, patients, LATER)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert list(states) == patients
    assert states[patients[0]].enrolled(LATER) and not states[patients[1]].enrolled(LATER)
    assert [m.professional_id for m in states[patients[-1]].circle] == [DOCTOR]


def test_states_are_keyed_by_the_id_as_given(store: Store) -> None:
    enrolled(store)
    other_form = f"1840575123456^^^ASIP-SANTE-INS-NIR&{NIR}&ISO^NH"
    with store.session() as session:
        states = records.load_states(session, [other_form, PATIENT, OTHER], LATER)
    assert list(states) == [other_form, PATIENT, OTHER]
    assert states[other_form] == states[PATIENT] and states[PATIENT].enrolled(LATER)
    assert not states[OTHER].enrolled(LATER)


# -- enrolments -------------------------------------------------------------------------------

def test_an_enrolment_with_consent_is_active_and_recorded(store: Store) -> None:
    with store.transaction() as session:
        row = records.enrol(session, PATIENT, "PAERPA", COORDINATOR, True, NOW - timedelta(days=2), "1.2.250.1.999.1.7",
                            CATALOGUE, NOW)
        assert row.id and row.status == "active"
    with store.session() as session:
        stored = session.scalars(select(CoordinationEnrolment)).one()
    assert (stored.patient_id, stored.consent, stored.consent_document_unique_id) == (PATIENT, True, "1.2.250.1.999.1.7")
    assert (stored.enrolled_by, stored.enrolled_by_structure, stored.started_at) == (COORDINATOR.professional_id, "10B0012345", NOW)
    assert events(store) == [("ENROL", COORDINATOR.professional_id,
                              {"action": "enrol", "pathway": "PAERPA", "status": "active", "enrolmentId": str(stored.id)})]


def test_an_enrolment_without_consent_is_proposed_and_not_in_a_pathway(store: Store) -> None:
    assert enrolled(store, consent=False).status == "proposed"
    assert not state(store).enrolled(LATER)


def test_an_ended_enrolment_lets_the_patient_be_enrolled_again(store: Store) -> None:
    enrolled(store)
    with store.transaction() as session:
        assert records.end_enrolment(session, PATIENT, "PAERPA", "  sortie du parcours ", COORDINATOR, NOW) == "ended"
    with store.session() as session:
        ended = session.scalars(select(CoordinationEnrolment)).one()
    assert (ended.status, ended.ended_at, ended.end_reason) == ("ended", NOW, "sortie du parcours")
    assert enrolled(store).status == "active"
    assert [detail["action"] for _type, _actor, detail in events(store, "ENROL")] == ["enrol", "end", "enrol"]


@pytest.mark.parametrize(("pathway", "consent", "date", "document", "field"), [
    ("NOPE", True, NOW, None, "pathway"),
    ("PAERPA", True, None, None, "consentDate"),
    ("PAERPA", True, datetime(2026, 3, 1, 9, 0), None, "consentDate"),
    ("PAERPA", True, NOW + timedelta(hours=1), None, "consentDate"),
    ("PAERPA", False, NOW, "1.2 3", "consentDocumentUniqueId"),
    ("PAERPA", False, NOW, "9" * 129, "consentDocumentUniqueId"),
])
def test_a_bad_enrolment_is_refused(store: Store, pathway: str, consent: bool, date: datetime | None,
                                    document: str | None, field: str) -> None:
    error = refused(store, lambda s: records.enrol(s, PATIENT, pathway, COORDINATOR, consent, date, document, CATALOGUE, NOW))
    assert error.field == field


def test_a_second_enrolment_in_a_pathway_is_refused(store: Store) -> None:
    enrolled(store, consent=False)
    error = refused(store, lambda s: records.enrol(s, PATIENT, "PAERPA", COORDINATOR, True, NOW, None, CATALOGUE, NOW))
    assert (error.field, error.reason) == ("pathway", "the patient is already enrolled in PAERPA")
    # Another pathway, or another patient, is fine.
    enrolled(store, pathway="ONCO")
    enrolled(store, patient=OTHER)


def test_ending_an_enrolment_that_does_not_exist_is_refused(store: Store) -> None:
    enrolled(store, pathway="ONCO")
    assert refused(store, lambda s: records.end_enrolment(s, PATIENT, "PAERPA", "", COORDINATOR, NOW)).field == "pathway"


def test_a_bad_patient_id_is_refused_before_anything_is_written(store: Store) -> None:
    error = refused(store, lambda s: records.enrol(s, "1840575123456", "PAERPA", COORDINATOR, True, NOW, None, CATALOGUE, NOW))
    assert error.field == "patientId"


# -- the care circle --------------------------------------------------------------------------

def test_a_member_joins_and_leaves_the_circle(store: Store) -> None:
    assert member(store, DOCTOR, "PCP") == [CircleMember(DOCTOR, None, "PCP", NOW, None)]
    after = member(store, NURSE, "NURSE", "10B0012345", at=NOW + timedelta(minutes=5))
    assert [(m.professional_id, m.structure_id, m.role) for m in after] == [(DOCTOR, None, "PCP"), (NURSE, "10B0012345", "NURSE")]
    with store.transaction() as session:
        left = records.remove_member(session, PATIENT, NURSE, COORDINATOR, LATER)
        assert [m.professional_id for m in left] == [DOCTOR]
        assert [m.professional_id for m in records.circle(session, PATIENT, LATER)] == [DOCTOR]
        history = records.circle(session, PATIENT, LATER, history=True)
    assert [(m.professional_id, m.until) for m in history] == [(DOCTOR, None), (NURSE, LATER)]
    with store.session() as session:
        removed = session.scalars(select(CoordinationCircleMember).where(CoordinationCircleMember.professional_id == NURSE)).one()
    assert (removed.added_by, removed.removed_by) == (COORDINATOR.professional_id, COORDINATOR.professional_id)
    assert [detail["action"] for _t, _a, detail in events(store, "CIRCLE")] == ["add", "add", "remove"]
    assert events(store, "CIRCLE")[1][2] == {"action": "add", "professionalId": NURSE, "role": "NURSE", "structureId": "10B0012345"}


def test_a_member_who_left_may_come_back(store: Store) -> None:
    member(store, NURSE, "NURSE")
    with store.transaction() as session:
        records.remove_member(session, PATIENT, NURSE, COORDINATOR, NOW)
    member(store, NURSE, "PCP", at=LATER)
    with store.session() as session:
        periods = records.circle(session, PATIENT, LATER, history=True)
    assert [(m.role, m.since, m.until) for m in periods] == [("NURSE", NOW, NOW), ("PCP", LATER, None)]


def test_an_open_member_is_not_added_twice(store: Store) -> None:
    member(store, DOCTOR, "PCP")
    error = refused(store, lambda s: records.add_member(s, PATIENT, DOCTOR, "10B0012345", "ATND", COORDINATOR, LATER))
    assert error.field == "professionalId"


@pytest.mark.parametrize(("professional", "structure", "role", "field"), [
    ("", None, "PCP", "professionalId"),
    ("8100 02958546", None, "PCP", "professionalId"),
    (DOCTOR, None, "", "role"),
    (DOCTOR, None, "  ", "role"),
    (DOCTOR, None, "P C P", "role"),
    (DOCTOR, None, "R" * 65, "role"),
    (DOCTOR, "S" * 129, "PCP", "structureId"),
])
def test_a_bad_member_is_refused(store: Store, professional: str, structure: str | None, role: str, field: str) -> None:
    assert refused(store, lambda s: records.add_member(s, PATIENT, professional, structure, role, COORDINATOR, NOW)).field == field


def test_removing_someone_who_is_not_a_member_is_refused(store: Store) -> None:
    member(store, NURSE, "NURSE")
    with store.transaction() as session:
        records.remove_member(session, PATIENT, NURSE, COORDINATOR, NOW)
    assert refused(store, lambda s: records.remove_member(s, PATIENT, NURSE, COORDINATOR, LATER)).field == "professionalId"
    assert refused(store, lambda s: records.remove_member(s, PATIENT, DOCTOR, COORDINATOR, LATER)).field == "professionalId"


def test_a_feed_adds_members_in_its_sender_s_name(store: Store) -> None:
    with store.transaction() as session:
        records.add_member(session, PATIENT, DOCTOR, None, "PCP", "GAM_HBJ|CH_BOISJOLI", NOW)
    with store.session() as session:
        assert session.scalars(select(CoordinationCircleMember.added_by)).one() == "GAM_HBJ|CH_BOISJOLI"
    assert events(store) == [("CIRCLE", None, {"action": "add", "professionalId": DOCTOR, "role": "PCP"})]


# -- mandates ---------------------------------------------------------------------------------

def test_a_care_team_mandate_takes_its_lifetime_and_scope_from_the_settings(store: Store) -> None:
    settings = CoordinationConfig(care_team_days=7, care_team_classes=["11488-4^^2.16.840.1.113883.6.1"])
    with store.transaction() as session:
        mandate = records.declare_mandate(session, PATIENT, GP, "care-team", None, settings, NOW)
    assert (mandate.kind, mandate.holder_id, mandate.holder_structure) == ("care-team", DOCTOR, "10B0099999")
    assert (mandate.starts, mandate.ends) == (NOW, NOW + timedelta(days=7))
    assert mandate.scope_confidentiality == frozenset({"N", "R"})
    assert mandate.scope_classes == frozenset({"11488-4^^2.16.840.1.113883.6.1"})
    assert state(store).mandates == (mandate,)
    assert events(store) == [("MANDATE", DOCTOR, {"kind": "care-team", "until": (NOW + timedelta(days=7)).isoformat()})]


def test_breaking_the_glass_is_declared_with_its_reason_and_recorded_as_btg(store: Store) -> None:
    with store.transaction() as session:
        mandate = records.declare_mandate(session, PATIENT, GP, "break-the-glass", "  patient inconscient ", SETTINGS, NOW)
    assert (mandate.reason, mandate.ends, mandate.break_the_glass) == ("patient inconscient", NOW + timedelta(hours=4), True)
    with store.session() as session:
        row = session.scalars(select(CoordinationMandate)).one()
    assert (row.granted_by, row.reason, row.confidentiality_scope) == (DOCTOR, "patient inconscient", "N R")
    assert [(t, a) for t, a, _d in events(store)] == [("BTG", DOCTOR)]


@pytest.mark.parametrize(("kind", "reason", "code", "field"), [
    ("break-the-glass", None, None, "reason"),
    ("break-the-glass", "   ", None, "reason"),
    ("circle", None, None, "kind"),
    ("treating-physician", None, None, "kind"),
    ("emergency", "coma", None, "kind"),
    ("patient-code", None, None, "patientCode"),
    ("patient-code", None, "  ", "patientCode"),
    ("patient-code", None, "ABCDEFGH", "patientCode"),
])
def test_a_bad_mandate_is_refused(store: Store, kind: str, reason: str | None, code: str | None, field: str) -> None:
    error = refused(store, lambda s: records.declare_mandate(s, PATIENT, GP, kind, reason, SETTINGS, NOW, patient_code=code))
    assert error.field == field


def test_a_patient_code_opens_a_mandate_once(store: Store) -> None:
    with store.transaction() as session:
        code, until = records.issue_code(session, PATIENT, COORDINATOR, timedelta(minutes=60), NOW)
    assert until == NOW + timedelta(minutes=60)
    typed = f"{code[:4].lower()}-{code[4:]}"
    with store.transaction() as session:
        mandate = records.declare_mandate(session, PATIENT, GP, "patient-code", None, SETTINGS, LATER - timedelta(minutes=1),
                                          patient_code=typed)
    assert (mandate.kind, mandate.ends) == ("patient-code", LATER - timedelta(minutes=1) + timedelta(days=1))
    with store.session() as session:
        row = session.scalars(select(CoordinationMandate)).one()
        used = session.scalars(select(CoordinationPatientCode)).one()
    assert row.granted_by == COORDINATOR.professional_id
    assert (used.used_by, used.used_at) == (DOCTOR, LATER - timedelta(minutes=1))
    again = refused(store, lambda s: records.declare_mandate(s, PATIENT, Actor(NURSE), "patient-code", None, SETTINGS, LATER,
                                                              patient_code=code))
    assert (again.field, again.reason) == ("patientCode", "unknown, expired or already used")


# -- patient access codes ---------------------------------------------------------------------

def test_an_issued_code_is_kept_only_as_its_hash(store: Store) -> None:
    with store.transaction() as session:
        code, _until = records.issue_code(session, PATIENT, COORDINATOR, timedelta(minutes=60), NOW)
    assert len(code) == records.CODE_LENGTH and set(code) <= set(records.CODE_ALPHABET)
    with store.session() as session:
        row = session.scalars(select(CoordinationPatientCode)).one()
    assert row.code_hash == hashlib.sha256(code.encode()).hexdigest() and code not in row.code_hash
    assert (row.patient_id, row.issued_by, row.issued_at, row.used_at) == (PATIENT, COORDINATOR.professional_id, NOW, None)


def test_a_code_is_drawn_again_when_its_hash_is_taken(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter("AAAAAAAA" "AAAAAAAA" "BBBBBBBB")
    monkeypatch.setattr(records.secrets, "choice", lambda _alphabet: next(draws))
    with store.transaction() as session:
        first, _ = records.issue_code(session, PATIENT, COORDINATOR, timedelta(minutes=60), NOW)
        second, _ = records.issue_code(session, OTHER, COORDINATOR, timedelta(minutes=60), NOW)
    assert (first, second) == ("AAAAAAAA", "BBBBBBBB")


def test_a_code_is_used_once_by_its_own_patient_before_it_expires(store: Store) -> None:
    with store.transaction() as session:
        code, until = records.issue_code(session, PATIENT, COORDINATOR, timedelta(minutes=60), NOW)
    assert refused(store, lambda s: records.use_code(s, OTHER, code, GP, NOW)).field == "patientCode"
    assert refused(store, lambda s: records.use_code(s, PATIENT, code, GP, until)).field == "patientCode"
    assert refused(store, lambda s: records.use_code(s, PATIENT, code, GP, NOW - timedelta(seconds=1))).field == "patientCode"
    with store.transaction() as session:
        records.use_code(session, PATIENT, code.lower(), GP, NOW + timedelta(minutes=59))
    assert refused(store, lambda s: records.use_code(s, PATIENT, code, GP, NOW + timedelta(minutes=59))).field == "patientCode"


def test_a_code_lives_for_a_positive_time(store: Store) -> None:
    assert refused(store, lambda s: records.issue_code(s, PATIENT, COORDINATOR, timedelta(0), NOW)).field == "lifetime"


# -- oppositions ------------------------------------------------------------------------------

def test_an_opposition_to_consultation_holds_until_withdrawn(store: Store) -> None:
    with store.transaction() as session:
        assert records.set_opposition(session, PATIENT, "consultation", None, COORDINATOR, "coordination", NOW) == "consultation"
        assert records.set_opposition(session, PATIENT, "consultation", "", COORDINATOR, "coordination", LATER) == "consultation"
    with store.session() as session:
        row = session.scalars(select(CoordinationOpposition)).one()
    assert (row.scope, row.since, row.source, row.recorded_by) == ("consultation", NOW, "coordination", COORDINATOR.professional_id)
    assert state(store).opposes("consultation", LATER)
    with store.transaction() as session:
        assert records.withdraw_opposition(session, PATIENT, "consultation", None, COORDINATOR, LATER) == "none"
        assert records.withdraw_opposition(session, PATIENT, "consultation", None, COORDINATOR, LATER) == "none"
    assert not state(store, at=LATER + timedelta(seconds=1)).opposes("consultation", LATER + timedelta(seconds=1))
    assert [d for _t, _a, d in events(store, "OPPOSITION")] == [
        {"action": "set", "scope": "consultation", "source": "coordination"},
        {"action": "withdraw", "scope": "consultation"},
    ]


def test_an_opposition_to_one_professional_names_them(store: Store) -> None:
    with store.transaction() as session:
        assert records.set_opposition(session, PATIENT, "professional", NURSE, COORDINATOR, "coordination", NOW) == "none"
        records.set_opposition(session, PATIENT, "professional", DOCTOR, COORDINATOR, "coordination", NOW)
        records.set_opposition(session, PATIENT, "feeding", None, "GAM|HBJ", "pam", NOW)
        assert records.withdraw_opposition(session, PATIENT, "professional", NURSE, COORDINATOR, LATER) == "none"
    loaded = state(store, at=LATER)
    assert loaded.opposes("professional", LATER, DOCTOR) and not loaded.opposes("professional", LATER, NURSE)
    assert loaded.opposes("feeding", LATER)
    assert events(store, "OPPOSITION")[2] == ("OPPOSITION", None, {"action": "set", "scope": "feeding", "source": "pam"})


@pytest.mark.parametrize(("scope", "professional", "field"), [
    ("everything", None, "scope"),
    ("professional", None, "professionalId"),
    ("professional", " ", "professionalId"),
    ("consultation", NURSE, "professionalId"),
])
def test_a_bad_opposition_is_refused(store: Store, scope: str, professional: str | None, field: str) -> None:
    assert refused(store, lambda s: records.set_opposition(s, PATIENT, scope, professional, COORDINATOR, "coordination", NOW)).field == field
    assert refused(store, lambda s: records.withdraw_opposition(s, PATIENT, scope, professional, COORDINATOR, NOW)).field == field


# -- protected access -------------------------------------------------------------------------

def test_protected_access_opens_and_closes_one_period(store: Store) -> None:
    with store.transaction() as session:
        records.set_protected(session, PATIENT, True, "pam", NOW)
        records.set_protected(session, PATIENT, True, "pam", NOW + timedelta(minutes=1))
    assert state(store).protected
    with store.transaction() as session:
        records.set_protected(session, PATIENT, False, "pam", LATER)
        records.set_protected(session, PATIENT, False, "pam", LATER)
    assert not state(store, at=LATER).protected
    with store.transaction() as session:
        records.set_protected(session, PATIENT, True, "pam", LATER + timedelta(minutes=1))
        periods = session.execute(select(CoordinationProtected.since, CoordinationProtected.until).order_by(CoordinationProtected.id)).all()
    assert [tuple(p) for p in periods] == [(NOW, LATER), (LATER + timedelta(minutes=1), None)]


# -- events -----------------------------------------------------------------------------------

def test_an_event_is_written_in_the_caller_s_transaction(store: Store) -> None:
    with pytest.raises(_RollBack):
        with store.transaction() as session:
            records.record_event(session, "SOR", f"1840575123456^^^{NIR}", None, {"unit": "Cardiologie"}, NOW)
            assert counts(session)["coordination_event"] == 1
            raise _RollBack
    assert events(store) == []
    with store.transaction() as session:
        records.record_event(session, "SOR", f"1840575123456^^^{NIR}", DOCTOR, {"unit": "Cardiologie"}, NOW)
    with store.session() as session:
        row = session.scalars(select(CoordinationEvent)).one()
    assert (row.event_type, row.patient_id, row.actor, row.at, row.delivered_at) == ("SOR", PATIENT, DOCTOR, NOW, None)
    assert json.loads(row.detail) == {"unit": "Cardiologie"}


# -- merges -----------------------------------------------------------------------------------

@pytest.fixture
def two_patients(store: Store) -> Iterator[Store]:
    """Both patients with a state: OTHER is to be merged into PATIENT."""
    enrolled(store, PATIENT, "PAERPA", consent=False)
    enrolled(store, OTHER, "PAERPA")
    enrolled(store, PATIENT, "ONCO")
    enrolled(store, OTHER, "ONCO")
    enrolled(store, OTHER, "DIAB")
    member(store, DOCTOR, "PCP", patient=PATIENT)
    member(store, DOCTOR, "PCP", patient=OTHER)
    member(store, NURSE, "NURSE", patient=OTHER)
    with store.transaction() as session:
        records.declare_mandate(session, OTHER, GP, "break-the-glass", "coma", SETTINGS, NOW)
        records.set_opposition(session, OTHER, "consultation", None, COORDINATOR, "coordination", NOW)
        records.set_opposition(session, PATIENT, "professional", NURSE, COORDINATOR, "coordination", NOW)
        records.set_protected(session, OTHER, True, "pam", NOW)
        records.issue_code(session, OTHER, COORDINATOR, timedelta(minutes=60), NOW)
    yield store


def test_a_merge_moves_the_retired_patient_s_state_to_the_survivor(two_patients: Store) -> None:
    store = two_patients
    with store.transaction() as session:
        records.move_patient(session, OTHER, PATIENT, LATER)
    with store.session() as session:
        for model in TABLES[:-1]:
            assert session.scalars(select(model).where(model.patient_id == OTHER)).all() == []  # type: ignore[attr-defined]
        enrolments = session.execute(
            select(CoordinationEnrolment.pathway, CoordinationEnrolment.status, CoordinationEnrolment.consent,
                   CoordinationEnrolment.end_reason).order_by(CoordinationEnrolment.pathway, CoordinationEnrolment.id)
        ).all()
    assert [tuple(e) for e in enrolments] == [
        ("DIAB", "active", True, None),
        # Both enrolled in ONCO: the survivor's enrolment stays.
        ("ONCO", "active", True, None), ("ONCO", "ended", True, "merged"),
        # Only the retired patient had consented to PAERPA: that enrolment stays.
        ("PAERPA", "ended", False, "merged"), ("PAERPA", "active", True, None),
    ]
    loaded = state(store, at=LATER)
    assert sorted(e.pathway for e in loaded.active_enrolments(LATER)) == ["DIAB", "ONCO", "PAERPA"]
    assert sorted((m.professional_id, m.role) for m in loaded.active_circle(LATER)) == [(DOCTOR, "PCP"), (NURSE, "NURSE")]
    assert [m.kind for m in loaded.active_mandates(LATER)] == ["break-the-glass"]
    # Both oppositions hold: the retired patient's one to consultation, the survivor's to the nurse.
    assert loaded.opposes("consultation", LATER) and loaded.opposes("professional", LATER, NURSE)
    assert loaded.protected
    assert not state(store, OTHER, LATER).enrolments
    assert events(store, "MERGE") == [("MERGE", None, {"cause": "merge", "retired": OTHER})]


def test_a_merge_closes_the_retired_duplicates_of_open_periods(two_patients: Store) -> None:
    store = two_patients
    with store.transaction() as session:
        records.set_protected(session, PATIENT, True, "pam", NOW)
        records.move_patient(session, OTHER, PATIENT, LATER)
    with store.session() as session:
        doctor = session.execute(select(CoordinationCircleMember.since, CoordinationCircleMember.until).where(
            CoordinationCircleMember.professional_id == DOCTOR).order_by(CoordinationCircleMember.id)).all()
        protected = session.execute(select(CoordinationProtected.until).order_by(CoordinationProtected.id)).scalars().all()
        codes = session.scalars(select(CoordinationPatientCode.patient_id)).all()
    assert [tuple(d) for d in doctor] == [(NOW, None), (NOW, LATER)]
    assert protected == [LATER, None]
    assert codes == [PATIENT]


def test_a_merge_of_a_patient_into_itself_changes_nothing(two_patients: Store) -> None:
    store = two_patients
    with store.transaction() as session:
        before = counts(session)
        records.move_patient(session, f"2690299341732^^^{NIR}", OTHER, LATER)
        assert counts(session) == before
