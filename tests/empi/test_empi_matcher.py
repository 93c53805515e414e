"""EMPI comparison rules and decisions: one test per rule."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from actors.empi.compare import (
    compare_birth_date,
    compare_birth_name,
    compare_birthplace,
    compare_given_names,
    compare_ins,
    compare_sex,
    typo_close,
)
from actors.empi.matcher import Matcher, Thresholds, Weights
from actors.empi.traits import PartialDate, Traits

JEANNE = Traits(
    birth_name="DARK",
    given_names=("JEANNE", "MARIE", "CECILE"),
    birth_date=date(1960, 5, 3),
    sex="F",
    birthplace="35238",
    postal_code="35000",
)
JEANNE_INS = "260053523800112"
JEANNE_TWIN_INS = "260053523800211"


def with_(traits: Traits, **changes: object) -> Traits:
    return replace(traits, **changes)  # type: ignore[arg-type]


@pytest.fixture
def matcher() -> Matcher:
    return Matcher()


# --- birth name -------------------------------------------------------------------


def test_birth_name_accents_and_case_are_exact() -> None:
    a = with_(JEANNE, birth_name="Lefèvre")
    assert compare_birth_name(a, with_(JEANNE, birth_name="LEFEVRE")) == "exact"


def test_birth_name_without_particle_is_particle_level() -> None:
    a = with_(JEANNE, birth_name="DE LA FONTAINE")
    assert compare_birth_name(a, with_(JEANNE, birth_name="FONTAINE")) == "particle"
    assert compare_birth_name(with_(JEANNE, birth_name="DELAFONTAINE"), with_(JEANNE, birth_name="FONTAINE")) == "compound"


def test_birth_name_typing_slip() -> None:
    assert compare_birth_name(JEANNE, with_(JEANNE, birth_name="DRAK")) == "typo"
    assert compare_birth_name(with_(JEANNE, birth_name="ROUSSEL"), with_(JEANNE, birth_name="ROUSEL")) == "typo"
    assert compare_birth_name(with_(JEANNE, birth_name="ROUSSEL"), with_(JEANNE, birth_name="ROSUSEL")) == "typo"


def test_typo_close_limits() -> None:
    assert typo_close("DARK", "DAKR")  # neighbours swapped
    assert typo_close("MARTIN", "MARTN")
    assert not typo_close("MARTIN", "MORTON")  # two edits on a short name
    assert typo_close("CHEVALIER", "CHEVALLIRE")  # two edits on a long name
    assert not typo_close("LEO", "LEA")


def test_compound_birth_name_against_one_of_its_parts() -> None:
    a = with_(JEANNE, birth_name="DUPONT-MOREAU")
    assert compare_birth_name(a, with_(JEANNE, birth_name="DUPONT")) == "compound"


def test_married_name_taken_for_the_birth_name_meets_the_used_name() -> None:
    hospital = with_(JEANNE, used_name="MARTIN")
    pharmacy = with_(JEANNE, birth_name="MARTIN", used_name=None)
    assert compare_birth_name(hospital, pharmacy) == "used_name"
    assert compare_birth_name(pharmacy, hospital) == "used_name"


def test_differing_birth_names_of_women_weigh_less_than_of_men() -> None:
    other = with_(JEANNE, birth_name="BERNARD")
    assert compare_birth_name(JEANNE, other) == "disagree_woman"
    assert compare_birth_name(with_(JEANNE, sex="M"), with_(other, sex="M")) == "disagree"
    weights = Weights().levels["birth_name"]
    assert weights["disagree"] < weights["disagree_woman"] < 0


# --- given names ------------------------------------------------------------------


def test_given_names_swapped() -> None:
    assert compare_given_names(JEANNE, with_(JEANNE, given_names=("MARIE", "JEANNE"))) == "swapped"


def test_given_names_first_only_is_exact() -> None:
    assert compare_given_names(JEANNE, with_(JEANNE, given_names=("Jeanne",))) == "exact"


def test_usual_first_name_registered_alone() -> None:
    assert compare_given_names(JEANNE, with_(JEANNE, given_names=("MARIE",))) == "usual_name"


def test_compound_first_name_with_hyphen_lost_is_exact() -> None:
    a = with_(JEANNE, given_names=("JEAN-PIERRE", "LOUIS"))
    assert compare_given_names(a, with_(a, given_names=("JEAN PIERRE",))) == "exact"


def test_compound_first_name_cut() -> None:
    a = with_(JEANNE, given_names=("JEAN-PIERRE", "LOUIS"))
    assert compare_given_names(a, with_(a, given_names=("JEAN",))) == "compound"
    assert compare_given_names(a, with_(a, given_names=("JEAN", "LOUIS"))) == "compound"


def test_other_compound_first_names_disagree() -> None:
    a = with_(JEANNE, given_names=("MARIE-LAURE",))
    assert compare_given_names(a, with_(a, given_names=("MARIE FRANCE",))) == "disagree"
    b = with_(JEANNE, given_names=("JEAN-FRANCOIS",))
    assert compare_given_names(b, with_(b, given_names=("JEAN", "LUC"))) == "disagree"


def test_given_name_typo() -> None:
    assert compare_given_names(JEANNE, with_(JEANNE, given_names=("JAENNE",))) == "typo"


# --- birth date -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("other", "level"),
    [
        (date(1960, 5, 3), "exact"),
        (date(1960, 3, 5), "transposed"),
        (date(1960, 5, 8), "digit"),
        (date(1960, 5, 30), "digit"),  # neighbouring digits swapped: 03 -> 30
        (date(1950, 5, 3), "year"),
        (date(1906, 5, 3), "year"),
        (date(1971, 8, 12), "disagree"),
        (PartialDate(1960, 5), "partial"),
        (PartialDate(1961), "disagree"),
        (None, "missing"),
    ],
)
def test_birth_date_levels(other: date | PartialDate | None, level: str) -> None:
    assert compare_birth_date(JEANNE, with_(JEANNE, birth_date=other)) == level


# --- sex, birthplace, INS ---------------------------------------------------------


def test_sex_unknown_is_missing() -> None:
    assert compare_sex(JEANNE, with_(JEANNE, sex="U")) == "missing"
    assert compare_sex(JEANNE, with_(JEANNE, sex="M")) == "different"


def test_birthplace_levels() -> None:
    assert compare_birthplace(JEANNE, with_(JEANNE, birthplace="35238")) == "equal"
    assert compare_birthplace(JEANNE, with_(JEANNE, birthplace="35047")) == "department"
    assert compare_birthplace(JEANNE, with_(JEANNE, birthplace="75056")) == "different"
    assert compare_birthplace(JEANNE, with_(JEANNE, birthplace=None)) == "missing"


def test_nia_and_nir_of_one_person_say_nothing() -> None:
    nir = with_(JEANNE, ins=JEANNE_INS, ins_type="NIR")
    nia = with_(JEANNE, ins="184127512345640", ins_type="NIA")
    assert compare_ins(nir, nia) == "missing"


# --- decisions --------------------------------------------------------------------


def test_identical_records_link(matcher: Matcher) -> None:
    result = matcher.compare(JEANNE, with_(JEANNE))
    assert result.decision == "link"
    assert result.score > 0.999


def test_married_name_links(matcher: Matcher) -> None:
    hospital = with_(JEANNE, used_name="Martin")
    gp = with_(JEANNE, birth_name="MARTIN", used_name=None, birthplace=None)
    result = matcher.compare(hospital, gp)
    assert result.level("birth_name") == "used_name"
    assert result.decision == "link"


def test_swapped_given_names_link(matcher: Matcher) -> None:
    result = matcher.compare(JEANNE, with_(JEANNE, given_names=("Marie", "Jeanne"), birthplace=None))
    assert result.decision == "link"


def test_transposed_birth_date_links(matcher: Matcher) -> None:
    result = matcher.compare(JEANNE, with_(JEANNE, birth_date=date(1960, 3, 5)))
    assert result.level("birth_date") == "transposed"
    assert result.decision == "link"


def test_differing_ins_refuses_whatever_the_traits(matcher: Matcher) -> None:
    a = with_(JEANNE, ins=JEANNE_INS)
    b = with_(JEANNE, ins=JEANNE_TWIN_INS)
    assert b.ins_n is not None
    result = matcher.compare(a, b)
    assert result.decision == "new"
    assert result.score == 0.0
    assert result.reason == "different INS"


def test_equal_ins_links_despite_differing_traits(matcher: Matcher) -> None:
    a = with_(JEANNE, ins=JEANNE_INS)
    b = with_(JEANNE, birth_name="MARTIN", birth_date=date(1960, 11, 3), ins=JEANNE_INS)
    result = matcher.compare(a, b)
    assert result.decision == "link"
    assert result.reason == "equal INS"


def test_an_ins_with_a_wrong_key_decides_nothing(matcher: Matcher) -> None:
    a = with_(JEANNE, ins=JEANNE_INS)
    b = with_(JEANNE, ins="260053523800113")
    assert matcher.compare(a, b).level("ins") == "missing"
    assert matcher.compare(a, b).decision == "link"


def test_twins_are_two_people(matcher: Matcher) -> None:
    twin = with_(JEANNE, given_names=("CLAIRE", "LOUISE"))
    result = matcher.compare(JEANNE, twin)
    assert result.level("twins") == "suspected"
    assert result.decision == "new"


def test_homonym_born_another_year_is_not_linked(matcher: Matcher) -> None:
    homonym = with_(JEANNE, birth_date=date(1987, 11, 21), birthplace="56260", postal_code="56000")
    assert matcher.compare(JEANNE, homonym).decision == "new"


def test_sex_disagreement_prevents_an_automatic_link(matcher: Matcher) -> None:
    result = matcher.compare(JEANNE, with_(JEANNE, sex="M"))
    assert result.decision == "review"
    assert result.reason == "disagreement on sex"


def test_missing_birth_date_without_other_evidence_goes_to_review(matcher: Matcher) -> None:
    sparse = Traits(birth_name="DARK", given_names=("JEANNE",), sex="F")
    assert matcher.compare(JEANNE, sparse).decision == "review"


def test_explanation_lists_every_trait_with_its_weight(matcher: Matcher) -> None:
    result = matcher.compare(JEANNE, with_(JEANNE, birth_date=date(1960, 3, 5)))
    traits = [c.trait for c in result.explanation]
    assert traits == [
        "ins", "birth_name", "used_name", "given_names", "birth_date", "sex", "birthplace",
        "postal_code", "twins",
    ]
    assert result.bits == pytest.approx(sum(c.weight for c in result.explanation))


def test_thresholds_are_configurable() -> None:
    strict = Matcher(Thresholds(link=1.0, review=0.9))
    loose = Matcher(Thresholds(link=0.5, review=0.1))
    gp = with_(JEANNE, birth_name="MARTIN", used_name=None, birthplace=None, postal_code=None)
    assert strict.compare(JEANNE, gp).decision == "review"
    assert loose.compare(JEANNE, gp).decision == "link"


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError):
        Thresholds(link=0.5, review=0.9)


def test_weights_must_cover_every_level() -> None:
    with pytest.raises(ValueError):
        Weights(levels={"sex": {"equal": 1.0}})


def test_rank_puts_links_first_then_reviews(matcher: Matcher) -> None:
    candidates = [
        ("homonym", with_(JEANNE, birth_date=date(1987, 11, 21), birthplace="56260", postal_code="56000")),
        ("other sex", with_(JEANNE, sex="M")),  # scores higher than "same", held back
        ("same", with_(JEANNE, given_names=("MARIE",), postal_code=None)),
    ]
    ranked = matcher.rank(JEANNE, candidates)
    assert ranked[1][1].score > ranked[0][1].score
    assert [(key, r.decision) for key, r in ranked] == [
        ("same", "link"), ("other sex", "review"), ("homonym", "new"),
    ]


@pytest.mark.parametrize(
    "other",
    [date(1960, 5, 8), date(1960, 5, 30), date(1950, 5, 3), date(1906, 5, 3)],
    ids=["day digit", "day digits swapped", "year digit", "year digits swapped"],
)
def test_one_digit_slip_in_the_birth_date_links(matcher: Matcher, other: date) -> None:
    assert matcher.compare(JEANNE, with_(JEANNE, birth_date=other)).decision == "link"


def test_missing_birthplace_postal_code_and_later_first_names_still_link(matcher: Matcher) -> None:
    sparse = Traits(birth_name="dark", given_names=("Jeanne",), birth_date=date(1960, 5, 3), sex="U")
    assert matcher.compare(JEANNE, sparse).decision == "link"


def test_accents_hyphens_and_case_do_not_matter(matcher: Matcher) -> None:
    a = with_(JEANNE, birth_name="Le Goff", given_names=("Hélène", "Marie-Noëlle"))
    b = with_(JEANNE, birth_name="LEGOFF", given_names=("HELENE", "MARIE NOELLE"))
    result = matcher.compare(a, b)
    assert (result.level("birth_name"), result.level("given_names")) == ("exact", "exact")
