"""Blocking keys: each single error leaves a shared key; the data set's true pairs are found."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

from actors.empi.blocking import blocking_keys
from actors.empi.quality import candidate_pairs
from actors.empi.synthetic import generate
from actors.empi.traits import Traits

PAUL = Traits(
    birth_name="Lefèvre",
    given_names=("Paul", "Henri"),
    birth_date=date(1944, 9, 14),
    sex="M",
    ins="144093523801226",
)


def shares_a_key(a: Traits, b: Traits) -> bool:
    return bool(blocking_keys(a) & blocking_keys(b))


def test_keys_of_a_record() -> None:
    keys = blocking_keys(PAUL)
    assert "N:LFVR:1944" in keys
    assert "D:19440914" in keys
    assert {"G:LFVR:PL", "G:LFVR:ENR"} <= keys
    assert all(len(k) < 40 and k.isascii() for k in keys)


def test_valid_ins_is_a_key_and_a_wrong_one_is_not() -> None:
    assert PAUL.ins_n is not None
    assert f"I:NIR:{PAUL.ins}" in blocking_keys(PAUL)
    assert not any(k.startswith("I:") for k in blocking_keys(replace(PAUL, ins="144093523801227")))


def test_spelling_variant_of_the_name_shares_a_key() -> None:
    assert shares_a_key(PAUL, replace(PAUL, birth_name="LEFEBVRE", birth_date=None, ins=None))


def test_mistyped_name_shares_the_date_key() -> None:
    assert shares_a_key(PAUL, replace(PAUL, birth_name="LAFEVRE", ins=None))


def test_mistyped_date_shares_a_name_key() -> None:
    assert shares_a_key(PAUL, replace(PAUL, birth_date=date(1949, 9, 14), ins=None))


def test_swapped_first_names_and_wrong_year_share_a_key() -> None:
    other = replace(PAUL, given_names=("Henri", "Paul"), birth_date=date(1945, 9, 14), ins=None)
    assert shares_a_key(PAUL, other)


def test_married_name_as_birth_name_meets_the_used_name() -> None:
    woman = Traits(birth_name="DARK", used_name="MARTIN", given_names=("JEANNE",), birth_date=date(1960, 5, 3), sex="F")
    elsewhere = Traits(birth_name="MARTIN", given_names=("JEANNE",), birth_date=date(1960, 5, 30), sex="F")
    assert shares_a_key(woman, elsewhere)


def test_a_record_without_traits_has_no_key() -> None:
    assert blocking_keys(Traits()) == frozenset()


def test_blocking_finds_the_true_pairs_of_a_generated_data_set() -> None:
    data = generate(seed=4243, people=1000)
    traits = [r.traits for r in data.records]
    truth = data.true_pairs()
    pairs = candidate_pairs(traits)
    assert len(truth & pairs) / len(truth) >= 0.98
    # Blocks stay small: far fewer candidates than all pairs.
    assert len(pairs) < len(traits) * (len(traits) - 1) / 2 / 50
