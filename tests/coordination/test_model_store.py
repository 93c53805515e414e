"""The coordination store group (hub.store.models.coordination), the pathway catalogue
(actors.coordination.pathways) and the `[coordination]` configuration section.

The store rules are the database's own (CHECK constraints, partial unique indexes), so
that two concurrent requests cannot both break them: each test commits rows and
expects the backend to refuse the one that breaks the rule.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from actors.coordination.pathways import DEFAULT_CATALOGUE, CatalogueError, Pathway, load_catalogue
from hub import config as hub_config
from hub.config import ConfigError
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

PATIENT = "1840575123456^^^&1.2.250.1.213.1.4.8&ISO"
OTHER_PATIENT = "2690299341732^^^&1.2.250.1.213.1.4.8&ISO"
DOCTOR = "810002958546"
NURSE = "810100012345"
COORDINATOR = "810003046231"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


def _commit(store: Store, *rows: Base) -> None:
    with store.transaction() as session:
        session.add_all(rows)


def _refused(store: Store, row: Base) -> None:
    with pytest.raises(IntegrityError):
        _commit(store, row)


# -- the store group ------------------------------------------------------------------------

def _enrolment(status: str = "active", pathway: str = "PAERPA", ended_at: datetime | None = None) -> CoordinationEnrolment:
    return CoordinationEnrolment(
        patient_id=PATIENT,
        pathway=pathway,
        status=status,
        started_at=NOW,
        ended_at=ended_at,
        enrolled_by=COORDINATOR,
        enrolled_by_structure="10B0012345",
        consent=True,
        consent_date=NOW - timedelta(days=1),
    )


def test_a_second_current_enrolment_in_one_pathway_is_refused(store: Store) -> None:
    _commit(store, _enrolment("active"))
    _refused(store, _enrolment("proposed"))
    _refused(store, _enrolment("suspended"))


def test_an_ended_enrolment_lets_the_patient_be_enrolled_again(store: Store) -> None:
    _commit(store, _enrolment("active"))
    with store.transaction() as session:
        first = session.scalars(select(CoordinationEnrolment)).one()
        first.status = "ended"
        first.ended_at = NOW + timedelta(days=30)
        first.end_reason = "sortie du parcours"
    _commit(store, _enrolment("active"), _enrolment("active", pathway="ONCO"))
    _commit(store, _enrolment("ended", ended_at=NOW + timedelta(days=1)))
    with store.session() as session:
        statuses = session.scalars(
            select(CoordinationEnrolment.status).where(CoordinationEnrolment.pathway == "PAERPA").order_by(CoordinationEnrolment.id)
        ).all()
    assert statuses == ["ended", "active", "ended"]


def test_an_enrolment_status_outside_the_four_is_refused(store: Store) -> None:
    _refused(store, _enrolment("inactive"))


def test_an_ended_enrolment_has_its_end(store: Store) -> None:
    _refused(store, _enrolment("ended", ended_at=None))


def _mandate(kind: str, reason: str | None) -> CoordinationMandate:
    return CoordinationMandate(
        patient_id=PATIENT,
        holder_professional_id=DOCTOR,
        kind=kind,
        granted_by=DOCTOR,
        reason=reason,
        confidentiality_scope="N R",
        starts_at=NOW,
        ends_at=NOW + timedelta(hours=4),
    )


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_break_the_glass_mandate_without_reason_is_refused(store: Store, reason: str | None) -> None:
    _refused(store, _mandate("break-the-glass", reason))


def test_a_break_the_glass_mandate_keeps_its_reason_and_scope(store: Store) -> None:
    _commit(store, _mandate("break-the-glass", "détresse respiratoire, patient inconscient"), _mandate("care-team", None))
    with store.session() as session:
        rows = session.scalars(
            select(CoordinationMandate).where(
                CoordinationMandate.patient_id == PATIENT, CoordinationMandate.holder_professional_id == DOCTOR
            )
        ).all()
    assert sorted((row.kind, row.confidentiality_scope, row.class_scope) for row in rows) == [
        ("break-the-glass", "N R", ""),
        ("care-team", "N R", ""),
    ]


def test_a_mandate_kind_outside_the_five_is_refused(store: Store) -> None:
    _refused(store, _mandate("emergency", "urgence"))


def _opposition(scope: str, professional_id: str | None) -> CoordinationOpposition:
    return CoordinationOpposition(
        patient_id=PATIENT, scope=scope, professional_id=professional_id, since=NOW, source="coordination", recorded_by=COORDINATOR
    )


def test_an_opposition_names_a_professional_exactly_when_its_scope_is_professional(store: Store) -> None:
    _refused(store, _opposition("professional", None))
    _refused(store, _opposition("consultation", NURSE))
    _commit(store, _opposition("professional", NURSE), _opposition("consultation", None), _opposition("feeding", None))


def test_an_opposition_scope_outside_the_three_is_refused(store: Store) -> None:
    _refused(store, _opposition("sharing", None))


def _member(professional_id: str, since: datetime, until: datetime | None = None, role: str = "PCP") -> CoordinationCircleMember:
    return CoordinationCircleMember(
        patient_id=PATIENT,
        professional_id=professional_id,
        role=role,
        since=since,
        until=until,
        added_by=COORDINATOR,
        removed_by=COORDINATOR if until else None,
    )


def test_a_member_who_leaves_and_comes_back_has_two_periods(store: Store) -> None:
    _commit(store, _member(DOCTOR, NOW, NOW + timedelta(days=10)), _member(DOCTOR, NOW + timedelta(days=20)), _member(NURSE, NOW, role="NURS"))
    with store.session() as session:
        periods = session.execute(
            select(CoordinationCircleMember.since, CoordinationCircleMember.until)
            .where(CoordinationCircleMember.professional_id == DOCTOR)
            .order_by(CoordinationCircleMember.since)
        ).all()
    assert [tuple(period) for period in periods] == [(NOW, NOW + timedelta(days=10)), (NOW + timedelta(days=20), None)]


def test_a_member_has_one_open_period_at_a_time(store: Store) -> None:
    _commit(store, _member(DOCTOR, NOW))
    _refused(store, _member(DOCTOR, NOW + timedelta(days=1), role="ASSIST"))


def test_protected_access_has_one_open_period_per_patient(store: Store) -> None:
    _commit(store, CoordinationProtected(patient_id=PATIENT, since=NOW, until=NOW + timedelta(days=1), source="pam"))
    _commit(store, CoordinationProtected(patient_id=PATIENT, since=NOW + timedelta(days=2), source="pam"))
    _refused(store, CoordinationProtected(patient_id=PATIENT, since=NOW + timedelta(days=3), source="pam"))


def _code(patient_id: str, code: str) -> CoordinationPatientCode:
    return CoordinationPatientCode(
        patient_id=patient_id,
        code_hash=hashlib.sha256(code.encode()).hexdigest(),
        issued_by=COORDINATOR,
        issued_at=NOW,
        expires_at=NOW + timedelta(minutes=60),
    )


def test_a_patient_code_hash_is_unique(store: Store) -> None:
    _commit(store, _code(PATIENT, "K7Q2-9XMA"))
    _refused(store, _code(OTHER_PATIENT, "K7Q2-9XMA"))


def test_coordination_events_come_back_in_the_order_they_were_written(store: Store) -> None:
    for event_type in ("ENROL", "CIRCLE", "BTG"):
        _commit(store, CoordinationEvent(at=NOW, event_type=event_type, patient_id=PATIENT, actor=DOCTOR))
    with store.session() as session:
        events = session.scalars(select(CoordinationEvent).order_by(CoordinationEvent.id)).all()
    assert [(e.event_type, e.detail, e.delivered_at) for e in events] == [("ENROL", "{}", None), ("CIRCLE", "{}", None), ("BTG", "{}", None)]


# -- the pathway catalogue ------------------------------------------------------------------

def test_the_built_in_catalogue_has_pta_and_paerpa() -> None:
    catalogue = load_catalogue(None)
    assert catalogue["PTA"] == Pathway("PTA", "Plateforme territoriale d'appui")
    assert catalogue["PAERPA"].label == "Personnes âgées en risque de perte d'autonomie"
    assert {"ONCO", "MRC"} <= set(catalogue)
    assert load_catalogue("") == catalogue == load_catalogue(DEFAULT_CATALOGUE)


def test_a_deployment_catalogue_replaces_the_built_in_one(tmp_path: Path) -> None:
    path = tmp_path / "parcours.toml"
    path.write_text('[[pathway]]\ncode = "SLA"\nlabel = "Sclérose latérale amyotrophique"\n', encoding="utf-8")
    assert load_catalogue(str(path)) == {"SLA": Pathway("SLA", "Sclérose latérale amyotrophique")}


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ('[[pathway]]\ncode = "ONCO"\nlabel = "Oncologie"\n[[pathway]]\ncode = "ONCO"\nlabel = "Cancer"\n', "#2: code 'ONCO' is listed twice"),
        ('[[pathway]]\ncode = "ONCO"\n', "#1 (ONCO): label is missing"),
        ('[[pathway]]\ncode = "ONCO"\nlabel = "  "\n', "#1 (ONCO): label is missing"),
        ('[[pathway]]\ncode = ""\nlabel = "Oncologie"\n', "#1: code must be"),
        ('[[pathway]]\nlabel = "Oncologie"\n', "#1: code must be"),
        ('[[pathway]]\ncode = "ONCO"\nlabel = "Oncologie"\ncolor = "red"\n', "#1: unknown key(s) color"),
        ('[[pathways]]\ncode = "ONCO"\nlabel = "Oncologie"\n', "unknown key(s) pathways"),
        ("", "no [[pathway]] table"),
        ("code = ONCO, label = Oncologie\n", "not TOML"),
    ],
)
def test_a_bad_catalogue_is_refused_naming_the_file_and_the_entry(tmp_path: Path, text: str, fault: str) -> None:
    path = tmp_path / "parcours.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as refused:
        load_catalogue(path)
    assert str(path) in str(refused.value)
    assert fault in str(refused.value)
    assert isinstance(refused.value, ValueError)


def test_a_missing_catalogue_is_refused_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="absent.toml"):
        load_catalogue(tmp_path / "absent.toml")


# -- the [coordination] section ---------------------------------------------------------------

@pytest.fixture
def load_config(tmp_path: Path) -> Callable[[str], hub_config.Config]:
    def load(text: str) -> hub_config.Config:
        path = tmp_path / "hub.toml"
        path.write_text(text, encoding="utf-8")
        return hub_config.load(path)

    return load


def test_the_coordination_defaults() -> None:
    section = hub_config.Config().coordination
    assert (section.pathways, section.coordinator_structures, section.unenrolled_patients) == ("", [], "care-team")
    assert section.mandate_lifetime("treating-physician") == timedelta(days=365)
    assert section.mandate_lifetime("circle") == timedelta(days=365)
    assert section.mandate_lifetime("care-team") == timedelta(days=30)
    assert section.mandate_lifetime("break-the-glass") == timedelta(hours=4)
    assert section.mandate_lifetime("patient-code") == timedelta(days=1)
    assert section.patient_code_minutes == 60
    assert section.mandate_scope("treating-physician") == (["N", "R", "V"], [])
    assert section.mandate_scope("care-team") == (["N", "R"], [])


def test_the_coordination_section_is_read(load_config: Callable[[str], hub_config.Config]) -> None:
    section = load_config(
        "[coordination]\n"
        'pathways = "/etc/tsnhub/parcours.toml"\n'
        'coordinator_structures = ["10B0012345"]\n'
        'unenrolled_patients = "deny"\n'
        "break_the_glass_hours = 2\n"
        'care_team_classes = ["11488-4^^2.16.840.1.113883.6.1"]\n'
    ).coordination
    assert section.unenrolled_patients == "deny"
    assert section.coordinator_structures == ["10B0012345"]
    assert section.mandate_lifetime("break-the-glass") == timedelta(hours=2)
    assert section.mandate_scope("care-team") == (["N", "R"], ["11488-4^^2.16.840.1.113883.6.1"])


@pytest.mark.parametrize(
    ("line", "fault"),
    [
        ("unenrolled = 'deny'", "unknown key(s): unenrolled"),
        ("unenrolled_patients = 'nobody'", "unenrolled_patients must be one of allow, care-team, deny"),
        ("unenrolled_patients = 1", "unenrolled_patients must be of type str"),
        ("coordinator_structures = ['']", "coordinator_structures"),
        ("care_team_days = 0", "care_team_days must be a positive number"),
        ("break_the_glass_hours = -4", "break_the_glass_hours must be a positive number"),
        ("patient_code_minutes = 0", "patient_code_minutes must be a positive number"),
        ("circle_confidentiality = ['N', 'MASQUE_PS']", "circle_confidentiality takes the codes N, R, V"),
        ("circle_classes = ['11488-4']", "circle_classes: '11488-4' is not a 'code^^codingScheme' classCode"),
    ],
)
def test_a_bad_coordination_key_is_refused(load_config: Callable[[str], hub_config.Config], line: str, fault: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(f"[coordination]\n{line}\n")
    assert f"[coordination] {fault}" in str(refused.value)
