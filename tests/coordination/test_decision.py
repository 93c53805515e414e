"""The access decision (actors.coordination.decision), one case per row of ACCESS.md.

`test_rule` holds the cases, each named by the row id it expects; `test_principal`
crosses the principals of issue #12 (treating physician, circle member, self-declared
care team, break-the-glass, outside professional, excluded professional, patient-scoped
assertions) with read / submit / query-identity on a patient without and with
opposition or protected access. The last tests keep ACCESS.md, `RULES` and the cases in
step.
"""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

import pytest

from actors.coordination.decision import (
    RULES,
    Access,
    Action,
    Category,
    DocumentFacts,
    Effect,
    Requester,
    Settings,
    decide,
    filter_entries,
)
from actors.coordination.state import CircleMember, Enrolment, Mandate, Opposition, OppositionScope, PatientState, Scope
from conformance.synthetic import finess, nir, rpps
from vihf import names
from vihf.principal import Code, PatientId, Principal, Software

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)

PATIENT = PatientId(nir("F", "195204", "75056", "012"), names.INS_NIR)
OTHER_PATIENT = PatientId(nir("M", "198011", "69123", "044"), names.INS_NIR)


def _pro(serial: str) -> str:
    """A professional id in the VIHF subject-id form: `8` + RPPS."""
    return "8" + rpps(serial)


TREATING = _pro("0000001")
MEMBER = _pro("0000002")
CARE_TEAM = _pro("0000003")
GLASS = _pro("0000004")
OUTSIDER = _pro("0000005")
EXCLUDED = _pro("0000006")
COORDINATOR = _pro("0000007")
AUTHOR = _pro("0000008")
CABINET = "1" + finess("000001")
HOSPITAL = "1" + finess("000002")
COORDINATION_STRUCTURE = "1" + finess("000003")

HL7_CONFIDENTIALITY = "2.16.840.1.113883.5.25"
TRE_A07 = "1.2.250.1.213.1.1.4.13"
CLASS = "11^^1.2.250.1.213.1.1.4.1"  # XDS classCode as the registry stores it
OTHER_CLASS = "10^^1.2.250.1.213.1.1.4.1"


def professional(subject: str, *, structure: str = CABINET, purpose: str = names.NORMAL,
                 patient: PatientId | None = None, profession: str = "10", coordinator: bool = False) -> Requester:
    return Requester(subject, Category.PROFESSIONAL, profession, "SM26", structure, purpose, patient, coordinator)


def the_patient(patient: PatientId | None = PATIENT) -> Requester:
    return Requester("patient-portal", Category.PATIENT, "EXP_PATIENT", None, None, names.NORMAL, patient)


def third_party(subject: str = "secretariat-1") -> Requester:
    return Requester(subject, Category.THIRD_PARTY, "SECRETARIAT_MEDICAL", None, HOSPITAL)


def state(*, enrolled: bool = True, oppositions: tuple[Opposition, ...] = (), protected: bool = False,
          mandates: tuple[Mandate, ...] | None = None, circle: tuple[CircleMember, ...] | None = None) -> PatientState:
    """The patient of every case: enrolled in PAERPA, a circle of the treating physician,
    a member and the (excluded) professional, a self-declared care-team mandate (N, R)
    and a break-the-glass mandate (N, R) in force."""
    if circle is None:
        circle = (
            CircleMember(TREATING, None, "PCP", NOW - 300 * DAY),
            CircleMember(MEMBER, CABINET, "PROV", NOW - 30 * DAY),
            CircleMember(EXCLUDED, CABINET, "PROV", NOW - 30 * DAY),
        )
    if mandates is None:
        mandates = (
            Mandate(CARE_TEAM, None, "care-team", frozenset({"N", "R"}), frozenset(), NOW - DAY, NOW + 29 * DAY),
            Mandate(GLASS, HOSPITAL, "break-the-glass", frozenset({"N", "R"}), frozenset(), NOW - timedelta(hours=1),
                    NOW + timedelta(hours=3), "patient unconscious, emergency admission"),
        )
    return PatientState(
        patient=PATIENT,
        enrolments=(Enrolment("PAERPA", "active", NOW - 365 * DAY),) if enrolled else (),
        circle=circle,
        mandates=mandates,
        oppositions=oppositions,
        protected=protected,
    )


def opposition(scope: OppositionScope, professional_id: str | None = None, withdrawn: datetime | None = None) -> Opposition:
    return Opposition(scope, professional_id, NOW - 10 * DAY, withdrawn)


CONSULTATION = (opposition("consultation"),)
FEEDING = (opposition("feeding"),)
EXCLUSION = (opposition("professional", EXCLUDED),)


def doc(*codes: tuple[str, str], author: str = AUTHOR, class_code: str | None = CLASS,
        structures: frozenset[str] = frozenset({HOSPITAL})) -> DocumentFacts:
    return DocumentFacts(
        author_ids=frozenset({author}),
        author_structures=structures,
        confidentiality_codes=frozenset(codes or {("N", HL7_CONFIDENTIALITY)}),
        class_code=class_code,
        type_code="11488-4^^2.16.840.1.113883.6.1",
    )


NORMAL_DOC = doc()
RESTRICTED_DOC = doc(("R", HL7_CONFIDENTIALITY))
VERY_RESTRICTED_DOC = doc(("V", HL7_CONFIDENTIALITY))
DEFAULT = Settings()


class Case(NamedTuple):
    rule: str
    effect: Effect
    requester: Requester
    action: Action
    state: PatientState
    settings: Settings = DEFAULT
    document: DocumentFacts | None = None
    note: str = ""


def case(rule: str, effect: str, requester: Requester, action: Action, patient: PatientState | None = None,
         settings: Settings = DEFAULT, document: DocumentFacts | None = None, note: str = "") -> Case:
    return Case(rule, Effect(effect), requester, action, patient or state(), settings, document, note)


READ, SUBMIT, IDENTITY = Action.READ_DOCUMENTS, Action.SUBMIT, Action.QUERY_IDENTITY
OPERATOR = Requester.operator("cli")

CASES = [
    # R0: the assertion itself
    case("R0-assertion-other-patient", "deny", professional(MEMBER, patient=OTHER_PATIENT), READ, document=NORMAL_DOC),
    case("R0-assertion-other-patient", "deny", professional(MEMBER, patient=OTHER_PATIENT), SUBMIT, note="submit"),
    case("R0-assertion-other-patient", "deny", the_patient(OTHER_PATIENT), Action.GET_STATUS, note="patient"),
    case("R0-patient-self-only", "deny", the_patient(None), Action.GET_STATUS),
    case("R0-patient-self-only", "deny", the_patient(None), READ, document=NORMAL_DOC, note="read"),
    case("R0-operator-export", "allow", OPERATOR, Action.EXPORT, document=doc(("MASQUE_PS", TRE_A07))),
    case("R0-operator-export", "allow", OPERATOR, Action.EXPORT, note="all entries"),
    case("R0-operator", "deny", OPERATOR, READ, document=NORMAL_DOC),
    case("R0-operator", "deny", OPERATOR, SUBMIT, note="submit"),
    # R1: oppositions
    case("R1-opposition-professional", "deny", professional(EXCLUDED), READ, state(oppositions=EXCLUSION), document=NORMAL_DOC),
    case("R1-opposition-professional", "deny", professional(EXCLUDED), READ, state(oppositions=EXCLUSION),
         document=doc(author=EXCLUDED), note="own document"),
    case("R1-opposition-professional", "deny", professional(EXCLUDED), IDENTITY, state(oppositions=EXCLUSION), note="identity"),
    case("R1-opposition-professional", "deny", professional(EXCLUDED), Action.DECLARE_MANDATE, state(oppositions=EXCLUSION),
         note="no mandate around it"),
    case("R1-opposition-feeding", "deny", professional(MEMBER), SUBMIT, state(oppositions=FEEDING)),
    case("R1-opposition-consultation", "deny", professional(TREATING), READ, state(oppositions=CONSULTATION), document=NORMAL_DOC),
    case("R1-opposition-consultation", "filter", professional(MEMBER), READ, state(oppositions=CONSULTATION), note="all entries"),
    case("R1-opposition-consultation", "deny", professional(GLASS, structure=HOSPITAL, purpose=names.BRIS_DE_GLACE), READ,
         state(oppositions=CONSULTATION), document=NORMAL_DOC, note="break-the-glass too"),
    # R2: visibility codes
    case("R2-masque-ps", "deny", professional(TREATING), READ, document=doc(("N", HL7_CONFIDENTIALITY), ("MASQUE_PS", TRE_A07))),
    case("R2-masque-ps", "deny", professional(MEMBER), READ, document=doc(("masque_ps", "")), note="any case, any scheme"),
    case("R2-masque-ps", "deny", third_party(), READ, document=doc(("MASQUE_PS", TRE_A07)), note="third party"),
    case("R2-masque-pt", "deny", third_party(), READ, document=doc(("MASQUE_PT", TRE_A07))),
    case("R2-invisible-patient", "deny", the_patient(), READ, document=doc(("INVISIBLE_PATIENT", TRE_A07))),
    case("R2-invisible-representants", "deny", the_patient(), READ, document=doc(("INVISIBLE_REPRESENTANTS_LEGAUX", TRE_A07))),
    case("R2-invisible-representants", "deny", the_patient(), READ, document=doc(("INVISIBLE_REP_LEGAUX", "MetaDMPMSS")),
         note="HL7 v2 flag spelling"),
    # R3: the author
    case("R3-author", "allow", professional(OUTSIDER), READ, document=doc(author=OUTSIDER)),
    case("R3-author", "allow", professional(OUTSIDER), READ, state(oppositions=CONSULTATION), document=doc(author=OUTSIDER),
         note="under consultation opposition"),
    case("R3-author", "allow", professional(OUTSIDER), READ, document=doc(("MASQUE_PS", TRE_A07), author=OUTSIDER),
         note="masked document"),
    case("R3-author", "allow", professional(OUTSIDER), READ, state(enrolled=False), Settings(unenrolled_patients="deny"),
         doc(author=OUTSIDER), note="unenrolled deny"),
    # R4: circle, mandates, unenrolled patients
    case("R4-patient-self", "allow", the_patient(), READ, document=VERY_RESTRICTED_DOC),
    case("R4-patient-self", "allow", the_patient(), READ, state(oppositions=CONSULTATION), document=NORMAL_DOC,
         note="own opposition"),
    case("R4-treating-physician", "allow", professional(TREATING), READ, document=VERY_RESTRICTED_DOC),
    case("R4-treating-physician", "allow", professional(TREATING, structure=HOSPITAL), READ, document=NORMAL_DOC,
         note="member named without structure"),
    case("R4-circle", "allow", professional(MEMBER), READ, document=RESTRICTED_DOC),
    case("R4-mandate", "allow", professional(CARE_TEAM, structure=HOSPITAL), READ, document=RESTRICTED_DOC),
    case("R4-mandate", "allow", professional(CARE_TEAM), READ, state(enrolled=False), document=NORMAL_DOC,
         note="unenrolled care-team"),
    case("R4-unenrolled-allow", "allow", professional(OUTSIDER), READ, state(enrolled=False),
         Settings(unenrolled_patients="allow"), NORMAL_DOC),
    case("R4-unenrolled-deny", "deny", professional(TREATING), READ, state(enrolled=False),
         Settings(unenrolled_patients="deny"), NORMAL_DOC),
    case("R4-unenrolled-deny", "deny", the_patient(), READ, state(enrolled=False), Settings(unenrolled_patients="deny"),
         NORMAL_DOC, note="the patient too"),
    case("R4-out-of-scope", "deny", professional(CARE_TEAM), READ, document=VERY_RESTRICTED_DOC),
    case("R4-out-of-scope", "deny", professional(MEMBER), READ, settings=Settings(circle_scope=Scope(frozenset({"N", "R"}))),
         document=VERY_RESTRICTED_DOC, note="circle scope"),
    case("R4-out-of-scope", "deny", professional(MEMBER), READ, settings=Settings(circle_scope=Scope(classes=frozenset({OTHER_CLASS}))),
         document=doc(class_code=None), note="no classCode"),
    case("R4-no-relationship", "deny", professional(OUTSIDER), READ, document=NORMAL_DOC),
    case("R4-no-relationship", "deny", professional(MEMBER, structure=HOSPITAL), READ, document=NORMAL_DOC,
         note="member of another structure"),
    case("R4-no-relationship", "deny", professional(OUTSIDER), READ, settings=Settings(matrix={("10", CLASS): True}),
         document=NORMAL_DOC, note="matrix does not widen"),
    case("R4-no-relationship", "deny", professional(GLASS, structure=HOSPITAL), READ, document=NORMAL_DOC,
         note="break-the-glass mandate without bris_de_glace"),
    case("R4-no-relationship", "filter", professional(OUTSIDER), READ, note="all entries: own documents only"),
    # R5: the matrix narrows
    case("R5-matrix", "deny", professional(MEMBER, profession="60"), READ, settings=Settings(matrix={("60", CLASS): False}),
         document=NORMAL_DOC),
    case("R5-matrix", "deny", professional(GLASS, structure=HOSPITAL, purpose=names.BRIS_DE_GLACE, profession="60"), READ,
         settings=Settings(matrix={("60", CLASS): False}), document=NORMAL_DOC, note="break-the-glass narrowed"),
    # R6: break-the-glass
    case("R6-break-the-glass", "allow", professional(GLASS, structure=HOSPITAL, purpose=names.BRIS_DE_GLACE), READ,
         document=RESTRICTED_DOC),
    case("R6-break-the-glass", "allow", professional(GLASS, structure=HOSPITAL, purpose=names.CENTRE_15), READ,
         document=NORMAL_DOC, note="centre_15"),
    case("R6-break-the-glass", "filter", professional(GLASS, structure=HOSPITAL, purpose=names.BRIS_DE_GLACE), READ,
         note="all entries"),
    case("R6-break-the-glass", "allow", professional(GLASS, structure=HOSPITAL, purpose=names.BRIS_DE_GLACE), IDENTITY,
         state(protected=True), note="protected identity"),
    case("R6-break-the-glass", "allow", professional(GLASS, structure=HOSPITAL, purpose=names.BRIS_DE_GLACE),
         Action.GET_STATUS, note="status"),
    case("R6-btg-no-mandate", "deny", professional(OUTSIDER, purpose=names.BRIS_DE_GLACE), READ, document=NORMAL_DOC),
    case("R6-btg-no-mandate", "deny", professional(GLASS, structure=CABINET, purpose=names.BRIS_DE_GLACE), READ,
         document=NORMAL_DOC, note="mandate declared in another structure"),
    case("R6-btg-no-mandate", "deny", professional(GLASS, structure=HOSPITAL, purpose=names.BRIS_DE_GLACE), READ,
         state(mandates=(Mandate(GLASS, HOSPITAL, "break-the-glass", frozenset(), frozenset(), NOW - 5 * DAY,
                                 NOW - 5 * DAY + timedelta(hours=4), "emergency"),)),
         document=NORMAL_DOC, note="expired mandate"),
    case("R6-btg-out-of-scope", "deny", professional(GLASS, structure=HOSPITAL, purpose=names.BRIS_DE_GLACE), READ,
         document=VERY_RESTRICTED_DOC),
    # R7: identity queries
    case("R7-identity-open", "allow", professional(OUTSIDER), IDENTITY),
    case("R7-identity-open", "allow", third_party(), IDENTITY, note="third party"),
    case("R7-identity-authorised", "allow", professional(MEMBER), IDENTITY, state(protected=True)),
    case("R7-identity-authorised", "allow", professional(OUTSIDER, structure=COORDINATION_STRUCTURE, coordinator=True),
         IDENTITY, state(oppositions=CONSULTATION), note="coordinator"),
    case("R7-identity-authorised", "allow", the_patient(), IDENTITY, state(protected=True), note="patient"),
    case("R7-identity-protected", "deny", professional(OUTSIDER), IDENTITY, state(protected=True)),
    case("R7-identity-protected", "deny", professional(OUTSIDER), IDENTITY, state(oppositions=CONSULTATION), note="opposing"),
    case("R7-identity-protected", "deny", professional(GLASS, structure=HOSPITAL), IDENTITY, state(protected=True),
         note="break-the-glass mandate without bris_de_glace"),
    # R8: submission and update
    case("R8-submit", "allow", professional(OUTSIDER), SUBMIT),
    case("R8-submit", "allow", professional(OUTSIDER), SUBMIT, state(oppositions=CONSULTATION + EXCLUSION), note="other oppositions"),
    case("R8-submit", "allow", professional(EXCLUDED), SUBMIT, state(oppositions=EXCLUSION), note="excluded professional"),
    case("R8-submit", "allow", third_party(), SUBMIT, note="non-PS producer"),
    case("R8-update-author-structure", "allow", professional(OUTSIDER, structure=HOSPITAL), Action.UPDATE, document=NORMAL_DOC),
    case("R8-update-author-structure", "allow", professional(OUTSIDER, structure=HOSPITAL), Action.UPDATE,
         state(oppositions=FEEDING), document=NORMAL_DOC, note="feeding opposition"),
    case("R8-update-not-author", "deny", professional(AUTHOR, structure=CABINET), Action.UPDATE, document=NORMAL_DOC),
    # R9: coordination services
    case("R9-coordinator", "allow", professional(OUTSIDER, structure=COORDINATION_STRUCTURE, coordinator=True), Action.ENROL),
    case("R9-coordinator", "allow", professional(OUTSIDER, structure=COORDINATION_STRUCTURE, coordinator=True),
         Action.MANAGE_CIRCLE, state(oppositions=CONSULTATION), note="circle during opposition"),
    case("R9-treating-physician", "allow", professional(TREATING), Action.MANAGE_CIRCLE),
    case("R9-circle-member", "allow", professional(MEMBER), Action.SET_OPPOSITION, state(oppositions=CONSULTATION)),
    case("R9-circle-member", "allow", professional(MEMBER), Action.GET_STATUS, state(oppositions=CONSULTATION), note="status"),
    case("R9-circle-member", "allow", professional(TREATING), Action.ISSUE_PATIENT_CODE, note="patient code"),
    case("R9-mandate-holder", "allow", professional(CARE_TEAM), Action.GET_STATUS),
    case("R9-patient-self", "allow", the_patient(), Action.SET_OPPOSITION),
    case("R9-declare-mandate", "allow", professional(OUTSIDER), Action.DECLARE_MANDATE),
    case("R9-not-allowed", "deny", professional(MEMBER), Action.ENROL),
    case("R9-not-allowed", "deny", professional(MEMBER), Action.MANAGE_CIRCLE, note="member is not treating physician"),
    case("R9-not-allowed", "deny", professional(OUTSIDER), Action.GET_STATUS, note="status"),
    case("R9-not-allowed", "deny", third_party(), Action.DECLARE_MANDATE, note="mandates are for professionals"),
    case("R9-not-allowed", "deny", professional(MEMBER), Action.SET_OPPOSITION,
         state(circle=(CircleMember(MEMBER, CABINET, "PROV", NOW - 30 * DAY, NOW - DAY),)), note="former member"),
]


def _case_id(c: Case) -> str:
    return f"{c.rule}[{c.note}]" if c.note else c.rule


@pytest.mark.parametrize("c", CASES, ids=_case_id)
def test_rule(c: Case) -> None:
    decision = decide(c.requester, c.action, c.state, c.settings, NOW, c.document)
    assert (decision.rule, decision.effect) == (c.rule, c.effect)
    assert decision.reason == RULES[c.rule]
    assert decision.break_the_glass == (c.rule == "R6-break-the-glass")
    assert decision.high_severity == c.rule.startswith("R6-")


# -- the principals of the issue ------------------------------------------------------

PRINCIPALS = {
    "treating-physician": professional(TREATING),
    "circle-member": professional(MEMBER),
    "care-team": professional(CARE_TEAM, structure=HOSPITAL),
    "break-the-glass": professional(GLASS, structure=HOSPITAL, purpose=names.BRIS_DE_GLACE),
    "outsider": professional(OUTSIDER),
    "excluded": professional(EXCLUDED),
    "scoped-same": professional(MEMBER, patient=PatientId(PATIENT.id, PATIENT.assigning_authority, "NH")),
    "scoped-other": professional(MEMBER, patient=OTHER_PATIENT),
}
# Every state holds the opposition to the excluded professional (also a circle member).
STATES = {
    "plain": state(oppositions=EXCLUSION),
    "consultation": state(oppositions=EXCLUSION + CONSULTATION),
    "feeding": state(oppositions=EXCLUSION + FEEDING),
    "protected": state(oppositions=EXCLUSION, protected=True),
}
_GRANT = {
    "treating-physician": "R4-treating-physician", "circle-member": "R4-circle", "care-team": "R4-mandate",
    "break-the-glass": "R6-break-the-glass", "outsider": "R4-no-relationship", "scoped-same": "R4-circle",
}


def _expected(principal: str, action: Action, patient: str) -> str:
    if principal == "scoped-other":
        return "R0-assertion-other-patient"
    if action is SUBMIT:
        return "R1-opposition-feeding" if patient == "feeding" else "R8-submit"
    if principal == "excluded":
        return "R1-opposition-professional"
    if action is READ:
        return "R1-opposition-consultation" if patient == "consultation" else _GRANT[principal]
    if patient in ("consultation", "protected"):
        return {"break-the-glass": "R6-break-the-glass", "outsider": "R7-identity-protected"}.get(
            principal, "R7-identity-authorised"
        )
    return "R7-identity-open"


@pytest.mark.parametrize("patient", STATES)
@pytest.mark.parametrize("action", [READ, SUBMIT, IDENTITY], ids=str)
@pytest.mark.parametrize("principal", PRINCIPALS)
def test_principal(principal: str, action: Action, patient: str) -> None:
    document = NORMAL_DOC if action is READ else None
    decision = decide(PRINCIPALS[principal], action, STATES[patient], DEFAULT, NOW, document)
    assert decision.rule == _expected(principal, action, patient)
    assert decision.allowed == (decision.rule in {"R4-treating-physician", "R4-circle", "R4-mandate", "R6-break-the-glass",
                                                  "R7-identity-open", "R7-identity-authorised", "R8-submit"})


# -- time bounds and values -----------------------------------------------------------

def test_withdrawn_opposition_no_longer_applies() -> None:
    withdrawn = state(oppositions=(opposition("consultation", withdrawn=NOW - DAY), opposition("feeding", withdrawn=NOW)))
    assert decide(professional(MEMBER), READ, withdrawn, DEFAULT, NOW, NORMAL_DOC).rule == "R4-circle"
    assert decide(professional(MEMBER), SUBMIT, withdrawn, DEFAULT, NOW).rule == "R8-submit"
    # Before its withdrawal it applied.
    assert decide(professional(MEMBER), SUBMIT, withdrawn, DEFAULT, NOW - timedelta(seconds=1)).rule == "R1-opposition-feeding"


def test_opposition_dated_in_the_future_already_holds() -> None:
    future = state(oppositions=(Opposition("consultation", None, NOW + DAY),))
    assert decide(professional(MEMBER), READ, future, DEFAULT, NOW, NORMAL_DOC).rule == "R1-opposition-consultation"


def test_break_the_glass_ends_with_its_mandate() -> None:
    glass = PRINCIPALS["break-the-glass"]
    assert decide(glass, READ, state(), DEFAULT, NOW + timedelta(hours=3), NORMAL_DOC).rule == "R6-btg-no-mandate"
    assert decide(glass, READ, state(), DEFAULT, NOW + timedelta(hours=2), NORMAL_DOC).rule == "R6-break-the-glass"


def test_ended_and_proposed_enrolments_leave_the_patient_unenrolled() -> None:
    allow = Settings(unenrolled_patients="allow")
    for enrolment in (Enrolment("PTA", "ended", NOW - 9 * DAY, NOW - DAY), Enrolment("PTA", "proposed", NOW - DAY)):
        patient = replace(state(), enrolments=(enrolment,))
        assert decide(professional(OUTSIDER), READ, patient, allow, NOW, NORMAL_DOC).rule == "R4-unenrolled-allow"
    suspended = replace(state(), enrolments=(Enrolment("PTA", "suspended", NOW - DAY),))
    assert decide(professional(OUTSIDER), READ, suspended, allow, NOW, NORMAL_DOC).rule == "R4-no-relationship"


def test_break_the_glass_mandate_needs_its_reason() -> None:
    with pytest.raises(ValueError, match="reason"):
        Mandate(GLASS, None, "break-the-glass", frozenset(), frozenset(), NOW, NOW + DAY, "  ")


def test_professional_opposition_names_the_professional() -> None:
    with pytest.raises(ValueError):
        Opposition("professional", None, NOW)
    with pytest.raises(ValueError):
        Opposition("consultation", MEMBER, NOW)


def test_settings_refuse_an_unknown_unenrolled_value() -> None:
    with pytest.raises(ValueError, match="unenrolled_patients"):
        Settings(unenrolled_patients="open")  # type: ignore[arg-type]


def test_update_needs_the_document() -> None:
    with pytest.raises(ValueError, match="document"):
        decide(professional(MEMBER), Action.UPDATE, state(), DEFAULT, NOW)


def test_document_level_is_the_most_restricted() -> None:
    facts = doc(("N", HL7_CONFIDENTIALITY), ("v", "1.2.250.1.213.1.1.5.463"), ("masque_ps", TRE_A07))
    assert (facts.level, facts.visibility) == ("V", frozenset({"MASQUE_PS"}))
    assert doc(("INVISIBLE_PATIENT", TRE_A07)).level == "N"


def test_requester_from_principal() -> None:
    def principal(role: Code, structure: str | None = COORDINATION_STRUCTURE, purpose: str | None = "BRIS_DE_GLACE",
                  patient: PatientId | None = PATIENT) -> Principal:
        return Principal(
            assertion_id="_a", issuer="issuer", issue_instant=NOW, not_before=NOW, not_on_or_after=NOW + DAY,
            vihf_version="3.0", subject_id=MEMBER, subject_id_type="RPPS", subject_name=None,
            roles=(role, Code("SM26", names.TRE_R01_ENSEMBLE_SAVOIR_FAIRE)), sector=Code("SA07", names.TRE_R02_SECTEUR_ACTIVITE),
            structure_id=structure, structure_name=None, authentication_mode=names.INDIRECTE_RENFORCEE, authn_context=None,
            authn_instant=None, purpose_of_use=Code(purpose, names.JDV_J38_MODE_ACCES_CISIS) if purpose else None,
            break_the_glass_reason=None, patient=patient, resource_urn=None, software=Software("LGC"),
        )

    coordinators = frozenset({COORDINATION_STRUCTURE})
    doctor = Requester.from_principal(principal(Code("10", names.TRE_G15_PROFESSION_SANTE)), coordinators)
    assert doctor == Requester(MEMBER, Category.PROFESSIONAL, "10", "SM26", COORDINATION_STRUCTURE, names.BRIS_DE_GLACE,
                               PATIENT, coordinator=True)
    assert doctor.break_the_glass
    student = Requester.from_principal(principal(Code("10", names.TRE_G16_PROFESSION_FORMATION), CABINET, None), coordinators)
    assert (student.category, student.coordinator, student.purpose) == (Category.PROFESSIONAL, False, names.NORMAL)
    patient = Requester.from_principal(principal(Code("EXP_PATIENT", names.TRE_A00_PRODUCTEUR_DOC_NON_PS)), coordinators)
    assert (patient.category, patient.coordinator) == (Category.PATIENT, False)
    robot = Requester.from_principal(principal(Code("AUTOMATE", names.TRE_A00_PRODUCTEUR_DOC_NON_PS), " "), coordinators)
    assert (robot.category, robot.structure_id, robot.coordinator) == (Category.THIRD_PARTY, None, False)


def test_patient_known_by_another_identifier() -> None:
    local = PatientId("PAT-000123", "1.2.250.1.999.1.2")
    patient = replace(state(), other_ids=(local,))
    assert decide(professional(MEMBER, patient=local), READ, patient, DEFAULT, NOW, NORMAL_DOC).rule == "R4-circle"


# -- the batch helper -----------------------------------------------------------------

def test_filter_entries_agrees_with_decide() -> None:
    documents = [
        NORMAL_DOC, RESTRICTED_DOC, VERY_RESTRICTED_DOC, doc(author=OUTSIDER), doc(("MASQUE_PS", TRE_A07)),
        doc(("INVISIBLE_PATIENT", TRE_A07)), doc(class_code=OTHER_CLASS), doc(class_code=None),
    ]
    settings = Settings(matrix={("10", OTHER_CLASS): False})
    requesters = [*PRINCIPALS.values(), the_patient(), third_party(), OPERATOR]
    for patient in STATES.values():
        for requester in requesters:
            for action in (READ, Action.EXPORT):
                expected = [decide(requester, action, patient, settings, NOW, d) for d in documents]
                assert filter_entries(requester, patient, settings, NOW, documents, action) == expected


def test_filter_entries_shares_the_decisions() -> None:
    decisions = Access(professional(MEMBER), state(), DEFAULT, NOW).entries([NORMAL_DOC, RESTRICTED_DOC])
    assert decisions[0] is decisions[1]


# -- the table, the code and the cases stay in step -----------------------------------

def _table_ids() -> list[str]:
    text = (ROOT / "ACCESS.md").read_text(encoding="utf-8")
    section = text.split("## Rules, in the order they are evaluated", 1)[1].split("\n## ", 1)[0]
    return [row.split("|")[1].strip() for row in section.splitlines() if re.match(r"\| R\d+-", row)]


def test_access_md_lists_every_rule_once_in_order() -> None:
    assert _table_ids() == list(RULES)


def test_every_rule_has_a_case() -> None:
    assert sorted(set(RULES) - {c.rule for c in CASES}) == []


def test_the_code_returns_only_rules_of_the_table() -> None:
    source = (ROOT / "actors" / "coordination" / "decision.py").read_text(encoding="utf-8")
    used = set(re.findall(r'"(R\d+-[a-z0-9-]+)"', source))
    assert used <= set(RULES)
    assert all(re.fullmatch(r"R\d+-[a-z0-9-]+", rule) for rule in RULES)


def test_reasons_name_nobody() -> None:
    people = [PATIENT.id, OTHER_PATIENT.id, TREATING, MEMBER, CARE_TEAM, GLASS, OUTSIDER, EXCLUDED, AUTHOR, CABINET, HOSPITAL]
    for c in CASES:
        reason = decide(c.requester, c.action, c.state, c.settings, NOW, c.document).reason
        assert not any(identifier in reason for identifier in people)
