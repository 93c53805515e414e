"""Normalisation of French identity traits, the French phonetic key and the INS key."""
from __future__ import annotations

from datetime import date

import jellyfish
import pytest

from actors.empi.phonetic import phonetic_fr
from actors.empi.traits import (
    NormalisedGivenNames,
    NormalisedName,
    PartialDate,
    Traits,
    fold,
    ins_key_valid,
)


def test_fold_drops_diacritics_and_expands_ligatures() -> None:
    assert fold("Lefèvre") == "LEFEVRE"
    assert fold("Benoît Œuvrard") == "BENOIT OEUVRARD"
    assert fold("Maëlle Noël") == "MAELLE NOEL"
    assert fold("François") == "FRANCOIS"


def test_separators_hyphen_apostrophe_space_are_ignored() -> None:
    names = [NormalisedName.of(n) for n in ("D'Almeida", "D ALMEIDA", "dalmeida", "D-Almeida")]
    assert {n.full for n in names if n} == {"DALMEIDA"}


def test_saint_and_st_read_the_same() -> None:
    a = NormalisedName.of("Saint-Martin")
    b = NormalisedName.of("ST MARTIN")
    c = NormalisedName.of("Ste-Beuve")
    assert a and b and c
    assert a.full == b.full == "SAINTMARTIN"
    assert c.full == "SAINTEBEUVE"


def test_particles_give_a_core_form() -> None:
    name = NormalisedName.of("de la Fontaine")
    assert name is not None
    assert name.full == "DELAFONTAINE"
    assert name.core == "FONTAINE"
    assert name.tokens == frozenset({"FONTAINE"})


def test_a_name_made_of_a_particle_only_keeps_it() -> None:
    name = NormalisedName.of("Le")
    assert name is not None and name.core == "LE"


def test_compound_family_name_tokens() -> None:
    name = NormalisedName.of("Dupont-Moreau")
    assert name is not None and name.tokens == frozenset({"DUPONT", "MOREAU"})


def test_given_names_keep_order_and_compound_names() -> None:
    names = NormalisedGivenNames.of(("Jean-Pierre", "Marie"))
    assert names is not None
    assert names.names == ("JEANPIERRE", "MARIE")
    assert names.first == "JEANPIERRE"
    assert names.words[0] == ("JEAN", "PIERRE")


def test_given_names_space_separated_list_is_split() -> None:
    # HL7 XPN-3 lists the birth first names separated by spaces.
    names = NormalisedGivenNames.of(("JEANNE MARIE CECILE",))
    assert names is not None and names.names == ("JEANNE", "MARIE", "CECILE")


def test_traits_accepts_a_list_of_given_names() -> None:
    traits = Traits(birth_name="Dupont", given_names=["Anne", "Marie"])  # type: ignore[arg-type]
    assert traits.given_names == ("Anne", "Marie")


def test_traits_refuses_an_unknown_sex() -> None:
    with pytest.raises(ValueError):
        Traits(birth_name="DUPONT", sex="X")  # type: ignore[arg-type]


def test_partial_birth_date() -> None:
    assert PartialDate.of(date(1960, 5, 30)).complete
    assert not PartialDate(1960, 5).complete
    assert PartialDate(1960).digits() == "19600000"


def test_ins_key_of_the_insi_fixture_with_a_corsican_department() -> None:
    assert ins_key_valid("180032B02040123")
    assert not ins_key_valid("180032B02040124")


def test_ins_key_of_composed_and_spec_examples() -> None:
    assert ins_key_valid("184127512345640")
    assert ins_key_valid("260058815400233")
    # Spec illustrations with wrong keys are not valid INS.
    assert not ins_key_valid("276037510669380")
    assert not ins_key_valid("260058815400244")
    assert not ins_key_valid("18412751234564")


def test_traits_ignore_an_ins_whose_key_is_wrong() -> None:
    assert Traits(ins="276037510669380").ins_n is None
    assert Traits(ins="184127512345640").ins_n == "184127512345640"


def test_phonetic_key_folds_french_silent_endings_where_soundex_does_not() -> None:
    assert phonetic_fr("RENAUD") == phonetic_fr("RENAULT") == phonetic_fr("RENAUT")
    assert jellyfish.soundex("RENAUD") != jellyfish.soundex("RENAULT")


@pytest.mark.parametrize(
    ("a", "b"),
    [("LEFEBVRE", "LEFEVRE"), ("DUPONT", "DUPOND"), ("PERRAULT", "PERREAU"), ("PHILIPPE", "FILIPE"),
     ("GUERIN", "GUERAIN"), ("LAMBERT", "LANBERT")],
)
def test_phonetic_key_groups_spellings_of_one_name(a: str, b: str) -> None:
    assert phonetic_fr(a) == phonetic_fr(b)


def test_phonetic_key_separates_different_names() -> None:
    assert phonetic_fr("MARTIN") != phonetic_fr("BERNARD")
    assert phonetic_fr("GERARD") != phonetic_fr("GUERIN")
